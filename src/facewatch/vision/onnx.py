"""onnxruntime sessions as every model wrapper of vision/ opens them: CPU, one call's work on
``threads`` threads (0: one per core), every graph optimisation on."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def cpu_session(
    model: Path | bytes, threads: int, *, sequential: bool = True
) -> ort.InferenceSession:
    """A CPU session of ``model`` (a file, or its bytes once checked against a checksum).

    ``sequential``: the graph's nodes one after another on one inter-op thread, each node
    spread over ``threads`` (what a face network, a chain of convolutions, wants).
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    if sequential:
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
