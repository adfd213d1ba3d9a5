"""Figures over many runs: rules compared over seeds (:func:`plot_compare`) and the outcome
of a hypothesis test per group (:func:`plot_outcomes`)."""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..metrics import mean_and_spread
from .style import (REFERENCE_LINE, STEP_LABEL, check_fmt, figure_path, layer_labels,
                    rule_colors, save, style)


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
    labels = layer_labels(n_layers, sizes)
    fig, axes = plt.subplots(1, n_layers, figsize=(3.6 * n_layers, 3.2), squeeze=False, sharey=True)
    for layer, ax in enumerate(axes[0]):
        for rule, runs in runs_by_rule.items():
            _band(ax, *_seed_curves(runs, "weight_angle_deg", layer), colors[rule], rule)
        ax.axhline(90.0, label="90° (unaligned)", **REFERENCE_LINE)
        ax.set_title(labels[layer])
        ax.set_xlabel(STEP_LABEL)
    axes[0][0].set_ylabel("angle(B, Wᵀ) (deg)")
    axes[0][0].legend(loc="best")
    return save(fig, path)


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
    ax.set_xlabel(STEP_LABEL)
    ax.set_ylabel("test accuracy (%)" if has_accuracy else "test loss")
    ax.set_title("test accuracy" if has_accuracy else "test loss (regression)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")
    return save(fig, path)


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
    fmt = check_fmt(fmt)
    out_dir = Path(out_dir)
    colors = rule_colors(list(runs_by_rule))
    with style():
        return [
            _compare_angles(runs_by_rule, colors, out_dir / f"compare_weight_angle.{fmt}"),
            _compare_performance(runs_by_rule, colors, out_dir / f"compare_accuracy.{fmt}"),
        ]


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
    path = figure_path(out_path)
    names = list(values)
    with style():
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
            ax.axhline(boundary, label=boundary_label, **REFERENCE_LINE)
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
        return [save(fig, path)]
