"""Embedders evaluated side by side: the settings each runs with, the thresholds it is judged at.

Thresholds belong to one model (``ModelSpec.defaults``): a distance that names a face for
dlib's ResNet means nothing for EdgeFace. So every embedder is judged at its own defaults,
except the configured one, which is judged at what the server would use: the configured
thresholds where they are set, the model's defaults elsewhere (``Settings.recognition``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

from facewatch.config import EmbedderName, Settings
from facewatch.errors import InvalidInput
from facewatch.gallery.matching import Thresholds
from facewatch.vision.embedders import create_embedder

EMBEDDER_NAMES: tuple[str, ...] = get_args(EmbedderName)


@dataclass(frozen=True, slots=True)
class Contender:
    """One embedder of a comparison: its name, the settings that make it, its thresholds."""

    name: str
    """The ``embedder`` setting's value (``edgeface``, ``dlib``, ...)."""
    model_id: str
    settings: Settings
    thresholds: Thresholds
    configured: bool
    """Whether this is the configured embedder's model (judged at the configured thresholds)."""

    @property
    def label(self) -> str:
        """``name (model id)``, or the name alone when they are the same."""
        return self.name if self.name == self.model_id else f"{self.name} ({self.model_id})"


def contenders(settings: Settings, names: Sequence[str] | None) -> list[Contender]:
    """The embedders to evaluate, in the order given, each once (default: the configured one)."""
    chosen = list(dict.fromkeys(names or [settings.embedder]))
    unknown = [name for name in chosen if name not in EMBEDDER_NAMES]
    if unknown:
        raise InvalidInput(
            f"unknown embedder {unknown[0]!r}; choose from {', '.join(EMBEDDER_NAMES)}"
        )
    served = create_embedder(settings).model_id
    return [_contender(settings, name, served) for name in chosen]


def _contender(settings: Settings, name: str, served: str) -> Contender:
    own = settings.model_copy(update={"embedder": name})
    spec = create_embedder(own).spec
    configured = spec.model_id == served
    values = settings.recognition(spec.defaults) if configured else spec.defaults
    thresholds = Thresholds(
        values.match_threshold,
        values.unknown_threshold,
        margin_weight=values.margin_weight,
        margin_cap=values.margin_cap,
    )
    return Contender(name, spec.model_id, own, thresholds, configured)
