"""First-alert latency of the edge agent, end to end (issue 4: live alerts under 1 s).

What runs: a real server (``python -m facewatch.cli serve`` in a subprocess, temporary data
dir, rate limits off) with the people of face_recognition_examples knn_examples/train and
lin-manuel-miranda.png enrolled through the API; a client following the live event stream
(``GET /api/v1/events/stream``, key of scope read); and the real agent
(``python -m facewatch.cli edge run --source CLIP --realtime --fps 6``, policy best) once per
mode and run, each run under its own camera id (so the server's per-camera cooldown of one
run does not hide the next run's events). ``--realtime`` plays the clip at its own frame
rate, as a camera delivers it; the agent logs the wall time at which the clip started.

Ground truth: HOG (upsampled once) + landmarks + the dlib embedder on *every* frame of the
clip, offline, before the runs; a person's first appearance is the first frame holding a
face within the match threshold (0.5) of one of their enrolment faces.

Per person, mode and run (times in seconds into the clip, i.e. since the agent's source
opened; the clip plays in real time so this is also wall time):

* ``appears``: first appearance (ground truth frame / clip fps);
* ``shot``: capture position of the frame whose face raised the event (the event's ``time``
  minus the clip's start);
* ``alert``: when the ``person.recognized`` event arrived on the stream;
  ``alert - shot`` is confirmation (the track's second sighting), the agent's processing,
  the outbox, HTTP, the server's recognition and the event fan-out;
* ``latency = alert - appears``;
* ``its appearance``: the start of the stretch of ground-truth sightings (no gap over
  ``GAP`` s) that holds the shot, and ``alert`` minus it: the latency from the moment the
  person came (back) into view in a recognisable way, when an earlier appearance was missed.
* ``first shot stored``: the first detection the server stored for the camera (any track):
  capture -> arrival, status and distance; a first shot judged ``uncertain`` raises no event.

The agent's own figure "first shots out in X s" (queued -> acknowledged by the server, mean
over tracks) is shown per run: the uplink's share of ``alert - shot``.

    python benchmarks/bench_edge_alert_latency.py                 # 3 runs, crops + embeddings
    python benchmarks/bench_edge_alert_latency.py --runs 1 --modes crops

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import cli, create_key, machine_line, serve, testdata_dir
from facewatch.vision.detectors.hog import HogDetector
from facewatch.vision.embedders import DlibResNetEmbedder
from facewatch.vision.image import load_image
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.pipeline import FaceAnalyzer

EXAMPLES = Path("face_recognition_examples/examples")
CLIP = EXAMPLES / "short_hamilton_clip.mp4"
TRAIN = EXAMPLES / "knn_examples/train"
EXTRA_PEOPLE = {"lin_manuel_miranda": EXAMPLES / "lin-manuel-miranda.png"}
GAP = 0.5
"""Seconds without a matching face that end one appearance in the ground truth."""
MATCH_THRESHOLD = 0.5
"""The server's default ``match_threshold``: at or under it a face is named."""
_STARTED = re.compile(r"playing \S+ in real time from (\S+)")
_FIRST_SHOTS = re.compile(r"first shots out in ([\d.]+) s \(max ([\d.]+)\)")


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    admin_key: str
    read_key: str
    ingest_key: str


@dataclass(slots=True)
class Arrival:
    wall: float
    event: dict[str, object]


@dataclass(slots=True)
class Stream:
    """The events that arrived on the live stream, with their arrival wall time."""

    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    connected: threading.Event = field(default_factory=threading.Event)

    def of_camera(self, camera_id: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.event.get("camera_id") == camera_id]


@dataclass(frozen=True, slots=True)
class Row:
    mode: str
    run: int
    person: str
    appears: float
    shot: float | None
    alert: float | None
    episode: float | None
    first_stored: str
    first_shots: str
    load: float

    @property
    def latency(self) -> float | None:
        return None if self.alert is None else self.alert - self.appears


# --- ground truth ------------------------------------------------------------------------------


def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(HogDetector(upsample=1), Landmarker(), DlibResNetEmbedder())


def enrolment_images(testdata: Path) -> dict[str, list[Path]]:
    people = {
        folder.name: sorted(folder.iterdir())
        for folder in sorted((testdata / TRAIN).iterdir())
        if folder.is_dir()
    }
    for name, image in EXTRA_PEOPLE.items():
        people[name] = [testdata / image]
    return people


def gallery(faces: FaceAnalyzer, people: dict[str, list[Path]]) -> dict[str, npt.NDArray[Any]]:
    """Each person's enrolment embeddings (the largest face of each photo)."""
    vectors: dict[str, npt.NDArray[Any]] = {}
    for name, images in people.items():
        found = []
        for path in images:
            image = load_image(path, max_pixels=40_000_000)
            detected = [face for face in faces.analyze(image) if face.embedding is not None]
            if detected:
                largest = max(detected, key=lambda face: face.box.width * face.box.height)
                found.append(np.asarray(largest.embedding))
        vectors[name] = np.stack(found)
    return vectors


def sightings(
    faces: FaceAnalyzer, clip: Path, people: dict[str, npt.NDArray[Any]]
) -> tuple[dict[str, list[float]], float]:
    """Each person's frames (s into the clip) holding a face within the threshold; clip fps."""
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    seen: dict[str, list[float]] = {}
    index = 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        for face in faces.analyze(rgb):
            for name, vectors in people.items():
                distance = float(np.min(np.linalg.norm(vectors - face.embedding, axis=1)))
                if distance <= MATCH_THRESHOLD:
                    seen.setdefault(name, []).append(index / fps)
        index += 1
    capture.release()
    return seen, fps


def appearance_start(seen: Sequence[float], shot: float) -> float | None:
    """Start of the stretch of sightings (gaps up to ``GAP``) that the shot falls in or after."""
    start = None
    for number, at in enumerate(seen):
        if at > shot + 0.05:
            break
        if number == 0 or at - seen[number - 1] > GAP:
            start = at
    return start


# --- server ------------------------------------------------------------------------------------


@contextmanager
def server(data_dir: Path) -> Iterator[Server]:
    """A ``facewatch serve`` subprocess on a free port; stopped after."""
    env = {
        **os.environ,
        "FACEWATCH_DATA_DIR": str(data_dir),
        "FACEWATCH_RATE_LIMIT_RECOGNIZE_PER_MINUTE": "0",
        "FACEWATCH_RATE_LIMIT_INGEST_PER_MINUTE": "0",
    }
    keys = [create_key(env, scope) for scope in ("admin", "read", "ingest")]
    with serve(env, data_dir / "server.log") as (base_url, _):
        yield Server(base_url, *keys)


def enrol(srv: Server, people: dict[str, list[Path]]) -> None:
    headers = {"Authorization": f"Bearer {srv.admin_key}"}
    with httpx.Client(base_url=srv.base_url, headers=headers, timeout=120) as client:
        for name, images in people.items():
            created = client.post("/api/v1/people", json={"name": name})
            created.raise_for_status()
            files = [("images", (p.name, p.read_bytes())) for p in images]
            client.post(
                f"/api/v1/people/{created.json()['id']}/faces", files=files
            ).raise_for_status()


def follow(srv: Server, stream: Stream, stop: threading.Event) -> None:
    """Record every ``person.recognized`` event of the live stream with its arrival time."""
    headers = {"Authorization": f"Bearer {srv.read_key}"}
    timeout = httpx.Timeout(10.0, read=None)
    url = f"{srv.base_url}/api/v1/events/stream"
    with httpx.stream(
        "GET", url, params={"type": "person.recognized"}, headers=headers, timeout=timeout
    ) as response:
        response.raise_for_status()
        stream.connected.set()
        for line in response.iter_lines():
            if line.startswith("data:"):
                arrival = Arrival(time.time(), json.loads(line.removeprefix("data:")))
                with stream.lock:
                    stream.arrivals.append(arrival)
            if stop.is_set():
                return


# --- agent runs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentRun:
    started: float
    """Wall time (epoch s) at which the agent's source started playing the clip."""
    first_shots: str


def run_agent(
    srv: Server, clip: Path, camera_id: str, mode: str, work: Path, confirm_frames: int
) -> AgentRun:
    env = {**os.environ, "COLUMNS": "400"}  # one log record per line, never wrapped
    config = work / f"{camera_id}.yaml"
    config.write_text(f"best_shot: {{confirm_frames: {confirm_frames}}}\n", encoding="utf-8")
    command = cli(
        "edge", "run", "--source", str(clip), "--realtime", "--camera-id", camera_id,
        "--server", srv.base_url, "--api-key", srv.ingest_key, "--fps", "6",
        "--mode", mode, "--outbox", str(work / f"{camera_id}.db"), "--edge-id", "bench",
        "--config", str(config),
    )  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    log = done.stderr
    started = _STARTED.search(log)
    if done.returncode or started is None:
        raise SystemExit(f"the agent failed ({done.returncode}):\n{log}")
    shots = _FIRST_SHOTS.findall(log)
    first_shots = f"{shots[-1][0]} (max {shots[-1][1]})" if shots else "?"
    return AgentRun(datetime.fromisoformat(started.group(1)).timestamp(), first_shots)


def measure(
    srv: Server,
    stream: Stream,
    clip: Path,
    seen: dict[str, list[float]],
    mode: str,
    run: int,
    work: Path,
    confirm_frames: int,
) -> list[Row]:
    camera_id = f"bench-{mode}-{run}-{os.getpid()}"
    load = os.getloadavg()[0]
    agent = run_agent(srv, clip, camera_id, mode, work, confirm_frames)
    time.sleep(2.0)  # the last events' fan-out
    stored = detections(srv, camera_id, agent.started)
    print(f"{camera_id}: stored " + "; ".join(stored), file=sys.stderr)
    first: dict[str, Arrival] = {}
    for arrival in stream.of_camera(camera_id):
        name = str(arrival.event.get("person_name"))
        first.setdefault(name, arrival)
    rows = []
    for person, times in sorted(seen.items(), key=lambda item: item[1][0]):
        heard = first.get(person)
        shot = alert = episode = None
        if heard is not None:
            captured = datetime.fromisoformat(str(heard.event["time"])).timestamp()
            shot, alert = captured - agent.started, heard.wall - agent.started
            episode = appearance_start(times, shot)
        first_stored = stored[0] if stored else "-"
        rows.append(
            Row(
                mode,
                run,
                person,
                times[0],
                shot,
                alert,
                episode,
                first_stored,
                agent.first_shots,
                load,
            )
        )
    return rows


def detections(srv: Server, camera_id: str, started: float) -> list[str]:
    """What the server stored for the camera, oldest first: capture and arrival (s into the
    clip), status, name and distance; shows the shots that were sent but named nobody."""
    headers = {"Authorization": f"Bearer {srv.admin_key}"}
    answer = httpx.get(
        f"{srv.base_url}/api/v1/detections",
        params={"camera_id": camera_id, "limit": 500},
        headers=headers,
        timeout=30,
    )
    answer.raise_for_status()
    found = []
    for item in sorted(answer.json()["items"], key=lambda item: str(item["captured_at"])):
        captured = datetime.fromisoformat(item["captured_at"]).timestamp() - started
        received = datetime.fromisoformat(item["received_at"]).timestamp() - started
        distance = "-" if item["distance"] is None else f"{item['distance']:.2f}"
        name = item["name"] or "(no name)"
        found.append(
            f"{captured:.2f}->{received:.2f} {item['status']} {name} {distance} "
            f"track {str(item['track_id']).rsplit('-', 1)[-1]}"
        )
    return found


# --- report ------------------------------------------------------------------------------------


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _median(values: Sequence[float]) -> str:
    return _s(statistics.median(values) if values else None)


def markdown(rows: Sequence[Row], args: argparse.Namespace) -> str:
    lines = [
        "| mode | run | person | appears (s) | shot (s) | alert (s) | latency (s) "
        "| its appearance (s): start, alert after | first shot stored (s) "
        "| agent: first shots out in (s) | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        after = None if row.episode is None or row.alert is None else row.alert - row.episode
        lines.append(
            f"| {row.mode} | {row.run} | {row.person} | {row.appears:.2f} | {_s(row.shot)} "
            f"| {_s(row.alert)} | {_s(row.latency)} | {_s(row.episode)}, {_s(after)} "
            f"| {row.first_stored} | {row.first_shots} | {row.load:.2f} |"
        )
    lines += [
        "",
        "| mode | person | runs alerted | latency median (s) | max (s) "
        "| alert after its appearance: median (s) | max (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in args.modes:
        for person in dict.fromkeys(row.person for row in rows):
            mine = [r for r in rows if r.mode == mode and r.person == person]
            got = [latency for r in mine if (latency := r.latency) is not None]
            since = [
                r.alert - r.episode for r in mine if r.alert is not None and r.episode is not None
            ]
            lines.append(
                f"| {mode} | {person} | {len(got)}/{len(mine)} | {_median(got)} "
                f"| {_s(max(got) if got else None)} | {_median(since)} "
                f"| {_s(max(since) if since else None)} |"
            )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="runs per mode")
    parser.add_argument(
        "--modes", type=lambda text: text.split(","), default=["crops", "embeddings"]
    )
    parser.add_argument(
        "--confirm-frames", type=int, default=2, help="best_shot.confirm_frames of the agent"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    testdata = testdata_dir()
    clip = testdata / CLIP
    people = enrolment_images(testdata)
    faces = analyzer()
    started = time.monotonic()
    seen, fps = sightings(faces, clip, gallery(faces, people))
    found = ", ".join(
        f"{name} at {' '.join(f'{t:.2f}' for t in times)} s" for name, times in seen.items()
    )
    print(f"ground truth in {time.monotonic() - started:.0f} s: {found}", file=sys.stderr)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="fw-alert-") as tmp, server(Path(tmp)) as srv:
        enrol(srv, people)
        stream, stop = Stream(), threading.Event()
        threading.Thread(target=follow, args=(srv, stream, stop), daemon=True).start()
        if not stream.connected.wait(30):
            raise SystemExit("the event stream did not connect")
        for run in range(1, args.runs + 1):
            for mode in args.modes:
                rows += measure(srv, stream, clip, seen, mode, run, Path(tmp), args.confirm_frames)
                print(markdown(rows[-len(seen) :], args).split("\n\n")[0], file=sys.stderr)
        stop.set()
    print(markdown(rows, args))
    print(
        f"\n{machine_line()}; clip {CLIP.name} at {fps:.2f} fps, agent --fps 6 --realtime, "
        f"confirm_frames {args.confirm_frames}"
    )


if __name__ == "__main__":
    main()
