"""Changing the embedder of a running install: re-embedding speed, and the server answering.

An install is made with dlib's model (``facewatch people import`` of N LFW people, one
subfolder each, every photo), then ``facewatch serve`` starts with EdgeFace configured. The
server keeps answering with dlib while it re-embeds every stored photo in the background;
meanwhile a client sends ``POST /api/v1/recognize`` in a loop. Reported: photos re-embedded
a second (from the first progress to the switch), the requests answered and failed while
re-embedding, which model answered each, and whether enrolled people are named before and
after the switch.

    python benchmarks/bench_reembed.py --people 150
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from _shared import cli, create_key, machine_line, serve, testdata_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=150, help="LFW people to enrol")
    parser.add_argument("--timeout", type=float, default=1800, help="most seconds to wait")
    args = parser.parse_args()
    lfw = testdata_dir() / "lfw_devtrain" / "lfw"
    with tempfile.TemporaryDirectory(prefix="fw-reembed-") as tmp:
        folder = Path(tmp)
        people = _people_folder(lfw, folder / "people", args.people)
        env = {
            **os.environ,
            "FACEWATCH_DATA_DIR": str(folder / "data"),
            "FACEWATCH_EMBEDDER": "dlib",
        }
        started = time.perf_counter()
        subprocess.run(
            cli("people", "import", str(people)), env=env, check=True, capture_output=True
        )
        print(f"enrolled {args.people} people with dlib in {time.perf_counter() - started:.0f} s")
        key = create_key(env, "admin")
        probes = _probes(lfw, args.people)
        env["FACEWATCH_EMBEDDER"] = "edgeface"
        with serve(env, folder / "serve.log") as (url, _pid):
            _measure(url, key, probes, args.timeout)
    print(machine_line())


def _people_folder(lfw: Path, target: Path, count: int) -> Path:
    """The first ``count`` LFW people with at least two photos, linked one folder each."""
    chosen = [p for p in sorted(lfw.iterdir()) if len(list(p.glob("*.jpg"))) >= 2][:count]
    for person in chosen:
        (target / person.name).mkdir(parents=True)
        first = sorted(person.glob("*.jpg"))[0]  # one photo enrolled; the next is a probe
        (target / person.name / first.name).symlink_to(first)
    return target


def _probes(lfw: Path, count: int) -> list[tuple[str, bytes]]:
    chosen = [p for p in sorted(lfw.iterdir()) if len(list(p.glob("*.jpg"))) >= 2][:count]
    return [(p.name, sorted(p.glob("*.jpg"))[1].read_bytes()) for p in chosen[:20]]


def _measure(url: str, key: str, probes: list[tuple[str, bytes]], timeout: float) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    answers: Counter[tuple[int, str]] = Counter()
    named: Counter[tuple[str, bool]] = Counter()
    stop = threading.Event()

    def recognise() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            while not stop.is_set():
                for name, data in probes:
                    response = client.post("/api/v1/recognize", files={"image": ("p.jpg", data)})
                    body = response.json() if response.status_code == 200 else {}
                    model = str(body.get("model"))
                    answers[(response.status_code, model)] += 1
                    names = {f.get("name") for f in body.get("faces", [])}
                    named[(model, name in names)] += 1

    client = threading.Thread(target=recognise, daemon=True)
    client.start()
    first: tuple[float, dict[str, object]] | None = None
    deadline = time.monotonic() + timeout
    ready: dict[str, object] = {}
    while time.monotonic() < deadline:
        ready = httpx.get(f"{url}/readyz", timeout=10).json()
        models = ready.get("models") or {}
        assert isinstance(models, dict)
        if first is None and models.get("state") == "reembedding":
            first = (time.monotonic(), models)
        if models.get("state") == "current" and first is not None:
            break
        time.sleep(0.5)
    switched = time.monotonic()
    time.sleep(5)  # some answers by the new model
    stop.set()
    client.join(timeout=120)
    seconds = switched - first[0] if first is not None else float("nan")
    templates = int(ready.get("templates", 0) or 0)
    print(f"re-embedded {templates} photos in {seconds:.1f} s: {templates / seconds:.1f} photos/s")
    for (status, model), count in sorted(answers.items()):
        print(f"  /recognize {status} by {model}: {count}")
    for (model, right), count in sorted(named.items()):
        print(f"  probes by {model}: {'named right' if right else 'not named'}: {count}")
    print(f"readyz after the switch: {ready}")


if __name__ == "__main__":
    main()
