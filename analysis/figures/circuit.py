"""Figures of circuit runs: the phase schedule with the angle over presentations
(:func:`plot_schedule`), the populations' settled activity (:func:`plot_activity`), and the
spikes around the first engaged presentation (:func:`plot_spiking_transition`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .style import check_fmt, history_entries, layer_labels, run_title, save, style


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
    fmt = check_fmt(fmt)
    history, schedule = history_entries(metrics), metrics.get("schedule")
    if not schedule or "presentation" not in history[0]:
        raise ValueError("metrics has no circuit schedule (schedule, history[].presentation)")
    x = np.array([h["presentation"] for h in history])
    angles = np.array([h["weight_angle_deg"] for h in history])
    labels = layer_labels(angles.shape[1], metrics.get("sizes"))
    names, levels = _phase_levels(schedule["phases"])
    window = schedule["window_start"] + np.arange(len(levels))
    with style():
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.0, 5.0),
                                          gridspec_kw={"height_ratios": [3, 1.3]})
        for layer, label in enumerate(labels):
            top.plot(x, angles[:, layer], marker=".", label=label)
        top.axhline(90, color="0.4", ls="--", lw=0.8, label="90° (unaligned)")
        top.set(xlabel="presentation", ylabel="angle(B, Wᵀ) (deg)",
                title=f"{run_title(metrics)}: {schedule['presentations']} presentations "
                      f"({schedule['mirror']} mirror, {schedule['engaged']} engaged)")
        top.legend(loc="upper right")
        bottom.step(window, levels, where="post", color="k")
        bottom.fill_between(window, 0, levels, step="post", alpha=0.15, color="tab:blue")
        bottom.set(yticks=range(len(names)), yticklabels=names, xlabel="presentation",
                   title=f"phase of presentations {window[0]}–{window[-1]}")
        return [save(fig, Path(out_dir) / f"schedule.{fmt}")]


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
    check_fmt(out_path.suffix.lstrip("."))
    x, engaged = np.asarray(activity["presentation"]), np.asarray(activity["engaged"])
    names = [k for k in activity if k.startswith("forward_")] + \
            [k for k in activity if k.startswith("feedback_")]
    if not len(x) or not names:
        raise ValueError("activity holds no recorded presentations or populations")
    with style():
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
        return [save(fig, out_path)]


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
    with style():
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
        return save(fig, Path(out_path))


def _shade_phases(ax: plt.Axes, phases: Sequence[str], presentation_s: float, first: int,
                  stop: int) -> None:
    """Shade every mirror presentation in ``[first, stop)``."""
    for k in range(first, min(stop, len(phases))):
        if phases[k] != "engaged":
            ax.axvspan(k * presentation_s, (k + 1) * presentation_s, color="0.85", lw=0,
                       zorder=0)
