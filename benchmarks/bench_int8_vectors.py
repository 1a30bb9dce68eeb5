"""What sending a unit vector as int8 costs: how far it moves a distance.

Edge agents in embeddings mode send EdgeFace's unit vectors as int8 (each value x 127,
``facewatch.wire.quantise_unit``). Over random pairs of the EdgeFace vectors of the LFW
evaluation cache (filled by ``facewatch eval identify --lfw ... --embedder edgeface``), one
side is sent as int8 and the distance is compared with the float distance: the median, the
99th percentile and the largest change, overall and for pairs near the thresholds.

    python benchmarks/bench_int8_vectors.py [--pairs 20000] [--cache FILE.npz]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir

from _shared import machine_line
from facewatch.wire import quantise_unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--cache", type=Path, help="an evaluation-cache .npz (default: EdgeFace's)")
    parser.add_argument("--near", default="1.0,1.25", help="the distance band near the thresholds")
    args = parser.parse_args()
    folder = Path(user_cache_dir("facewatch")) / "embeddings"
    path = args.cache or next(iter(sorted(folder.glob("edgeface*.npz"))), None)
    if path is None:
        raise SystemExit(f"no EdgeFace evaluation cache in {folder}: run facewatch eval first")
    with np.load(path, allow_pickle=False) as data:
        vectors = np.asarray(data["embeddings"], dtype=np.float32)
    vectors = vectors[np.linalg.norm(vectors, axis=1) > 0.5]  # photos without a face: zeros
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sent = np.stack([quantise_unit(v) for v in vectors]).astype(np.float32) / 127.0
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(vectors), (2, args.pairs))
    exact = np.linalg.norm(vectors[i] - vectors[j], axis=1)
    moved = np.abs(np.linalg.norm(sent[i] - vectors[j], axis=1) - exact)
    low, high = (float(x) for x in args.near.split(","))
    near = (exact > low) & (exact < high)
    median, p99, largest = np.percentile(moved, [50, 99, 100])
    print(f"{len(vectors)} vectors ({path.name}), {args.pairs} pairs, one side sent as int8")
    print(f"distance moved: median {median:.4f}, p99 {p99:.4f}, largest {largest:.4f}")
    print(f"pairs between {low} and {high}: {near.sum()}, moved at most {moved[near].max():.4f}")
    print(machine_line())


if __name__ == "__main__":
    main()
