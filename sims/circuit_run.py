"""Running a circuit on a Brian2 device: the whole training run is one ``run()``.

On a standalone device (cpp_standalone, cuda_standalone) a circuit is compiled
once. A later run whose circuit differs only in values — the seed's initial
weights, sample order and replayed noise, learning rates, decays, noise
amplitude, time constant — runs the same binary again with those values as
``run_args`` (:class:`CompiledCircuit`), instead of recompiling.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from brian2 import StateMonitor
from brian2 import seed as brian2_seed

from . import devices
from .devices import Device
from .schedule import MIRROR, draw_mirror_noise, phase_plan
from .train import Streams, build_engine
from ..circuits import Circuit, CircuitSpec, Presentations, build, presentations, spec_from_config
from ..circuits.build import structure, synapse_matrices

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class Recording:
    """Snapshots taken every ``every`` presentations.

    Attributes
    ----------
    presentations : (n,) int array
        Presentations completed at each snapshot (the first is 0: initial weights).
    engaged_steps : (n,) int array
        Engaged presentations (training samples) completed at each snapshot.
    W, b, B : list of arrays
        ``W[l]`` is ``(n, n_{l+1}, n_l)``, ``b[l]`` is ``(n, n_{l+1})``,
        ``B[l]`` is ``(n, n_l, n_{l+1})``.
    activity : dict of (n - 1, n_l) arrays
        Settled activity at the end of presentation ``presentations[1:] - 1``:
        ``"forward_l"`` the rate ``r`` of forward_l, ``"feedback_l"`` the error
        ``delta`` of feedback_l (dimensionless, the matrix engine's units).
    """

    presentations: Array
    engaged_steps: Array
    W: list[Array]
    b: list[Array]
    B: list[Array]
    activity: dict[str, Array]


@dataclass(frozen=True, eq=False)
class CircuitRun:
    """Final weights of a circuit run (matrix-engine layout) and what was recorded.

    ``wall_time_s`` includes ``build_time_s``, the time spent generating and compiling
    code (0 when a standalone build was reused). ``spikes``: spiking circuits' pooled
    spikes per population (``SpikingCircuit.activity``), else None.
    """

    W: list[Array]
    b: list[Array]
    B: list[Array]
    recording: Recording | None
    device: str
    wall_time_s: float
    build_time_s: float = 0.0
    spikes: dict[str, dict] | None = None


@dataclass(frozen=True, eq=False)
class RunPlan:
    """What a circuit run of a config needs, drawn as :func:`sims.train.run_matrix` draws it."""

    spec: CircuitSpec
    events: list
    noise: list[list[Array]] | None
    initial: tuple[list[Array], list[Array], list[Array]]
    feedback_signs: list[Array] | None = None


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
    return RunPlan(spec, events, noise, (net.W, net.b, net.B), net.feedback_signs)


def run_circuit(spec: CircuitSpec, data, events, noise, initial, *,
                feedback_signs=None, device: Device = Device(), record_every: int = 0,
                seed: int | None = None, reuse: bool = True) -> CircuitRun:
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
    feedback_signs : list of arrays or None
        +1/-1 per neuron of feedback_1 .. feedback_L, exactly when ``spec.feedback_dale``.
    device : Device
        Brian2 runtime (numpy or cython), cpp_standalone or cuda_standalone; a
        standalone device without ``build_dir`` builds in a temporary folder.
    record_every : int
        Snapshot weights and activity every this many presentations (0 = none).
    seed : int or None
        Seed of Brian2's random numbers (``noise_source == "brian"``).
    reuse : bool
        Run the last standalone build again when only values differ (see
        :class:`CompiledCircuit`); False compiles anew.

    Returns
    -------
    CircuitRun
    """
    if record_every < 0:
        raise ValueError(f"record_every: must be >= 0 (got {record_every})")
    if device.standalone and not device.compile:
        raise ValueError("run_circuit: a device with compile=False runs nothing, so there are "
                         "no weights to return; use generate_circuit to write the sources")
    plan = _presentations(spec, data, events, noise)
    if not device.standalone:
        return CompiledCircuit(spec, plan, device, record_every, seed).run(
            spec, plan, initial, feedback_signs, seed)
    global _last_build
    key = CompiledCircuit.key(spec, plan, device, record_every, seed)
    if not (reuse and _last_build is not None and _last_build.matches(key)):
        _last_build = None  # frees the previous build (and its temporary folder) first
        _last_build = CompiledCircuit(spec, plan, device, record_every, seed)
    return _last_build.run(spec, plan, initial, feedback_signs, seed)


#: The last standalone build of this process: Brian2 holds one standalone project at a time.
_last_build: CompiledCircuit | None = None


def generate_circuit(spec: CircuitSpec, data, events, noise, initial, *, device: Device,
                     feedback_signs=None, record_every: int = 0,
                     seed: int | None = None) -> Path:
    """Write the standalone project of a circuit run (sources, makefile, static arrays)
    without compiling or running it; return its folder.

    Takes :func:`run_circuit`'s arguments; ``device`` must be a standalone device with
    ``compile=False`` and a ``build_dir``. This is how the ``cuda_standalone`` code of a
    circuit is checked on a machine without a GPU.
    """
    if not device.standalone or device.compile or device.build_dir is None:
        raise ValueError(f"generate_circuit: needs a cpp or cuda Device with compile=False "
                         f"and a build_dir (got {device})")
    plan = _presentations(spec, data, events, noise)
    compiled = CompiledCircuit(spec, plan, device, record_every, seed)
    compiled.circuit.set_weights(*initial, feedback_signs)
    compiled.circuit.network.run(compiled.circuit.duration, namespace={})
    devices.build(device, run=False)
    devices.restore_runtime()
    return Path(device.build_dir)


def _presentations(spec: CircuitSpec, data, events, noise) -> Presentations:
    replayed = noise if spec.noise_source == "replay" and spec.rule.uses_mirror_phase else None
    return presentations(spec.sizes, events, data.x_train, data.y_train, replayed,
                         spec.mirror_scheme)


class CompiledCircuit:
    """A circuit built on a device, with its monitors, run by :meth:`run`.

    On the runtime device a CompiledCircuit runs once. On a standalone device its
    first run generates, compiles and runs the project; each later run executes the
    same binary with the new values as ``run_args`` (Brian2's
    ``device.run(run_args=...)``), which :meth:`Circuit.run_args` allows only for a
    circuit of the same :func:`~mirrorlab.circuits.build.structure`.
    """

    def __init__(self, spec: CircuitSpec, plan: Presentations, device: Device,
                 record_every: int, seed: int | None):
        self._key = self.key(spec, plan, device, record_every, seed)
        self._folder = None
        if device.standalone and device.build_dir is None:
            self._folder = tempfile.TemporaryDirectory(prefix=f"mirrorlab_{device.name}_")
            device = replace(device, build_dir=self._folder.name)
        self.device, self.record_every = device, record_every
        devices.activate(device)
        self._activation = devices.activations()
        self.circuit = build(spec, plan)
        self.weight_monitors = _weight_monitors(self.circuit, record_every)
        self.activity_monitors = _activity_monitors(self.circuit, record_every)
        self.circuit.network.add(*self.weight_monitors, *self.activity_monitors)
        self.seeded_at_run_time = devices.seed_at_run_time(device)
        if seed is not None and not self.seeded_at_run_time:
            brian2_seed(seed)
        self.runs = 0

    @staticmethod
    def key(spec, plan, device: Device, record_every: int, seed) -> tuple:
        """Runs of equal key can share a build. Where Brian2 draws random numbers (its
        mirror noise, spikes), the seed is part of the code, except on cpp_standalone,
        whose binary takes it at run time (:func:`sims.devices.seed_at_run_time`)."""
        random = spec.noise_source == "brian" or getattr(spec, "spiking", None) is not None
        return (structure(spec, plan), device, record_every,
                seed if random and device.name != "cpp" else None)

    def matches(self, key: tuple) -> bool:
        """Same key, and Brian2's devices not reset since this circuit was built."""
        return key == self._key and self._activation == devices.activations()

    def run(self, spec: CircuitSpec, plan: Presentations, initial,
            feedback_signs=None, seed: int | None = None) -> CircuitRun:
        """Run ``plan`` from the weights ``initial`` (and ``feedback_signs``) with the
        parameters of ``spec``; ``seed`` seeds Brian2's random numbers where the build
        takes it at run time (else it was fixed when the circuit was built)."""
        started = time.perf_counter()
        circuit = self.circuit
        if self.runs and not self.device.standalone:
            raise RuntimeError("a runtime circuit runs once; build another")
        if self.seeded_at_run_time:
            devices.set_seed(self.device, seed)
        build_time = 0.0
        if self.runs == 0:
            circuit.set_weights(*initial, feedback_signs)
            if self.device.standalone:
                circuit.network.run(circuit.duration, namespace={})
                devices.build(self.device)
                build_time = (time.perf_counter() - started
                              - devices.binary_run_time(self.device))
                devices.restore_runtime()
            else:
                circuit.network.run(circuit.duration, namespace={})
        else:
            devices.rerun(self.device, circuit.run_args(spec, plan, initial, feedback_signs))
        self.runs += 1
        W, b, B = circuit.weights()
        recording = (_recording(circuit, plan, self.weight_monitors, self.activity_monitors,
                                self.record_every) if self.record_every else None)
        spikes = _copied(circuit.activity()) if hasattr(circuit, "activity") else None
        return CircuitRun(W, b, B, recording, self.device.describe(),
                          time.perf_counter() - started, build_time, spikes)


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


#: Activity is read at a boundary's ``start`` before anything there runs: the values
#: the circuit settled to in the presentation that has just ended.
ACTIVITY_ORDER = -1


def _activity_monitors(circuit: Circuit, every: int) -> list[StateMonitor]:
    """Monitors of the rate of every forward and the error of every feedback population
    at every ``every``-th presentation boundary."""
    if every == 0:
        return []
    interval = every * circuit.spec.presentation_time
    return ([StateMonitor(G, "r", record=True, dt=interval, when="start",
                          order=ACTIVITY_ORDER, name=f"{G.name}_activity")
             for G in circuit.forward]
            + [StateMonitor(G, "delta", record=True, dt=interval, when="start",
                            order=ACTIVITY_ORDER, name=f"{G.name}_activity")
               for G in circuit.feedback])


def _recording(circuit: Circuit, plan: Presentations, weight_monitors: list[StateMonitor],
               activity_monitors: list[StateMonitor], every: int) -> Recording:
    n = len(circuit.W)
    done = np.arange(weight_monitors[0].w.shape[1]) * every
    matrices = [_snapshots(S, monitor)
                for S, monitor in zip(circuit.W + circuit.B, weight_monitors)]
    biases = [np.asarray(monitor.b).T for monitor in weight_monitors[2 * n:]]
    activity = {}
    for group, monitor in zip(circuit.forward + circuit.feedback, activity_monitors):
        values = np.array(getattr(monitor, "r" if group in circuit.forward else "delta")).T
        activity[group.name] = values[1:len(done)]  # the first sample precedes every presentation
    return Recording(done, plan.engaged_steps[done], matrices[:n], biases, matrices[n:], activity)


def _copied(spikes: dict[str, dict]) -> dict[str, dict]:
    """Spike arrays that outlive the circuit (a monitor's arrays may be views of memory
    that Brian2 frees with the circuit)."""
    return {name: {key: np.array(value) for key, value in population.items()}
            for name, population in spikes.items()}


def _snapshots(S, monitor: StateMonitor) -> Array:
    """(n_snapshots, n_post, n_pre) weights of ``S`` from its monitor."""
    return synapse_matrices(S, np.asarray(monitor.w).T)
