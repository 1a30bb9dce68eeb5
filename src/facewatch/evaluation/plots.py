"""The DET plot of open-set identification: misses against false alarms, one curve per rule.

Needs the ``eval`` extra (matplotlib); drawn off-screen (Agg), written as a PNG.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from facewatch.errors import InvalidInput
from facewatch.evaluation.identification import REPORTED_FARS, ScoredProbes

logger = logging.getLogger(__name__)

_FLOOR = 1e-4
"""Rates are drawn on log axes; zero is drawn at this value."""


def det_plot(curves: Mapping[str, ScoredProbes], path: Path, title: str) -> None:
    """Write a DET plot (FNIR against FPIR, log-log) of every rule's curve to ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InvalidInput("the plot needs matplotlib: pip install 'facewatch[eval]'") from exc
    figure, axes = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    try:
        for name, scored in curves.items():
            fars, dirs = scored.curve()
            axes.step(
                np.maximum(fars, _FLOOR), np.maximum(1.0 - dirs, _FLOOR), where="post", label=name
            )
        for far in REPORTED_FARS:
            axes.axvline(far, color="grey", linewidth=0.6, linestyle=":")
        axes.set(
            xscale="log",
            yscale="log",
            xlim=(_FLOOR, 1.0),
            ylim=(_FLOOR * 10, 1.0),
            xlabel="strangers named (FPIR)",
            ylabel="known probes not named right (FNIR = 1 - DIR)",
            title=title,
        )
        axes.grid(True, which="both", linewidth=0.3)
        axes.legend(loc="lower left")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, bbox_inches="tight")
    finally:
        plt.close(figure)
    logger.info("DET plot written to %s", path)
