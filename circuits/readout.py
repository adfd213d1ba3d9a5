"""What a run of a circuit shows about its biology, read the way its kind allows.

A rate circuit is read from its populations' settled activity, sampled at every
presentation boundary: firing rates are activity times a rate scale, settling is
``|r - r_inf|``, and the change of a weight matrix in one presentation is bounded from the
activity its plasticity reads. A spiking circuit is read from its spikes and from
snapshots of its weights at every boundary: rates are spike counts, settling does not
apply, and the change per presentation is measured. Both give a :class:`Readout`, which
``mirrorlab.analysis.plausibility`` judges; :meth:`Circuit.readout` picks the reading.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from brian2 import Hz, ms, second

from .base import Circuit, weight_matrix
from .monitors import activity_samples, weight_snapshots

Array = np.ndarray

#: Variables a rate circuit's check samples per population, where the population has
#: them: rates, errors, their steady-state targets (settling), and the partner copies
#: B's plasticity reads.
ACTIVITY_VARIABLES = ("r", "r_inf", "delta", "delta_inf", "r_fwd", "r_drive")


@dataclass(frozen=True, eq=False)
class Readout:
    """What the plausibility checks read from a circuit run of P presentations.

    Attributes
    ----------
    rates_hz : dict of (P, n) arrays
        Firing rate (Hz per neuron) of each judged population in each presentation.
    rates_from : str
        How the rates were obtained.
    signed_errors : dict or None
        ``{population: {"min", "max"}}`` of the feedback populations' signed errors
        (rate circuits: reported, not judged); None where every rate is a spike count.
    judged_times_ms : dict of float
        Time constants that must lie in the physiological range, by name.
    time_numbers : dict
        Every timing number for the evidence (presentation, dt, time constants, delays).
    settling_residual : float or None
        Largest ``|r - r_inf|`` when a presentation ends; None: settling does not apply
        (``time_numbers["settling"]`` says why).
    relative_updates : dict of float
        Largest change of each weight matrix in one presentation, relative to its norm.
    update_numbers : dict
        How ``relative_updates`` was obtained, and related numbers for the evidence.
    decay_time_constants : dict
        Per plastic group with a decay: its time constant in presentations and seconds.
    dale_effects : dict of (n_post, n_pre) arrays
        Per synapse group, its final weights as their effect on the target (an inhibitory
        route's weights negated).
    dale_mechanism : str
        How the circuit keeps Dale's principle: "off", "enforced" (feedback neurons keep
        a sign), "circuit.dale" (inhibitory relays of spiking circuits) or "relay pairs"
        (firing-rate circuits: an excitatory and an inhibitory synapse per weight).
    activity, spikes, weight_history
        The raw recordings: sampled activity ``{population: {variable: (P, n)}}`` (rate
        circuits), pooled spikes and signed weight snapshots ``(P + 1, n_post, n_pre)``
        (spiking circuits).
    """

    rates_hz: dict
    rates_from: str
    signed_errors: dict | None
    judged_times_ms: dict
    time_numbers: dict
    settling_residual: float | None
    relative_updates: dict
    update_numbers: dict
    decay_time_constants: dict
    dale_effects: dict
    dale_mechanism: str
    activity: dict = field(default_factory=dict)
    spikes: dict | None = None
    weight_history: dict | None = None


def decay_time_constants(circuit: Circuit, learning_fraction: float = 1.0) -> dict:
    """Decay time constant of each plastic group with a decay, in presentations and in
    seconds of simulated time. ``decay`` is per presentation (rate circuits) or per second
    of learning time, a ``learning_fraction`` of each presentation (spiking circuits)."""
    T_s = float(circuit.spec.presentation_time / second)
    out = {}
    for _, S, _ in circuit.plastic_groups():
        if "decay" in S.variables and float(S.decay[:]) > 0:
            if learning_fraction == 1.0:
                presentations = 1 / float(S.decay[:])
            else:
                presentations = 1 / float(S.decay[:]) / (T_s * learning_fraction)
            out[S.name] = {"presentations": presentations, "seconds": presentations * T_s}
    return out


def dale_effects(circuit: Circuit) -> dict[str, Array]:
    """Each synapse group's final weights as their effect on its target."""
    return {S.name: sign * weight_matrix(S) for _, S, sign in circuit.plastic_groups()}


# --- rate circuits ------------------------------------------------------------------------

def rate_readout(circuit: Circuit, monitors: list, n_presentations: int, initial, final, *,
                 max_rate_hz: float, engaged: Array, mirror: Array) -> Readout:
    """The readout of a rate circuit from :data:`ACTIVITY_VARIABLES` sampled at every
    boundary (sample p + 1: the end of presentation p)."""
    activity = settled_activity(monitors, n_presentations)
    spec = circuit.spec
    rates = {G.name: activity[G.name]["r"] * max_rate_hz for G in circuit.forward}
    errors = {G.name: {"min": float(np.min(activity[G.name]["delta"])),
                       "max": float(np.max(activity[G.name]["delta"]))}
              for G in circuit.feedback}
    T_ms, tau_ms = float(spec.presentation_time / ms), float(spec.tau / ms)
    numbers = {"neuron": spec.neuron, "presentation_ms": T_ms, "dt_ms": float(spec.dt / ms)}
    judged = {}
    if spec.neuron == "rate":
        judged = {"tau": tau_ms}
        numbers |= {"tau_ms": tau_ms, "presentation_over_tau": T_ms / tau_ms}
    updates = relative_update_bounds(circuit, activity, initial, final, engaged, mirror)
    return Readout(rates, "activity r times max_rate_hz", errors, judged, numbers,
                   settling_residual(activity), updates, {}, decay_time_constants(circuit),
                   dale_effects(circuit), "enforced" if spec.feedback_dale else "off",
                   activity=activity)


def firing_rate_readout(circuit: Circuit, monitors: list, n_presentations: int, initial,
                        final, *, max_rate_hz: float, engaged: Array,
                        mirror: Array) -> Readout:
    """The readout of a firing-rate circuit from every population's rate ``rho`` and values
    sampled at every boundary (``max_rate_hz`` is unused: the neurons fire in Hz)."""
    activity = settled_activity(monitors, n_presentations)
    spec = circuit.spec
    rates = {G.name: activity[G.name]["rho"] for G in circuit.populations}
    T_ms, tau_ms = float(spec.presentation_time / ms), float(spec.tau / ms)
    firing = spec.firing
    numbers = {"neuron": spec.neuron, "presentation_ms": T_ms, "dt_ms": float(spec.dt / ms),
               "tau_ms": tau_ms, "presentation_over_tau": T_ms / tau_ms,
               "baseline_hz": float(firing.baseline / Hz), "gain_hz": float(firing.gain / Hz),
               "tau_applies_to": "every population (forward, feedback, target, relays, noise)"}
    updates = relative_update_bounds(circuit, activity, initial, final, engaged, mirror)
    smallest = {S.name: float(np.min(S.w[:])) for _, S, _ in circuit.plastic_groups()}
    update_numbers = {"relative_update_from": "bound from the settled activity, per signed "
                      "matrix (its excitatory and inhibitory synapses change by halves)",
                      "smallest_synapse_weight": smallest,
                      "resting_weight": firing.resting_weight}
    return Readout(rates, "firing rate rho of every population (Hz)", None, {"tau": tau_ms},
                   numbers, settling_residual(activity), updates, update_numbers,
                   decay_time_constants(circuit), dale_effects(circuit),
                   "relay pairs", activity=activity)


def settled_activity(monitors: list, n_presentations: int) -> dict:
    """``{population: {variable: (P, n)}}`` at the end of each of the ``n_presentations``
    presentations (sample p + 1 of the monitors: sample 0 precedes every presentation)."""
    return {name: {v: values[1:n_presentations + 1] for v, values in variables.items()}
            for name, variables in activity_samples(monitors).items()}


def settling_residual(activity: dict) -> float:
    """Largest ``|r - r_inf|`` (forward) or ``|delta - delta_inf|`` (feedback) when a
    presentation ends: 0 for instantaneous neurons, small for settled rate neurons."""
    residuals = [0.0]
    for variables in activity.values():
        for out, target in (("r", "r_inf"), ("delta", "delta_inf")):
            if out in variables and target in variables:
                residuals.append(float(np.max(np.abs(variables[out] - variables[target]))))
    return max(residuals)


def relative_update_bounds(circuit: Circuit, act: dict, initial, final, engaged: Array,
                           mirror: Array) -> dict[str, float]:
    """Largest change of each plastic matrix in one presentation, relative to its norm.

    Each update is an outer product plus a decay, so its norm is at most
    ``eta * |post| * |pre| + decay * |w|`` (the norm of an outer product is the product
    of the norms). W_l learns in engaged presentations from forward_l's error and
    forward_{l-1}'s rate; B_l learns from feedback_{l-1}'s partner rate and either
    feedback_l's error (a rule without a mirror phase, in engaged presentations) or its
    noise-free drive (a mirror rule, in the mirror presentations of layer l). The norm is
    the smaller of the initial and final one (an upper bound).
    """
    out = {}

    def largest(name, eta, decay, post, pre, mask, before, after):
        norm = min(np.linalg.norm(before), np.linalg.norm(after))
        if not mask.any():
            return
        hebbian = eta * np.linalg.norm(post[mask], axis=1) * np.linalg.norm(pre[mask], axis=1)
        out[name] = float(np.max(hebbian) / norm + decay) if norm > 0 else math.inf

    spec = circuit.spec
    mirror_rule = spec.rule.uses_mirror_phase
    for l in range(1, spec.n_layers + 1):
        forward_pre, forward_post = circuit.forward[l - 1].name, circuit.forward[l].name
        largest(f"W_{l}", spec.lr, spec.rule.forward_decay, act[forward_post]["delta"],
                act[forward_pre]["r"], engaged, initial[0][l - 1], final[0][l - 1])
        B = circuit.B[l - 1]
        if "eta" not in B.variables:
            continue   # fixed feedback
        below, above = circuit.feedback[l - 1].name, circuit.feedback[l].name
        signal, mask = (("r_drive", mirror & (circuit.presentations.mirror[:, l] > 0))
                        if mirror_rule else ("delta", engaged))
        decay = float(B.decay[:]) if "decay" in B.variables else 0.0
        largest(f"B_{l}", float(B.eta[:]), decay, act[below]["r_fwd"], act[above][signal], mask,
                initial[2][l - 1], final[2][l - 1])
    return out


# --- spiking circuits ---------------------------------------------------------------------

def spiking_readout(circuit: Circuit, monitors: list, n_presentations: int, initial, final, *,
                    max_rate_hz: float, engaged: Array, mirror: Array) -> Readout:
    """The readout of a spiking circuit from its spikes and the weight snapshots taken when
    each presentation starts (``max_rate_hz`` is unused: rates are spike counts)."""
    spec, spiking = circuit.spec, circuit.spec.spiking
    spikes = circuit.spikes()
    history = weight_history(circuit, monitors, final, n_presentations)
    T_ms = float(spec.presentation_time / ms)
    taus = {name: float(getattr(spiking, name) / ms)
            for name in ("tau_syn", "tau_trace", "tau_mean")}
    parts = spiking.parts
    quiet_ms = T_ms / parts
    carried = math.exp(-quiet_ms / taus["tau_syn"])
    numbers = {"neuron": spec.neuron, "presentation_ms": T_ms, "dt_ms": float(spec.dt / ms),
               **{f"{name}_ms": value for name, value in taus.items()},
               "delay_forward_ms": float(spiking.delay_forward / ms),
               "delay_feedback_ms": float(spiking.delay_feedback / ms),
               "delay_spread_ms": float(spiking.delay_spread / ms),
               "learning_off_ms": quiet_ms, "previous_presentation_in_tau_syn_filter": carried,
               "settling": "n/a: Poisson neurons have no steady state to settle to; their rate "
               "follows the input at once and readers decode it through exponential filters. "
               f"Plasticity is off in the first {quiet_ms:g} ms of each presentation "
               f"(1/{parts}), when a tau_syn filter still holds "
               f"exp(-{quiet_ms:g}/{taus['tau_syn']:g}) = {carried:.2g} of the previous one"}
    series = relative_update_series(history)
    updates = {name: float(np.max(values)) if values.size else 0.0
               for name, values in series.items()}
    update_numbers = {
        "median_relative_update": {name: float(np.median(values[values > 0]))
                                   if np.any(values > 0) else 0.0
                                   for name, values in series.items()},
        "relative_update_from": "weight snapshots at every presentation boundary (measured, "
        "spike noise included; the median is over the presentations that changed the matrix)"}
    learning = (parts - 1) / parts
    return Readout(spiking_rates_hz(spikes, spec, n_presentations), "spike counts", None,
                   {"tau_syn": taus["tau_syn"], "tau_trace": taus["tau_trace"]}, numbers, None,
                   updates, update_numbers, decay_time_constants(circuit, learning),
                   dale_effects(circuit), "circuit.dale" if spiking.dale else "off",
                   spikes=spikes, weight_history=history)


def spiking_rates_hz(spikes: dict, spec, n_presentations: int) -> dict[str, Array]:
    """Firing rates (Hz per neuron) of every spiking population in each presentation:
    ``(P, n)`` arrays of the pooled spike count of each unit in the presentation divided
    by ``pool * presentation time`` (a unit is a pool of ``pool`` neurons).

    The populations are those that spike: forward_0 .. forward_L, feedback_1 ..
    feedback_L (feedback_0 does not spike), the target and, with Dale's law, the
    inhibitory relays. A spike belongs to the presentation of its time step.
    """
    steps, P = spec.presentation_steps, n_presentations
    T_s = float(spec.presentation_time / second)
    dt_s = float(spec.dt / second)
    rates = {}
    for name, population in spikes.items():
        n, pool = population["n"], population["pool"]
        presentation = np.round(population["t_s"] / dt_s).astype(np.int64) // steps
        keep = presentation < P
        counts = np.zeros((P, n))
        np.add.at(counts, (presentation[keep], population["i"][keep]), 1)
        rates[name] = counts / (pool * T_s)
    return rates


def weight_history(circuit: Circuit, monitors: list, final, n_presentations: int) -> dict:
    """Signed W_l and B_l at the start of each of the ``n_presentations`` presentations and
    after the last one (``final``, from :meth:`Circuit.weights`): ``(P + 1, n_post, n_pre)``."""
    history = {name: matrices[:n_presentations]
               for name, matrices in weight_snapshots(circuit, monitors).items()}
    W, _, B = final
    for kind, matrices in (("W", W), ("B", B)):
        for l, matrix in enumerate(matrices, 1):
            name = f"{kind}_{l}"
            history[name] = np.concatenate([history[name], np.asarray(matrix)[None]])
    return history


def relative_update_series(history: dict) -> dict[str, Array]:
    """``(P,)`` relative change ``|M_{p+1} - M_p| / |M_p|`` (Frobenius norms) of each signed
    matrix over each presentation; 0 where nothing changed."""
    out = {}
    for name, matrices in history.items():
        change = np.linalg.norm(np.diff(matrices, axis=0), axis=(1, 2))
        norm = np.linalg.norm(matrices[:-1], axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = np.where(change > 0, change / norm, 0.0)
    return out
