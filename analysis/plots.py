"""Publication figures from recorded runs.

Every function reads recordings only: a run's ``metrics`` dict (as loaded
from ``metrics.json``), lists of weight arrays, or ``final`` dicts. Figures
share one style (:func:`_style`), are laid out tight, saved as ``png``
(default), ``pdf`` or ``svg``, and closed after writing. Each plotting
function returns the list of paths it wrote.

Weight angles are in degrees, accuracy in percent, sign concordance is a
fraction; the x axis is the training step (one weight update per step).
"""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib

if "MPLBACKEND" not in os.environ and "matplotlib.pyplot" not in sys.modules:
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402

from .metrics import mean_and_spread, weight_angles  # noqa: E402

__all__ = [
    "FORMATS",
    "RULE_COLORS",
    "plot_run",
    "plot_weight_scatter",
    "plot_compare",
    "summary_table",
    "plot_outcomes",
]

#: Output formats accepted by the ``fmt`` argument.
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

_RC = {
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
_MIRROR_SHADE = {"color": "0.85", "alpha": 0.6, "linewidth": 0, "zorder": 0}
_REFERENCE_LINE = {"color": "0.4", "linestyle": "--", "linewidth": 0.8, "zorder": 1}
_STEP_LABEL = "training step"


@contextlib.contextmanager
def _style() -> Iterator[None]:
    """Context in which every mirrorlab figure is drawn."""
    with matplotlib.rc_context(_RC):
        yield


def _check_fmt(fmt: str) -> str:
    """Return ``fmt`` if it is a supported output format, else raise ValueError."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    return fmt


def _save(fig: plt.Figure, path: Path) -> Path:
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


# --------------------------------------------------------------------------- recordings


def _history(metrics: Mapping) -> list[Mapping]:
    """The run's history entries; ValueError if there are none."""
    history = metrics.get("history") or []
    if not history:
        raise ValueError("metrics has no history entries to plot")
    return history


def _layer_series(history: Sequence[Mapping], key: str) -> tuple[np.ndarray, np.ndarray]:
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


def _scalar_series(history: Sequence[Mapping], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Scalar quantity over steps, skipping entries where it is missing or None."""
    rows = [(h["step"], h[key]) for h in history if h.get(key) is not None]
    if not rows:
        return np.empty(0), np.empty(0)
    steps, values = zip(*rows)
    return np.asarray(steps, dtype=float), np.asarray(values, dtype=float)


def _layer_labels(n_layers: int, sizes: Sequence[int] | None) -> list[str]:
    """'layer l (n_{l-1}→n_l)' when sizes fit the layer count, else 'W1', 'W2', ..."""
    if sizes is not None and len(sizes) == n_layers + 1:
        return [f"layer {l} ({sizes[l - 1]}→{sizes[l]})" for l in range(1, n_layers + 1)]
    return [f"W{l}" for l in range(1, n_layers + 1)]


# --------------------------------------------------------------------------- panels


def _shade_mirror_phases(ax: plt.Axes, intervals: Sequence[Sequence[float]] | None, label: bool) -> None:
    """Grey spans over the mirror phases; the first one carries the legend label."""
    for i, (start, end) in enumerate(intervals or []):
        ax.axvspan(start, end, label="mirror phase" if (label and i == 0) else None, **_MIRROR_SHADE)


def _mark_not_recorded(ax: plt.Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"{what} not recorded", transform=ax.transAxes, ha="center", va="center", color="0.4")


def _layer_panel(ax, history, key, labels_from_sizes, ylabel, reference=None) -> None:
    """One line per layer of ``history[key]`` against step, with an optional dashed reference."""
    steps, values = _layer_series(history, key)
    if values.size == 0:
        _mark_not_recorded(ax, key.replace("_", " "))
    for label, column in zip(_layer_labels(values.shape[1], labels_from_sizes), values.T):
        ax.plot(steps, column, label=label)
    if reference is not None:
        ax.axhline(reference[0], label=reference[1], **_REFERENCE_LINE)
    ax.set_xlabel(_STEP_LABEL)
    ax.set_ylabel(ylabel)


def _performance_panel(ax: plt.Axes, history: Sequence[Mapping]) -> None:
    """Test accuracy (%) on the left axis and losses on a right axis; losses alone for regression."""
    acc_steps, acc = _scalar_series(history, "test_accuracy")
    loss_ax = ax
    if acc.size:
        ax.plot(acc_steps, 100.0 * acc, color="tab:purple", label="test accuracy")
        ax.set_ylabel("test accuracy (%)")
        loss_ax = ax.twinx()
        loss_ax.grid(False)
        loss_ax.spines["right"].set_visible(True)
    for key, style in (("train_loss", "-"), ("test_loss", "--")):
        steps, loss = _scalar_series(history, key)
        if loss.size:
            loss_ax.plot(steps, loss, color="0.3", linestyle=style, label=key.replace("_", " "))
    loss_ax.set_ylabel("loss")
    ax.set_xlabel(_STEP_LABEL)
    handles, labels = [], []
    for a in {id(ax): ax, id(loss_ax): loss_ax}.values():
        h, l = a.get_legend_handles_labels()
        handles, labels = handles + h, labels + l
    ax.legend(handles, labels, loc="best")
    ax.set_title("performance" if acc.size else "performance (regression: losses only)")


def plot_run(metrics: Mapping, out_dir: str | Path, fmt: str = "png") -> list[Path]:
    """Alignment figure of one run: ``alignment.{fmt}`` in ``out_dir``.

    Panels (x axis: training step):

    a. weight angle between ``B_l`` and ``W_l^T`` (degrees), one line per
       layer, dashed 90° reference (no alignment);
    b. angle between delivered and backprop errors (degrees), dashed 90°;
    c. sign concordance (fraction of feedback weights whose sign matches
       ``W_l^T``), dashed 0.5 chance reference;
    d. test accuracy (%) with train/test losses on a right axis; losses
       only when ``test_accuracy`` is None (regression).

    Mirror phases in ``metrics.get("mirror_intervals")`` (``[[start, end],
    ...]`` in steps) are shaded light grey in every panel; the legend of
    panel a names them once.

    Parameters
    ----------
    metrics : dict
        A run's recording as loaded from ``metrics.json``; needs ``history``.
        Optional ``sizes`` (layer widths, input first, length
        ``n_layers + 1``) gives layer labels such as "layer 1 (64→100)";
        otherwise layers are "W1", "W2", ...
    out_dir : str or Path
        Folder to write into (created if missing).
    fmt : {"png", "pdf", "svg"}
        File format.

    Returns
    -------
    list of Path
        ``[out_dir / f"alignment.{fmt}"]``.

    Raises
    ------
    ValueError
        On an unsupported ``fmt`` or an empty history.
    """
    fmt = _check_fmt(fmt)
    history = _history(metrics)
    sizes, intervals = metrics.get("sizes"), metrics.get("mirror_intervals")
    with _style():
        fig, axes = plt.subplots(2, 2, figsize=(8.0, 6.0), sharex=True)
        ax_w, ax_d, ax_s, ax_p = axes.ravel()
        for ax in axes.ravel():
            _shade_mirror_phases(ax, intervals, label=ax is ax_w)
        unaligned = (90.0, "90° (unaligned)")
        _layer_panel(ax_w, history, "weight_angle_deg", sizes, "angle(B, Wᵀ) (deg)", unaligned)
        _layer_panel(ax_d, history, "delta_angle_deg", sizes, "angle(δ, backprop δ) (deg)", unaligned)
        _layer_panel(ax_s, history, "sign_concordance", sizes, "sign concordance (fraction)", (0.5, "chance"))
        _performance_panel(ax_p, history)
        ax_w.set_title("feedback vs forward weights")
        ax_d.set_title("delivered vs backprop error")
        ax_s.set_title("sign agreement of B with Wᵀ")
        for ax in (ax_w, ax_d, ax_s):
            ax.legend(loc="best")
        for ax in axes.ravel():
            ax.xaxis.set_tick_params(labelbottom=True)
        fig.suptitle(_run_title(metrics))
        return [_save(fig, Path(out_dir) / f"alignment.{fmt}")]


def _run_title(metrics: Mapping) -> str:
    """'rule wm · engine matrix · seed 0' from whichever of those fields exist."""
    parts = [f"{key} {metrics[key]}" for key in ("rule", "engine", "seed") if key in metrics]
    return " · ".join(parts) or "run"


# --------------------------------------------------------------------------- weight scatter


def _scatter_path(out_path: str | Path) -> Path:
    """``out_path`` with a supported suffix: ``.png`` is added when it has none."""
    path = Path(out_path)
    if not path.suffix:
        return path.with_suffix(".png")
    _check_fmt(path.suffix.lstrip("."))
    return path


def _subsample(
    x: np.ndarray, y: np.ndarray, limit: int = MAX_SCATTER_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``limit`` paired points, chosen with a fixed rng (seed 0)."""
    if x.size <= limit:
        return x, y
    keep = np.random.default_rng(0).choice(x.size, size=limit, replace=False)
    return x[keep], y[keep]


def _slope_through_origin(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y ≈ k x`` (0 when x is all zero)."""
    xx = float(np.dot(x, x))
    return float(np.dot(x, y)) / xx if xx > 0 else 0.0


def _scatter_panel(ax: plt.Axes, W: np.ndarray, B: np.ndarray, label: str, angle: float) -> None:
    """B entries against W^T entries with the least-squares line through the origin."""
    x, y = np.asarray(W, dtype=float).T.ravel(), np.asarray(B, dtype=float).ravel()
    slope = _slope_through_origin(x, y)
    xs, ys = _subsample(x, y)
    ax.scatter(xs, ys, s=3, alpha=0.4, color="tab:blue", linewidths=0, rasterized=True)
    span = np.array([x.min(), x.max()]) if x.size else np.zeros(2)
    ax.plot(span, slope * span, color="tab:red", label=f"least squares: B = {slope:.3g}·Wᵀ")
    ax.axhline(0.0, **_REFERENCE_LINE)
    ax.axvline(0.0, **_REFERENCE_LINE)
    ax.set_xlabel("Wᵀ entry (a.u.)")
    ax.set_ylabel("B entry (a.u.)")
    ax.set_title(f"{label}: angle {angle:.1f}°")
    ax.legend(loc="upper left")


def plot_weight_scatter(
    W_list: Sequence[np.ndarray],
    B_list: Sequence[np.ndarray],
    out_path: str | Path,
    title: str | None = None,
) -> list[Path]:
    """Scatter feedback against transposed forward weights, one panel per layer.

    As feedback aligns, the cloud collapses onto a line through the origin.
    Each panel draws at most 5000 entries (fixed-seed subsample), the
    least-squares line ``B = k W^T`` fitted on all entries, and the angle
    between ``B_l`` and ``W_l^T`` (degrees) in its title.

    Parameters
    ----------
    W_list : sequence of ndarray, each (n_l, n_{l-1})
        Forward weights, input side first.
    B_list : sequence of ndarray, each (n_{l-1}, n_l)
        Feedback weights, same order.
    out_path : str or Path
        File to write; its suffix (``.png``, ``.pdf`` or ``.svg``) picks the
        format, ``.png`` is added when there is none.
    title : str, optional
        Figure title.

    Returns
    -------
    list of Path
        ``[out_path]``.

    Raises
    ------
    ValueError
        On an unsupported suffix, or shapes that do not pair (names the layer).
    """
    path = _scatter_path(out_path)
    angles = weight_angles(W_list, B_list)
    sizes = [np.shape(W_list[0])[1]] + [np.shape(W)[0] for W in W_list] if W_list else None
    labels = _layer_labels(len(angles), sizes)
    with _style():
        n_panels = max(len(angles), 1)
        fig, axes = plt.subplots(1, n_panels, figsize=(3.2 * n_panels, 3.2), squeeze=False)
        for ax, W, B, label, angle in zip(axes[0], W_list, B_list, labels, angles):
            _scatter_panel(ax, W, B, label, angle)
        if title:
            fig.suptitle(title)
        return [_save(fig, path)]


# --------------------------------------------------------------------------- rule comparison


def _rule_colors(rules: Sequence[str]) -> dict[str, str]:
    """Fixed colours for known rules; unknown rules take unused default-cycle colours in order."""
    taken = {mcolors.to_hex(c) for c in RULE_COLORS.values()}
    default = plt.rcParams["axes.prop_cycle"].by_key().get("color", [])
    cycle = [c for c in default if mcolors.to_hex(c) not in taken]
    colors, spare = {}, iter(cycle or ["0.5"])
    for rule in rules:
        colors[rule] = RULE_COLORS.get(rule) or next(spare, "0.5")
    return colors


def _seed_curves(runs: Sequence[Mapping], key: str, layer: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Curves of every seed at the steps all seeds recorded.

    Returns
    -------
    steps : ndarray, (n_points,)
    curves : ndarray, (n_seeds, n_points)
        ``history[key][layer]`` (or ``history[key]`` for ``layer=None``);
        empty when some seed lacks the quantity.
    """
    per_seed = []
    for run in runs:
        entries = [h for h in run.get("history", []) if h.get(key) is not None]
        if layer is not None:
            entries = [h for h in entries if len(h[key]) > layer]
        per_seed.append({h["step"]: h[key] if layer is None else h[key][layer] for h in entries})
    if not per_seed:
        return np.empty(0), np.empty((0, 0))
    common = sorted(set.intersection(*(set(d) for d in per_seed)))
    return np.asarray(common, dtype=float), np.array([[d[s] for s in common] for d in per_seed], dtype=float)


def _band(ax: plt.Axes, steps: np.ndarray, curves: np.ndarray, color: str, label: str) -> None:
    """Mean line with a shaded min–max band across seeds."""
    if steps.size == 0:
        return
    mean, low, high = mean_and_spread(curves)
    ax.fill_between(steps, low, high, color=color, alpha=0.2, linewidth=0)
    ax.plot(steps, mean, color=color, label=f"{label} (n={curves.shape[0]})")


def _n_layers(runs_by_rule: Mapping[str, Sequence[Mapping]]) -> int:
    """Most layers any run recorded a weight angle for."""
    counts = [
        len(h["weight_angle_deg"])
        for runs in runs_by_rule.values()
        for run in runs
        for h in run.get("history", [])
        if h.get("weight_angle_deg") is not None
    ]
    return max(counts, default=0)


def _compare_angles(runs_by_rule, colors, path: Path) -> Path:
    """Figure: weight angle (deg) vs step, one panel per layer, one band per rule."""
    n_layers = max(_n_layers(runs_by_rule), 1)
    sizes = next((run["sizes"] for runs in runs_by_rule.values() for run in runs if run.get("sizes")), None)
    labels = _layer_labels(n_layers, sizes)
    fig, axes = plt.subplots(1, n_layers, figsize=(3.6 * n_layers, 3.2), squeeze=False, sharey=True)
    for layer, ax in enumerate(axes[0]):
        for rule, runs in runs_by_rule.items():
            _band(ax, *_seed_curves(runs, "weight_angle_deg", layer), colors[rule], rule)
        ax.axhline(90.0, label="90° (unaligned)", **_REFERENCE_LINE)
        ax.set_title(labels[layer])
        ax.set_xlabel(_STEP_LABEL)
    axes[0][0].set_ylabel("angle(B, Wᵀ) (deg)")
    axes[0][0].legend(loc="best")
    return _save(fig, path)


def _compare_performance(runs_by_rule, colors, path: Path) -> Path:
    """Figure: test accuracy (%) vs step per rule; test loss instead when no rule has accuracy."""
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    curves = {rule: _seed_curves(runs, "test_accuracy", None) for rule, runs in runs_by_rule.items()}
    has_accuracy = any(steps.size for steps, _ in curves.values())
    if not has_accuracy:
        curves = {rule: _seed_curves(runs, "test_loss", None) for rule, runs in runs_by_rule.items()}
    scale = 100.0 if has_accuracy else 1.0
    for rule, (steps, values) in curves.items():
        _band(ax, steps, scale * values, colors[rule], rule)
    ax.set_xlabel(_STEP_LABEL)
    ax.set_ylabel("test accuracy (%)" if has_accuracy else "test loss")
    ax.set_title("test accuracy" if has_accuracy else "test loss (regression)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")
    return _save(fig, path)


def plot_compare(
    runs_by_rule: Mapping[str, Sequence[Mapping]], out_dir: str | Path, fmt: str = "png"
) -> list[Path]:
    """Compare learning rules across seeds.

    Writes ``compare_weight_angle.{fmt}`` (weight angle in degrees vs step,
    one panel per layer, one line per rule) and ``compare_accuracy.{fmt}``
    (test accuracy in % vs step; test loss when no rule recorded accuracy,
    as for regression). Lines are the mean over seeds, shaded bands the
    min–max across seeds (:func:`~mirrorlab.analysis.metrics.mean_and_spread`),
    taken at the steps every seed of that rule recorded. Colours are fixed
    per rule: bp black, fa red, ss orange, wm blue, kp green; other rules
    take the remaining default-cycle colours. Mirror phases are not shaded
    here because they differ between rules.

    Parameters
    ----------
    runs_by_rule : dict of str to list of dict
        Rule name -> metrics dicts, one per seed.
    out_dir : str or Path
        Folder to write into (created if missing).
    fmt : {"png", "pdf", "svg"}
        File format.

    Returns
    -------
    list of Path
        The weight-angle figure, then the accuracy figure.

    Raises
    ------
    ValueError
        On an unsupported ``fmt``.
    """
    fmt = _check_fmt(fmt)
    out_dir = Path(out_dir)
    colors = _rule_colors(list(runs_by_rule))
    with _style():
        return [
            _compare_angles(runs_by_rule, colors, out_dir / f"compare_weight_angle.{fmt}"),
            _compare_performance(runs_by_rule, colors, out_dir / f"compare_accuracy.{fmt}"),
        ]


# --------------------------------------------------------------------------- table


def _mean_std(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> str:
    """'mean ± std' of the non-None values (sample std, 0 for one value); 'n/a' if none."""
    data = np.array([v for v in values if v is not None], dtype=float) * scale
    if data.size == 0:
        return "n/a"
    std = data.std(ddof=1) if data.size > 1 else 0.0
    return f"{data.mean():.{digits}f} ± {std:.{digits}f}"


def _layer_angle(final: Mapping, layer: int) -> float | None:
    angles = final.get("weight_angle_deg") or []
    return angles[layer] if layer < len(angles) else None


def _markdown(rows: list[list[str]]) -> str:
    """Markdown table with padded columns; the first row is the header."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def summary_table(summary: Mapping[str, Sequence[Mapping]]) -> str:
    """Markdown table of final results per rule.

    Parameters
    ----------
    summary : dict of str to list of dict
        Rule name -> ``final`` dicts (one per seed), each with
        ``test_accuracy`` (fraction in [0, 1], or None for regression) and
        ``weight_angle_deg`` (list, degrees, input side first).

    Returns
    -------
    str
        Columns: rule, seeds, test accuracy (%) and the weight angle of each
        layer (degrees), each as mean ± sample standard deviation across
        seeds (std 0 for a single seed; "n/a" when nothing was recorded).
    """
    n_layers = max(
        (len(f.get("weight_angle_deg") or []) for finals in summary.values() for f in finals),
        default=0,
    )
    header = ["rule", "seeds", "test accuracy (%)"] + [f"W{l + 1} angle (deg)" for l in range(n_layers)]
    rows = [header]
    for rule, finals in summary.items():
        row = [rule, str(len(finals)), _mean_std([f.get("test_accuracy") for f in finals], scale=100.0)]
        row += [_mean_std([_layer_angle(f, l) for f in finals], digits=1) for l in range(n_layers)]
        rows.append(row)
    return _markdown(rows)


# --------------------------------------------------------------------------- hypothesis outcomes


#: Colour of each verdict in :func:`plot_outcomes`.
VERDICT_COLORS = {"supported": "tab:green", "not supported": "tab:red", "inconclusive": "tab:orange"}


def plot_outcomes(
    values: Mapping[str, Sequence[float]],
    out_path: str | Path,
    *,
    ylabel: str,
    intervals: Mapping[str, Sequence[float]] | None = None,
    boundary: float | None = None,
    boundary_label: str = "claim boundary",
    verdicts: Mapping[str, str] | None = None,
    title: str | None = None,
) -> list[Path]:
    """An outcome per group: every seed's value, the mean and its confidence interval.

    Groups are drawn left to right in the order given (the baseline first, by
    convention). Each seed is a grey dot (spread sideways at fixed offsets so
    that equal values stay visible), the mean a black bar with the interval
    as an error bar. A dashed line marks the claim's boundary; a group's
    verdict, if given, is written under its name in the verdict's colour
    (supported green, not supported red, inconclusive orange).

    Parameters
    ----------
    values : dict of str to sequence of float
        Group name -> one value per seed (units of ``ylabel``); empty groups
        are drawn as a name only.
    out_path : str or Path
        File to write; the suffix picks the format (``.png`` added if none).
    ylabel : str
        Axis label with units, e.g. "final angle(B₂, W₂ᵀ) (deg)".
    intervals : dict of str to (low, high), optional
        Interval of each group's mean (e.g. the bootstrap 95 % CI); NaNs are skipped.
    boundary : float, optional
        Where the claim's boundary lies on this axis (a threshold, or the
        baseline mean plus the claimed margin).
    boundary_label : str
        Legend text of the boundary line.
    verdicts : dict of str to str, optional
        Group name -> "supported", "not supported" or "inconclusive".
    title : str, optional

    Returns
    -------
    list of Path
        ``[out_path]``.
    """
    path = _scatter_path(out_path)
    names = list(values)
    with _style():
        width = max(4.0, 1.3 * len(names) + 1.6)
        fig, ax = plt.subplots(figsize=(width, 3.4))
        for i, name in enumerate(names):
            y = np.asarray(values[name], dtype=float)
            if y.size == 0:
                continue
            offsets = np.linspace(-0.12, 0.12, y.size) if y.size > 1 else np.zeros(1)
            ax.scatter(i + offsets, y, s=14, color="0.55", zorder=2,
                       label="one seed" if i == 0 else None)
            mean = float(np.mean(y))
            low, high = (intervals or {}).get(name, (np.nan, np.nan))
            if np.isfinite(low) and np.isfinite(high):
                ax.errorbar(i + 0.28, mean, yerr=[[mean - low], [high - mean]], fmt="none",
                            ecolor="black", elinewidth=1.2, capsize=3, zorder=3,
                            label="mean, 95% CI" if i == 0 else None)
            ax.plot([i + 0.2, i + 0.36], [mean, mean], color="black", linewidth=2, zorder=3,
                    label=None)
        if boundary is not None:
            ax.axhline(boundary, label=boundary_label, **_REFERENCE_LINE)
        labels = []
        for name in names:
            verdict = (verdicts or {}).get(name)
            labels.append(f"{name}\n{verdict}" if verdict else name)
        ax.set_xticks(range(len(names)), labels)
        for tick, name in zip(ax.get_xticklabels(), names):
            tick.set_color(VERDICT_COLORS.get((verdicts or {}).get(name), "black"))
        ax.set_xlim(-0.5, len(names) - 0.5)
        ax.set_ylabel(ylabel)
        ax.grid(axis="x", visible=False)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best")
        if title:
            ax.set_title(textwrap.fill(title, int(11 * width)))   # ~11 characters per inch
        return [_save(fig, path)]


# --------------------------------------------------------------------------- phase schedule


def _phase_levels(phases: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Distinct phases in a fixed order (engaged first) and each presentation's level."""
    names = ["engaged"] + sorted({p for p in phases if p != "engaged"})
    return names, np.array([names.index(p) for p in phases])


def plot_schedule(metrics: Mapping, out_dir: str | Path, fmt: str = "png") -> list[Path]:
    """The circuit's phase schedule with the weight angle over it: ``schedule.{fmt}``.

    Needs ``metrics["schedule"]`` (``presentations``, ``window_start``, ``phases``) and history
    entries with ``presentation`` (circuit runs). Top: angle between B and Wᵀ per
    layer against presentations over the whole run. Bottom: which phase each
    presentation of a window was (engaged, or the mirror phase of a layer's B).
    """
    fmt = _check_fmt(fmt)
    history, schedule = _history(metrics), metrics.get("schedule")
    if not schedule or "presentation" not in history[0]:
        raise ValueError("metrics has no circuit schedule (schedule, history[].presentation)")
    x = np.array([h["presentation"] for h in history])
    angles = np.array([h["weight_angle_deg"] for h in history])
    labels = _layer_labels(angles.shape[1], metrics.get("sizes"))
    names, levels = _phase_levels(schedule["phases"])
    window = schedule["window_start"] + np.arange(len(levels))
    with _style():
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.0, 5.0),
                                          gridspec_kw={"height_ratios": [3, 1.3]})
        for layer, label in enumerate(labels):
            top.plot(x, angles[:, layer], marker=".", label=label)
        top.axhline(90, color="0.4", ls="--", lw=0.8, label="90° (unaligned)")
        top.set(xlabel="presentation", ylabel="angle(B, Wᵀ) (deg)",
                title=f"{_run_title(metrics)}: {schedule['presentations']} presentations "
                      f"({schedule['mirror']} mirror, {schedule['engaged']} engaged)")
        top.legend(loc="upper right")
        bottom.step(window, levels, where="post", color="k")
        bottom.fill_between(window, 0, levels, step="post", alpha=0.15, color="tab:blue")
        bottom.set(yticks=range(len(names)), yticklabels=names, xlabel="presentation",
                   title=f"phase of presentations {window[0]}–{window[-1]}")
        return [_save(fig, Path(out_dir) / f"schedule.{fmt}")]


#: Neurons of a population shown in the activity figure (the first ones).
ACTIVITY_NEURONS_SHOWN = 32


def plot_activity(activity: Mapping[str, np.ndarray], out_path: str | Path,
                  title: str = "population activity") -> list[Path]:
    """Settled activity of every population at the recorded presentations.

    ``activity`` holds ``presentation`` (n,) presentation indices, ``engaged`` (n,)
    1 for engaged and 0 for mirror presentations, and one ``(n, n_units)`` array per
    population (``forward_l``: rate r, ``feedback_l``: error delta; dimensionless).
    One heat map per population (units × presentations, first
    :data:`ACTIVITY_NEURONS_SHOWN` units), with the phase of each column marked above.
    """
    out_path = Path(out_path)
    _check_fmt(out_path.suffix.lstrip("."))
    x, engaged = np.asarray(activity["presentation"]), np.asarray(activity["engaged"])
    names = [k for k in activity if k.startswith("forward_")] + \
            [k for k in activity if k.startswith("feedback_")]
    if not len(x) or not names:
        raise ValueError("activity holds no recorded presentations or populations")
    with _style():
        fig, axes = plt.subplots(len(names), 1, figsize=(7.0, 1.3 * len(names) + 0.8),
                                 sharex=True, squeeze=False)
        for ax, name in zip(axes[:, 0], names):
            values = np.asarray(activity[name])[:, :ACTIVITY_NEURONS_SHOWN].T
            limit = float(np.max(np.abs(values))) or 1.0
            signed = name.startswith("feedback_") or values.min() < 0
            image = ax.imshow(values, aspect="auto", interpolation="nearest", origin="lower",
                              cmap="RdBu_r" if signed else "viridis",
                              vmin=-limit if signed else 0.0, vmax=limit,
                              extent=(-0.5, len(x) - 0.5, -0.5, values.shape[0] - 0.5))
            ax.scatter(np.flatnonzero(engaged), np.full(int(engaged.sum()), values.shape[0]),
                       marker="|", color="k", s=12, clip_on=False)
            ax.grid(False)
            ax.set_ylabel(f"{name}\nunit", fontsize="small")
            fig.colorbar(image, ax=ax, pad=0.01, label="δ" if name.startswith("feedback_")
                         else "r")
        ticks = np.linspace(0, len(x) - 1, min(len(x), 6)).round().astype(int)
        axes[-1, 0].set_xticks(ticks, [str(int(x[k])) for k in ticks])
        axes[-1, 0].set_xlabel("presentation (| above a panel: engaged; else mirror)")
        axes[0, 0].set_title(title)
        return [_save(fig, out_path)]


# --- spiking circuits ----------------------------------------------------------------------

def plot_spiking_transition(spikes: Mapping[str, Mapping], phases: Sequence[str],
                            presentation_s: float, window: tuple[int, int],
                            angles: tuple[np.ndarray, np.ndarray] | None, out_path: str | Path,
                            title: str = "", bin_s: float = 0.025,
                            raster_units: int = 20) -> Path:
    """Raster of each spiking population, population rates, and the weight angle, over
    presentations ``window = (first, stop)`` around a mirror -> engaged transition.

    Parameters
    ----------
    spikes : {population: {"i": unit indices, "t_s": times (s), "n": units, "pool": neurons
        per unit}}
        Pooled spikes (as :meth:`circuits.spiking.SpikingCircuit.activity` returns them).
    phases : list of str
        Phase of every presentation ("engaged" or "mirror ...").
    presentation_s : float
        Presentation duration in seconds.
    angles : (presentations, (n, L) angles in degrees) or None
        Weight angle of each layer at those presentations.
    bin_s : float
        Bin width of the population rates, seconds.
    raster_units : int
        Units shown per raster; each row shows one neuron of the unit's pool (its pooled
        spikes thinned at random by ``1 / pool``).
    """
    first, stop = window
    t0, t1 = first * presentation_s, stop * presentation_s
    names = list(spikes)
    rows = len(names) + 2
    with _style():
        fig, axes = plt.subplots(rows, 1, figsize=(8, 1.1 * len(names) + 4.5), sharex=True,
                                 gridspec_kw={"height_ratios": [1] * len(names) + [1.6, 1.6]})
        thin = np.random.default_rng(0)
        for ax, name in zip(axes, names):
            pop = spikes[name]
            # one neuron per unit: each pooled spike is that neuron's with probability 1/pool
            keep = ((pop["t_s"] >= t0) & (pop["t_s"] < t1) & (pop["i"] < raster_units)
                    & (thin.random(len(pop["t_s"])) < 1.0 / pop["pool"]))
            ax.plot(pop["t_s"][keep], pop["i"][keep], "|", ms=3, color="0.15")
            ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
            ax.set_ylim(-0.5, min(pop["n"], raster_units) - 0.5)
            ax.set_yticks([])
            _shade_phases(ax, phases, presentation_s, first, stop)
        rate_ax = axes[-2]
        edges = np.arange(t0, t1 + bin_s / 2, bin_s)
        for name in names:
            pop = spikes[name]
            counts, _ = np.histogram(pop["t_s"], bins=edges)
            rate_ax.plot(edges[:-1] + bin_s / 2, counts / (bin_s * pop["n"] * pop["pool"]),
                         label=name, lw=1)
        rate_ax.set_ylabel("rate per neuron (Hz)")
        rate_ax.legend(fontsize=6, ncol=3, loc="upper right")
        _shade_phases(rate_ax, phases, presentation_s, first, stop)
        angle_ax = axes[-1]
        if angles is not None:
            at, values = angles
            for l in range(values.shape[1]):
                angle_ax.plot(np.asarray(at) * presentation_s, values[:, l], marker="o", ms=3,
                              label=f"angle(B{l + 1}, W{l + 1}ᵀ)")
            angle_ax.legend(fontsize=7)
        angle_ax.set_ylabel("angle (deg)")
        angle_ax.set_xlabel("time (s)")
        _shade_phases(angle_ax, phases, presentation_s, first, stop)
        axes[0].set_title(title or "spiking circuit around a mirror → engaged transition "
                          "(grey: mirror presentations)", fontsize=9)
        axes[0].set_xlim(t0, t1)
        return _save(fig, Path(out_path))


def _shade_phases(ax: plt.Axes, phases: Sequence[str], presentation_s: float, first: int,
                  stop: int) -> None:
    """Shade every mirror presentation in ``[first, stop)``."""
    for k in range(first, min(stop, len(phases))):
        if phases[k] != "engaged":
            ax.axvspan(k * presentation_s, (k + 1) * presentation_s, color="0.85", lw=0,
                       zorder=0)
