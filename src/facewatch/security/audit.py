"""Who is acting: the audit trail's context, set once per request or command.

Every entry of the audit log names an *actor* (``key:<prefix>``, ``user:<name>``,
``cli:<os user>`` or ``system`` for scheduled jobs) and the client's address. Those are
known where a request is authenticated, far from the services and repositories that write
the entries, so they travel in a context variable:

- the server's ``AuditContextMiddleware`` (``server/middleware/audit.py``) gives each HTTP
  request its own ``AuditContext`` (address filled in, actor ``anonymous``);
- the authentication dependencies call ``identify(...)`` once they know who it is;
- anything that records an entry reads ``current()``.

The context object is mutable on purpose: FastAPI runs dependencies and endpoints in
worker threads, each with a *copy* of the request's context, so a dependency cannot set a
variable the endpoint would see, but both see the same object.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

logger = logging.getLogger(__name__)

SYSTEM = "system"
ANONYMOUS = "anonymous"
MAX_ACTOR = 200
MAX_ADDRESS = 64


@dataclass(slots=True)
class AuditContext:
    """The actor and address entries recorded now are attributed to."""

    actor: str = SYSTEM
    address: str = ""


_CONTEXT: ContextVar[AuditContext | None] = ContextVar("facewatch_audit_context", default=None)


def current() -> AuditContext:
    """The context of the running request or command (``system`` outside any)."""
    return _CONTEXT.get() or AuditContext()


def identify(actor: str) -> None:
    """Say who is acting in the current request or command, once authenticated."""
    context = _CONTEXT.get()
    if context is None:
        _CONTEXT.set(AuditContext(actor[:MAX_ACTOR]))
    else:
        context.actor = actor[:MAX_ACTOR]


@contextmanager
def acting_as(actor: str, address: str = "") -> Iterator[AuditContext]:
    """Attribute what happens in the block to ``actor`` (a command, a job, a test)."""
    context = AuditContext(actor[:MAX_ACTOR], address[:MAX_ADDRESS])
    token = _CONTEXT.set(context)
    try:
        yield context
    finally:
        _CONTEXT.reset(token)


def cli_actor() -> str:
    """``cli:<os user>``: the actor of a command run on the server's machine."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in a container with a bare uid
        user = "unknown"
    return f"cli:{user}"


@dataclass(frozen=True, slots=True)
class Access:
    """A finished HTTP request, as the audit log may record it."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    actor: str
    address: str
