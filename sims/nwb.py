"""A circuit run's results folder as one NWB file (Neurodata Without Borders, with pynwb).

What goes where (times are simulated seconds from the start of the run; a presentation
lasts ``schedule.npz``'s ``presentation_s``):

- **units**: one unit per spiking unit of every population (spiking circuits), with its
  spike times (``spikes.npz``: the pooled spike train of the unit's ``neurons_pooled``
  neurons), observed over the recorded window only (``obs_intervals``); columns
  ``population``, ``unit_index``, ``neurons_pooled``;
- **acquisition**: the settled population activity (``activity.npz``), one TimeSeries per
  population (``forward_l`` rates, ``feedback_l`` errors; (time, unit)), stamped at the end
  of the presentation it settled in;
- **epochs**: the phase schedule, consecutive presentations of one phase merged into one
  interval, column ``phase`` = ``engaged``, ``mirror B<l>`` or ``mirror all``;
- **processing/weights**: the snapshots of ``W_l``, ``b_l`` and ``B_l`` (``snapshots.npz``,
  (time, rows, columns) in the matrix engine's layout), stamped where they were taken;
- **processing/alignment**: the history: angle(B_l, W_l^T), delivered-vs-backprop error
  angle, sign concordance, norm ratio (time, layer), test loss and accuracy;
- **metadata**: ``notes`` holds the resolved config (TOML) and the package versions,
  ``source_script`` names mirrorlab, ``session_start_time`` is when the run started; the
  subject is the simulated circuit (sex ``U``, unknown; age ``P0D``: it was made when the
  run started), so that tools which require a subject read the file.

Matrix-engine runs have no time, spikes or populations; their ``metrics.json`` and
``arrays.npz`` are their record, and exporting one is refused.
"""
from __future__ import annotations

import datetime
import json
import tomllib
from pathlib import Path

import numpy as np

from . import results
from .config import ConfigError

EXTRA_HINT = "pip install mirrorlab[nwb]"
ALIGNMENT_SERIES = {"weight_angle_deg": ("degrees", "angle between B_l and W_l^T per layer"),
                    "delta_angle_deg": ("degrees", "angle between the error each layer "
                                        "receives and backprop's, per layer"),
                    "sign_concordance": ("fraction", "fraction of B_l's entries whose sign "
                                         "matches W_l^T's, per layer"),
                    "norm_ratio": ("dimensionless", "|B_l| / |W_l| per layer")}


class ExportError(ConfigError):
    """The folder cannot be exported (not a finished circuit run, or pynwb missing)."""


def export(run_dir: Path, path: Path | None = None) -> Path:
    """Write the finished circuit run in ``run_dir`` as ``path`` (default
    ``run_dir/run.nwb``); return the path."""
    pynwb = _pynwb()
    if not results.is_complete(run_dir):
        raise ExportError(f"{run_dir}: holds no finished run to export")
    metrics = results.read_metrics(run_dir)
    if metrics.get("engine") != "circuit" or not (run_dir / "schedule.npz").exists():
        raise ExportError(f"{run_dir}: NWB holds recordings in time; this is a "
                          f"{metrics.get('engine')}-engine run (or one recorded before "
                          "schedule.npz existed), whose metrics.json and arrays.npz are its "
                          "record")
    path = Path(path) if path is not None else run_dir / "run.nwb"
    with np.load(run_dir / "schedule.npz") as schedule:
        presentation_s = float(schedule["presentation_s"])
        engaged, mirror = schedule["engaged"], schedule["mirror"]
    config = tomllib.loads((run_dir / "config.toml").read_text())
    nwbfile = _file(pynwb, run_dir, metrics)
    _add_epochs(nwbfile, engaged, mirror, presentation_s)
    if (run_dir / "spikes.npz").exists():
        _add_units(pynwb, nwbfile, run_dir / "spikes.npz", config["circuit"]["dt_ms"] * 1e-3)
    if (run_dir / "activity.npz").exists():
        _add_activity(pynwb, nwbfile, run_dir / "activity.npz", presentation_s)
    _add_weights(pynwb, nwbfile, run_dir / "snapshots.npz", presentation_s)
    _add_alignment(pynwb, nwbfile, metrics, presentation_s)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def _pynwb():
    try:
        import pynwb
    except ImportError:
        raise ExportError(f"NWB export needs pynwb, which is not installed: {EXTRA_HINT}") \
            from None
    return pynwb


def _file(pynwb, run_dir: Path, metrics: dict):
    started = metrics.get("started")
    start = (datetime.datetime.fromisoformat(started) if started else
             datetime.datetime.fromtimestamp((run_dir / "config.toml").stat().st_mtime,
                                             tz=datetime.timezone.utc))
    what = (f"mirrorlab: the {metrics['rule']} rule as a Brian2 circuit of "
            f"{metrics.get('neuron', '')} neurons, sizes {metrics['sizes']}, trained on "
            f"{metrics['data']} (seed {metrics['seed']})")
    return pynwb.NWBFile(
        session_description=what, identifier=f"mirrorlab-{metrics['config_sha256'][:16]}-"
                                             f"{start.strftime('%Y%m%dT%H%M%S')}",
        session_start_time=start, experiment_description=what,
        session_id=f"{metrics['name']}-{metrics['rule']}-seed{metrics['seed']}",
        keywords=["learning without weight transport", metrics["rule"], "Brian2",
                  "simulation", "mirrorlab"],
        subject=pynwb.file.Subject(subject_id=f"{metrics['name']}-seed{metrics['seed']}",
                                   description="a simulated neural circuit (mirrorlab, "
                                               "Brian2), made when the run started; no "
                                               "animal", sex="U", age="P0D"),
        source_script=f"mirrorlab {metrics['versions'].get('mirrorlab', '')}",
        source_script_file_name="mirrorlab",
        notes="versions: " + json.dumps(metrics["versions"]) + "\n\nconfig (TOML):\n"
              + (run_dir / "config.toml").read_text())


def phase_intervals(engaged: np.ndarray, mirror: np.ndarray) -> list[tuple[int, int, str]]:
    """``(first, stop, phase)`` for every run of presentations in one phase, in order;
    ``engaged`` (n,) and ``mirror`` (n, L + 1) as in ``schedule.npz`` (column l: B_l)."""
    labels = []
    for k in range(len(engaged)):
        layers = np.flatnonzero(mirror[k])
        labels.append("engaged" if engaged[k] else
                      f"mirror B{layers[0]}" if len(layers) == 1 else "mirror all")
    intervals, first = [], 0
    for k in range(1, len(labels) + 1):
        if k == len(labels) or labels[k] != labels[first]:
            intervals.append((first, k, labels[first]))
            first = k
    return intervals


def _timing(times: np.ndarray) -> dict:
    """``starting_time`` and ``rate`` where samples are evenly spaced (as NWB prefers),
    else ``timestamps``."""
    steps = np.diff(times)
    if len(times) > 1 and steps[0] > 0 and np.allclose(steps, steps[0], rtol=1e-9, atol=0):
        return {"starting_time": float(times[0]), "rate": float(1.0 / steps[0])}
    return {"timestamps": times}


def _add_epochs(nwbfile, engaged, mirror, presentation_s: float) -> None:
    nwbfile.add_epoch_column("phase", "engaged (task learning), or mirror B<l> (layer l's "
                                      "feedback learns from noise) or mirror all")
    for first, stop, phase in phase_intervals(engaged, mirror):
        nwbfile.add_epoch(start_time=first * presentation_s, stop_time=stop * presentation_s,
                          tags=[phase.split()[0]], phase=phase)


def _add_units(pynwb, nwbfile, spikes_path: Path, dt_s: float) -> None:
    with np.load(spikes_path) as saved:
        arrays = dict(saved)
    window = arrays["window"] * float(arrays["presentation_s"])
    nwbfile.units = pynwb.misc.Units(
        name="units", resolution=dt_s,
        description="spiking units of the circuit's populations (a unit's train pools its "
                    "neurons' spikes), recorded over a window of the run (obs_intervals)")
    nwbfile.add_unit_column("population", "the population the unit belongs to")
    nwbfile.add_unit_column("unit_index", "the unit's index in its population")
    nwbfile.add_unit_column("neurons_pooled", "neurons whose spikes make the unit's train")
    names = sorted({key.rsplit(".", 1)[0] for key in arrays if "." in key})
    for name in names:
        i, t = arrays[f"{name}.i"], arrays[f"{name}.t_s"]
        for unit in range(int(arrays[f"{name}.n"])):
            nwbfile.add_unit(spike_times=t[i == unit], obs_intervals=[list(window)],
                             population=name, unit_index=unit,
                             neurons_pooled=int(arrays[f"{name}.pool"]))


def _add_activity(pynwb, nwbfile, activity_path: Path, presentation_s: float) -> None:
    with np.load(activity_path) as saved:
        activity = dict(saved)
    times = (activity["presentation"] + 1) * presentation_s
    for name in sorted(k for k in activity if k.startswith(("forward_", "feedback_"))):
        kind = "rate r" if name.startswith("forward_") else "error delta"
        nwbfile.add_acquisition(pynwb.TimeSeries(
            name=name, data=activity[name], **_timing(times), unit="dimensionless",
            description=f"settled {kind} of each unit of population {name} at the end of "
                        "sampled presentations (the matrix engine's units)"))


def _add_weights(pynwb, nwbfile, snapshots_path: Path, presentation_s: float) -> None:
    module = nwbfile.create_processing_module(
        "weights", "snapshots of the forward (W_l, b_l) and feedback (B_l) synapse weights")
    with np.load(snapshots_path) as saved:
        snapshots = dict(saved)
    times = snapshots["presentation"] * presentation_s
    what = {"W": "forward weights W_l (rows: layer l units, columns: layer l-1 units)",
            "b": "forward biases b_l", "B": "feedback weights B_l (rows: layer l-1 units, "
                                            "columns: layer l units)"}
    for name in sorted(k for k in snapshots if k != "presentation"):
        module.add(pynwb.TimeSeries(name=name, data=snapshots[name], **_timing(times),
                                    unit="dimensionless",
                                    description=f"{what[name[0]]}, l = {name[1:]}"))


def _add_alignment(pynwb, nwbfile, metrics: dict, presentation_s: float) -> None:
    module = nwbfile.create_processing_module(
        "alignment", "how the feedback weights came into alignment with the forward weights, "
                     "and task performance, at every checkpoint")
    history = metrics["history"]
    times = np.array([entry["presentation"] for entry in history]) * presentation_s
    for key, (unit, description) in ALIGNMENT_SERIES.items():
        module.add(pynwb.TimeSeries(name=key, data=np.array([e[key] for e in history]),
                                    **_timing(times), unit=unit, description=description))
    for key, unit in (("test_loss", "dimensionless"), ("test_accuracy", "fraction")):
        values = [entry.get(key) for entry in history]
        if all(v is not None for v in values):
            module.add(pynwb.TimeSeries(name=key, data=np.array(values, dtype=float),
                                        **_timing(times), unit=unit,
                                        description=f"{key.replace('_', ' ')} on the test set"))
