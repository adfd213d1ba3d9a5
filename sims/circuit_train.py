"""Training runs of the Brian2 circuit engine, into the same results folder as the
matrix engine's (``engine = "circuit"`` in ``metrics.json``).

The circuit runs the whole schedule in one Brian2 run and records W, b and B
every ``record_every`` presentations. Each snapshot becomes one history entry
through :func:`sims.train.checkpoint`: alignment is measured on the recorded
weights, and accuracy and delta angles come from the steady state those weights
define (what instantaneous neurons compute, and settled rate neurons approach).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .circuit_run import plan_from_config, run_circuit
from ..circuits.phases import presentations
from . import results
from .config import Config, to_toml
from .devices import device_from_config
from .data import Dataset
from .schedule import ENGAGED
from .train import _check_sizes, _final, _new_metrics, build_engine, checkpoint, \
    load_config_data, steps_per_epoch

SNAPSHOTS = 40  # history entries over a run when training.checkpoint_every is 0


def run_circuit_experiment(config: Config, out_dir: str | Path | None = None, *,
                           progress: bool = True, data: Dataset | None = None) -> dict:
    """Train ``config`` as a Brian2 circuit; return (and, with ``out_dir``, write) the metrics.

    ``device.name`` picks Brian2 runtime, cpp_standalone or cuda_standalone, built in
    ``device.build_dir`` or a temporary folder. A later run in this process whose
    circuit differs only in seed or numeric parameters reuses the standalone build.
    """
    data = data if data is not None else load_config_data(config)
    _check_sizes(config, data)
    folder = Path(out_dir) if out_dir is not None else None
    if folder is not None:
        results.write_text(folder / "config.toml", to_toml(config))
    plan = plan_from_config(config, data)
    table = presentations(plan.spec.sizes, plan.events, data.x_train, data.y_train, plan.noise,
                          plan.spec.mirror_scheme)
    every = _record_every(config, len(table), plan.events)
    device = device_from_config(config.device)
    if progress:
        print(f"circuit: {len(table)} presentations of {plan.spec.presentation_time} "
              f"on {device.describe()}; building and running ...", flush=True)
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial,
                      feedback_signs=plan.feedback_signs, device=device, record_every=every,
                      seed=config.experiment.seed)
    metrics = _new_metrics(config, data)
    metrics.update(engine="circuit", device=run.device, neuron=config.circuit.neuron,
                   wall_time_s=run.wall_time_s, build_time_s=run.build_time_s,
                   schedule=_schedule_summary(table))
    metrics["history"] = _history(config, data, run, len(table))
    metrics["final"] = _final(metrics["history"][-1])
    metrics["complete"] = True
    if folder is not None:
        results.write_json(folder / "metrics.json", metrics)
        results.write_arrays(folder / "arrays.npz", results.network_arrays(run.W, run.b, run.B))
        results.write_arrays(folder / "activity.npz", activity_arrays(run.recording, table))
        if run.spikes:
            window = metrics["schedule"]["window_start"], (metrics["schedule"]["window_start"]
                                                           + len(metrics["schedule"]["phases"]))
            results.write_arrays(folder / "spikes.npz", spike_arrays(
                run.spikes, table, window, float(plan.spec.presentation_time)))
    return metrics


def activity_arrays(recording, table) -> dict[str, np.ndarray]:
    """What ``activity.npz`` holds: ``presentation`` (n,) the presentations whose settled
    activity was recorded, ``engaged`` (n,) 1 where that presentation was engaged, and
    per population ``forward_l`` (n, n_l) rates and ``feedback_l`` (n, n_l) errors."""
    shown = recording.presentations[1:] - 1
    return {"presentation": shown, "engaged": table.engaged[shown].astype(np.int8),
            **recording.activity}


def spike_arrays(spikes: dict, table, window: tuple[int, int],
                 presentation_s: float) -> dict[str, np.ndarray]:
    """What ``spikes.npz`` holds: the spikes of presentations ``window = (first, stop)``
    (the schedule figure's window, around the first engaged presentation).

    ``window`` (2,), ``presentation_s`` (s), ``engaged`` (stop,) 1 for engaged
    presentations, and per population ``NAME.i`` unit indices, ``NAME.t_s`` times (s),
    ``NAME.n`` units, ``NAME.pool`` neurons per unit (pooled spike trains).
    """
    first, stop = window
    arrays = {"window": np.array(window), "presentation_s": np.array(presentation_s),
              "engaged": table.engaged[:stop].astype(np.int8)}
    for name, population in spikes.items():
        t = np.asarray(population["t_s"])
        shown = (t >= first * presentation_s) & (t < stop * presentation_s)
        arrays.update({f"{name}.i": np.asarray(population["i"])[shown], f"{name}.t_s": t[shown],
                       f"{name}.n": np.array(population["n"]),
                       f"{name}.pool": np.array(population["pool"])})
    return arrays


def _record_every(config: Config, n_presentations: int, events) -> int:
    """Presentations between snapshots: from ``checkpoint_every`` (engaged steps) scaled by
    the presentations per step, else about :data:`SNAPSHOTS` over the run."""
    engaged = sum(e.phase == ENGAGED for e in events)
    per_step = n_presentations / max(engaged, 1)
    if config.training.checkpoint_every:
        return max(1, round(config.training.checkpoint_every * per_step))
    return max(1, n_presentations // SNAPSHOTS)


def _history(config: Config, data: Dataset, run, n_presentations: int) -> list[dict]:
    engine = build_engine(config, np.random.default_rng(0))
    per_epoch = steps_per_epoch(len(data.x_train), 1)
    rec, history = run.recording, []
    snapshots = [(int(rec.presentations[k]), int(rec.engaged_steps[k]), [w[k] for w in rec.W],
                  [v[k] for v in rec.b], [x[k] for x in rec.B])
                 for k in range(len(rec.presentations))]
    snapshots.append((n_presentations, _engaged_total(data, config), run.W, run.b, run.B))
    for presentation, step, W, b, B in snapshots:
        engine.net.W, engine.net.b, engine.net.B = list(W), list(b), list(B)
        entry = checkpoint(engine, data, step, step / per_epoch, None)
        entry["presentation"] = presentation
        if history and history[-1]["presentation"] == presentation:
            history[-1] = entry   # the final weights replace a snapshot of the same step
        else:
            history.append(entry)
    return history


def _engaged_total(data: Dataset, config: Config) -> int:
    return len(data.x_train) * config.training.epochs


SCHEDULE_SHOWN = 60  # presentations whose phase metrics.json lists, for the schedule figure


def _schedule_summary(table) -> dict:
    """How many presentations of each phase, and the phases (``"engaged"``,
    ``"mirror B<l>"`` or ``"mirror all"``) of a window that starts shortly before
    the first engaged presentation (``window_start``)."""
    engaged = np.flatnonzero(table.engaged)
    start = max(0, int(engaged[0]) - SCHEDULE_SHOWN // 4) if len(engaged) else 0
    phases = []
    for k in range(start, min(len(table), start + SCHEDULE_SHOWN)):
        layers = np.flatnonzero(table.mirror[k])
        phases.append("engaged" if table.engaged[k] else
                      f"mirror B{layers[0]}" if len(layers) == 1 else "mirror all")
    return {"presentations": len(table), "engaged": int(np.sum(table.engaged)),
            "mirror": int(len(table) - np.sum(table.engaged)), "window_start": start,
            "phases": phases}
