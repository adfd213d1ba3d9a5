"""The figures of a results folder, drawn from what the run wrote (``metrics.json``,
``arrays.npz``, ``activity.npz``, ``spikes.npz``) into its ``figures/``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis import figures
from . import results


def draw_figures(run_dir: Path, fmt: str = "png") -> list[Path]:
    """(Re)draw every figure of a results folder from its recordings."""
    run_dir = Path(run_dir)
    metrics = results.read_metrics(run_dir)
    written = figures.plot_run(metrics, run_dir / "figures", fmt=fmt)
    if (run_dir / "arrays.npz").exists():
        W, _, B = results.load_network_arrays(run_dir)
        written += figures.plot_weight_scatter(W, B, run_dir / "figures" / f"scatter.{fmt}",
                                               title=f"{metrics['rule']}: B against Wᵀ")
    if metrics.get("schedule"):
        written += figures.plot_schedule(metrics, run_dir / "figures", fmt=fmt)
    if (run_dir / "spikes.npz").exists():
        written.append(_draw_spikes(run_dir, metrics, fmt))
    if (run_dir / "activity.npz").exists():
        with np.load(run_dir / "activity.npz") as activity:
            written += figures.plot_activity(
                dict(activity), run_dir / "figures" / f"activity.{fmt}",
                title=f"{metrics['rule']} · seed {metrics['seed']}: settled activity")
    return written


def _draw_spikes(run_dir: Path, metrics: dict, fmt: str) -> Path:
    """figures/spikes: rasters, population rates and angles over the spikes.npz window."""
    with np.load(run_dir / "spikes.npz") as saved:
        arrays = dict(saved)
    names = sorted({key.rsplit(".", 1)[0] for key in arrays if "." in key})
    spikes = {name: {field: arrays[f"{name}.{field}"] for field in ("i", "t_s", "n", "pool")}
              for name in names}
    phases = ["engaged" if e else "mirror" for e in arrays["engaged"]]
    history = metrics["history"]
    angles = (np.array([h["presentation"] for h in history]),
              np.array([h["weight_angle_deg"] for h in history]))
    return figures.plot_spiking_transition(
        spikes, phases, float(arrays["presentation_s"]), tuple(int(k) for k in arrays["window"]),
        angles, run_dir / "figures" / f"spikes.{fmt}",
        title=f"{metrics['rule']} · seed {metrics['seed']}: spikes around the first engaged "
              "presentation (grey: mirror)")
