"""Training runs of the Brian2 circuit engine, into the same results folder as the
matrix engine's (``engine = "circuit"`` in ``metrics.json``).

A config becomes a :class:`~mirrorlab.circuits.CircuitSpec` (:func:`spec_from_config`)
and a :class:`RunPlan` drawn from the seed exactly as the matrix engine draws its run
(:func:`plan_from_config`); :func:`~.compiled.run_circuit` runs it on the config's device.

The circuit runs the whole schedule in one Brian2 run and records W, b and B
every ``record_every`` presentations. Each snapshot becomes one history entry
through :func:`sims.train.checkpoint`: alignment is measured on the recorded
weights, and accuracy and delta angles come from the steady state those weights
define (what instantaneous neurons compute, and settled rate neurons approach).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from brian2 import Hz, ms

from ...circuits import Circuit, CircuitSpec, presentations
from ...circuits.spec import FiringRateSpec
from ...circuits.spiking_spec import SpikingSpec
from ...models.lif import LIFNeuron
from ...models.losses import get_loss
from ...models.neurons import FIRING_RATE_KINDS, SPIKING_KINDS
from ...models.schedule import ENGAGED, MIRROR, draw_mirror_noise, phase_plan, steps_per_epoch
from ...models.transfer import get_transfer
from .. import results
from ..config import Config, ConfigError, to_toml
from ..data import Dataset
from ..devices import device_from_config
from ..matrix_engine import DivergenceError
from .common import (DivergenceWatch, Streams, check_memory, check_fit, checkpoint,
                     draw_figures, final_of, load_config_data)
from .compiled import build_circuit, run_circuit
from .matrix import build_engine, new_metrics

Array = np.ndarray

SNAPSHOTS = 40  # history entries over a run when training.checkpoint_every is 0


def run_circuit_experiment(config: Config, out_dir: str | Path | None = None, *,
                           progress: bool = True, data: Dataset | None = None,
                           figures: bool = False) -> dict:
    """Train ``config`` as a Brian2 circuit; return (and, with ``out_dir``, write) the metrics.

    ``device.name`` picks Brian2 runtime, cpp_standalone or cuda_standalone, built in
    ``device.build_dir`` or a temporary folder. A later run in this process whose
    circuit differs only in seed or numeric parameters reuses the standalone build.
    Everything is checked (the circuit spec included) before the results folder is
    touched. A run stopped by Ctrl-C keeps the snapshots taken so far, marked incomplete,
    and raises KeyboardInterrupt; a run whose weights or loss blew up
    (``training.divergence_factor``) raises DivergenceError naming the presentation.
    """
    return CircuitExperiment(config, data).run(out_dir, progress=progress, figures=figures)


class CircuitExperiment:
    """A config's training run as a circuit, planned (and, with :meth:`build`, built)
    before it runs: the way to add one's own Brian2 monitors or groups to the circuit.

    ``CircuitExperiment(config).run(out_dir)`` is :func:`run_circuit_experiment`. After
    :meth:`build`, :attr:`circuit` (its ``network``, populations and synapse groups) is
    there to extend, and :meth:`run` runs that very network, built once, on the config's
    device; objects added to ``circuit.network`` run with it.
    """

    def __init__(self, config: Config, data: Dataset | None = None):
        data = data if data is not None else load_config_data(config)
        check_fit(config, data)
        check_memory(config, data)
        self.config, self.data = config, data
        self.plan = plan_from_config(config, data)
        self.table = presentations(self.plan.spec.sizes, self.plan.events, data.x_train,
                                   data.y_train, self.plan.noise, self.plan.spec.mirror_scheme)
        self.record_every = _record_every(config, len(self.table), self.plan.events)
        self.device = device_from_config(config.device)
        self._built = None

    def build(self) -> Circuit:
        """Build the circuit on the config's device (without running it) and return it."""
        if self._built is None:
            self._built = build_circuit(self.plan.spec, self.data, self.plan.events,
                                        self.plan.noise, device=self.device,
                                        record_every=self.record_every,
                                        seed=self.config.experiment.seed)
        return self._built.circuit

    @property
    def circuit(self) -> Circuit:
        return self.build()

    def run(self, out_dir: str | Path | None = None, *, progress: bool = True,
            figures: bool = False) -> dict:
        """Run the whole schedule; return (and, with ``out_dir``, write) the metrics."""
        config, plan, table = self.config, self.plan, self.table
        folder = results.check_folder(out_dir) if out_dir is not None else None
        measure = Measurer(config, self.data)
        metrics = new_metrics(config, self.data)
        metrics.update(engine="circuit", device=self.device.describe(),
                       neuron=config.circuit.neuron,
                       schedule=_schedule_summary(table, plan.spec),
                       history=[measure(0, 0, *plan.initial)])
        watch = DivergenceWatch(config.training.divergence_factor,
                                metrics["history"][0]["test_loss"], plan.initial[0],
                                plan.initial[2])
        if folder is not None:
            results.begin(folder, to_toml(config), metrics)
        if progress:
            print(f"circuit: {len(table)} presentations of {plan.spec.presentation_time} "
                  f"on {self.device.describe()}; building and running ...", flush=True)
        try:
            if self._built is not None:
                run = self._built.run(plan.spec, self._built.presentations, plan.initial,
                                      plan.feedback_signs, config.experiment.seed, progress)
            else:
                run = run_circuit(plan.spec, self.data, plan.events, plan.noise, plan.initial,
                                  feedback_signs=plan.feedback_signs, device=self.device,
                                  record_every=self.record_every,
                                  seed=config.experiment.seed, progress=progress)
        except KeyboardInterrupt as stop:
            _stop(folder, metrics, stop)
            raise
        metrics.update(device=run.device, wall_time_s=run.wall_time_s,
                       build_time_s=run.build_time_s, completed_fraction=run.completed)
        history, snapshots = _history(run, measure, len(table),
                                      _engaged_total(self.data, config))
        try:
            metrics["history"] = []
            for entry, (W, b, B) in zip(history, snapshots):
                where = f"presentation {entry['presentation']}"
                watch.weights(where, W, B)
                watch.loss(where, entry["test_loss"], lambda: (W, B))
                metrics["history"].append(entry)
            if run.completed < 1 or run.interrupted:
                raise KeyboardInterrupt(f"Ctrl-C when {100 * run.completed:.0f} % of the run "
                                        "was simulated")
        except (KeyboardInterrupt, DivergenceError) as stop:
            _stop(folder, metrics, stop, run)
            raise
        metrics["final"] = final_of(metrics["history"][-1])
        if folder is not None:
            results.finish(folder, metrics,
                           _run_arrays(run, table, metrics, plan.spec, history, snapshots),
                           draw_figures if figures else None)
        metrics["complete"] = True
        return metrics


def _stop(folder: Path | None, metrics: dict, stop: BaseException, run=None) -> None:
    """Write what a stopped run has (the history so far, its weights), incomplete."""
    metrics["stopped"] = f"{type(stop).__name__}: {stop}" if str(stop) else type(stop).__name__
    if folder is None:
        return
    if run is not None:
        results.write_arrays(folder / "arrays.npz", results.network_arrays(run.W, run.b, run.B))
    results.write_json(folder / "metrics.json", {**metrics, "complete": False})


def _run_arrays(run, table, metrics: dict, spec, history, snapshots) -> dict[str, dict]:
    """The array files of a finished circuit run, by file name."""
    arrays = {"arrays.npz": results.network_arrays(run.W, run.b, run.B),
              "activity.npz": activity_arrays(run.recording, table),
              "snapshots.npz": snapshot_arrays(history, snapshots),
              "schedule.npz": schedule_arrays(table, spec)}
    if run.spikes:
        schedule = metrics["schedule"]
        window = schedule["window_start"], schedule["window_start"] + len(schedule["phases"])
        arrays["spikes.npz"] = spike_arrays(run.spikes, table, window,
                                            float(spec.presentation_time))
    return arrays


# --- from a config to a circuit and its run ---------------------------------------------

def spec_from_config(config) -> CircuitSpec:
    """The :class:`CircuitSpec` a :class:`mirrorlab.sims.config.Config` describes.

    Circuits present one sample at a time, so ``training.batch_size`` must be 1,
    ``training.momentum`` and ``training.weight_decay`` 0, and
    ``schedule.mirror_batch_size`` 0 or 1. Of ``[constraints]``, ``feedback_dale`` is
    wired; ``feedback_levels`` is not (see the error it raises).
    """
    training, schedule, circuit = config.training, config.schedule, config.circuit
    for where, value, ok in (("training.trainer", training.trainer, training.trainer == "gradient"),
                             ("training.modules", training.modules, training.modules == 1)):
        if not ok:
            raise ConfigError(f"{where}: a circuit learns by its rule's plasticity; "
                              f"{where} = {value!r} is a trainer of the matrix engine")
    for where, value, ok, allowed in (
            ("training.batch_size", training.batch_size, training.batch_size == 1, "must be 1"),
            ("training.momentum", training.momentum, training.momentum == 0, "must be 0"),
            ("training.weight_decay", training.weight_decay, training.weight_decay == 0,
             "must be 0"),

            ("schedule.mirror_batch_size", schedule.mirror_batch_size,
             schedule.mirror_batch_size in (0, 1), "must be 0 or 1")):
        if not ok:
            raise ConfigError(f"{where}: {allowed} for circuits, which learn from one sample "
                              f"(or one noise draw) per presentation (got {value!r})")
    if training.dtype != "float64":
        raise ConfigError(f"training.dtype: must be float64 for circuits, which Brian2 "
                          f"computes in float64 (got {training.dtype!r})")
    if config.constraints.feedback_levels:
        raise ConfigError("constraints.feedback_levels: not in circuits: the level step "
                          "follows mean|B| over a whole synapse group, which no single "
                          "synapse sees; must be 0 for circuits (got "
                          f"{config.constraints.feedback_levels!r})")
    network = config.network
    try:
        return _spec(config, network, training, schedule, circuit)
    except ValueError as err:   # name the config field, not the spec's
        message = str(err)
        for spec_field, config_field in CONFIG_FIELDS.items():
            message = message.replace(f"CircuitSpec.{spec_field}:", f"{config_field}:")
        message = message.replace("CircuitSpec.rule.", f"rule.{config.rule.name}.")
        raise ConfigError(message) from None


#: The config field behind each CircuitSpec field, for error messages.
CONFIG_FIELDS = {"feedback_dale": "constraints.feedback_dale", "loss": "network.loss",
                 "lr": "training.lr", "rule": "rule.name",
                 "mirror_scheme": "schedule.mirror_scheme", "neuron": "circuit.neuron",
                 "noise_source": "circuit.noise_source", "settle_steps": "circuit.settle_steps",
                 "firing.resting_weight": "circuit.resting_weight",
                 "sizes": "network.sizes"}


def _spec(config, network, training, schedule, circuit) -> CircuitSpec:
    return CircuitSpec(
        sizes=tuple(network.sizes), transfer=get_transfer(network.transfer),
        output_transfer=get_transfer(network.output_transfer),
        loss=get_loss(network.loss, network.output_transfer), rule=config.rule.selected,
        lr=training.lr, neuron=circuit.neuron, tau=circuit.tau_ms * ms, dt=circuit.dt_ms * ms,
        mirror_scheme=schedule.mirror_scheme, settle_steps=circuit.settle_steps,
        noise_source=circuit.noise_source, feedback_dale=config.constraints.feedback_dale,
        spiking=_spiking(circuit), firing=_firing(circuit))


def _firing(circuit) -> FiringRateSpec | None:
    """The firing-rate parameters of ``[circuit]``, if its neurons are firing-rate neurons."""
    if circuit.neuron not in FIRING_RATE_KINDS:
        return None
    return FiringRateSpec(baseline=circuit.baseline_hz * Hz, gain=circuit.gain_hz * Hz,
                          resting_weight=circuit.resting_weight)


def _spiking(circuit) -> SpikingSpec | None:
    """The spiking parameters of ``[circuit]``, if its neurons spike."""
    if circuit.neuron not in SPIKING_KINDS:
        return None
    lif = LIFNeuron(tau_m=circuit.lif_tau_m_ms * 1e-3, refractory=circuit.lif_refractory_ms * 1e-3,
                    sigma=circuit.lif_sigma, synapses=circuit.lif_synapses) \
        if circuit.neuron == "lif" else None
    return SpikingSpec(
        baseline=circuit.baseline_hz * Hz, gain=circuit.gain_hz * Hz,
        pool=circuit.neurons_per_unit, lif=lif, signed=circuit.signed,
        tau_syn=circuit.tau_syn_ms * ms, tau_trace=circuit.tau_trace_ms * ms,
        tau_mean=circuit.tau_mean_ms * ms, presentation=circuit.presentation_ms * ms,
        noise_drive=circuit.noise_drive, dale=circuit.dale, dale_relay=circuit.dale_relay,
        partner_link=circuit.partner_link, error_gate=circuit.error_gate,
        learning_onset=circuit.learning_onset_ms * ms, mean_trace=circuit.mean_trace,
        delay_forward=circuit.delay_forward_ms * ms,
        delay_feedback=circuit.delay_feedback_ms * ms, delay_spread=circuit.delay_spread_ms * ms)


@dataclass(frozen=True, eq=False)
class RunPlan:
    """What a circuit run of a config needs, drawn as :func:`~.matrix.run_matrix` draws it."""

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
        noise = [draw_mirror_noise(streams.noise, spec.rule.mirror_noise, list(spec.sizes), 1)
                 for event in events if event.phase == MIRROR]
    return RunPlan(spec, events, noise, (net.W, net.b, net.B), net.feedback_signs)


# --- what a run writes -----------------------------------------------------------------

def activity_arrays(recording, table) -> dict[str, np.ndarray]:
    """What ``activity.npz`` holds: ``presentation`` (n,) the presentations whose settled
    activity was recorded, ``engaged`` (n,) 1 where that presentation was engaged, and
    per population ``forward_l`` (n, n_l) rates and ``feedback_l`` (n, n_l) errors."""
    shown = recording.presentations[1:] - 1
    return {"presentation": shown, "engaged": table.engaged[shown].astype(np.int8),
            **recording.activity}


def snapshot_arrays(history: list[dict], snapshots: list[tuple]) -> dict[str, np.ndarray]:
    """What ``snapshots.npz`` holds: the weights of every history entry, ``presentation``
    (n,) the presentations completed, and per layer l = 1..L ``W<l>`` (n, n_l, n_{l-1}),
    ``b<l>`` (n, n_l), ``B<l>`` (n, n_{l-1}, n_l), in the matrix engine's layout."""
    arrays = {"presentation": np.array([entry["presentation"] for entry in history])}
    for l in range(len(snapshots[0][0])):
        for k, kind in enumerate("WbB"):
            arrays[f"{kind}{l + 1}"] = np.stack([weights[k][l] for weights in snapshots])
    return arrays


def schedule_arrays(table, spec) -> dict[str, np.ndarray]:
    """What ``schedule.npz`` holds: the phase of every presentation of the run,
    ``presentation_s`` (the length of one, s), ``engaged`` (n,) 1 for engaged
    presentations, ``mirror`` (n, L) 1 where layer l's feedback was mirrored."""
    return {"presentation_s": np.array(float(spec.presentation_time)),
            "engaged": np.asarray(table.engaged, dtype=np.int8),
            "mirror": np.asarray(table.mirror, dtype=np.int8)}


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


class Measurer:
    """One history entry from a circuit's weights: alignment on the weights themselves,
    accuracy and delta angles from the steady state they define (what instantaneous
    neurons compute, and settled rate neurons approach), as the matrix engine measures."""

    def __init__(self, config: Config, data: Dataset):
        self.engine = build_engine(config, np.random.default_rng(0))
        self.data = data
        self.per_epoch = steps_per_epoch(len(data.x_train), 1)

    def __call__(self, presentation: int, step: int, W, b, B) -> dict:
        self.engine.net.W, self.engine.net.b, self.engine.net.B = list(W), list(b), list(B)
        with np.errstate(all="ignore"):   # a diverged snapshot is measured, then reported
            entry = checkpoint(self.engine, self.data, step, step / self.per_epoch, None)
        entry["presentation"] = presentation
        return entry


def _history(run, measure: Measurer, n_presentations: int,
             engaged_total: int) -> tuple[list[dict], list[tuple]]:
    """History entries of the recorded snapshots (and, for a finished run, of the final
    weights), with the ``(W, b, B)`` each was measured on."""
    rec, history, matrices = run.recording, [], []
    snapshots = [(int(rec.presentations[k]), int(rec.engaged_steps[k]), [w[k] for w in rec.W],
                  [v[k] for v in rec.b], [x[k] for x in rec.B])
                 for k in range(len(rec.presentations))]
    if run.completed >= 1:   # the final weights are those of the last presentation
        snapshots.append((n_presentations, engaged_total, run.W, run.b, run.B))
    for presentation, step, W, b, B in snapshots:
        entry = measure(presentation, step, W, b, B)
        if history and history[-1]["presentation"] == presentation:
            history[-1], matrices[-1] = entry, (W, b, B)  # the final weights replace a snapshot
        else:
            history.append(entry)
            matrices.append((W, b, B))
    return history, matrices


def _engaged_total(data: Dataset, config: Config) -> int:
    return len(data.x_train) * config.training.epochs


SCHEDULE_SHOWN = 60  # presentations whose phase metrics.json lists, for the schedule figure


def _schedule_summary(table, spec) -> dict:
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
            "phases": phases, "presentation_s": float(spec.presentation_time)}
