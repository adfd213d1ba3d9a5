"""The plausible circuit in one figure: every population's firing rates, as the check
measured them over a whole run, beside the alignment and accuracy of a training run."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .style import (REFERENCE_LINE, STEP_LABEL, check_fmt, history_entries, layer_labels,
                    layer_series, save, scalar_series, style)

PHASE_COLORS = {"engaged": "tab:blue", "mirror": "tab:orange"}


def _rates_panel(ax: plt.Axes, report: Mapping) -> None:
    """Min-max range (line) and mean (dot) of each population's rate, engaged and mirror."""
    check = next(c for c in report["checks"] if c["name"] == "rates_in_bounds")
    populations = check["evidence"]["populations"]
    low, high = check["evidence"]["bounds_hz"]
    names = list(populations)
    for k, (phase, color) in enumerate(PHASE_COLORS.items()):
        y = np.arange(len(names)) + (k - 0.5) * 0.3
        for row, name in zip(y, names):
            r = populations[name].get(phase)
            if r is None:
                continue
            ax.plot([r["min_hz"], r["max_hz"]], [row, row], color=color, linewidth=2,
                    solid_capstyle="butt")
            ax.plot(r["mean_hz"], row, "o", color=color, markersize=3.5,
                    label=f"{phase} (min–mean–max)" if name == names[0] else None)
    ax.axvspan(high, max(high * 1.05, ax.get_xlim()[1]), color="0.9", zorder=0)
    ax.axvline(low, **REFERENCE_LINE)
    ax.axvline(high, label=f"bounds [{low:g}, {high:g}] Hz", **REFERENCE_LINE)
    ax.set_yticks(np.arange(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("firing rate (Hz)")
    ax.set_title("every population's rate, whole run")
    ax.legend(loc="lower right", fontsize="small")


def plausible_circuit_figure(report: Mapping, metrics: Mapping) -> plt.Figure:
    """Rates of every population (a ``plausibility.json`` report of a whole run), and
    angle(B_l, W_l^T) (degrees) and test accuracy (%) over training (a run's
    ``metrics.json``), with the check's verdicts in the title."""
    history = history_entries(metrics)
    with style():
        fig = plt.figure(figsize=(10.0, 5.2))
        grid = fig.add_gridspec(2, 2, width_ratios=[1.1, 1.0])
        ax_rates = fig.add_subplot(grid[:, 0])
        ax_angle = fig.add_subplot(grid[0, 1])
        ax_acc = fig.add_subplot(grid[1, 1], sharex=ax_angle)
        _rates_panel(ax_rates, report)
        steps, angles = layer_series(history, "weight_angle_deg")
        for label, column in zip(layer_labels(angles.shape[1], metrics.get("sizes")), angles.T):
            ax_angle.plot(steps, column, label=label)
        ax_angle.axhline(90.0, label="90° (unaligned)", **REFERENCE_LINE)
        ax_angle.set_ylabel("angle(B, Wᵀ) (deg)")
        ax_angle.set_title("feedback vs forward weights")
        ax_angle.legend(loc="best", fontsize="small")
        acc_steps, accuracy = scalar_series(history, "test_accuracy")
        ax_acc.plot(acc_steps, 100.0 * accuracy, color="tab:purple")
        ax_acc.set_ylabel("test accuracy (%)")
        ax_acc.set_xlabel(STEP_LABEL)
        counts = report["counts"]
        fig.suptitle(f"{report['name']} (seed {report['seed']}): {counts['pass']} checks pass, "
                     f"{counts['fail']} fail, {counts['n/a']} n/a over the whole run")
        return fig


def plot_plausible_circuit(report: Mapping, metrics: Mapping, out_dir: str | Path,
                           fmt: str = "png") -> list[Path]:
    """:func:`plausible_circuit_figure` as ``plausibility.{fmt}`` in ``out_dir``."""
    fmt = check_fmt(fmt)
    with style():
        return [save(plausible_circuit_figure(report, metrics),
                     Path(out_dir) / f"plausibility.{fmt}")]
