"""The recognise path holds a bounded number of images: one more is refused with 503 at
once, never queued without bound. Workers run ``support_workers.fake_serve``; the runtime
is faked at its seam (settings and ``serving()``)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from facewatch.config import Settings
from facewatch.errors import Overloaded
from facewatch.gallery.gallery import Gallery
from facewatch.gallery.matching import Thresholds
from facewatch.server.errors import status_for
from facewatch.server.infra.runtime import Serving
from facewatch.server.infra.workers import AnalysisPool
from facewatch.server.services.recognition import Recognizer
from support_workers import SLOW, analysed_tags, fake_serve, tagged


@dataclass
class FakeRuntime:
    """What ``Recognizer`` takes of a runtime: the settings, the serving model's parts."""

    settings: Settings
    pool: AnalysisPool

    def serving(self) -> Serving:
        gallery = Gallery("fake", 128)
        return Serving(self.pool, gallery, Thresholds(0.5, 0.6), "fake")


class StillThere:
    """A client that never leaves."""

    async def is_disconnected(self) -> bool:
        return False


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, analysis_workers=1, recognize_queue_size=2)


@pytest.fixture
def pool(settings: Settings) -> Iterator[AnalysisPool]:
    started = AnalysisPool(settings, serve=fake_serve)
    started.warm_up()
    yield started
    started.close()


def png(tag: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(tagged(tag)).save(buffer, "PNG")
    return buffer.getvalue()


def test_past_its_capacity_the_recognizer_refuses_at_once_and_recovers(
    settings: Settings, pool: AnalysisPool
) -> None:
    recognizer = Recognizer(FakeRuntime(settings, pool))  # type: ignore[arg-type]

    async def scenario() -> tuple[int, Overloaded, int, int]:
        held = [
            asyncio.create_task(recognizer.recognize(png(tag), None, StillThere()))
            for tag in (SLOW, SLOW)
        ]
        while recognizer.held < 2 or SLOW not in analysed_tags(settings):
            await asyncio.sleep(0.01)
        with pytest.raises(Overloaded) as refused:
            await recognizer.recognize(png(3), None, StillThere())
        finished = await asyncio.gather(*held)
        after = await recognizer.recognize(png(4), None, StillThere())
        return len(finished), refused.value, len(after.faces), recognizer.held

    finished, refused, faces, held_after = asyncio.run(scenario())

    assert status_for(refused) == 503
    assert refused.retry_after >= 1
    assert 3 not in analysed_tags(settings)  # the refused image never reached a worker
    assert (finished, faces, held_after) == (2, 0, 0)
