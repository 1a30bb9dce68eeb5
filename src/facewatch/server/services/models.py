"""Which embedding model serves, and re-embedding the stored faces when the embedder changes.

Every template and detection records the model that made its embedding. When
``settings.embedder`` names another model than the one serving (an install enrolled with
dlib, now configured for EdgeFace), the stored enrolment photos and detection crops are
embedded again by the new model in the background (``Reembedder``), while the old model
keeps answering every request. New templates go beside the old ones; detections' new
vectors wait in ``pending_embeddings``. When every person is covered (or listed as not
embeddable), one transaction moves the pending vectors in, gives the strangers new
centroids and records the new serving model; every replica then switches (the change
feed tells them at once, their gallery sync's poll within seconds).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from facewatch.config import Settings
from facewatch.errors import FacewatchError, ModelUnavailable
from facewatch.store.repositories.models import CURSOR_PREFIX, CropToEmbed, TemplateToEmbed
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import Box, Face
from facewatch.vision.embedders import create_embedder
from facewatch.vision.embedders.base import ModelSpec
from facewatch.vision.embedders.factory import MODEL_SPECS
from facewatch.vision.image import decode_image
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer

if TYPE_CHECKING:
    from facewatch.server.infra.runtime import Runtime

logger = logging.getLogger(__name__)

MODEL_CHANNEL = "facewatch_model"
"""Change-feed channel: the serving model changed (payload: the new model id)."""
_EMBEDDER_NAMES = ("edgeface", "dlib")
_BATCH = 16
_MIN_IOU = 0.3

Progress = Callable[[int, int], None]
"""Called with (done, total) as a re-embed goes."""


def spec_of(model_id: str) -> ModelSpec:
    """The declared spec of a model this package makes (``ModelUnavailable`` otherwise)."""
    try:
        return MODEL_SPECS[model_id]
    except KeyError:
        known = ", ".join(sorted(MODEL_SPECS))
        raise ModelUnavailable(f"no embedder makes model {model_id!r} (known: {known})") from None


def configured_model(settings: Settings) -> str:
    """The model id ``settings.embedder`` makes (nothing is loaded)."""
    return create_embedder(settings).model_id


def settings_for_model(settings: Settings, model_id: str) -> Settings:
    """``settings`` with the embedder that makes ``model_id`` (itself if it does already)."""
    if configured_model(settings) == model_id:
        return settings
    for name in _EMBEDDER_NAMES:
        candidate = settings.model_copy(update={"embedder": name})
        if configured_model(candidate) == model_id:
            return candidate
    spec_of(model_id)  # raises, naming the known models
    raise ModelUnavailable(f"no embedder setting makes model {model_id!r}")


def decide_serving(new_uow: Callable[[], UnitOfWork], configured: str) -> str:
    """The model that serves: the one recorded, else (a first start, or an install made
    before models were recorded) the model most templates were made by, else the
    configured one; recorded so that every replica agrees."""
    with new_uow() as uow:
        recorded = uow.models.serving()
        if recorded is not None:
            return recorded
        counts = uow.models.template_counts() or uow.models.detection_counts()
        chosen = configured
        if counts and configured not in counts:
            chosen = max(counts, key=counts.__getitem__)
        uow.models.set_serving(chosen)
        try:
            uow.commit()
        except (IntegrityError, FacewatchError):
            # Another replica recorded its choice first: the same rule, so take it.
            with new_uow() as again:
                return again.models.serving() or chosen
    if chosen != configured:
        logger.warning(
            "the stored faces were embedded by %s, the embedder setting makes %s: %s keeps "
            "serving until they are re-embedded (facewatch models reembed)",
            chosen,
            configured,
            chosen,
        )
    return chosen


def record_target(new_uow: Callable[[], UnitOfWork], configured: str) -> None:
    """This (newest) configuration's model becomes the one to re-embed toward.

    Called when a server or ``facewatch models reembed`` starts: during a rolling update the
    replicas still configured with the old model then never re-embed back to it.
    """
    with new_uow() as uow:
        if uow.models.target() != configured:
            uow.models.set_target(configured)
            dropped = uow.models.abandon_reembeds(keep=configured)
            uow.commit()
            if dropped:
                logger.info(
                    "re-embedding toward %s now; %d vectors of an abandoned re-embed dropped",
                    configured,
                    dropped,
                )


def recorded_target(new_uow: Callable[[], UnitOfWork]) -> str | None:
    """The model the newest configuration asks for, as the database records it."""
    with new_uow() as uow:
        return uow.models.target()


def recorded_serving(new_uow: Callable[[], UnitOfWork]) -> str | None:
    """The serving model as the database records it (one row read)."""
    with new_uow() as uow:
        return uow.models.serving()


@dataclass(frozen=True, slots=True)
class PersonLeftOut:
    """A person the new model could not embed from any stored photo."""

    person_id: int
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """Where the install stands: which model serves, which is configured, what is left."""

    serving: str
    configured: str
    templates: dict[str, int]
    detections: dict[str, int]
    templates_left: int
    crops_left: int
    pending: int
    people_left_out: list[PersonLeftOut]
    people_without_photo: list[PersonLeftOut]

    @property
    def state(self) -> str:
        """``current`` (the configured model serves) or ``reembedding``."""
        return "current" if self.serving == self.configured else "reembedding"

    @property
    def progress(self) -> float:
        """How much of the re-embed is done, 0..1 (1 when current)."""
        if self.state == "current":
            return 1.0
        done = self.templates.get(self.configured, 0) + self.pending
        total = done + self.templates_left + self.crops_left
        return 1.0 if total == 0 else done / total


def read_status(runtime: Runtime) -> ModelStatus:
    """The model status of ``runtime``'s install.

    ``configured`` is the model the install is moving to: the newest configuration's (the
    recorded target), so that a replica still on the old setting during a rolling update
    reports the re-embed the others run, not "current".
    """
    serving = runtime.serving_model
    with runtime.uow() as uow:
        repo = uow.models
        configured = repo.target() or configured_model(runtime.settings)
        failures = {
            _person_of(uow, tid): reason for tid, reason in repo.failures(configured).items()
        }
        photo_less = {pid for _, pid in repo.templates_without_photo(serving)}
        left_out: list[PersonLeftOut] = []
        no_photo: list[PersonLeftOut] = []
        for pid, name in repo.people_without(configured):
            if pid in photo_less:
                no_photo.append(PersonLeftOut(pid, name, _NO_PHOTO))
            else:
                left_out.append(PersonLeftOut(pid, name, failures.get(pid, "not re-embedded yet")))
        return ModelStatus(
            serving=serving,
            configured=configured,
            templates=repo.template_counts(),
            detections=repo.detection_counts(),
            templates_left=repo.count_templates_to_embed(serving, configured)
            if serving != configured
            else 0,
            crops_left=_crops_left(uow, serving, configured) if serving != configured else 0,
            pending=repo.pending_count(configured),
            people_left_out=left_out,
            people_without_photo=no_photo,
        )


def _crops_left(uow: UnitOfWork, source: str, target: str) -> int:
    return uow.models.count_crops_to_embed(source, target, _cursor(uow, target))


def _cursor(uow: UnitOfWork, target: str) -> int:
    after = uow.models.cursor_state(CURSOR_PREFIX + target).get("after", 0)
    return after if isinstance(after, int) else 0


def _person_of(uow: UnitOfWork, template_id: int) -> int:
    try:
        return uow.templates.get(template_id).person_id
    except FacewatchError:
        return -1


_NO_PHOTO = "enrolled from an embedding alone: no stored photo to re-embed; enrol a photo again"


def status_dict(status: ModelStatus) -> dict[str, object]:
    """The status as JSON-ready values (CLI ``--json``, ``/readyz``)."""
    return {
        "serving": status.serving,
        "configured": status.configured,
        "state": status.state,
        "progress": round(status.progress, 4),
        "templates": status.templates,
        "templates_left": status.templates_left,
        "crops_left": status.crops_left,
        "pending": status.pending,
        "people_left_out": [
            {"person_id": p.person_id, "name": p.name, "reason": p.reason}
            for p in status.people_left_out + status.people_without_photo
        ],
    }


@dataclass
class ReembedReport:
    """What one run of the re-embedder did."""

    templates: int = 0
    crops: int = 0
    failed_templates: int = 0
    skipped_crops: int = 0
    switched: bool = False
    seconds: float = 0.0
    left: dict[str, int] = field(default_factory=dict)


class Reembedder:
    """Embeds the stored photos and crops of the serving model with the configured one,
    then switches (``run``); resumable: what is done is committed batch by batch."""

    def __init__(self, runtime: Runtime, analyzer: FaceAnalyzer | None = None) -> None:
        self._runtime = runtime
        self.target = configured_model(runtime.settings)
        self._analyzer = analyzer

    @property
    def needed(self) -> bool:
        """Whether the serving model is not the configured one, and this configuration is
        the newest (a replica left from before a rolling update never re-embeds back)."""
        if self._runtime.serving_model == self.target:
            return False
        return recorded_target(self._runtime.uow) in (None, self.target)

    def run(
        self, *, budget_seconds: float | None = None, progress: Progress | None = None
    ) -> ReembedReport:
        """Re-embed until done (then switch) or ``budget_seconds`` have passed."""
        report = ReembedReport()
        started = time.monotonic()
        if not self.needed:
            return report
        source = self._runtime.serving_model
        total = self._total(source)
        done = 0

        def out_of_time() -> bool:
            return budget_seconds is not None and time.monotonic() - started > budget_seconds

        while not out_of_time():
            batch = self._template_batch(source)
            if not batch:
                break
            done += self._embed_templates(batch, report)
            if progress is not None:
                progress(done, total)
        while not out_of_time():
            crops = self._crop_batch(source)
            if not crops:
                break
            done += self._embed_crops(crops, report)
            if progress is not None:
                progress(done, total)
        report.seconds = time.monotonic() - started
        if not out_of_time() and self._complete(source):
            report.switched = self._switch(source)
        return report

    # --- templates ------------------------------------------------------------------------
    def _template_batch(self, source: str) -> list[TemplateToEmbed]:
        with self._runtime.uow() as uow:
            return uow.models.templates_to_embed(source, self.target, 0, _BATCH)

    def _embed_templates(self, batch: list[TemplateToEmbed], report: ReembedReport) -> int:
        runtime = self._runtime
        results: list[tuple[TemplateToEmbed, Face | None, str]] = []
        for item in batch:
            face, reason = self._face_in(item.image_sha256, item.box)
            results.append((item, face, reason))
        with runtime.uow() as uow:
            for item, face, reason in results:
                template = uow.templates.get(item.template_id)
                if face is None or face.embedding is None:
                    uow.models.record_failure(self.target, item.template_id, reason)
                    report.failed_templates += 1
                    continue
                uow.templates.add(
                    person_id=item.person_id,
                    embedding=face.embedding,
                    model=self.target,
                    quality=face.quality.score,
                    box=face.box.as_list(),
                    image_id=template.image_id,
                )
                report.templates += 1
            uow.commit()
        return len(batch)

    # --- detection crops --------------------------------------------------------------------
    def _crop_batch(self, source: str) -> list[CropToEmbed]:
        with self._runtime.uow() as uow:
            return uow.models.crops_to_embed(source, self.target, _cursor(uow, self.target), _BATCH)

    def _embed_crops(self, crops: list[CropToEmbed], report: ReembedReport) -> int:
        found = [(crop, self._face_in(crop.crop_sha256, crop.box)[0]) for crop in crops]
        with self._runtime.uow() as uow:
            skipped = 0
            for crop, face in found:
                if face is None or face.embedding is None:
                    skipped += 1
                    continue
                uow.models.add_pending(crop.detection_id, self.target, face.embedding)
            uow.models.set_cursor_state(
                CURSOR_PREFIX + self.target, {"after": crops[-1].detection_id}
            )
            uow.commit()
        report.crops += len(crops) - skipped
        report.skipped_crops += skipped
        return len(crops)

    # --- the face in a stored image -----------------------------------------------------------
    def _face_in(self, sha256: str, box: list[int]) -> tuple[Face | None, str]:
        """The face of a stored image nearest its recorded box, embedded by the new model."""
        runtime = self._runtime
        try:
            data = runtime.blobs.get(sha256)
            image = decode_image(data, max_pixels=runtime.settings.max_image_pixels)
        except FacewatchError as exc:
            return None, f"the stored photo cannot be read: {exc}"
        faces = self.analyzer.analyze(image)
        if not faces:
            return None, "the new model's detector finds no face in the stored photo"
        recorded = Box(*box)
        best = max(faces, key=lambda face: face.box.iou(recorded))
        if best.box.iou(recorded) >= _MIN_IOU or len(faces) == 1:
            return best, ""
        return None, "no face of the stored photo lies where the enrolled face was"

    @property
    def analyzer(self) -> FaceAnalyzer:
        if self._analyzer is None:
            target = settings_for_model(self._runtime.settings, self.target)
            self._analyzer = create_analyzer(target.model_copy(update={"embedder_threads": 1}))
        return self._analyzer

    # --- the switch ------------------------------------------------------------------------------
    def _total(self, source: str) -> int:
        with self._runtime.uow() as uow:
            return uow.models.count_templates_to_embed(source, self.target) + _crops_left(
                uow, source, self.target
            )

    def _complete(self, source: str) -> bool:
        with self._runtime.uow() as uow:
            if uow.models.templates_to_embed(source, self.target, 0, 1):
                return False
            return not uow.models.crops_to_embed(source, self.target, _cursor(uow, self.target), 1)

    def _switch(self, source: str) -> bool:
        """In one transaction: pending vectors in, strangers re-centred, the model recorded."""
        with self._runtime.uow() as uow:
            if uow.models.serving() != source:
                return False  # another replica switched meanwhile
            moved = uow.models.apply_pending(self.target)
            centred, stale = uow.models.recentre_unknowns(source, self.target)
            uow.models.set_serving(self.target)
            uow.models.set_cursor_state(CURSOR_PREFIX + self.target, {})
            uow.commit()
        logger.info(
            "embedding model switched from %s to %s: %s detections re-embedded, %s strangers "
            "re-centred, %s strangers without a stored crop keep the old model",
            source,
            self.target,
            moved,
            centred,
            stale,
        )
        self._runtime.follow_serving_model()
        self._runtime.changes.publish(MODEL_CHANNEL, self.target)
        return True
