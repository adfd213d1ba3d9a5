"""The look every mirrorlab figure shares, and the helpers every figure module uses:
one style (:func:`style`), tight layout, ``png`` (default), ``pdf`` or ``svg`` files with
reproducible metadata (:func:`save`), a fixed colour per rule, layer labels, and the
series read from a run's ``history``."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib

if "MPLBACKEND" not in os.environ and "matplotlib.pyplot" not in sys.modules:
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402

FORMATS = ("png", "pdf", "svg")

#: Fixed colour per learning rule; other rules take the remaining default-cycle colours.
RULE_COLORS = {
    "bp": "black",
    "fa": "tab:red",
    "ss": "tab:orange",
    "wm": "tab:blue",
    "kp": "tab:green",
}

#: Most points drawn per scatter panel.
MAX_SCATTER_POINTS = 5000

RC = {
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "lines.linewidth": 1.4,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "svg.hashsalt": "mirrorlab",
}
MIRROR_SHADE = {"color": "0.85", "alpha": 0.6, "linewidth": 0, "zorder": 0}
REFERENCE_LINE = {"color": "0.4", "linestyle": "--", "linewidth": 0.8, "zorder": 1}
STEP_LABEL = "training step"


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context in which every mirrorlab figure is drawn."""
    with matplotlib.rc_context(RC):
        yield


def check_fmt(fmt: str) -> str:
    """Return ``fmt`` if it is a supported output format, else raise ValueError."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    return fmt


def save(fig: plt.Figure, path: Path) -> Path:
    """Lay out, write (reproducible metadata) and close ``fig``; return ``path``."""
    fmt = path.suffix.lstrip(".")
    metadata = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(fmt, {})
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.tight_layout()
        fig.savefig(path, format=fmt, metadata=metadata)
    finally:
        plt.close(fig)
    return path


def history_entries(metrics: Mapping) -> list[Mapping]:
    """The run's history entries; ValueError if there are none."""
    history = metrics.get("history") or []
    if not history:
        raise ValueError("metrics has no history entries to plot")
    return history


def layer_series(history: Sequence[Mapping], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer quantity over steps.

    Returns
    -------
    steps : ndarray, (n_points,)
    values : ndarray, (n_points, n_layers)
        Entries that lack ``key`` (or hold None) are skipped.
    """
    rows = [(h["step"], h[key]) for h in history if h.get(key) is not None]
    if not rows:
        return np.empty(0), np.empty((0, 0))
    steps, values = zip(*rows)
    return np.asarray(steps, dtype=float), np.asarray(values, dtype=float).reshape(len(rows), -1)


def scalar_series(history: Sequence[Mapping], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Scalar quantity over steps, skipping entries where it is missing or None."""
    rows = [(h["step"], h[key]) for h in history if h.get(key) is not None]
    if not rows:
        return np.empty(0), np.empty(0)
    steps, values = zip(*rows)
    return np.asarray(steps, dtype=float), np.asarray(values, dtype=float)


def layer_labels(n_layers: int, sizes: Sequence[int] | None) -> list[str]:
    """'layer l (n_{l-1}→n_l)' when sizes fit the layer count, else 'W1', 'W2', ..."""
    if sizes is not None and len(sizes) == n_layers + 1:
        return [f"layer {l} ({sizes[l - 1]}→{sizes[l]})" for l in range(1, n_layers + 1)]
    return [f"W{l}" for l in range(1, n_layers + 1)]


def rule_colors(rules: Sequence[str]) -> dict[str, str]:
    """Fixed colours for known rules; unknown rules take unused default-cycle colours in order."""
    taken = {mcolors.to_hex(c) for c in RULE_COLORS.values()}
    default = plt.rcParams["axes.prop_cycle"].by_key().get("color", [])
    cycle = [c for c in default if mcolors.to_hex(c) not in taken]
    colors, spare = {}, iter(cycle or ["0.5"])
    for rule in rules:
        colors[rule] = RULE_COLORS.get(rule) or next(spare, "0.5")
    return colors


def run_title(metrics: Mapping) -> str:
    """'rule wm · engine matrix · seed 0' from whichever of those fields exist."""
    parts = [f"{key} {metrics[key]}" for key in ("rule", "engine", "seed") if key in metrics]
    return " · ".join(parts) or "run"


def figure_path(out_path: str | Path) -> Path:
    """``out_path`` with a supported suffix: ``.png`` is added when it has none."""
    path = Path(out_path)
    if not path.suffix:
        return path.with_suffix(".png")
    check_fmt(path.suffix.lstrip("."))
    return path
