"""``facewatch eval verify`` and ``eval identify`` on small real sets, through the real pipeline.

Sets are laid out in temporary folders of symbolic links to ../shared/testdata (nothing is
copied). One embedding cache serves the whole module, so each photo is embedded once.

Measured on 2026-11-23 (dlib ResNet through onnxruntime, HOG detector; EdgeFace, the default
since issue 16, does as well on these sets, 2026-12-07): the 20 LFW pairs
all right (threshold ~0.59); the Johns, 3 chips enrolled and 2 probed each, rank-1 10/10,
all 10 named right at the server's defaults and none of the 9 knn strangers named. The
asserts leave a margin.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facewatch.cli import app
from facewatch.config import Settings
from facewatch.evaluation.embeddings import EmbeddingCache
from facewatch.evaluation.runs import Embedder
from facewatch.vision.augment import enrolment_template
from facewatch.vision.embedders import MODEL_SPECS
from facewatch.vision.image import load_image
from facewatch.vision.pipeline import create_analyzer

KNN_TRAIN = "face_recognition_examples/examples/knn_examples/train"
JOHNS = "dlib_faces/johns"
LFW = "lfw_devtrain"
PAIRS_OF_EACH_KIND = 10
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VERIFY_THRESHOLDS = {"dlib_resnet_v1": (0.4, 0.75), "edgeface_xs_int8": (0.9, 1.3)}
"""Where each model's best verification threshold lies on LFW pairs (Euclidean distance)."""


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> CliRunner:
    data_dir = tmp_path_factory.mktemp("eval-data")
    return CliRunner(env={"FACEWATCH_DATA_DIR": str(data_dir), "COLUMNS": "200"})


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval-cache")


def link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source)


def summary(output: str) -> dict[str, object]:
    """The JSON object on the last line of the output."""
    last: dict[str, object] = json.loads(output.strip().splitlines()[-1])
    return last


@pytest.fixture(scope="module")
def small_pairs(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 10 matched and 10 mismatched pairs of pairsDevTrain.txt, View 1 layout."""
    lines = (testdata / LFW / "pairsDevTrain.txt").read_text(encoding="utf-8").splitlines()
    count = int(lines[0])
    chosen = lines[1 : 1 + PAIRS_OF_EACH_KIND] + lines[1 + count : 1 + count + PAIRS_OF_EACH_KIND]
    path = tmp_path_factory.mktemp("pairs") / "pairs.txt"
    path.write_text("\n".join([str(PAIRS_OF_EACH_KIND), *chosen]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def johns_set(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Johns: 3 chips enrolled, the next 2 as probes; the knn people as strangers."""
    root = tmp_path_factory.mktemp("johns-set")
    for person in sorted(p for p in (testdata / JOHNS).iterdir() if p.is_dir()):
        photos = sorted(person.glob("*.jpg"))
        for photo in photos[:3]:
            link(photo, root / "gallery" / person.name / photo.name)
        for photo in photos[3:5]:
            link(photo, root / "probes" / person.name / photo.name)
    for photo in sorted((testdata / KNN_TRAIN).rglob("*.*")):
        link(photo, root / "unknown" / f"{photo.parent.name}-{photo.name}")
    return root


def test_verify_reports_cross_validated_accuracy_on_lfw_pairs(
    runner: CliRunner, testdata: Path, small_pairs: Path, cache_dir: Path
) -> None:
    result = runner.invoke(
        app,
        [
            "eval",
            "verify",
            "--pairs",
            str(small_pairs),
            "--images",
            str(testdata / LFW / "lfw"),
            "--cache-dir",
            str(cache_dir),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    found = summary(result.stdout)
    assert sorted(found) == ["accuracy", "embedder", "failed", "model", "pairs", "std", "threshold"]
    assert found["embedder"] == Settings().embedder
    assert found["pairs"] == 2 * PAIRS_OF_EACH_KIND
    assert found["failed"] == 0
    assert found["accuracy"] >= 0.9  # type: ignore[operator]
    low, high = VERIFY_THRESHOLDS[str(found["model"])]
    assert low < found["threshold"] < high  # type: ignore[operator]


def test_verify_reads_the_cache_instead_of_embedding_again(
    runner: CliRunner, testdata: Path, small_pairs: Path, cache_dir: Path
) -> None:
    args = ["eval", "verify", "--pairs", str(small_pairs), "--images", str(testdata / LFW / "lfw")]
    first = runner.invoke(app, [*args, "--cache-dir", str(cache_dir), "--json"])
    cached = list(cache_dir.glob("*.npz"))
    again = runner.invoke(app, [*args, "--cache-dir", str(cache_dir), "--json"])
    assert len(cached) == 1
    assert summary(again.stdout) == summary(first.stdout)


def test_identify_names_the_johns_and_reports_every_figure(
    runner: CliRunner, johns_set: Path, cache_dir: Path, tmp_path: Path
) -> None:
    plot = tmp_path / "det.png"
    result = runner.invoke(
        app,
        [
            "eval",
            "identify",
            "--gallery",
            str(johns_set / "gallery"),
            "--probes",
            str(johns_set / "probes"),
            "--unknown",
            str(johns_set / "unknown"),
            "--svm",
            "--plot",
            str(plot),
            "--cache-dir",
            str(cache_dir),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    found = summary(result.stdout)
    assert found["probes"] == 10
    assert found["unknown"] == 9
    assert found["rank1"] >= 0.9  # type: ignore[operator]
    assert found["known_right_at_default"] >= 0.8  # type: ignore[operator]
    assert found["strangers_named_at_default"] <= 0.12  # type: ignore[operator]
    assert sorted(found["dir_at_far"]) == ["0.001", "0.01"]  # type: ignore[call-overload]
    assert "SVM at probability 0.8" in result.stdout
    assert plot.read_bytes().startswith(PNG_SIGNATURE)


def test_identify_reads_probes_named_in_the_lfw_way(
    runner: CliRunner, testdata: Path, tmp_path: Path, cache_dir: Path
) -> None:
    lfw = testdata / LFW / "lfw"
    people = [p.name for p in sorted(lfw.iterdir()) if len(list(p.glob("*.jpg"))) >= 2][:3]
    for person in people:
        photos = sorted((lfw / person).glob("*.jpg"))
        link(photos[0], tmp_path / "gallery" / person / photos[0].name)
        link(photos[1], tmp_path / "probes" / photos[1].name)
    result = runner.invoke(
        app,
        [
            "eval",
            "identify",
            "--gallery",
            str(tmp_path / "gallery"),
            "--probes",
            str(tmp_path / "probes"),
            "--cache-dir",
            str(cache_dir),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    found = summary(result.stdout)
    assert found["probes"] == len(people)
    assert found["unknown"] == 0
    assert found["rank1"] == 1.0


def test_identify_refuses_probes_of_people_who_are_not_enrolled(
    runner: CliRunner, johns_set: Path, cache_dir: Path, tmp_path: Path
) -> None:
    stranger = next((johns_set / "unknown").iterdir())
    link(stranger.resolve(), tmp_path / "probes" / "Nobody_Enrolled" / stranger.name)
    result = runner.invoke(
        app,
        [
            "eval",
            "identify",
            "--gallery",
            str(johns_set / "gallery"),
            "--probes",
            str(tmp_path / "probes"),
            "--cache-dir",
            str(cache_dir),
        ],
    )
    assert result.exit_code != 0
    assert "not in the gallery" in str(result.exception)


def test_verify_refuses_a_missing_images_folder(
    runner: CliRunner, small_pairs: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["eval", "verify", "--pairs", str(small_pairs), "--images", str(tmp_path / "no")]
    )
    assert result.exit_code != 0
    assert "not a folder" in str(result.exception)


def test_identify_enrols_from_jittered_copies_when_the_server_does(
    runner: CliRunner, johns_set: Path, tmp_path: Path
) -> None:
    folders = [f"--{kind}={johns_set / kind}" for kind in ("gallery", "probes", "unknown")]
    args = ["eval", "identify", *folders, "--cache-dir", str(tmp_path), "--json"]

    result = runner.invoke(app, args, env={"FACEWATCH_ENROLMENT_JITTER": "true"})

    assert result.exit_code == 0, result.output
    found = summary(result.stdout)
    assert found["rank1"] >= 0.9  # type: ignore[operator]
    assert found["known_right_at_default"] >= 0.8  # type: ignore[operator]
    assert len(list(tmp_path.glob("*-enrolment-*.npz"))) == 1


def test_enrolment_faces_are_the_templates_the_server_makes(testdata: Path) -> None:
    photo = sorted((testdata / LFW / "lfw" / "Aaron_Peirsol").glob("*.jpg"))[0]
    settings = Settings()
    analyzer = create_analyzer(settings)
    jittering = Embedder(
        analyzer, EmbeddingCache(None), settings.max_image_pixels, EmbeddingCache(None)
    )
    plain = Embedder(analyzer, EmbeddingCache(None), settings.max_image_pixels)
    image = load_image(photo, max_pixels=settings.max_image_pixels)
    [face] = analyzer.analyze(image)

    template = jittering.enrolment_faces([photo], None)[photo].central()
    unjittered = plain.enrolment_faces([photo], None)[photo].central()

    assert template is not None
    assert unjittered is not None
    assert np.allclose(template, enrolment_template(analyzer.embedder, image, face), atol=1e-5)
    assert np.allclose(unjittered, face.embedding, atol=1e-5)
    assert np.linalg.norm(template - unjittered) > 0.02


def test_verify_compares_embedders_side_by_side_in_one_run(
    runner: CliRunner, testdata: Path, small_pairs: Path, cache_dir: Path
) -> None:
    images = str(testdata / LFW / "lfw")
    args = ["eval", "verify", "--pairs", str(small_pairs), "--images", images]
    models = ["--embedder", "edgeface", "--embedder", "dlib"]

    result = runner.invoke(app, [*args, *models, "--cache-dir", str(cache_dir), "--json"])

    assert result.exit_code == 0, result.output
    found = summary(result.stdout)["embedders"]
    assert [(m["embedder"], m["model"]) for m in found] == [  # type: ignore[attr-defined]
        ("edgeface", "edgeface_xs_int8"),
        ("dlib", "dlib_resnet_v1"),
    ]
    for model in found:  # type: ignore[attr-defined]
        assert model["accuracy"] >= 0.9
        low, high = VERIFY_THRESHOLDS[model["model"]]
        assert low < model["threshold"] < high
    assert "side by side" in result.stdout
    assert {f.name for f in cache_dir.glob("*.npz")} >= {
        "edgeface_xs_int8-HogDetector_UltraLightOnnxDetector.npz",
        "dlib_resnet_v1-HogDetector_UltraLightOnnxDetector.npz",
    }


@pytest.mark.parametrize(
    ("embedder", "model"), [("edgeface", "edgeface_xs_int8"), ("dlib", "dlib_resnet_v1")]
)
def test_identify_judges_each_embedder_at_its_own_default_thresholds(
    runner: CliRunner, johns_set: Path, cache_dir: Path, embedder: str, model: str
) -> None:
    folders = [f"--{kind}={johns_set / kind}" for kind in ("gallery", "probes", "unknown")]
    others = [name for name in ("edgeface", "dlib") if name != embedder]
    args = ["eval", "identify", *folders, "--cache-dir", str(cache_dir), "--json"]

    result = runner.invoke(
        app,
        [*args, "--embedder", embedder, "--embedder", others[0]],
        env={"FACEWATCH_EMBEDDER": others[0]},
    )

    assert result.exit_code == 0, result.output
    first = summary(result.stdout)["embedders"][0]  # type: ignore[index]
    defaults = MODEL_SPECS[model].defaults
    assert first["model"] == model
    assert first["thresholds"] == {
        "match": defaults.match_threshold,
        "unknown": defaults.unknown_threshold,
        "margin_weight": defaults.margin_weight,
        "margin_cap": defaults.margin_cap,
    }
    assert first["rank1"] >= 0.9
    assert first["known_right_at_default"] >= 0.8
    assert first["strangers_named_at_default"] <= 0.12


def test_identify_judges_the_configured_embedder_at_the_configured_thresholds(
    runner: CliRunner, johns_set: Path, cache_dir: Path
) -> None:
    folders = [f"--{kind}={johns_set / kind}" for kind in ("gallery", "probes", "unknown")]
    args = ["eval", "identify", *folders, "--cache-dir", str(cache_dir), "--json"]
    configured = {"FACEWATCH_EMBEDDER": "dlib", "FACEWATCH_MATCH_THRESHOLD": "0.45"}

    result = runner.invoke(app, [*args, "--embedder", "dlib"], env=configured)

    assert result.exit_code == 0, result.output
    found = summary(result.stdout)
    assert found["thresholds"]["match"] == 0.45  # type: ignore[index]
    assert "server's settings (match 0.45" in result.stdout


def test_eval_refuses_an_unknown_embedder(
    runner: CliRunner, small_pairs: Path, testdata: Path
) -> None:
    images = str(testdata / LFW / "lfw")
    args = ["eval", "verify", "--pairs", str(small_pairs), "--images", images]

    result = runner.invoke(app, [*args, "--embedder", "facenet"])

    assert result.exit_code != 0
    assert "unknown embedder 'facenet'" in str(result.exception)
