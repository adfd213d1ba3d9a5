"""Running a circuit on a Brian2 device: the whole training run is one ``run()``."""
from __future__ import annotations

import tempfile
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
from brian2 import StateMonitor, get_device, prefs, set_device
from brian2 import seed as brian2_seed
from brian2.devices.device import reset_device

from .schedule import MIRROR, draw_mirror_noise, phase_plan
from .train import Streams, build_engine
from ..circuits import Circuit, CircuitSpec, build, presentations, spec_from_config

Array = np.ndarray

DEVICES = ("runtime", "cpp")
CODEGEN_TARGETS = ("numpy", "cython")


@dataclass(frozen=True, eq=False)
class Recording:
    """Weight snapshots taken every ``every`` presentations.

    Attributes
    ----------
    presentations : (n,) int array
        Presentations completed at each snapshot (the first is 0: initial weights).
    engaged_steps : (n,) int array
        Engaged presentations (training samples) completed at each snapshot.
    W, b, B : list of arrays
        ``W[l]`` is ``(n, n_{l+1}, n_l)``, ``b[l]`` is ``(n, n_{l+1})``,
        ``B[l]`` is ``(n, n_l, n_{l+1})``.
    """

    presentations: Array
    engaged_steps: Array
    W: list[Array]
    b: list[Array]
    B: list[Array]


@dataclass(frozen=True, eq=False)
class CircuitRun:
    """Final weights of a circuit run (matrix-engine layout) and what was recorded."""

    W: list[Array]
    b: list[Array]
    B: list[Array]
    recording: Recording | None
    device: str
    wall_time_s: float


@dataclass(frozen=True, eq=False)
class RunPlan:
    """What a circuit run of a config needs, drawn as :func:`sims.train.run_matrix` draws it."""

    spec: CircuitSpec
    events: list
    noise: list[list[Array]] | None
    initial: tuple[list[Array], list[Array], list[Array]]


def plan_from_config(config, data) -> RunPlan:
    """Spec, events, mirror noise and initial weights of ``config`` on ``data``.

    Uses the seed's streams in the matrix engine's order (``Streams.from_seed``:
    initial weights from ``init``, sample order from ``data``, mirror noise from
    ``noise``, one ``draw_mirror_noise`` per mirror event), so a circuit run and
    ``run_matrix`` of the same config see the same weights, samples and noise.
    """

    spec = spec_from_config(config)
    streams = Streams.from_seed(config.experiment.seed)
    net = build_engine(config, streams.init).net
    sched = config.schedule
    events = list(phase_plan(len(data.x_train), config.training.epochs, 1, streams.data,
                             mirror=spec.rule.uses_mirror_phase,
                             initial_mirror_batches=sched.initial_mirror_batches,
                             mirror_every=sched.mirror_every, mirror_batches=sched.mirror_batches))
    noise = None
    if spec.rule.uses_mirror_phase and spec.noise_source == "replay":
        noise = [draw_mirror_noise(streams.noise, spec.rule.noise, list(spec.sizes), 1)
                 for event in events if event.phase == MIRROR]
    return RunPlan(spec, events, noise, (net.W, net.b, net.B))


def run_circuit(spec: CircuitSpec, data, events, noise, initial, *, device: str = "runtime",
                codegen_target: str = "numpy", build_dir=None, threads: int = 0,
                record_every: int = 0, seed: int | None = None) -> CircuitRun:
    """Train a circuit through ``events`` and return its final weights.

    Parameters
    ----------
    spec : CircuitSpec
    data : Dataset
        Samples are taken from ``data.x_train`` / ``data.y_train``.
    events : iterable of Event
        From :func:`sims.schedule.phase_plan` with ``batch_size = 1``.
    noise : list or None
        One ``draw_mirror_noise(..., batch=1)`` result per mirror event, replayed
        exactly (``spec.noise_source == "replay"``); None when Brian2 draws the noise
        or the rule has no mirror phase.
    initial : (W, b, B)
        Initial weights in the matrix engine's layout.
    device : {"runtime", "cpp"}
        Brian2 runtime (``codegen_target`` "numpy" or "cython") or cpp_standalone,
        built in ``build_dir`` (a temporary folder if None) with ``threads``
        OpenMP threads (0 = Brian2's default, single-threaded).
    record_every : int
        Snapshot W and B every this many presentations (0 = no recording).
    seed : int or None
        Seed of Brian2's random numbers (``noise_source == "brian"``).

    Returns
    -------
    CircuitRun
    """
    if device not in DEVICES:
        raise ValueError(f"device: must be one of {', '.join(DEVICES)} (got {device!r})")
    if codegen_target not in CODEGEN_TARGETS:
        raise ValueError(f"codegen_target: must be one of {', '.join(CODEGEN_TARGETS)} "
                         f"(got {codegen_target!r})")
    if record_every < 0:
        raise ValueError(f"record_every: must be >= 0 (got {record_every})")
    replayed = noise if spec.noise_source == "replay" and spec.rule.uses_mirror_phase else None
    plan = presentations(spec.sizes, events, data.x_train, data.y_train, replayed,
                         spec.mirror_scheme)
    started = time.perf_counter()
    with _on_device(device, codegen_target, build_dir, threads) as finish:
        circuit = build(spec, plan)
        circuit.set_weights(*initial)
        monitors = _weight_monitors(circuit, record_every)
        circuit.network.add(*monitors)
        if seed is not None:
            brian2_seed(seed)
        circuit.network.run(circuit.duration, namespace={})
        finish()
        W, b, B = circuit.weights()
        recording = _recording(circuit, monitors, record_every) if monitors else None
    return CircuitRun(W, b, B, recording, device if device == "cpp" else
                      f"runtime ({codegen_target})", time.perf_counter() - started)


# --- devices ------------------------------------------------------------------------------

@contextmanager
def _on_device(device: str, codegen_target: str, build_dir, threads: int):
    """Run the body on ``device``; yields the function that finishes the run.

    Brian2's device and preferences are global: they are restored on exit, and a
    standalone device is reinitialised so that the next build in this process starts
    clean.
    """
    if device == "runtime":
        with _preferences({"codegen.target": codegen_target}):
            yield lambda: None
        return
    folder = tempfile.TemporaryDirectory(prefix="mirrorlab_cpp_") if build_dir is None else None
    directory = folder.name if folder else str(build_dir)
    set_device("cpp_standalone", build_on_run=False)
    try:
        with _preferences({"devices.cpp_standalone.openmp_threads": threads}), \
                (folder or nullcontext()):
            yield lambda: get_device().build(directory=directory, compile=True, run=True)
    finally:
        get_device().reinit()
        reset_device()


@contextmanager
def _preferences(values: dict):
    saved = {name: prefs[name] for name in values}
    try:
        for name, value in values.items():
            prefs[name] = value
        yield
    finally:
        for name, value in saved.items():
            prefs[name] = value


# --- recording ----------------------------------------------------------------------------

def _weight_monitors(circuit: Circuit, every: int) -> list[StateMonitor]:
    """Monitors of every W, B and bias, sampling at the end of every ``every``-th
    boundary step (ordered W_1..W_L, B_1..B_L, b_1..b_L)."""
    if every == 0:
        return []
    interval = every * circuit.spec.presentation_time
    weights = [StateMonitor(S, "w", record=np.arange(len(S.target) * len(S.source)),
                            dt=interval, when="end", name=f"{S.name}_weights")
               for S in circuit.W + circuit.B]
    biases = [StateMonitor(G, "b", record=True, dt=interval, when="end",
                           name=f"{G.name}_biases") for G in circuit.forward[1:]]
    return weights + biases


def _recording(circuit: Circuit, monitors: list[StateMonitor], every: int) -> Recording:
    n = len(circuit.W)
    done = np.arange(monitors[0].w.shape[1]) * every
    matrices = [_snapshots(S, monitor) for S, monitor in zip(circuit.W + circuit.B, monitors)]
    biases = [np.asarray(monitor.b).T for monitor in monitors[2 * n:]]
    return Recording(done, circuit.presentations.engaged_steps[done], matrices[:n], biases,
                     matrices[n:])


def _snapshots(S, monitor: StateMonitor) -> Array:
    """(n_snapshots, n_post, n_pre) weights of ``S`` from its monitor."""
    values = np.asarray(monitor.w)
    out = np.zeros((values.shape[1], len(S.target), len(S.source)))
    out[:, S.j[:], S.i[:]] = values.T
    return out
