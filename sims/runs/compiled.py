"""Running a circuit on a Brian2 device: the whole training run is one ``run()``.

On a standalone device (cpp_standalone, cuda_standalone) a circuit is compiled
once. A later run whose circuit differs only in values — the seed's initial
weights, sample order and replayed noise, learning rates, decays, noise
amplitude, time constant — runs the same binary again with those values as
``run_args`` (:class:`CompiledCircuit`), instead of recompiling.
"""
from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from brian2 import second
from brian2 import seed as brian2_seed
from tqdm import tqdm

from ...circuits import CircuitSpec, Presentations, circuit_class, presentations
from ...circuits.monitors import (activity_monitors, activity_samples, bias_monitors,
                                  weight_monitors, weight_snapshots)
from .. import devices
from ..devices import Device

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
    spikes per population (:meth:`Circuit.spikes`), else None. ``completed``: the fraction
    of the run's simulated time that ran (less than 1 when Ctrl-C stopped it; the weights
    and the recording are then those of the stop); ``interrupted``: a Ctrl-C arrived
    during the run (even if a standalone binary, not reached by it, ran to its end).
    """

    W: list[Array]
    b: list[Array]
    B: list[Array]
    recording: Recording | None
    device: str
    wall_time_s: float
    build_time_s: float = 0.0
    spikes: dict[str, dict] | None = None
    completed: float = 1.0
    interrupted: bool = False


def run_circuit(spec: CircuitSpec, data, events, noise, initial, *,
                feedback_signs=None, device: Device = Device(), record_every: int = 0,
                seed: int | None = None, reuse: bool = True,
                progress: bool = False) -> CircuitRun:
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
    progress : bool
        Show the run's progress (a bar on runtime; the binary's own reports, every
        :data:`REPORT_PERIOD`, on standalone devices).

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
            spec, plan, initial, feedback_signs, seed, progress)
    global _last_build
    key = CompiledCircuit.key(spec, plan, device, record_every, seed)
    if not (reuse and _last_build is not None and _last_build.matches(key)):
        _last_build = None  # frees the previous build (and its temporary folder) first
        _last_build = CompiledCircuit(spec, plan, device, record_every, seed)
    return _last_build.run(spec, plan, initial, feedback_signs, seed, progress)


def build_circuit(spec: CircuitSpec, data, events, noise, *, device: Device = Device(),
                  record_every: int = 0, seed: int | None = None) -> CompiledCircuit:
    """Build a circuit with its monitors on ``device`` without running it (the arguments
    are :func:`run_circuit`'s); ``.circuit.network`` takes one's own Brian2 objects, and
    ``.run(spec, .presentations, initial, ...)`` runs it, once (never a cached build)."""
    global _last_build
    if device.standalone:
        _last_build = None   # Brian2 holds one standalone project at a time: this one now
    return CompiledCircuit(spec, _presentations(spec, data, events, noise), device,
                           record_every, seed)


#: Wall time between two progress reports of a standalone binary (compiled into it).
REPORT_PERIOD = 10 * second
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
    circuit of the same :meth:`Circuit.structure`.
    """

    def __init__(self, spec: CircuitSpec, plan: Presentations, device: Device,
                 record_every: int, seed: int | None):
        self._key = self.key(spec, plan, device, record_every, seed)
        self.presentations = plan
        self._folder = None
        if device.standalone and device.build_dir is None:
            self._folder = tempfile.TemporaryDirectory(prefix=f"mirrorlab_{device.name}_")
            device = replace(device, build_dir=self._folder.name)
        self.device, self.record_every = device, record_every
        devices.activate(device)
        self._activation = devices.activations()
        self.circuit = circuit_class(spec).build(spec, plan)
        self.weight_monitors = weight_monitors(self.circuit, record_every)
        self.bias_monitors = bias_monitors(self.circuit, record_every)
        self.activity_monitors = activity_monitors(self.circuit, record_every)
        self.circuit.network.add(*self.weight_monitors, *self.bias_monitors,
                                 *self.activity_monitors)
        self.seeded_at_run_time = devices.seed_at_run_time(device)
        if seed is not None and not self.seeded_at_run_time:
            brian2_seed(seed)
        self.runs = 0

    @staticmethod
    def key(spec, plan, device: Device, record_every: int, seed) -> tuple:
        """Runs of equal key can share a build. Where Brian2 draws random numbers (its
        mirror noise, spikes), the seed is part of the code, except on cpp_standalone,
        whose binary takes it at run time (:func:`sims.devices.seed_at_run_time`)."""
        circuit = circuit_class(spec)
        random = circuit.draws_random_numbers(spec)
        return (circuit.structure(spec, plan), device, record_every,
                seed if random and device.name != "cpp" else None)

    def matches(self, key: tuple) -> bool:
        """Same key, and Brian2's devices not reset since this circuit was built."""
        return key == self._key and self._activation == devices.activations()

    def run(self, spec: CircuitSpec, plan: Presentations, initial,
            feedback_signs=None, seed: int | None = None, progress: bool = False) -> CircuitRun:
        """Run ``plan`` from the weights ``initial`` (and ``feedback_signs``) with the
        parameters of ``spec``; ``seed`` seeds Brian2's random numbers where the build
        takes it at run time (else it was fixed when the circuit was built); ``progress``
        shows how far the run is."""
        started = time.perf_counter()
        circuit = self.circuit
        if self.runs and not self.device.standalone:
            raise RuntimeError("a runtime circuit runs once; build another")
        if self.seeded_at_run_time:
            devices.set_seed(self.device, seed)
        build_time = 0.0
        with devices.InterruptWatch() as watch:
            if self.runs == 0:
                circuit.set_weights(*initial, feedback_signs)
                if self.device.standalone:
                    circuit.network.run(circuit.duration, namespace={}, report="stdout",
                                        report_period=REPORT_PERIOD)
                    devices.build(self.device, with_output=progress)
                    build_time = (time.perf_counter() - started
                                  - devices.binary_run_time(self.device))
                    devices.restore_runtime()
                else:
                    with _progress_bar(len(plan), progress) as report:
                        circuit.network.run(circuit.duration, namespace={}, report=report,
                                            report_period=1 * second)
            else:
                devices.rerun(self.device,
                              circuit.run_args(spec, plan, initial, feedback_signs),
                              with_output=progress)
        self.runs += 1
        completed = devices.completed_fraction(self.device)
        W, b, B = circuit.weights()
        recording = self._recording(plan) if self.record_every else None
        return CircuitRun(W, b, B, recording, self.device.describe(),
                          time.perf_counter() - started, build_time,
                          _copied(circuit.spikes()) or None, completed, watch.interrupted)

    def _recording(self, plan: Presentations) -> Recording:
        """The snapshots of the last run (see :class:`Recording`)."""
        circuit, every = self.circuit, self.record_every
        matrices = weight_snapshots(circuit, self.weight_monitors)
        L = circuit.spec.n_layers
        W = [matrices[f"W_{l}"] for l in range(1, L + 1)]
        done = np.arange(W[0].shape[0]) * every
        biases = [np.asarray(monitor.b).T for monitor in self.bias_monitors]
        samples = activity_samples(self.activity_monitors)
        activity = {name: next(iter(variables.values()))[1:len(done)]   # sample 0 precedes all
                    for name, variables in samples.items()}
        return Recording(done, plan.engaged_steps[done], W, biases,
                         [matrices[f"B_{l}"] for l in range(1, L + 1)], activity)


@contextlib.contextmanager
def _progress_bar(presentations: int, shown: bool):
    """A progress bar of presentations for a runtime run, as Brian2's ``report`` callback
    (None when not shown)."""
    if not shown:
        yield None
        return
    bar = tqdm(total=presentations, unit="presentation", desc="circuit")

    def report(elapsed, completed, start, duration):
        bar.update(int(completed * presentations) - bar.n)

    try:
        yield report
    finally:
        bar.close()


# --- recording ----------------------------------------------------------------------------

def _copied(spikes: dict[str, dict]) -> dict[str, dict]:
    """Spike arrays that outlive the circuit (a monitor's arrays may be views of memory
    that Brian2 frees with the circuit)."""
    return {name: {key: np.array(value) for key, value in population.items()}
            for name, population in spikes.items()}
