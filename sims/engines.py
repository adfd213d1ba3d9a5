"""One entry point for a training run, whatever the engine.

:func:`run` picks the engine that ``config.experiment.engine`` names and runs
the config into a results folder. The CLI, sweeps and hypothesis tests all go
through it, so a new engine (the Brian2 circuits) is one line in
:data:`RUNNERS`: a function ``(config, out_dir, *, progress) -> metrics``
that writes the results folder described in ``sims/results.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .config import Config, ConfigError
from .train import run_matrix

Runner = Callable[..., dict]


def _run_circuit(config, out_dir=None, *, progress=True):
    # Imported on use: Brian2 takes seconds to import, and matrix runs never need it.
    from .circuit_train import run_circuit_experiment
    return run_circuit_experiment(config, out_dir, progress=progress)


RUNNERS: dict[str, Runner] = {
    "matrix": run_matrix,
    "circuit": _run_circuit,
}


def run(config: Config, out_dir: str | Path | None = None, *, progress: bool = True) -> dict:
    """Train ``config`` with its engine; return (and, with ``out_dir``, write) the metrics."""
    try:
        runner = RUNNERS[config.experiment.engine]
    except KeyError:
        raise ConfigError(f"experiment.engine: no runner for {config.experiment.engine!r}; "
                          f"available: {', '.join(RUNNERS)}") from None
    return runner(config, out_dir, progress=progress)
