"""Many runs on Dask: (grid point or variant) × seeds, resumable, failures recorded.

The run grid is a list of :class:`Task` s, each a results folder and the fully
resolved config to run into it. :func:`run_tasks` sends them to a
``dask.distributed`` client, where :func:`execute` runs each through
:func:`mirrorlab.sims.runs.run` (so the engine follows
``experiment.engine``). Every run writes its own folder:

``run_dir/``
    the results folder of ``sims/results.py`` (``metrics.json`` with
    ``"complete": true`` once finished), plus
``run_dir/attempts.jsonl``
    one line per start and per end of an attempt (host, pid, time, status):
    the execution log;
``run_dir/failed.json``
    while the last attempt failed: the error and its traceback.

Rerunning the same tasks skips every finished run (resume) and retries the
failed and unfinished ones; a failure never stops the other runs. A finished
folder that holds a *different* config is an error (it would otherwise be
reused silently).

A sweep file (``mirrorlab sweep SWEEP.toml``) is a plain grid::

    config = "../digits_mlp.toml"   # the base config, relative to this file
    seeds = 3                       # seeds 0, 1, 2 (or a list: [0, 5, 9])
    [set]                           # overrides for every run (optional)
    training.epochs = 10
    [grid]                          # every combination of these values (optional)
    rule.name = ["fa", "wm", "kp"]
    rule.wm.sigma = [0.5, 1.0]

Dask is imported only when a client is made (``pip install mirrorlab[cluster]``).
"""
from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import re
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from tqdm import tqdm

from . import results
from .config import Config, ConfigError, load_config, read_toml, to_toml

CLUSTER_HINT = "pip install mirrorlab[cluster]"
#: Seconds to wait for an existing Dask scheduler before giving up.
SCHEDULER_TIMEOUT_S = 10
COMPLETE, SKIPPED, FAILED = "complete", "skipped", "failed"


class ClusterUnavailable(RuntimeError):
    """dask.distributed is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Task:
    """One run: ``config`` into ``run_dir``; ``group`` is its grid point or variant."""

    run_dir: Path
    config: Config
    group: str
    seed: int


@dataclass(frozen=True)
class Outcome:
    """What became of a task: ``complete`` (ran now), ``skipped`` (finished before) or
    ``failed`` (``error`` is the exception's first line; details in ``failed.json``)."""

    task: Task
    status: str
    error: str | None = None


# --- files: TOML, overrides, seeds -------------------------------------------------------

def check_keys(table: dict, allowed, where: str) -> None:
    """ConfigError naming the first key of ``table`` that is not in ``allowed``."""
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}{key}: unknown key; allowed: {', '.join(allowed)}")


def flatten_overrides(table: Any, where: str, prefix: str = "") -> dict[str, Any]:
    """``{"training": {"lr": 0.1}}`` or ``{"training.lr": 0.1}`` -> ``{"training.lr": 0.1}``.

    TOML turns an unquoted dotted key into nested tables; both spellings are
    accepted. Leaves are field values (lists included).
    """
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table of FIELD = VALUE (got {table!r})")
    flat = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_overrides(value, where, f"{name}."))
        else:
            flat[name] = value
    return flat


def apply_overrides(config: Config, overrides: dict[str, Any], where: str) -> Config:
    """``config.replace(**overrides)``; a bad field's error is prefixed with ``where``."""
    try:
        return config.replace(**overrides) if overrides else config
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def seed_list(value: Any, where: str) -> list[int]:
    """``seeds = N`` -> ``[0, .., N-1]``; a list of distinct seeds >= 0 is kept."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"{where}: must be >= 1 (got {value})")
        return list(range(value))
    if (isinstance(value, list) and value and len(set(value)) == len(value)
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)):
        return list(value)
    raise ConfigError(f"{where}: must be a number of seeds or a list of distinct seeds >= 0 "
                      f"(got {value!r})")


def group_tasks(groups: dict[str, Config], seeds: list[int], out_dir: str | Path) -> list[Task]:
    """``out_dir/runs/<group>/seed<N>/`` for every group × seed, seed set in the config."""
    runs = Path(out_dir) / "runs"
    return [Task(runs / name / f"seed{seed}", config.replace(**{"experiment.seed": seed}),
                 name, seed)
            for name, config in groups.items() for seed in seeds]


# --- the worker side ------------------------------------------------------------------

def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _log(run_dir: Path, entry: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "attempts.jsonl", "a") as f:
        f.write(json.dumps(entry) + "\n")


def _record_failure(run_dir: Path, error: str, trace: str, **where) -> None:
    results.write_json(run_dir / "failed.json",
                       {"error": error, "traceback": trace, "time": _now(), **where})


def execute(run_dir: str | Path, config: Config, runner: Callable | None = None, *,
            stop_on_interrupt: bool = False) -> dict:
    """Run one task where it lands (a Dask worker); never raises for a failed run (nor, on
    a worker, for Ctrl-C; with ``stop_on_interrupt``, in this process, Ctrl-C is recorded
    and raised again).

    ``runner(config, run_dir, progress=False)`` defaults to
    :func:`mirrorlab.sims.runs.run`. Returns ``{"status", "error"}``.
    """
    if runner is None:
        from .runs import run as runner
    run_dir = Path(run_dir)
    attempt = {"host": socket.gethostname(), "pid": os.getpid()}
    _log(run_dir, {**attempt, "time": _now(), "event": "start"})
    try:
        runner(config, run_dir, progress=False)
        if not results.is_complete(run_dir):
            raise RuntimeError(f"the run returned but {run_dir}/metrics.json is not complete")
    except (Exception, KeyboardInterrupt) as err:   # recorded: the other runs go on
        error = f"{type(err).__name__}: {err}".splitlines()[0]
        _record_failure(run_dir, error, traceback.format_exc(), **attempt)
        _log(run_dir, {**attempt, "time": _now(), "event": FAILED, "error": error})
        if stop_on_interrupt and isinstance(err, KeyboardInterrupt):
            raise
        return {"status": FAILED, "error": error}
    (run_dir / "failed.json").unlink(missing_ok=True)
    _log(run_dir, {**attempt, "time": _now(), "event": COMPLETE})
    return {"status": COMPLETE, "error": None}


# --- the client side --------------------------------------------------------------------

def import_distributed():
    """``dask.distributed``, or :class:`ClusterUnavailable` saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ClusterUnavailable("sweeps and hypothesis tests run on Dask, which is not "
                                 f"installed: {CLUSTER_HINT}") from None
    return distributed


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator:
    """A client of the cluster at ``scheduler`` (``tcp://HOST:PORT``), or of a new
    LocalCluster of ``workers`` single-threaded processes (default: one per core)."""
    distributed = import_distributed()
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            raise ClusterUnavailable(f"--scheduler {scheduler}: no Dask scheduler answered "
                                     f"within {SCHEDULER_TIMEOUT_S} s ({type(err).__name__}: "
                                     f"{err}); start one with 'dask scheduler'") from None
        with client:
            _import_brian2_on_workers(client)
            yield client
        return
    n_workers = workers or os.cpu_count() or 1
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        _import_brian2_on_workers(client)
        yield client


def _import_brian2_on_workers(client) -> None:
    """Import Brian2 in each worker's main thread, now and on workers that join later.

    Brian2 installs a SIGINT handler when first imported, which Python allows only in
    a process's main thread; Dask runs tasks in an executor thread, where that first
    import would fail. A worker plugin's setup runs on the worker's event loop (its
    main thread).
    """
    from distributed import WorkerPlugin

    class Brian2Import(WorkerPlugin):
        def setup(self, worker) -> None:
            import brian2  # noqa: F401

    client.register_plugin(Brian2Import(), name="mirrorlab-import-brian2")


def is_finished(task: Task) -> bool:
    """True if ``task.run_dir`` holds a finished run of ``task.config``.

    Raises ConfigError if it holds a finished run of another config.
    """
    return results.finished(task.run_dir, to_toml(task.config))


def run_tasks(tasks: list[Task], client, *, progress: bool = True,
              runner: Callable | None = None) -> list[Outcome]:
    """Run every unfinished task on ``client`` (a ``dask.distributed`` client; None: one
    after another in this process); return one :class:`Outcome` per task, in order.

    A progress bar counts finished runs (those skipped as already finished
    included) and shows how many failed.
    """
    dirs = [t.run_dir for t in tasks]
    if len(set(dirs)) != len(dirs):
        raise ValueError("two tasks share a results folder")
    outcomes: dict[Path, Outcome] = {}
    todo = []
    for task in tasks:
        if is_finished(task):
            outcomes[task.run_dir] = Outcome(task, SKIPPED)
        else:
            todo.append(task)
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="run", desc="runs",
               disable=not progress)
    if client is None:
        with bar:
            for task in todo:
                answer = execute(task.run_dir, task.config, runner, stop_on_interrupt=True)
                outcomes[task.run_dir] = Outcome(task, answer["status"], answer["error"])
                bar.update()
        return [outcomes[t.run_dir] for t in tasks]
    distributed = import_distributed()
    futures = {client.submit(execute, str(t.run_dir), t.config, runner, pure=False): t
               for t in todo}
    failed = 0
    try:
        for future in distributed.as_completed(futures):
            task = futures[future]
            try:
                answer = future.result()
            except Exception as err:   # the worker died (KilledWorker) or the task was lost
                answer = {"status": FAILED, "error": f"{type(err).__name__}: {err}".splitlines()[0]}
                _record_failure(task.run_dir, answer["error"], traceback.format_exc(),
                                recorded_by="client")
            outcomes[task.run_dir] = Outcome(task, answer["status"], answer["error"])
            failed += answer["status"] == FAILED
            bar.update()
            if failed:
                bar.set_postfix(failed=failed)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        bar.close()
    return [outcomes[t.run_dir] for t in tasks]


def describe_failures(outcomes: list[Outcome]) -> str:
    """One line per failed run, naming its failed.json; '' when none failed."""
    return "\n".join(f"failed: {o.task.run_dir} ({o.error}); traceback in "
                     f"{o.task.run_dir / 'failed.json'}" for o in outcomes if o.status == FAILED)


# --- sweep files --------------------------------------------------------------------------

SWEEP_KEYS = ("config", "seeds", "set", "grid")


@dataclass(frozen=True)
class SweepSpec:
    """A grid of field values × seeds over one base config.

    ``points`` maps each grid point's label (its folder name) to its overrides.
    """

    path: Path
    base: Config
    fields: list[str]
    points: dict[str, dict[str, Any]]
    seeds: list[int]

    def tasks(self, out_dir: str | Path) -> list[Task]:
        configs = {label: apply_overrides(self.base, point, f"{self.path}: [grid] {label}")
                   for label, point in self.points.items()}
        return group_tasks(configs, self.seeds, out_dir)


def _label(point: dict[str, Any]) -> str:
    def text(value):
        if isinstance(value, list):
            return "-".join(str(v) for v in value)
        return str(value).lower() if isinstance(value, bool) else str(value)
    label = "__".join(f"{field}={text(value)}" for field, value in point.items()) or "base"
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", label)


def spec_source(source: str | Path | dict) -> tuple[dict, Path, str]:
    """A sweep or hypothesis given as a TOML file or as the dict such a file holds:
    ``(tree, path, where)``, ``path`` the file (a dict's stands in the working folder, so
    that a relative ``config`` is found from there) and ``where`` the prefix of errors."""
    if isinstance(source, dict):
        return dict(source), Path.cwd() / "<dict>", "<dict>: "
    path = Path(source)
    return read_toml(path), path, f"{path}: "


def base_config(tree: dict, path: Path, where: str) -> Config:
    """The ``config`` of a sweep or hypothesis: a Config (given in a dict), or a config
    file relative to ``path``'s folder."""
    value = tree.get("config")
    if isinstance(value, Config):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{where}config: must name the base config file (got {value!r})")
    return load_config(Path(os.path.normpath(path.parent / value)))


def load_sweep(source: str | Path | dict, **overrides: Any) -> SweepSpec:
    """Read and validate a sweep file, or the dict it would hold (its ``config`` may then be
    a :class:`Config`); every grid point's config is built here. ``overrides`` (dotted
    fields) apply to every run."""
    tree, path, at = spec_source(source)
    check_keys(tree, SWEEP_KEYS, at)
    base = base_config(tree, path, at)
    base = apply_overrides(base, flatten_overrides(tree.get("set", {}), f"{at}[set]"),
                           f"{at}[set]")
    base = apply_overrides(base, overrides, "--set")
    grid = flatten_overrides(tree.get("grid", {}), f"{at}[grid]")
    for field, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{at}grid.{field}: must be a non-empty list of values "
                              f"(got {values!r})")
    points = {}
    for combination in itertools.product(*grid.values()):
        point = dict(zip(grid, combination))
        label = _label(point)
        if label in points:
            raise ConfigError(f"{at}grid points {points[label]} and {point} would share "
                              f"the folder {label!r}")
        apply_overrides(base, point, f"{at}[grid] {label}")     # validate now
        points[label] = point
    seeds = seed_list(tree.get("seeds", 1), f"{at}seeds")
    return SweepSpec(path, base, list(grid), points, seeds)


def _final_columns(final: dict, n_layers: int) -> dict[str, Any]:
    row = {"test_accuracy": final.get("test_accuracy"), "test_loss": final.get("test_loss")}
    for key in ("weight_angle_deg", "delta_angle_deg", "sign_concordance", "norm_ratio"):
        values = final.get(key) or []
        for layer in range(n_layers):
            row[f"{key}_{layer + 1}"] = values[layer] if layer < len(values) else None
    return row


def sweep_table(spec: SweepSpec, outcomes: list[Outcome], out_dir: str | Path) -> str:
    """CSV text: one row per run with its grid values, seed, status and final metrics.

    Layer columns are numbered from the input side (``weight_angle_deg_1`` is
    the input→hidden layer); empty cells where a run has no value.
    """
    finals = {}
    for outcome in outcomes:
        if outcome.status != FAILED and results.is_complete(outcome.task.run_dir):
            metrics = results.read_metrics(outcome.task.run_dir)
            finals[outcome.task.run_dir] = (metrics["final"], metrics.get("wall_time_s"))
    n_layers = max((len(f["weight_angle_deg"] or []) for f, _ in finals.values()), default=0)
    rows = []
    for outcome in outcomes:
        task = outcome.task
        final, wall = finals.get(task.run_dir, ({}, None))
        rows.append({"point": task.group, **spec.points[task.group], "seed": task.seed,
                     "status": COMPLETE if task.run_dir in finals else FAILED,
                     **_final_columns(final, n_layers), "wall_time_s": wall,
                     "run_dir": os.path.relpath(task.run_dir, out_dir),
                     "error": outcome.error or ""})
    buffer = io.StringIO()
    columns = list(rows[0]) if rows else ["point", "seed", "status"]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()})
    return buffer.getvalue()


def run_sweep(spec: SweepSpec, out_dir: str | Path, client, *, progress: bool = True,
              runner: Callable | None = None) -> tuple[list[Outcome], Path]:
    """Run the sweep into ``out_dir/runs/`` and write ``out_dir/sweep.csv``."""
    out_dir = Path(out_dir)
    outcomes = run_tasks(spec.tasks(out_dir), client, progress=progress, runner=runner)
    table = out_dir / "sweep.csv"
    results.write_text(table, sweep_table(spec, outcomes, out_dir))
    return outcomes, table
