"""Plausibility checks of a circuit: ``mirrorlab check``.

A config's circuit is built (whatever the config's engine: the checks are about
the circuit) and run briefly on Brian2's runtime device, with the activity of
every population sampled once per presentation. Each check then returns one
result ``{"name", "status", "evidence"}`` with status ``pass``, ``fail`` or
``n/a``; ``evidence`` holds a one-sentence ``summary`` and the numbers behind it.

Checks, in report order (thresholds from the config's ``[check]`` section):

``no_weight_transport``
    :func:`~mirrorlab.circuits.locality_audit`: no plastic synapse group reads
    another group's weights or any non-local variable, and the rule does not
    copy W into B (bp does, and fails).
``dale_principle``
    Per synapse group W_l and B_l, the fraction of presynaptic neurons whose
    outgoing weights (a column of the matrix) have both signs; passes if every
    fraction is at most ``dale_tolerance``.
``rates_in_bounds``, ``rates_non_negative``
    Firing rates of the forward populations, in Hz (activity ``r`` times
    ``max_rate_hz``), within ``rate_bounds_hz``; never below 0 Hz. The feedback
    populations carry signed errors, whose range is reported but not judged.
``weights_finite``, ``weights_bounded``
    Every entry of W, b and B finite, and ``|w| <= weight_bound``.
``time_scales``
    Rate neurons' time constant within ``tau_range_ms``; every population settled
    (``|r - r_inf| <= settle_tolerance``) when its presentation ends; no single
    presentation changes a weight matrix by more than ``max_relative_update`` of
    its norm; the decay time constants of plasticity, reported.
``alignment_reached``
    Every angle(B_l, W_l^T) below ``angle_threshold_deg`` at the end of the run
    (n/a for bp, whose B is W^T by construction).
``task_performance``
    Test accuracy at least ``min_accuracy`` (0: above chance, see
    :func:`chance_accuracy`); n/a for regression data.

Spiking circuits (``circuit.neuron = "poisson"`` or ``"lif"``) are read from their spikes and their
actual synapse groups instead: rates in Hz per neuron from each unit's pooled spike
count in each presentation (:func:`spiking_rates_hz`), for every spiking population
(forward, feedback, target, inhibitory relays), so never negative; Dale's principle
per Brian2 synapse group, each group's weights read by their effect on the target
(:func:`check_dale_spiking`: with ``circuit.dale`` the excitatory groups are clipped
at 0 and the inhibitory relays' groups subtract); time scales: tau_syn and tau_trace
within ``tau_range_ms``, tau_mean, delays, presentation and dt reported, settling n/a,
and the change of each signed matrix over one presentation measured from weight
snapshots taken at every presentation boundary (:func:`measured_relative_updates`).

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
from brian2 import StateMonitor, ms, second
from brian2 import seed as brian2_seed

from ..analysis import metrics as M
from ..circuits import Circuit, build, locality_audit, presentations
from ..circuits.build import synapse_matrices
from ..circuits.spiking_spec import PRESENTATION_PARTS, SPIKING_KINDS
from . import devices, results
from .circuit_run import RunPlan, plan_from_config
from .config import Config, ConfigError, to_toml
from .data import Dataset
from .devices import Device
from .schedule import ENGAGED
from .train import Streams, _check_sizes, build_engine, checkpoint, load_config_data

Array = np.ndarray

PASS, FAIL, NA = "pass", "fail", "n/a"
CHECKS = ("no_weight_transport", "dale_principle", "rates_in_bounds", "rates_non_negative",
          "weights_finite", "weights_bounded", "time_scales", "alignment_reached",
          "task_performance")
#: Feedback constraints and their values when off.
CONSTRAINTS_OFF = {"constraints.feedback_dale": False, "constraints.feedback_levels": 0}
#: Standard errors above the chance accuracy that ``min_accuracy = 0`` asks for.
CHANCE_MARGIN_SE = 2.0
#: Neuron kinds the checks read: rate kinds through their activity ``r`` (times
#: ``max_rate_hz``), spiking kinds through their spike counts per presentation.
CHECKED_NEURONS = ("instantaneous", "rate", *SPIKING_KINDS)


def result(name: str, status: str, summary: str, **numbers) -> dict:
    """One check's result: ``{"name", "status", "evidence": {"summary", **numbers}}``."""
    assert status in (PASS, FAIL, NA), status
    return {"name": name, "status": status, "evidence": {"summary": summary, **numbers}}


def _passes(ok: bool) -> str:
    return PASS if ok else FAIL


# --- the brief run -----------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class BriefRun:
    """What the checks read from a short circuit run.

    Attributes
    ----------
    circuit : Circuit
        The built (and run) circuit.
    initial, final : (W, b, B)
        Weights before and after the run, in the matrix engine's layout.
    activity : dict
        ``activity[population][variable]`` is a ``(P, n)`` array: the value of the
        variable when each of the P presentations ends (dimensionless).
    engaged, mirror : (P,) bool arrays
        Which presentations were engaged, which were mirror presentations.
    initial_mirror_events : int
        Mirror events before training in this run (the config's, shortened).
    not_enforced : list of str
        Config constraints the circuit does not wire (they shaped the initial weights only).
    wall_time_s : float
    spikes : dict or None
        Spiking circuits: :meth:`SpikingCircuit.activity` after the run (pooled spikes of
        every spiking population); ``activity`` is then empty.
    weight_history : dict or None
        Spiking circuits: ``weight_history[name]`` is a ``(P + 1, n_post, n_pre)`` array of
        the signed matrix W_l or B_l (excitatory minus inhibitory group with Dale's law)
        when each presentation starts, then at the end of the run.
    """

    circuit: Circuit
    initial: tuple
    final: tuple
    activity: dict
    engaged: Array
    mirror: Array
    initial_mirror_events: int
    not_enforced: list
    wall_time_s: float
    spikes: dict | None = None
    weight_history: dict | None = None

    @property
    def spiking(self) -> bool:
        return self.spikes is not None


def is_spiking(circuit) -> bool:
    return circuit.spec.neuron in SPIKING_KINDS


def brief_run(config: Config, data: Dataset, steps: int) -> BriefRun:
    """Run the circuit of ``config`` for ``steps`` engaged presentations (0 = all) on
    Brian2 runtime (numpy), sampling every population once per presentation (rate
    circuits), or recording every spike and the weights at every presentation boundary
    (spiking circuits)."""
    plan, initial_mirror, not_enforced = circuit_plan(config, data, steps)
    table = presentations(plan.spec.sizes, plan.events, data.x_train, data.y_train, plan.noise,
                          plan.spec.mirror_scheme)
    started = time.perf_counter()
    devices.activate(Device("runtime", target="numpy"))
    circuit = build(plan.spec, table)
    circuit.set_weights(*plan.initial, plan.feedback_signs)
    spiking = is_spiking(circuit)
    monitors = weight_monitors(circuit) if spiking else activity_monitors(circuit)
    circuit.network.add(*monitors)
    brian2_seed(config.experiment.seed)
    circuit.network.run(circuit.duration, namespace={})
    final = circuit.weights()
    if spiking:
        activity, spikes = {}, circuit.activity()
        history = weight_history(circuit, monitors, final, len(table))
    else:
        activity = {m.source.name: {var: np.asarray(getattr(m, var)).T[1:len(table) + 1]
                                    for var in m.record_variables} for m in monitors}
        spikes = history = None
    return BriefRun(circuit, plan.initial, final, activity,
                    table.engaged.astype(bool), ~table.engaged.astype(bool), initial_mirror,
                    not_enforced, time.perf_counter() - started, spikes, history)


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


#: Variables sampled per population, where the population has them: rates, errors,
#: their steady-state targets (settling), and the partner copies B's plasticity reads.
ACTIVITY_VARIABLES = ("r", "r_inf", "delta", "delta_inf", "r_fwd", "r_drive")


def activity_monitors(circuit: Circuit) -> list[StateMonitor]:
    """One StateMonitor per population, sampling at every presentation boundary.

    At boundary ``p * T`` the monitor runs in the ``start`` slot before plasticity
    (order -1), so it sees the values the circuit settled to in presentation p - 1,
    exactly what the plasticity at that boundary reads. Sample 0 (t = 0) is the
    initial state and is dropped by :func:`brief_run`.
    """
    T = circuit.spec.presentation_time
    return [StateMonitor(group, [v for v in ACTIVITY_VARIABLES if v in group.variables],
                         record=True, dt=T, when="start", order=-1,
                         name=f"{group.name}_activity")
            for group in circuit.forward + circuit.feedback]


def plastic_groups(circuit) -> list[tuple[str, object, int]]:
    """``(matrix name, synapse group, sign of its effect)`` of every W and B projection
    (plastic, or fixed like fa's B): W_l and B_l (+1) and, with Dale's law, the
    inhibitory W_inh_l and B_inh_l (-1: their weights, kept >= 0, subtract from the
    target's input). Spiking circuits only."""
    inhibitory = getattr(circuit, "inhibitory", {}) or {}
    groups = []
    for kind, excitatory in (("W", circuit.W), ("B", circuit.B)):
        for l, S in enumerate(excitatory, 1):
            groups.append((f"{kind}_{l}", S, 1))
        for l, S in enumerate(inhibitory.get(kind, []), 1):
            groups.append((f"{kind}_{l}", S, -1))
    return groups


def weight_monitors(circuit) -> list[StateMonitor]:
    """Spiking circuits: one StateMonitor of ``w`` per plastic synapse group, sampling when
    each presentation starts, before that time step's plasticity (order -1 in the
    ``start`` slot, where the spiking plasticity runs at order 0)."""
    T = circuit.spec.presentation_time
    return [StateMonitor(S, "w", record=True, dt=T, when="start", order=-1,
                         name=f"{S.name}_weights") for _, S, _ in plastic_groups(circuit)]


def weight_history(circuit, monitors: list[StateMonitor], final, presentations_: int) -> dict:
    """Signed W_l and B_l at the start of each of the ``presentations_`` presentations and
    after the last one (``final``, from :meth:`weights`): ``(P + 1, n_post, n_pre)``."""
    history = {}
    for (name, S, sign), monitor in zip(plastic_groups(circuit), monitors):
        values = np.asarray(monitor.w[:]).T[:presentations_]
        matrices = sign * synapse_matrices(S, values)
        history[name] = history.get(name, 0) + matrices
    W, _, B = final
    for kind, matrices in (("W", W), ("B", B)):
        for l, matrix in enumerate(matrices, 1):
            name = f"{kind}_{l}"
            history[name] = np.concatenate([history[name], np.asarray(matrix)[None]])
    return history


# --- the checks ------------------------------------------------------------------------

def check_no_weight_transport(circuit: Circuit) -> dict:
    """The locality audit of the circuit's plastic synapse groups."""
    violations = locality_audit(circuit)
    if violations:
        summary = (f"{len(violations)} non-local signal(s) in the plasticity: "
                   + "; ".join(str(v) for v in violations[:3]))
    else:
        summary = ("every plastic synapse group learns from its own, its pre- and "
                   "postsynaptic neurons' variables and broadcast scalars only")
    return result("no_weight_transport", _passes(not violations), summary,
                  violations=[{"synapses": v.synapses, "identifier": v.identifier,
                               "reason": v.reason} for v in violations])


def mixed_sign_fraction(matrix: Array) -> float:
    """Fraction of presynaptic neurons (columns of a ``(n_post, n_pre)`` or, for B,
    ``(n_{l-1}, n_l)`` matrix) whose outgoing weights include both signs (zeros ignored)."""
    matrix = np.asarray(matrix, dtype=float)
    mixed = np.any(matrix > 0, axis=0) & np.any(matrix < 0, axis=0)
    return float(np.mean(mixed))


def check_dale_principle(W: list[Array], B: list[Array], tolerance: float,
                         feedback_dale: str = "off") -> dict:
    """Dale's principle per synapse group: each presynaptic neuron excitatory or inhibitory.

    W_l's presynaptic neurons are forward_{l-1}'s (columns of W_l); B_l's are
    feedback_l's (columns of B_l). ``feedback_dale`` says what the config asked of B:
    "off", "enforced" (by the circuit) or "initial weights only".
    """
    fractions = {f"W_{l}": mixed_sign_fraction(w) for l, w in enumerate(W, 1)}
    fractions |= {f"B_{l}": mixed_sign_fraction(b) for l, b in enumerate(B, 1)}
    worst = max(fractions, key=fractions.get)
    breaking = [name for name, f in fractions.items() if f > tolerance]
    summary = (f"presynaptic neurons with mixed-sign outgoing weights: up to "
               f"{100 * fractions[worst]:.0f} % ({worst}); "
               + (f"above the tolerance of {100 * tolerance:.0f} % in " + ", ".join(breaking)
                  if breaking else f"within the tolerance of {100 * tolerance:.0f} %"))
    if feedback_dale == "initial weights only":
        summary += "; constraints.feedback_dale set the initial B only (not wired in circuits)"
    return result("dale_principle", _passes(not breaking), summary,
                  mixed_sign_fraction=fractions, tolerance=tolerance, feedback_dale=feedback_dale)


def check_dale_spiking(circuit, tolerance: float) -> dict:
    """Dale's principle per Brian2 synapse group of a spiking circuit.

    Each plastic group's weights are read as their effect on the target: ``+w`` for the
    excitatory groups W_l, B_l, ``-w`` for the inhibitory W_inh_l, B_inh_l (Dale's law
    only; their weights are clipped at 0 and subtract). Per group, the fraction of
    presynaptic neurons whose outgoing weights have both signs (at most ``tolerance``)
    and the group's sign. With ``circuit.dale`` every presynaptic population projects
    through exactly one plastic group, so per group is per neuron; without it W_l and
    B_l carry signed weights and mix signs as in rate circuits.
    """
    fractions, signs = {}, {}
    for _, S, sign in plastic_groups(circuit):
        effect = sign * np.asarray(S.w[:], dtype=float)
        matrix = synapse_matrices(S, effect[None])[0]
        fractions[S.name] = mixed_sign_fraction(matrix)
        positive, negative = bool(np.any(effect > 0)), bool(np.any(effect < 0))
        signs[S.name] = ("mixed" if positive and negative else "excitatory" if positive
                         else "inhibitory" if negative else "zero")
    worst = max(fractions, key=fractions.get)
    breaking = [name for name, f in fractions.items() if f > tolerance]
    dale = bool(circuit.spec.spiking.dale)
    summary = (f"per synapse group, presynaptic neurons with mixed-sign outgoing weights: up "
               f"to {100 * fractions[worst]:.0f} % ({worst}); "
               + (f"above the tolerance of {100 * tolerance:.0f} % in " + ", ".join(breaking)
                  if breaking else f"within the tolerance of {100 * tolerance:.0f} %")
               + ("; circuit.dale: excitatory groups and inhibitory relays, clipped at 0"
                  if dale else "; circuit.dale is off: W and B carry signed weights"))
    return result("dale_principle", _passes(not breaking), summary,
                  mixed_sign_fraction=fractions, group_sign=signs, tolerance=tolerance,
                  circuit_dale=dale, feedback_dale="circuit.dale" if dale else "off")


def forward_rates_hz(run: BriefRun, max_rate_hz: float) -> dict[str, Array]:
    """Firing rates (Hz) of forward_0 .. forward_L at the end of each presentation:
    activity ``r`` (dimensionless) times ``max_rate_hz``. Spiking populations would give
    their rates in Hz directly; the rate checks take any such dict."""
    return {group.name: run.activity[group.name]["r"] * max_rate_hz
            for group in run.circuit.forward}


def spiking_rates_hz(run: BriefRun) -> dict[str, Array]:
    """Firing rates (Hz per neuron) of every spiking population in each presentation:
    ``(P, n)`` arrays of the pooled spike count of each unit in the presentation divided
    by ``pool * presentation time`` (a unit is a pool of ``pool`` Poisson neurons).

    The populations are those that spike: forward_0 .. forward_L, feedback_1 ..
    feedback_L (feedback_0 does not spike), the target and, with Dale's law, the
    inhibitory relays. A spike belongs to the presentation of its time step.
    """
    spec = run.circuit.spec
    steps, P = spec.presentation_steps, len(run.engaged)
    T_s = float(spec.presentation_time / second)
    dt_s = float(spec.dt / second)
    rates = {}
    for name, spikes in run.spikes.items():
        n, pool = spikes["n"], spikes["pool"]
        presentation = np.round(spikes["t_s"] / dt_s).astype(np.int64) // steps
        keep = presentation < P
        counts = np.zeros((P, n))
        np.add.at(counts, (presentation[keep], spikes["i"][keep]), 1)
        rates[name] = counts / (pool * T_s)
    return rates


def _rate_ranges(rates_hz: dict[str, Array], phases: dict[str, Array], low: float,
                 high: float) -> dict:
    """Per population and phase: min, mean, max rate (Hz), share of samples out of bounds."""
    out = {}
    for population, rates in rates_hz.items():
        out[population] = {}
        for phase, mask in phases.items():
            values = rates[mask]
            if values.size:
                out[population][phase] = {
                    "min_hz": float(np.min(values)), "mean_hz": float(np.mean(values)),
                    "max_hz": float(np.max(values)),
                    "out_of_bounds_fraction": float(np.mean((values < low) | (values > high))),
                    "negative_fraction": float(np.mean(values < 0))}
    return out


def check_rates_in_bounds(ranges: dict, bounds_hz: list[float], spiking: bool = False) -> dict:
    """Every sampled forward rate (spiking: every population's rate from its spike count
    in each presentation) within ``bounds_hz`` = [low, high] (Hz)."""
    low, high = bounds_hz
    outside = [f"{population} ({phase}: {r['min_hz']:.0f} to {r['max_hz']:.0f} Hz)"
               for population, by_phase in ranges.items() for phase, r in by_phase.items()
               if r["out_of_bounds_fraction"] > 0]
    what = "spike-count rate (per neuron and presentation)" if spiking else "forward rate"
    summary = (f"rates outside [{low:g}, {high:g}] Hz in " + ", ".join(outside) if outside
               else f"every {what} within [{low:g}, {high:g}] Hz")
    if spiking and not outside:
        means = [r["mean_hz"] for by_phase in ranges.values() for r in by_phase.values()]
        summary += f" (population means {min(means):.1f} to {max(means):.1f} Hz)"
    return result("rates_in_bounds", _passes(not outside), summary, bounds_hz=[low, high],
                  rates_from="spike counts" if spiking else "activity r times max_rate_hz",
                  populations=ranges)


def check_rates_non_negative(ranges: dict, errors: dict | None) -> dict:
    """No forward rate below 0 Hz. ``errors``: range of the feedback populations' signed
    errors (reported only: an error signal is signed by nature); None for spiking
    circuits, whose rates (every population's, from spike counts) cannot be negative."""
    negative = [f"{population} ({phase}, {100 * r['negative_fraction']:.0f} % of samples, "
                f"down to {r['min_hz']:.0f} Hz)"
                for population, by_phase in ranges.items() for phase, r in by_phase.items()
                if r["negative_fraction"] > 0]
    if errors is None:
        lowest = min(r["min_hz"] for by_phase in ranges.values() for r in by_phase.values())
        summary = ("negative rates in " + ", ".join(negative) if negative else
                   f"rates from spike counts, non-negative by construction (lowest {lowest:.1f} "
                   "Hz); signed values ride on the baseline rate")
        numbers = {}
    else:
        summary = ("negative rates in " + ", ".join(negative) if negative
                   else "no forward rate below 0 Hz")
        summary += "; the feedback populations carry signed errors (reported, not judged)"
        numbers = {"feedback_errors": errors}
    return result("rates_non_negative", _passes(not negative), summary,
                  populations={p: {phase: {k: r[k] for k in ("min_hz", "negative_fraction")}
                                   for phase, r in by_phase.items()}
                               for p, by_phase in ranges.items()},
                  **numbers)


def _error_ranges(run: BriefRun) -> dict:
    return {group.name: {"min": float(np.min(run.activity[group.name]["delta"])),
                         "max": float(np.max(run.activity[group.name]["delta"]))}
            for group in run.circuit.feedback}


def _named_weights(W, b, B) -> dict[str, Array]:
    named = {f"W_{l}": w for l, w in enumerate(W, 1)}
    named |= {f"b_{l}": v for l, v in enumerate(b, 1)}
    return named | {f"B_{l}": m for l, m in enumerate(B, 1)}


def check_weights_finite(W, b, B) -> dict:
    """Every entry of every W_l, b_l and B_l finite (no NaN, no infinity)."""
    counts = {name: int(np.sum(~np.isfinite(w))) for name, w in _named_weights(W, b, B).items()}
    bad = [f"{name} ({n})" for name, n in counts.items() if n]
    summary = ("non-finite entries in " + ", ".join(bad) if bad
               else "every weight and bias is finite")
    return result("weights_finite", _passes(not bad), summary, non_finite_entries=counts)


def check_weights_bounded(W, b, B, bound: float) -> dict:
    """Every ``|w| <= bound`` (dimensionless); a non-finite entry is unbounded."""
    largest = {}
    for name, w in _named_weights(W, b, B).items():
        w = np.asarray(w, dtype=float)
        largest[name] = float(np.max(np.abs(w))) if np.all(np.isfinite(w)) else math.inf
    bad = [f"{name} ({value:.3g})" for name, value in largest.items() if not value <= bound]
    summary = (f"|w| above {bound:g} in " + ", ".join(bad) if bad
               else f"every |w| <= {bound:g} (largest {max(largest.values()):.3g})")
    return result("weights_bounded", _passes(not bad), summary, bound=bound, max_abs=largest)


def relative_updates(run: BriefRun) -> dict[str, float]:
    """Largest change of each plastic matrix in one presentation, relative to its norm.

    Each update is an outer product plus a decay, so its norm is at most
    ``eta * |post| * |pre| + decay * |w|`` (the norm of an outer product is the product
    of the norms). W_l learns in engaged presentations from forward_l's error and
    forward_{l-1}'s rate; B_l learns from feedback_{l-1}'s partner rate and either
    feedback_l's error (engaged: kp, bp) or its noise-free drive (mirror of layer l:
    wm). The norm is the smaller of the initial and final one (an upper bound).
    """
    circuit, act, out = run.circuit, run.activity, {}

    def largest(name, eta, decay, post, pre, mask, before, after):
        norm = min(np.linalg.norm(before), np.linalg.norm(after))
        if not mask.any():
            return
        hebbian = eta * np.linalg.norm(post[mask], axis=1) * np.linalg.norm(pre[mask], axis=1)
        out[name] = float(np.max(hebbian) / norm + decay) if norm > 0 else math.inf

    mirror_rule = circuit.spec.rule.uses_mirror_phase
    for l in range(1, circuit.spec.n_layers + 1):
        forward_pre, forward_post = circuit.forward[l - 1].name, circuit.forward[l].name
        largest(f"W_{l}", circuit.spec.lr, circuit.spec.rule.forward_decay,
                act[forward_post]["delta"], act[forward_pre]["r"], run.engaged,
                run.initial[0][l - 1], run.final[0][l - 1])
        B = circuit.B[l - 1]
        if "eta" not in B.variables:
            continue   # fixed feedback
        below, above = circuit.feedback[l - 1].name, circuit.feedback[l].name
        signal, mask = (("r_drive", run.mirror & (circuit.presentations.mirror[:, l] > 0))
                        if mirror_rule else ("delta", run.engaged))
        largest(f"B_{l}", float(B.eta[:]), float(B.decay[:]), act[below]["r_fwd"],
                act[above][signal], mask, run.initial[2][l - 1], run.final[2][l - 1])
    return out


def settling_residual(run: BriefRun) -> float:
    """Largest ``|r - r_inf|`` (forward) or ``|delta - delta_inf|`` (feedback) when a
    presentation ends: 0 for instantaneous neurons, small for settled rate neurons."""
    residuals = [0.0]
    for variables in run.activity.values():
        for out, target in (("r", "r_inf"), ("delta", "delta_inf")):
            if out in variables and target in variables:
                residuals.append(float(np.max(np.abs(variables[out] - variables[target]))))
    return max(residuals)


def check_time_scales(run: BriefRun, tau_range_ms: list[float], settle_tolerance: float,
                      max_relative_update: float) -> dict:
    """Neuron time constant, settling within a presentation, and plasticity per presentation."""
    spec = run.circuit.spec
    T_ms, tau_ms = float(spec.presentation_time / ms), float(spec.tau / ms)
    failures, numbers = [], {"neuron": spec.neuron, "presentation_ms": T_ms,
                             "dt_ms": float(spec.dt / ms)}
    if spec.neuron == "rate":
        numbers |= {"tau_ms": tau_ms, "tau_range_ms": list(tau_range_ms),
                    "presentation_over_tau": T_ms / tau_ms}
        if not tau_range_ms[0] <= tau_ms <= tau_range_ms[1]:
            failures.append(f"tau = {tau_ms:g} ms outside [{tau_range_ms[0]:g}, "
                            f"{tau_range_ms[1]:g}] ms")
    residual = settling_residual(run)
    numbers |= {"settling_residual": residual, "settle_tolerance": settle_tolerance}
    if not residual <= settle_tolerance:
        failures.append(f"not settled when presentations end (|r - r_inf| up to {residual:.3g})")
    updates = relative_updates(run)
    numbers |= {"max_relative_update": updates, "relative_update_bound": max_relative_update}
    failures += _fast_updates(updates, max_relative_update)
    numbers["decay_time_constants"] = _decay_time_constants(run.circuit)
    summary = ("; ".join(failures) if failures else
               (f"tau = {tau_ms:g} ms in range, " if spec.neuron == "rate"
                else "instantaneous neurons (no time constant), ")
               + f"settled to {residual:.2g}, largest update per presentation "
               f"{100 * max(updates.values(), default=0):.2g} % of a matrix's norm")
    return result("time_scales", _passes(not failures), summary, **numbers)


def _fast_updates(updates: dict[str, float], bound: float) -> list[str]:
    """The failure (if any) of matrices changed by more than ``bound`` of their norm in
    one presentation."""
    fast = [f"{name} {value:.3g}" for name, value in updates.items() if not value <= bound]
    if not fast:
        return []
    return ["one presentation changes a matrix by more than "
            f"{100 * bound:g} % of its norm: " + ", ".join(fast)]


def measured_relative_updates(run: BriefRun) -> dict[str, float]:
    """Spiking circuits: largest change of each signed matrix W_l, B_l over one
    presentation, ``|M_{p+1} - M_p| / |M_p|`` (Frobenius norms) from the snapshots
    taken when presentations start (and the final weights). Measured, not bounded:
    it includes the spike noise of the traces the rules read, and the whole
    presentation's learning (plasticity runs at every time step of its learning part)."""
    return _largest(relative_update_series(run))


def _largest(series: dict[str, Array]) -> dict[str, float]:
    return {name: float(np.max(values)) if values.size else 0.0
            for name, values in series.items()}


def relative_update_series(run: BriefRun) -> dict[str, Array]:
    """``(P,)`` relative change of each signed matrix over each presentation (see
    :func:`measured_relative_updates`); 0 where nothing changed."""
    out = {}
    for name, history in run.weight_history.items():
        change = np.linalg.norm(np.diff(history, axis=0), axis=(1, 2))
        norm = np.linalg.norm(history[:-1], axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = np.where(change > 0, change / norm, 0.0)
    return out


def check_time_scales_spiking(run: BriefRun, tau_range_ms: list[float],
                              max_relative_update: float) -> dict:
    """Time scales of a spiking circuit: the synaptic filter and the fast spike trace
    within ``tau_range_ms``; the slow trace, delays, presentation and step reported;
    settling n/a; no presentation changes a matrix by more than ``max_relative_update``
    of its norm (measured from weight snapshots, :func:`measured_relative_updates`)."""
    spec = run.circuit.spec
    spiking = spec.spiking
    T_ms = float(spec.presentation_time / ms)
    taus = {name: float(getattr(spiking, name) / ms) for name in ("tau_syn", "tau_trace",
                                                                    "tau_mean")}
    quiet_ms = T_ms / PRESENTATION_PARTS
    carried = math.exp(-quiet_ms / taus["tau_syn"])
    numbers = {"neuron": spec.neuron, "presentation_ms": T_ms, "dt_ms": float(spec.dt / ms),
               **{f"{name}_ms": value for name, value in taus.items()},
               "tau_range_ms": list(tau_range_ms),
               "delay_forward_ms": float(spiking.delay_forward / ms),
               "delay_feedback_ms": float(spiking.delay_feedback / ms),
               "delay_spread_ms": float(spiking.delay_spread / ms),
               "learning_off_ms": quiet_ms, "previous_presentation_in_tau_syn_filter": carried,
               "settling": "n/a: Poisson neurons have no steady state to settle to; their rate "
               "follows the input at once and readers decode it through exponential filters. "
               f"Plasticity is off in the first {quiet_ms:g} ms of each presentation "
               f"(1/{PRESENTATION_PARTS}), when a tau_syn filter still holds "
               f"exp(-{quiet_ms:g}/{taus['tau_syn']:g}) = {carried:.2g} of the previous one"}
    failures = [f"{name} = {value:g} ms outside [{tau_range_ms[0]:g}, {tau_range_ms[1]:g}] ms"
                for name, value in taus.items() if name != "tau_mean"
                and not tau_range_ms[0] <= value <= tau_range_ms[1]]
    series = relative_update_series(run)
    updates = _largest(series)
    numbers |= {"max_relative_update": updates, "relative_update_bound": max_relative_update,
                "median_relative_update": {name: float(np.median(values[values > 0]))
                                           if np.any(values > 0) else 0.0
                                           for name, values in series.items()},
                "relative_update_from": "weight snapshots at every presentation boundary "
                "(measured, spike noise included; the median is over the presentations "
                "that changed the matrix)"}
    failures += _fast_updates(updates, max_relative_update)
    numbers["decay_time_constants"] = _decay_time_constants(run.circuit)
    summary = ("; ".join(failures) if failures else
               f"tau_syn {taus['tau_syn']:g} ms and tau_trace {taus['tau_trace']:g} ms in "
               f"range (tau_mean {taus['tau_mean']:g} ms reported), settling n/a (Poisson "
               f"neurons), largest measured change in one presentation "
               f"{100 * max(updates.values(), default=0):.2g} % of a matrix's norm")
    return result("time_scales", _passes(not failures), summary, **numbers)


def _decay_time_constants(circuit: Circuit) -> dict:
    """Decay time constant of each plastic group with a decay: 1/decay presentations, and
    in seconds of simulated time."""
    T_s = float(circuit.spec.presentation_time / ms) / 1000
    out = {}
    if is_spiking(circuit):
        # spiking decays are per second of learning time (the last parts of a presentation)
        learning_s = T_s * (PRESENTATION_PARTS - 1) / PRESENTATION_PARTS
        for _, S, _ in plastic_groups(circuit):
            if "decay" in S.variables and float(S.decay[:]) > 0:
                seconds = 1 / float(S.decay[:])
                out[S.name] = {"presentations": seconds / learning_s,
                               "seconds": seconds / learning_s * T_s}
        return out
    for S in circuit.W + circuit.B:
        if "decay" in S.variables and float(S.decay[:]) > 0:
            presentations_ = 1 / float(S.decay[:])
            out[S.name] = {"presentations": presentations_, "seconds": presentations_ * T_s}
    return out


def check_alignment_reached(rule_name: str, transports: bool, initial_deg: list[float],
                            final_deg: list[float], threshold_deg: float, steps: int) -> dict:
    """Every angle(B_l, W_l^T) below ``threshold_deg`` at the end of the run."""
    numbers = {"initial_angle_deg": initial_deg, "final_angle_deg": final_deg,
               "threshold_deg": threshold_deg, "engaged_presentations": steps}
    if transports:
        return result("alignment_reached", NA, f"rule {rule_name!r} sets B = W^T by "
                      "construction: there is no alignment to reach", **numbers)
    ok = all(angle < threshold_deg for angle in final_deg)   # False for NaN
    summary = ("angle(B, W^T) per layer " + ", ".join(f"{a:.1f}°" for a in final_deg)
               + f" after {steps} engaged presentations (from "
               + ", ".join(f"{a:.1f}°" for a in initial_deg) + "); "
               + ("all" if ok else "not all") + f" below {threshold_deg:g}°")
    return result("alignment_reached", _passes(ok), summary, **numbers)


def chance_accuracy(y_test: Array) -> tuple[float, float]:
    """Share of the most frequent test class, and its binomial standard error."""
    shares = np.bincount(np.argmax(y_test, axis=1)) / len(y_test)
    p = float(np.max(shares))
    return p, math.sqrt(p * (1 - p) / len(y_test))


def check_task_performance(data: Dataset, initial_accuracy, final_accuracy,
                           min_accuracy: float) -> dict:
    """Test accuracy of the final weights at least ``min_accuracy``, or above chance."""
    if not data.is_classification:
        return result("task_performance", NA, f"{data.name!r} is a regression task: no "
                      "accuracy (the test loss is in the report)")
    chance, se = chance_accuracy(data.y_test)
    required = min_accuracy or chance + CHANCE_MARGIN_SE * se
    ok = final_accuracy is not None and final_accuracy >= required
    summary = (f"test accuracy {100 * (final_accuracy or 0):.1f} % (from "
               f"{100 * (initial_accuracy or 0):.1f} %), "
               + ("at least" if ok else "below") + f" the required {100 * required:.1f} %"
               + ("" if min_accuracy else f" (chance {100 * chance:.1f} % + "
                  f"{CHANCE_MARGIN_SE:g} standard errors)"))
    return result("task_performance", _passes(ok), summary, test_accuracy=final_accuracy,
                  initial_test_accuracy=initial_accuracy, required=required,
                  chance=chance, n_test=len(data.y_test))


# --- putting it together -----------------------------------------------------------------

def _outcome(config: Config, data: Dataset, weights, step: int) -> dict:
    """Alignment and accuracy of ``weights`` as the matrix engine measures a checkpoint."""
    engine = build_engine(config, np.random.default_rng(0))
    engine.net.W, engine.net.b, engine.net.B = (list(w) for w in weights)
    with np.errstate(all="ignore"):
        return checkpoint(engine, data, step, 0.0, None)


def _feedback_dale(config: Config, run: BriefRun) -> str:
    if not config.constraints.feedback_dale:
        return "off"
    return "initial weights only" if "feedback_dale" in run.not_enforced else "enforced"


def run_checks(config: Config, data: Dataset, run: BriefRun) -> list[dict]:
    """Every check of :data:`CHECKS` on a brief run, in that order."""
    bounds = config.check
    W, b, B = run.final
    rates = spiking_rates_hz(run) if run.spiking else forward_rates_hz(run, bounds.max_rate_hz)
    ranges = _rate_ranges(rates, {"engaged": run.engaged, "mirror": run.mirror},
                          *bounds.rate_bounds_hz)
    steps = int(np.sum(run.engaged))
    before, after = _outcome(config, data, run.initial, 0), _outcome(config, data, run.final,
                                                                    steps)
    rule = run.circuit.spec.rule
    return [
        check_no_weight_transport(run.circuit),
        (check_dale_spiking(run.circuit, bounds.dale_tolerance) if run.spiking else
         check_dale_principle(W, B, bounds.dale_tolerance, _feedback_dale(config, run))),
        check_rates_in_bounds(ranges, bounds.rate_bounds_hz, run.spiking),
        check_rates_non_negative(ranges, None if run.spiking else _error_ranges(run)),
        check_weights_finite(W, b, B),
        check_weights_bounded(W, b, B, bounds.weight_bound),
        (check_time_scales_spiking(run, bounds.tau_range_ms, bounds.max_relative_update)
         if run.spiking else
         check_time_scales(run, bounds.tau_range_ms, bounds.settle_tolerance,
                           bounds.max_relative_update)),
        check_alignment_reached(rule.name, rule.transports_weights,
                                before["weight_angle_deg"], after["weight_angle_deg"],
                                bounds.angle_threshold_deg, steps),
        check_task_performance(data, before["test_accuracy"], after["test_accuracy"],
                               bounds.min_accuracy),
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
    if config.circuit.neuron not in CHECKED_NEURONS:
        raise ConfigError(f"circuit.neuron: mirrorlab check reads the activity of "
                          f"{', '.join(CHECKED_NEURONS)} neurons so far "
                          f"(got {config.circuit.neuron!r})")
    data = data if data is not None else load_config_data(config)
    _check_sizes(config, data)
    if progress:
        print(f"check: building the {config.rule.name} circuit of {config.experiment.name} "
              "and running it briefly on Brian2 runtime ...", flush=True)
    run = brief_run(config, data, steps)
    checks = run_checks(config, data, run)
    spec = run.circuit.spec
    report = {
        "name": config.experiment.name, "rule": config.rule.name, "engine": "circuit",
        "config_engine": config.experiment.engine, "device": "runtime (numpy)",
        "config_device": config.device.name, "neuron": spec.neuron, "sizes": list(spec.sizes),
        "seed": config.experiment.seed,
        "brief_run": {"engaged": int(np.sum(run.engaged)), "mirror": int(np.sum(run.mirror)),
                      "presentations": len(run.engaged),
                      "initial_mirror_events": run.initial_mirror_events,
                      "config_initial_mirror_events": config.schedule.initial_mirror_batches,
                      "config_engaged": len(data.x_train) * config.training.epochs,
                      "presentation_ms": float(spec.presentation_time / ms),
                      "run_time_s": run.wall_time_s,
                      **({"spikes": {name: int(len(sp["i"])) for name, sp in run.spikes.items()},
                          "neurons_per_unit": int(spec.spiking.pool)} if run.spiking else {})},
        "check_time_s": time.perf_counter() - started,
        "not_enforced_by_circuit": run.not_enforced,
        "versions": results.versions(),
        "counts": {status: sum(c["status"] == status for c in checks)
                   for status in (PASS, FAIL, NA)},
        "checks": checks,
    }
    if out_dir is not None:
        write_report(report, config, Path(out_dir))
    return report


# --- the report ------------------------------------------------------------------------

#: What each check means, for plausibility.md.
MEANINGS = {
    "no_weight_transport": "No synapse may read another synapse's weight: every plastic "
    "synapse group must learn from its own variables, its pre- and postsynaptic neurons' "
    "variables and broadcast scalars (phase gates, learning rates). The locality audit "
    "parses the Brian2 code of every plastic group and follows summed variables; a rule "
    "that copies W into B (backprop) fails.",
    "dale_principle": "A neuron releases one transmitter, so all its outgoing synapses share "
    "one sign. Per synapse group, the fraction of presynaptic neurons whose outgoing "
    "weights have both signs; a standard circuit's W and B mix signs freely. Spiking "
    "circuits: per Brian2 synapse group, weights read by their effect on the target "
    "(inhibitory relays' groups subtract).",
    "rates_in_bounds": "Firing rates (activity r times check.max_rate_hz; spiking "
    "circuits: spike counts per neuron and presentation, every spiking population) stay "
    "within physiological bounds, in engaged and in mirror presentations.",
    "rates_non_negative": "A firing rate cannot be negative. Signed activities (tanh units, "
    "a linear output, zero-mean mirror noise added to a rate) break this. The feedback "
    "populations carry signed errors; their range is reported, not judged. Spiking "
    "circuits carry signed values around a baseline rate: their spike-count rates are "
    "non-negative by construction, and the check reports the lowest.",
    "weights_finite": "No weight or bias is NaN or infinite after the run.",
    "weights_bounded": "No synaptic weight grows beyond check.weight_bound: a synapse of "
    "weight 10 alone moves its target's net input by 10 at full presynaptic rate.",
    "time_scales": "Rate neurons' time constant is physiological, every presentation is long "
    "enough for the circuit to settle, and no single presentation rewrites a large part of a "
    "weight matrix. Spiking circuits: synaptic and trace time constants in range, settling "
    "n/a, the change per presentation measured from weight snapshots.",
    "alignment_reached": "The feedback weights B came into alignment with W^T: every layer's "
    "angle is below check.angle_threshold_deg at the end of the run (a brief run is often "
    "too short; run with --steps 0 for the whole schedule).",
    "task_performance": "The circuit learned the task: test accuracy of the final weights at "
    "least check.min_accuracy, or above chance.",
}


def write_report(report: dict, config: Config, folder: Path) -> None:
    """``plausibility.json``, ``plausibility.md`` and the resolved ``config.toml``."""
    results.write_text(folder / "config.toml", to_toml(config))
    results.write_json(folder / "plausibility.json", report)
    results.write_text(folder / "plausibility.md", markdown(report))


def markdown(report: dict) -> str:
    """The report as a readable Markdown page."""
    run = report["brief_run"]
    lines = [f"# Plausibility: {report['name']}, rule {report['rule']}", "",
             f"Circuit {'-'.join(map(str, report['sizes']))}, {report['neuron']} neurons, "
             f"seed {report['seed']}, on Brian2 {report['device']} (the config's engine: "
             f"{report['config_engine']}, device: {report['config_device']}).", "",
             f"Brief run: {run['engaged']} engaged and {run['mirror']} mirror presentations "
             f"of {run['presentation_ms']:g} ms ({run['initial_mirror_events']} initial mirror "
             f"events of the config's {run['config_initial_mirror_events']}; the config trains "
             f"on {run['config_engaged']} engaged presentations): {run['run_time_s']:.1f} s to run, "
             f"{report['check_time_s']:.1f} s for the whole check.",
             ""]
    if "spikes" in run:
        lines += [f"Spiking: rates from {sum(run['spikes'].values()):,} recorded spikes of "
                  f"{', '.join(run['spikes'])} (pools of {run['neurons_per_unit']} neurons "
                  "per unit), weights snapshotted at every presentation boundary.", ""]
    if report["not_enforced_by_circuit"]:
        lines += ["Not enforced by the circuit (shaped the initial weights only): "
                  + ", ".join(report["not_enforced_by_circuit"]) + ".", ""]
    counts = report["counts"]
    lines += [f"{counts[PASS]} pass, {counts[FAIL]} fail, {counts[NA]} n/a.", "",
              "| check | status | evidence |", "|---|---|---|"]
    lines += [f"| `{c['name']}` | **{c['status']}** | "
              + c["evidence"]["summary"].replace("|", "\\|") + " |" for c in report["checks"]]
    lines += ["", "## What the checks mean", ""]
    lines += [f"- `{name}`: {MEANINGS[name]}" for name in CHECKS]
    lines += ["", "The numbers behind each line are in `plausibility.json`; the bounds are "
              "the config's `[check]` section (in `config.toml`).", ""]
    return "\n".join(lines)


def table(report: dict) -> str:
    """A short plain-text table: check, status, evidence summary."""
    width = max(len(name) for name in CHECKS)
    return "\n".join(f"{c['name']:<{width}}  {c['status']:<4}  {c['evidence']['summary']}"
                     for c in report["checks"])
