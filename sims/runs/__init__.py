"""Training runs, whatever the engine: one entry point, :func:`run`.

``config.experiment.engine`` picks the runner (:data:`RUNNERS`): the numpy matrix engine
(:mod:`.matrix`) or a Brian2 circuit (:mod:`.circuit`, which builds and runs circuits on a
device through :mod:`.compiled`). Each writes the results folder of ``sims/results.py``;
what they share is in :mod:`.common`. The CLI, sweeps and hypothesis tests all go
through :func:`run`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..config import Config, ConfigError
from .matrix import run_matrix

Runner = Callable[..., dict]


def _run_circuit(config, out_dir=None, *, progress=True, figures=False):
    # Imported on use: Brian2 takes seconds to import, and matrix runs never need it.
    from .circuit import run_circuit_experiment
    return run_circuit_experiment(config, out_dir, progress=progress, figures=figures)


RUNNERS: dict[str, Runner] = {
    "matrix": run_matrix,
    "circuit": _run_circuit,
}


def run(config: Config, out_dir: str | Path | None = None, *, progress: bool = True,
        figures: bool = False) -> dict:
    """Train ``config`` with its engine; return (and, with ``out_dir``, write) the metrics
    (and, with ``figures``, the run's figures before it is marked complete)."""
    try:
        runner = RUNNERS[config.experiment.engine]
    except KeyError:
        raise ConfigError(f"experiment.engine: no runner for {config.experiment.engine!r}; "
                          f"available: {', '.join(RUNNERS)}") from None
    return runner(config, out_dir, progress=progress, figures=figures)
