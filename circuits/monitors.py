"""The monitors a circuit run attaches (training runs and plausibility checks alike), and
how their samples become weight matrices and activity arrays.

Two moments of a presentation boundary matter (see :mod:`.rate`): just before anything
there runs (``when = "start"``, order :data:`BEFORE_PLASTICITY`), the circuit holds what it
settled to in the presentation that has just ended, the values its plasticity reads; at
the end of the boundary's time step (``when = "end"``) that plasticity has been applied.
"""
from __future__ import annotations

import numpy as np
from brian2 import StateMonitor

from .base import Circuit, synapse_matrices

Array = np.ndarray

#: Slot order that reads a boundary's ``start`` before plasticity and loading run.
BEFORE_PLASTICITY = -1


def weight_monitors(circuit: Circuit, every: int, *, when: str = "end",
                    order: int = 0) -> list[StateMonitor]:
    """One monitor of ``w`` per plastic synapse group (:meth:`Circuit.plastic_groups`),
    sampling every ``every``-th presentation boundary; none when ``every`` is 0."""
    if every == 0:
        return []
    interval = every * circuit.spec.presentation_time
    return [StateMonitor(S, "w", record=np.arange(len(S.target) * len(S.source)),
                         dt=interval, when=when, order=order, name=f"{S.name}_weights")
            for _, S, _ in circuit.plastic_groups()]


def bias_monitors(circuit: Circuit, every: int) -> list[StateMonitor]:
    """Monitors of the biases of forward_1 .. forward_L at the end of every ``every``-th
    boundary step (after that boundary's plasticity)."""
    if every == 0:
        return []
    interval = every * circuit.spec.presentation_time
    return [StateMonitor(G, "b", record=True, dt=interval, when="end", name=f"{G.name}_biases")
            for G in circuit.forward[1:]]


def activity_monitors(circuit: Circuit, every: int, forward=("r",),
                      feedback=("delta",)) -> list[StateMonitor]:
    """Monitors of the variables ``forward`` of every forward and ``feedback`` of every
    feedback population that has them, at every ``every``-th boundary before plasticity
    (sample 0, at t = 0, precedes every presentation)."""
    if every == 0:
        return []
    interval = every * circuit.spec.presentation_time
    monitors = []
    for groups, variables in ((circuit.forward, forward), (circuit.feedback, feedback)):
        for G in groups:
            recorded = [v for v in variables if v in G.variables]
            monitors.append(StateMonitor(G, recorded, record=True, dt=interval, when="start",
                                         order=BEFORE_PLASTICITY, name=f"{G.name}_activity"))
    return monitors


def weight_snapshots(circuit: Circuit, monitors: list[StateMonitor]) -> dict[str, Array]:
    """``(n_samples, n_post, n_pre)`` signed matrices ``W_l`` and ``B_l`` (an inhibitory
    route's weights subtracted) from :func:`weight_monitors`, by matrix name."""
    snapshots = {}
    for (name, S, sign), monitor in zip(circuit.plastic_groups(), monitors):
        snapshots[name] = snapshots.get(name, 0) + sign * synapse_matrices(
            S, np.asarray(monitor.w[:]).T)
    return snapshots


def activity_samples(monitors: list[StateMonitor]) -> dict[str, dict[str, Array]]:
    """``{population: {variable: (n_samples, n) array}}`` of :func:`activity_monitors`."""
    return {m.source.name: {v: np.asarray(getattr(m, v)).T for v in m.record_variables}
            for m in monitors}
