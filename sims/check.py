"""Plausibility checks of a circuit: ``mirrorlab check``.

A config's circuit is built (whatever the config's engine: the checks are about
the circuit) and run briefly on Brian2's runtime device (the whole run: on the config's
device) with the monitors its kind needs
(:meth:`~mirrorlab.circuits.Circuit.check_monitors`); the circuit reads the run
(:meth:`~mirrorlab.circuits.Circuit.readout`: firing rates in Hz, time constants,
settling, weight changes per presentation, Dale's principle per synapse group) and
:mod:`mirrorlab.analysis.plausibility` judges it, one verdict per check (its docstrings
and ``MEANINGS`` say what each check asks).

The brief run presents ``steps`` engaged samples of the config's schedule (its
first epochs, in its sample order and with its mirror phases). When the run is
shortened, the initial mirror phase is shortened in proportion
(``ceil(initial_mirror_batches * steps / all engaged steps)``) so that it does not
dominate; ``steps = 0`` runs the whole schedule. Feedback constraints that the
circuit cannot wire yet (``spec_from_config`` refuses them) still shape the initial
weights; the report lists them as not enforced by the circuit.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from brian2 import ms

from ..analysis import plausibility as P
from ..circuits import Circuit, locality_audit, presentations
from ..circuits.readout import Readout
from ..models.schedule import ENGAGED
from . import results
from .config import Config, ConfigError, to_toml
from .data import Dataset
from .devices import Device, device_from_config
from .runs.circuit import RunPlan, plan_from_config
from .runs.common import Streams, check_fit, checkpoint, load_config_data
from .runs.compiled import CompiledCircuit
from .runs.matrix import build_engine

Array = np.ndarray

#: Feedback constraints and their values when off.
CONSTRAINTS_OFF = {"constraints.feedback_dale": False, "constraints.feedback_levels": 0}


@dataclass(frozen=True, eq=False)
class BriefRun:
    """What the checks read from a short circuit run.

    Attributes
    ----------
    circuit : Circuit
        The built (and run) circuit.
    initial, final : (W, b, B)
        Weights before and after the run, in the matrix engine's layout.
    readout : Readout
        What the circuit shows of its run (rates, times, updates, Dale; its raw
        recordings are :attr:`activity`, :attr:`spikes`, :attr:`weight_history`).
    engaged, mirror : (P,) bool arrays
        Which presentations were engaged, which were mirror presentations.
    initial_mirror_events : int
        Mirror events before training in this run (the config's, shortened).
    not_enforced : list of str
        Config constraints the circuit does not wire (they shaped the initial weights only).
    wall_time_s : float
    device : str
        The Brian2 device it ran on.
    """

    circuit: Circuit
    initial: tuple
    final: tuple
    readout: Readout
    engaged: Array
    mirror: Array
    initial_mirror_events: int
    not_enforced: list
    wall_time_s: float
    device: str = "runtime (numpy)"

    @property
    def activity(self) -> dict:
        """``activity[population][variable]``: ``(P, n)`` settled values (rate circuits)."""
        return self.readout.activity

    @property
    def spikes(self) -> dict | None:
        """Pooled spikes of every spiking population (spiking circuits), else None."""
        return self.readout.spikes

    @property
    def weight_history(self) -> dict | None:
        """Signed ``(P + 1, n_post, n_pre)`` W_l and B_l at every presentation boundary
        (spiking circuits), else None."""
        return self.readout.weight_history

    @property
    def spiking(self) -> bool:
        """Whether the run recorded spikes."""
        return self.readout.spikes is not None


def brief_run(config: Config, data: Dataset, steps: int, progress: bool = False) -> BriefRun:
    """Run the circuit of ``config`` for ``steps`` engaged presentations (0 = all), with the
    monitors the circuit's kind needs for the checks.

    A brief run (``steps > 0``) runs on Brian2 runtime (numpy), where it starts at once; the
    whole run (``steps = 0``) runs on the config's device, where a standalone device
    compiles it first (a whole digits run is minutes in C++, hours in numpy).
    """
    plan, initial_mirror, not_enforced = circuit_plan(config, data, steps)
    table = presentations(plan.spec.sizes, plan.events, data.x_train, data.y_train, plan.noise,
                          plan.spec.mirror_scheme)
    started = time.perf_counter()
    device = check_device(config, steps)
    compiled = CompiledCircuit(plan.spec, table, device, 0, config.experiment.seed)
    circuit = compiled.circuit
    monitors = circuit.check_monitors()
    circuit.network.add(*monitors)
    run = compiled.run(plan.spec, table, plan.initial, plan.feedback_signs,
                       config.experiment.seed, progress)
    final = (run.W, run.b, run.B)
    engaged = table.engaged.astype(bool)
    readout = circuit.readout(monitors, len(table), plan.initial, final,
                              max_rate_hz=config.check.max_rate_hz, engaged=engaged,
                              mirror=~engaged)
    return BriefRun(circuit, plan.initial, final, readout, engaged, ~engaged, initial_mirror,
                    not_enforced, time.perf_counter() - started, run.device)


def check_device(config: Config, steps: int) -> Device:
    """Brian2 runtime (numpy) for a brief run, the config's device for the whole run."""
    return device_from_config(config.device) if steps == 0 else Device("runtime",
                                                                       target="numpy")


def circuit_plan(config: Config, data: Dataset, steps: int) -> tuple[RunPlan, int, list[str]]:
    """The config's run plan cut after ``steps`` engaged events (0 = all), the initial
    mirror events it keeps, and the constraints the circuit does not enforce.

    The mirror events that follow the last engaged event are kept (the run ends after
    its mirror phase, as a full run does).
    """
    n_train = len(data.x_train)
    total = n_train * config.training.epochs
    steps = total if steps == 0 else min(steps, total)
    initial_mirror = math.ceil(config.schedule.initial_mirror_batches * steps / total)
    brief = config.replace(**{"training.epochs": math.ceil(steps / n_train),
                              "schedule.initial_mirror_batches": initial_mirror})
    not_enforced = [key.split(".")[1] for key in CONSTRAINTS_OFF
                    if getattr(brief.constraints, key.split(".")[1])]
    try:
        plan, not_enforced = plan_from_config(brief, data), []
    except ConfigError as err:
        if not (not_enforced and str(err).startswith("constraints.")):
            raise
        # The circuit refuses the constraints: wire it without them, from the constrained
        # initial weights (the same draws, with B projected; see init_network).
        unconstrained = plan_from_config(brief.replace(**CONSTRAINTS_OFF), data)
        net = build_engine(brief, Streams.from_seed(config.experiment.seed).init).net
        plan = RunPlan(unconstrained.spec, unconstrained.events, unconstrained.noise,
                       (net.W, net.b, net.B))
    events, engaged = [], 0
    for event in plan.events:
        if event.phase == ENGAGED:
            if engaged == steps:
                break
            engaged += 1
        events.append(event)
    mirror_events = len(events) - engaged
    noise = plan.noise[:mirror_events] if plan.noise is not None else None
    return (RunPlan(plan.spec, events, noise, plan.initial, plan.feedback_signs), initial_mirror,
            not_enforced)


def _outcome(config: Config, data: Dataset, weights, step: int) -> dict:
    """Alignment and accuracy of ``weights`` as the matrix engine measures a checkpoint."""
    engine = build_engine(config, np.random.default_rng(0))
    engine.net.W, engine.net.b, engine.net.B = (list(w) for w in weights)
    with np.errstate(all="ignore"):
        return checkpoint(engine, data, step, 0.0, None)


def run_checks(config: Config, data: Dataset, run: BriefRun) -> list[dict]:
    """Every check of :data:`~mirrorlab.analysis.plausibility.CHECKS` on a brief run, in
    that order."""
    bounds, readout = config.check, run.readout
    W, b, B = run.final
    ranges = P.rate_ranges(readout.rates_hz, {"engaged": run.engaged, "mirror": run.mirror},
                           *bounds.rate_bounds_hz)
    steps = int(np.sum(run.engaged))
    before, after = _outcome(config, data, run.initial, 0), _outcome(config, data, run.final,
                                                                    steps)
    rule = run.circuit.spec.rule
    mechanism = ("initial weights only" if "feedback_dale" in run.not_enforced
                 else readout.dale_mechanism)
    violations = [{"synapses": v.synapses, "identifier": v.identifier, "reason": v.reason}
                  for v in locality_audit(run.circuit)]
    return [
        P.check_no_weight_transport(violations),
        P.check_dale_principle(readout.dale_effects, bounds.dale_tolerance, mechanism),
        P.check_rates_in_bounds(ranges, bounds.rate_bounds_hz, readout.rates_from),
        P.check_rates_non_negative(ranges, readout.signed_errors, readout.rates_from),
        P.check_weights_finite(W, b, B),
        P.check_weights_bounded(W, b, B, bounds.weight_bound),
        P.check_time_scales(readout.judged_times_ms, bounds.tau_range_ms,
                            readout.settling_residual, bounds.settle_tolerance,
                            readout.relative_updates, bounds.max_relative_update,
                            **readout.time_numbers, **readout.update_numbers,
                            decay_time_constants=readout.decay_time_constants),
        P.check_alignment_reached(rule.name, rule.transports_weights,
                                  before["weight_angle_deg"], after["weight_angle_deg"],
                                  bounds.angle_threshold_deg, steps),
        P.check_task_performance(data.y_test if data.is_classification else None,
                                 before["test_accuracy"], after["test_accuracy"],
                                 bounds.min_accuracy, data.name),
    ]


def check_plausibility(config: Config, out_dir: str | Path | None = None, *,
                       steps: int | None = None, progress: bool = True,
                       data: Dataset | None = None) -> dict:
    """Build the circuit of ``config``, run it briefly, run every check.

    Parameters
    ----------
    config : Config
        Any config whose circuit form can be built (``[check]`` holds the bounds).
    out_dir : path, optional
        Where to write ``plausibility.json``, ``plausibility.md`` and ``config.toml``.
    steps : int, optional
        Engaged presentations of the brief run (default ``check.steps``; 0 = all).
    data : Dataset, optional
        Instead of loading the config's data.

    Returns
    -------
    dict
        The report: what ran (config, rule, device, the brief run's schedule) and
        ``checks``, a list of ``{"name", "status", "evidence"}``.
    """
    started = time.perf_counter()
    steps = config.check.steps if steps is None else steps
    if steps < 0:
        raise ConfigError(f"check.steps: must be >= 0 (0 = the whole run) (got {steps})")
    data = data if data is not None else load_config_data(config)
    check_fit(config, data)
    if progress:
        what = "its whole training run" if steps == 0 else f"{steps} engaged presentations"
        print(f"check: building the {config.rule.name} circuit of {config.experiment.name} "
              f"and running {what} on {check_device(config, steps).describe()} ...", flush=True)
    run = brief_run(config, data, steps, progress)
    checks = run_checks(config, data, run)
    spec = run.circuit.spec
    spikes = run.spikes
    report = {
        "name": config.experiment.name, "rule": config.rule.name, "engine": "circuit",
        "config_engine": config.experiment.engine, "device": run.device,
        "config_device": config.device.name, "neuron": spec.neuron, "sizes": list(spec.sizes),
        "seed": config.experiment.seed,
        "brief_run": {"engaged": int(np.sum(run.engaged)), "mirror": int(np.sum(run.mirror)),
                      "presentations": len(run.engaged),
                      "initial_mirror_events": run.initial_mirror_events,
                      "config_initial_mirror_events": config.schedule.initial_mirror_batches,
                      "config_engaged": len(data.x_train) * config.training.epochs,
                      "presentation_ms": float(spec.presentation_time / ms),
                      "run_time_s": run.wall_time_s,
                      **({"spikes": {name: int(len(sp["i"])) for name, sp in spikes.items()},
                          "neurons_per_unit": int(spec.spiking.pool)} if spikes else {})},
        "check_time_s": time.perf_counter() - started,
        "not_enforced_by_circuit": run.not_enforced,
        "versions": results.versions(),
        "counts": {status: sum(c["status"] == status for c in checks)
                   for status in (P.PASS, P.FAIL, P.NA)},
        "checks": checks,
    }
    if out_dir is not None:
        write_report(report, config, Path(out_dir))
    return report


def write_report(report: dict, config: Config, folder: Path) -> None:
    """``plausibility.json``, ``plausibility.md`` and the resolved ``config.toml``."""
    results.write_text(folder / "config.toml", to_toml(config))
    results.write_json(folder / "plausibility.json", report)
    results.write_text(folder / "plausibility.md", P.markdown(report))
