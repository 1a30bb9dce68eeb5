"""The one exception tree of Facewatch.

Every layer raises these; the server maps them to HTTP codes in one place
(``facewatch.server.errors``) and the CLI prints their message on one line.

    FacewatchError
    ├── InvalidInput                 400  bad field values
    │   ├── InvalidImage             400  corrupt, truncated or empty image
    │   ├── UnsupportedMediaType     415  not an image format we accept
    │   ├── PayloadTooLarge          413  too many bytes or too many pixels
    │   └── FaceRejected             422  a photo unusable for enrolment (with a reason code)
    ├── NotFound                     404
    ├── Conflict                     409  duplicate name, idempotency clash
    │   └── IdempotencyKeyReused     409  a key sent again with other content (final)
    ├── Unauthorized                 401  no key or an unknown key
    ├── Forbidden                    403  a key without the needed scope
    ├── TooManyRequests              429  a rate limit (with ``retry_after`` seconds)
    ├── Overloaded                   503  at capacity: retry later (with ``retry_after``)
    └── ConfigurationError           500-class, raised at start-up only
        ├── ModelUnavailable              a model file or runtime is missing
        ├── DatabaseTooNew                the database was migrated by newer code
        └── EncryptionKeyError            encrypted data and no (or the wrong) key
"""

from __future__ import annotations


class FacewatchError(Exception):
    """Base of every error Facewatch raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(FacewatchError):
    """A request or command argument that cannot be used as given."""

    code = "invalid_input"


class InvalidImage(InvalidInput):
    """The bytes do not decode to an image (corrupt, truncated, empty)."""

    code = "invalid_image"


class UnsupportedMediaType(InvalidInput):
    """The file is not in one of the accepted image formats."""

    code = "unsupported_media_type"


class PayloadTooLarge(InvalidInput):
    """The upload has too many bytes or the image too many pixels."""

    code = "payload_too_large"


class FaceRejected(InvalidInput):
    """A photo cannot become a template: no face, several faces, too small, too blurry..."""

    code = "face_rejected"


class NotFound(FacewatchError):
    """The addressed person, camera, detection or key does not exist."""

    code = "not_found"


class Conflict(FacewatchError):
    """The change clashes with what is stored (a duplicate name, for instance)."""

    code = "conflict"


class IdempotencyKeyReused(Conflict):
    """An idempotency key arrived again with other content than the first time.

    The only 409 an edge agent treats as final: sending the same item again cannot help
    (its key belongs to something else), while any other conflict may pass on a retry.
    """

    code = "idempotency_key_reused"


class ModelMismatch(Conflict):
    """An embedding made by another model than the one the server matches with.

    Vectors of two models are never compared: the edge agent that gets this answer switches
    to the server's model (``serving_model``) or sends crops instead.
    """

    code = "model_mismatch"

    def __init__(self, message: str, *, serving_model: str) -> None:
        super().__init__(message)
        self.serving_model = serving_model


class Unauthorized(FacewatchError):
    """No credentials, or credentials that match no active API key."""

    code = "unauthorized"


class Forbidden(FacewatchError):
    """Valid credentials without the scope the operation needs."""

    code = "forbidden"


class TooManyRequests(FacewatchError):
    """A rate limit was reached: the client should wait ``retry_after`` seconds."""

    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class Overloaded(FacewatchError):
    """The server is at capacity for this request (a full queue): retry after a moment."""

    code = "overloaded"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class ConfigurationError(FacewatchError):
    """Facewatch cannot start as configured."""

    code = "configuration_error"


class ModelUnavailable(ConfigurationError):
    """A model file or inference runtime cannot be loaded."""

    code = "model_unavailable"


class DatabaseTooNew(ConfigurationError):
    """The database schema is newer than this version of Facewatch knows."""

    code = "database_too_new"


class EncryptionKeyError(ConfigurationError):
    """Stored data is encrypted and the configured keys cannot open it (none, or wrong)."""

    code = "encryption_key_error"
