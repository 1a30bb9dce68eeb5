"""edge.yaml: defaults, command-line overrides, and bad files that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from facewatch.edge.config import load_edge_config
from facewatch.errors import ConfigurationError

GOOD = """
server: http://127.0.0.1:8000
api_key: fw_test
cameras:
  - id: gate-1
    source: /videos/gate.mp4
    fps: 4
  - id: hall
    source: rtsp://cam/stream
outbox:
  max_bytes: 100000
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads_with_defaults_for_the_rest(tmp_path: Path) -> None:
    config = load_edge_config(write(tmp_path, GOOD), {})
    assert [camera.id for camera in config.cameras] == ["gate-1", "hall"]
    assert config.camera_fps(config.cameras[0]) == 4
    assert config.camera_fps(config.cameras[1]) == config.fps == 6
    assert config.policy == "best"
    assert config.mode == "crops"


def test_flags_override_the_file_and_keep_its_nested_values(tmp_path: Path) -> None:
    overrides = {"policy": "every-frame", "fps": None, "outbox": {"path": "/tmp/o.db"}}
    config = load_edge_config(write(tmp_path, GOOD), overrides)
    assert config.policy == "every-frame"
    assert config.fps == 6
    assert config.outbox.path == Path("/tmp/o.db")
    assert config.outbox.max_bytes == 100000


def test_source_and_camera_id_flags_replace_the_cameras_of_the_file(tmp_path: Path) -> None:
    camera = {"id": "street", "source": "clip.mp4"}
    config = load_edge_config(write(tmp_path, GOOD), {"camera": camera})
    assert [c.id for c in config.cameras] == ["street"]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (GOOD.replace("fps: 4", "fsp: 4"), "cameras.0.fsp"),
        (GOOD.replace("fps: 4", "fps: -1"), "cameras.0.fps"),
        (GOOD.replace("id: hall", "id: gate-1"), "camera ids must be unique"),
        (GOOD.replace("id: hall", "id: 'bad id!'"), "cameras.1.id"),
        (GOOD.replace("http://127.0.0.1:8000", "ftp://host"), "server"),
        (GOOD.replace("max_bytes: 100000", "max_bytes: lots"), "outbox.max_bytes"),
        (GOOD + "policy: sometimes\n", "policy"),
        (GOOD + "mode: local\ncrops: {thumbnail_size: 64}\n", "mode local sends no image"),
        (GOOD + "local: {sync_interval: 0}\n", "local.sync_interval"),
        (GOOD + "local: {alerts: {webhook_url: ftp://x}}\n", "local.alerts.webhook_url"),
        (GOOD.replace("api_key: fw_test\n", ""), "api_key"),
        (GOOD + "cameras_extra: 1\n", "cameras_extra"),
    ],
)
def test_a_bad_file_fails_with_a_message_naming_the_key(
    tmp_path: Path, text: str, named: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as caught:
        load_edge_config(path, {})
    assert named in caught.value.message
    assert str(path) in caught.value.message


@pytest.mark.parametrize("text", ["cameras: [unclosed", "- just\n- a list\n"])
def test_a_file_that_is_not_a_yaml_mapping_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigurationError):
        load_edge_config(write(tmp_path, text), {})


def test_a_missing_file_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"nowhere\.yaml"):
        load_edge_config(tmp_path / "nowhere.yaml", {})
