"""Figures of one run: the alignment figure (:func:`plot_run`) and the scatter of B against
W^T (:func:`plot_weight_scatter`). They read recordings only (``metrics.json``, weight
arrays); weight angles are in degrees, accuracy in percent, sign concordance a fraction;
the x axis is the training step (one weight update per step)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..metrics import weight_angles
from .style import (MAX_SCATTER_POINTS, MIRROR_SHADE, REFERENCE_LINE, STEP_LABEL, check_fmt,
                    figure_path, history_entries, layer_labels, layer_series, run_title, save,
                    scalar_series, style)


def _shade_mirror_phases(ax: plt.Axes, intervals: Sequence[Sequence[float]] | None, label: bool) -> None:
    """Grey spans over the mirror phases; the first one carries the legend label."""
    for i, (start, end) in enumerate(intervals or []):
        ax.axvspan(start, end, label="mirror phase" if (label and i == 0) else None, **MIRROR_SHADE)


def _mark_not_recorded(ax: plt.Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"{what} not recorded", transform=ax.transAxes, ha="center", va="center", color="0.4")


def _layer_panel(ax, history, key, labels_from_sizes, ylabel, reference=None) -> None:
    """One line per layer of ``history[key]`` against step, with an optional dashed reference."""
    steps, values = layer_series(history, key)
    if values.size == 0:
        _mark_not_recorded(ax, key.replace("_", " "))
    for label, column in zip(layer_labels(values.shape[1], labels_from_sizes), values.T):
        ax.plot(steps, column, label=label)
    if reference is not None:
        ax.axhline(reference[0], label=reference[1], **REFERENCE_LINE)
    ax.set_xlabel(STEP_LABEL)
    ax.set_ylabel(ylabel)


def _performance_panel(ax: plt.Axes, history: Sequence[Mapping]) -> None:
    """Test accuracy (%) on the left axis and losses on a right axis; losses alone for regression."""
    acc_steps, acc = scalar_series(history, "test_accuracy")
    loss_ax = ax
    if acc.size:
        ax.plot(acc_steps, 100.0 * acc, color="tab:purple", label="test accuracy")
        ax.set_ylabel("test accuracy (%)")
        loss_ax = ax.twinx()
        loss_ax.grid(False)
        loss_ax.spines["right"].set_visible(True)
    for key, linestyle in (("train_loss", "-"), ("test_loss", "--")):
        steps, loss = scalar_series(history, key)
        if loss.size:
            loss_ax.plot(steps, loss, color="0.3", linestyle=linestyle,
                         label=key.replace("_", " "))
    loss_ax.set_ylabel("loss")
    ax.set_xlabel(STEP_LABEL)
    handles, labels = [], []
    for a in {id(ax): ax, id(loss_ax): loss_ax}.values():
        h, l = a.get_legend_handles_labels()
        handles, labels = handles + h, labels + l
    ax.legend(handles, labels, loc="best")
    ax.set_title("performance" if acc.size else "performance (regression: losses only)")


def plot_run(metrics: Mapping, out_dir: str | Path, fmt: str = "png") -> list[Path]:
    """:func:`alignment_figure` of one run written as ``alignment.{fmt}`` in ``out_dir``
    (``fmt``: png, pdf or svg); returns ``[that path]``."""
    fmt = check_fmt(fmt)
    with style():
        return [save(alignment_figure(metrics), Path(out_dir) / f"alignment.{fmt}")]


def alignment_figure(metrics: Mapping) -> plt.Figure:
    """Alignment figure of one run, as a matplotlib Figure.

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

    Raises
    ------
    ValueError
        On an empty history.
    """
    history = history_entries(metrics)
    sizes, intervals = metrics.get("sizes"), metrics.get("mirror_intervals")
    with style():
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
        fig.suptitle(run_title(metrics))
        fig.tight_layout()
        return fig


# --------------------------------------------------------------------------- weight scatter


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
    ax.axhline(0.0, **REFERENCE_LINE)
    ax.axvline(0.0, **REFERENCE_LINE)
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
    path = figure_path(out_path)
    angles = weight_angles(W_list, B_list)
    sizes = [np.shape(W_list[0])[1]] + [np.shape(W)[0] for W in W_list] if W_list else None
    labels = layer_labels(len(angles), sizes)
    with style():
        n_panels = max(len(angles), 1)
        fig, axes = plt.subplots(1, n_panels, figsize=(3.2 * n_panels, 3.2), squeeze=False)
        for ax, W, B, label, angle in zip(axes[0], W_list, B_list, labels, angles):
            _scatter_panel(ax, W, B, label, angle)
        if title:
            fig.suptitle(title)
        return [save(fig, path)]
