"""mirrorlab from Python: every command of the command line is one function here.

::

    import mirrorlab as ml

    config = ml.load_config("configs/digits_mlp.toml", {"rule.name": "wm"})
    result = ml.run(config)                     # in memory; out="results/wm" keeps a folder
    result.history                              # DataFrame: one row per checkpoint and layer
    result.final["test_accuracy"], result.W[1], result.B[1]
    result.plot()                               # the alignment figure

    experiment = ml.build_circuit(ml.load_config("configs/digits_wm_circuit.toml"))
    monitor = brian2.StateMonitor(experiment.circuit.forward[1], "r", record=[0])
    experiment.circuit.network.add(monitor)     # one's own Brian2 objects run with it
    result = experiment.run()

    comparison = ml.compare(config, rules=["fa", "wm"], seeds=3, out="results/cmp")
    report = ml.hypothesis("configs/hypotheses/dale_feedback.toml", out="results/dale",
                           client=client)       # any dask.distributed client; None: here

A run's results folder (:mod:`mirrorlab.sims.results`) is its record: :func:`run` without
``out`` runs into a temporary folder, reads it into a :class:`Result` and removes it, so a
run in memory and a run on disk are the same run. Errors are those of the command line:
:class:`ConfigError` (a config field, a value, a file), ``DataError``, ``DivergenceError``.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..analysis import figures, tables
from ..models.rules import RULES
from . import results
from .config import Config, ConfigError, from_dict, load_config as _read_config
from .runs import run as _run

__all__ = ["load_config", "run", "Result", "build_circuit", "CircuitBuild", "compare",
           "Comparison", "sweep", "hypothesis", "check", "export_nwb", "ConfigError"]


def load_config(source: str | Path | Mapping | Config,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """A validated :class:`Config` from a TOML file (following ``base``), a dict of its
    tables (``{"network": {"sizes": [64, 100, 10]}, ...}``), or a Config; ``overrides``
    maps dotted fields to values (``{"training.lr": 0.1, "rule.name": "kp"}``)."""
    if isinstance(source, Config):
        config = source
    elif isinstance(source, Mapping):
        config = from_dict(dict(source))
    else:
        config = _read_config(source)
    return config.replace(**overrides) if overrides else config


@dataclass(frozen=True, eq=False)
class Result:
    """One finished run, as its results folder holds it.

    Attributes
    ----------
    config : Config
        The resolved config that ran.
    metrics : dict
        ``metrics.json``: ``history`` (one entry per checkpoint), ``final``, timing, versions.
    W, b, B : list of arrays
        Final forward weights ``W[l]`` (n_{l+1}, n_l), biases, and the feedback that was
        delivered ``B[l]`` (n_l, n_{l+1}); index 0 is the input side.
    activity : dict of arrays or None
        Circuits: ``activity.npz`` (settled rates and errors per population at sampled
        presentations; see :func:`~mirrorlab.sims.runs.circuit.activity_arrays`).
    spikes : dict of dict or None
        Spiking circuits: per population ``{"i", "t_s", "n", "pool"}`` (unit indices, spike
        times in s, units, neurons pooled per unit) over the recorded window.
    snapshots : dict of arrays or None
        Circuits: the weights at every history entry (``snapshots.npz``).
    folder : Path or None
        The results folder (None for a run in memory).
    """

    config: Config
    metrics: dict
    W: list[np.ndarray]
    b: list[np.ndarray]
    B: list[np.ndarray]
    activity: dict[str, np.ndarray] | None = None
    spikes: dict[str, dict[str, np.ndarray]] | None = None
    snapshots: dict[str, np.ndarray] | None = None
    folder: Path | None = None

    @classmethod
    def load(cls, folder: str | Path) -> "Result":
        """Read a finished results folder (``FolderError`` if it holds no finished run)."""
        folder = Path(folder)
        if not results.is_complete(folder):
            raise results.FolderError(f"{folder}: holds no finished run (metrics.json is "
                                      "missing or not marked complete)")
        W, b, B = results.load_network_arrays(folder)
        return cls(_read_config(folder / "config.toml"), results.read_metrics(folder), W, b, B,
                   _npz(folder / "activity.npz"), _spikes(folder / "spikes.npz"),
                   _npz(folder / "snapshots.npz"), folder)

    @property
    def final(self) -> dict:
        """The last checkpoint: ``test_accuracy`` (fraction), ``weight_angle_deg`` (per layer)..."""
        return self.metrics["final"]

    @property
    def history(self):
        """pandas DataFrame, one row per checkpoint and layer (see
        :func:`~mirrorlab.analysis.tables.history_frame`)."""
        return tables.history_frame(self.metrics)

    def plot(self):
        """The alignment figure (angles, delta angles, sign agreement, accuracy over
        training) as a matplotlib Figure."""
        return figures.alignment_figure(self.metrics)

    def export_nwb(self, path: str | Path) -> Path:
        """Write this run as an NWB file (a circuit run kept in a folder; see
        :func:`export_nwb`)."""
        if self.folder is None:
            raise results.FolderError("export_nwb: this run was kept in memory; run it with "
                                      "out=FOLDER to export it")
        return export_nwb(self.folder, path)


def _npz(path: Path) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    with np.load(path) as arrays:
        return dict(arrays)


def _spikes(path: Path) -> dict[str, dict[str, np.ndarray]] | None:
    arrays = _npz(path)
    if arrays is None:
        return None
    names = sorted({key.rsplit(".", 1)[0] for key in arrays if "." in key})
    return {name: {part: arrays[f"{name}.{part}"] for part in ("i", "t_s", "n", "pool")}
            for name in names}


def run(config: Config, out: str | Path | None = None, *, progress: bool = True,
        figures: bool | None = None) -> Result:
    """Train ``config`` on its engine (``experiment.engine``; circuits on ``device.name``).

    ``out``: the results folder to write (kept); None runs in a temporary folder read back
    into the Result. ``figures`` (default: when ``out`` is given) draws the run's figures
    into ``out/figures``. Ctrl-C raises KeyboardInterrupt with the finished checkpoints on
    disk, marked incomplete; a blow-up raises ``DivergenceError``.
    """
    if out is not None:
        _run(config, results.check_folder(out), progress=progress,
             figures=True if figures is None else figures)
        return Result.load(out)
    with tempfile.TemporaryDirectory(prefix="mirrorlab_run_") as folder:
        _run(config, Path(folder), progress=progress, figures=bool(figures))
        loaded = Result.load(folder)
    return _in_memory(loaded)


def _in_memory(result: Result) -> Result:
    return Result(result.config, result.metrics, result.W, result.b, result.B, result.activity,
                  result.spikes, result.snapshots, None)


@dataclass(eq=False)
class CircuitBuild:
    """A config's circuit, built and not yet run (:func:`build_circuit`).

    ``circuit`` (:class:`~mirrorlab.circuits.Circuit`) holds the Brian2 objects by name:
    ``circuit.network`` (add monitors or groups to it), ``circuit.forward[l]``,
    ``circuit.feedback[l]``, ``circuit.W[l]``, ``circuit.B[l]``, ``circuit.target``.
    """

    config: Config
    experiment: Any = field(repr=False)

    @property
    def circuit(self):
        return self.experiment.circuit

    def run(self, out: str | Path | None = None, *, progress: bool = True,
            figures: bool | None = None) -> Result:
        """Run the built circuit, with everything added to its network (see :func:`run`);
        a circuit runs once."""
        if out is not None:
            self.experiment.run(results.check_folder(out), progress=progress,
                                figures=True if figures is None else figures)
            return Result.load(out)
        with tempfile.TemporaryDirectory(prefix="mirrorlab_run_") as folder:
            self.experiment.run(Path(folder), progress=progress, figures=bool(figures))
            loaded = Result.load(folder)
        return _in_memory(loaded)


def build_circuit(config: Config) -> CircuitBuild:
    """Build the Brian2 circuit of ``config`` on its device (``device.name``) without
    running it; checks the config and its data first, as :func:`run` does."""
    from .runs.circuit import CircuitExperiment   # imports Brian2

    experiment = CircuitExperiment(config)
    experiment.build()
    return CircuitBuild(config, experiment)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Rules over seeds (:func:`compare`): ``runs[rule]`` the finished runs, seed order."""

    runs: dict[str, list[Result]]
    folder: Path

    @property
    def summary(self):
        """pandas DataFrame, one row per rule and seed: final accuracy, loss and per-layer
        angles (``weight_angle_deg_1`` is the input side)."""
        import pandas as pd
        rows = []
        for rule, runs in self.runs.items():
            for result in runs:
                final = result.final
                row = {"rule": rule, "seed": result.config.experiment.seed,
                       "test_accuracy": final.get("test_accuracy"),
                       "test_loss": final.get("test_loss")}
                for key in tables.LAYER_FIELDS:
                    row.update({f"{key}_{l}": v for l, v in enumerate(final.get(key) or [], 1)})
                rows.append(row)
        return pd.DataFrame(rows)

    @property
    def history(self):
        """Every run's :attr:`Result.history`, with ``rule`` and ``seed`` columns."""
        import pandas as pd
        return pd.concat([r.history.assign(rule=rule, seed=r.config.experiment.seed)
                          for rule, runs in self.runs.items() for r in runs], ignore_index=True)

    def table(self) -> str:
        """The Markdown table the command line prints (mean ± std over seeds)."""
        return tables.summary_table({rule: [r.final for r in runs]
                                     for rule, runs in self.runs.items()})


def compare(config: Config, rules: Sequence[str] = tuple(RULES), seeds: int = 3, *,
            out: str | Path, client=None, progress: bool = True) -> Comparison:
    """Train ``config`` with each of ``rules`` on seeds ``0 .. seeds-1`` into
    ``out/<rule>/seed<N>/``; write ``summary.json`` and the comparison figures.

    ``client``: a ``dask.distributed`` client to run on (None: one run after another in this
    process). Finished runs of the same config are kept (resume); a finished run of another
    config in the way is an error naming the fields that differ.
    """
    from .sweep import Task, describe_failures, is_finished, run_tasks

    rules = list(rules)
    unknown = [r for r in rules if r not in RULES]
    if not rules or unknown or len(set(rules)) != len(rules):
        raise ConfigError(f"rules: distinct registered rules ({', '.join(RULES)}) "
                          f"(got {rules})")
    if not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds: the number of seeds, at least 1 (got {seeds!r})")
    folder = results.check_folder(out)
    tasks = [Task(folder / rule / f"seed{seed}",
                  config.replace(**{"rule.name": rule, "experiment.seed": seed}), rule, seed)
             for rule in rules for seed in range(seeds)]
    unfinished = [task for task in tasks if not is_finished(task)]   # checks every folder
    if client is None:          # here, in order: the first error stops the comparison
        for task in unfinished:
            _run_with_figures(task.config, task.run_dir, progress=progress)
    else:
        failures = describe_failures(run_tasks(tasks, client, progress=progress,
                                               runner=_run_with_figures))
        if failures:
            raise RuntimeError(f"compare: some runs failed (rerun to retry them)\n{failures}")
    runs = {rule: [Result.load(t.run_dir) for t in tasks if t.group == rule] for rule in rules}
    results.write_json(folder / "summary.json",
                       {rule: [r.final for r in runs_] for rule, runs_ in runs.items()})
    figures.plot_compare({rule: [r.metrics for r in runs_] for rule, runs_ in runs.items()},
                         folder / "figures")
    return Comparison(runs, folder)


def _run_with_figures(config: Config, run_dir, progress: bool = False) -> dict:
    return _run(config, run_dir, progress=progress, figures=True)


def sweep(source: str | Path | dict, out: str | Path, *, client=None, progress: bool = True,
          overrides: Mapping[str, Any] | None = None):
    """Run a sweep (a file, or the dict it would hold) into ``out``: every grid point ×
    seed, on ``client`` (None: here); returns ``(table, outcomes)``, the pandas DataFrame of
    ``sweep.csv`` (one row per run) and each run's :class:`~mirrorlab.sims.sweep.Outcome`."""
    import pandas as pd
    from . import sweep as sweeps

    spec = sweeps.load_sweep(source, **dict(overrides or {}))
    outcomes, csv = sweeps.run_sweep(spec, results.check_folder(out), client,
                                     progress=progress)
    return pd.read_csv(csv), outcomes


def hypothesis(source: str | Path | dict, out: str | Path, *, client=None,
               progress: bool = True, overrides: Mapping[str, Any] | None = None) -> dict:
    """Test a hypothesis (a file, or the dict it would hold) over seeds on ``client`` (None:
    here); write ``hypothesis.md``, ``.json`` and ``.png`` into ``out`` and return the
    report (``report["results"][variant]["verdict"]``, estimates, intervals, p values).
    ``report["outcomes"]`` lists what became of each run."""
    from . import hypothesis as hypotheses

    spec = hypotheses.load_hypothesis(source, **dict(overrides or {}))
    report, outcomes = hypotheses.run_hypothesis(spec, results.check_folder(out), client,
                                                 progress=progress)
    return {**report, "outcomes": outcomes}


def check(config: Config, out: str | Path | None = None, *, steps: int | None = None,
          progress: bool = True) -> dict:
    """Build the circuit of ``config``, run it (``steps`` engaged presentations; default
    ``check.steps``, 0 = the whole run) and judge its biological plausibility; the report's
    ``checks`` are ``{"name", "status", "evidence"}``, written to ``out`` if given."""
    from .check import check_plausibility

    return check_plausibility(config, out, steps=steps, progress=progress)


def export_nwb(run_dir: str | Path, path: str | Path | None = None) -> Path:
    """Write a finished circuit run as one NWB file (default ``run_dir/run.nwb``): spikes,
    population activity, the phase schedule, weight snapshots, the config and versions
    (see :mod:`mirrorlab.sims.nwb`). Needs ``pip install mirrorlab[nwb]``."""
    from .nwb import export

    return export(Path(run_dir), None if path is None else Path(path))
