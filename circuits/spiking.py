"""Spiking circuits: the weight mirror and Kolen-Pollack with Poisson or LIF neurons.

The same populations and synapse groups as the rate circuit of :mod:`.build`
(``forward_l``, ``feedback_l``, ``target``, ``W_l``, ``B_l``, one-to-one links),
and the same presentations, but every population that carries a signal spikes.

Units. Every population is made of units, each a pool of ``pool`` neurons with one
input. A Poisson unit is simulated as its pooled spike train. A LIF unit
(``spec.neuron = "lif"``) has ``pool`` leaky integrate-and-fire member neurons
(``<population>_lif``) that read the unit's value ``v`` as a drive (current or
excitatory conductance, :mod:`mirrorlab.models.lif`) calibrated to fire at
``baseline + gain * v`` near ``v = 0``; their spikes are counted into the unit, which
issues them one step later as one spike event carrying ``n_spikes`` spikes. Whatever
reads a unit's spikes weights each event by ``n_spikes`` (1 for Poisson units).

Signed values around a baseline. A value ``v`` (a rate ``phi(a)``, an error
``delta``, a label, a noise draw) is carried by an inhomogeneous Poisson neuron
firing at ``baseline + gain * v`` (clipped at 0 Hz). Whoever receives its spikes
reads ``(trace - baseline) / gain``, where ``trace`` is the spike train filtered by
an exponential normalised so that its mean is the firing rate (each spike adds
``(1 - exp(-dt/tau)) / dt``). A synapse of weight ``w`` from such a neuron adds
``w / gain`` of the filtered spike train to its target's input; the target
subtracts what its synapses bring at baseline (``base = sum_j w_j baseline / gain``,
a summed variable of its own synapses: a homeostatic offset), so its input is
``I = sum_j w_j (trace_j - baseline) / gain``, the rate circuit's ``sum_j w_j r_j``
read from spikes.

What a feedback neuron reads of its forward partner (``spec.spiking.partner_link``): its
net input ``a`` through an analog one-to-one link, from which it computes ``phi'(a)`` and
the output error (``"net_input"``, as the rate circuit), or only its spikes
(``"spikes"``): the output population then fires its prediction ``sigmoid(a)``, the output
error is the decoded prediction minus the decoded label, and ``phi'`` is computed from the
decoded rate (``r (1 - r)`` for a sigmoid), so that spikes alone pass between populations.

Plasticity runs at every time step, gated by the presentation (broadcast
TimedArrays ``engaged_now(t)`` and ``mirror_now(t, layer)``, 0 in the first
part of every presentation, ``spec.spiking.learning_onset`` long (a quarter by default),
while the loop settles to the new input). A rule's per-presentation rates (``lr``, ``decay``) are
spread over the learning part ``T_learn`` of a presentation: ``eta = lr / T_learn``.

- W_l (engaged): ``dw/dt = -eta delta_post r_pre - decay w`` with ``r_pre`` the
  presynaptic neuron's decoded spike trace and ``delta_post`` the error its
  postsynaptic neuron decodes from its feedback partner's spikes.
- B_l, weight mirror (mirror presentations of layer l): the covariance rule
  ``dw/dt = eta (z_pre - m_pre)(z_post - m_post) / gain^2 - decay w``, where ``z`` is
  a fast and ``m`` a slow spike trace of the forward partner of each feedback
  neuron (the feedback neuron sees its partner's spikes through a one-to-one
  link). No zero-mean input is needed: ``m`` removes the mean. For a linear
  coupling of Poisson neurons the expectation is ``W^T`` times a positive
  constant (:func:`covariance_gain`).
- B_l, Kolen-Pollack (engaged): ``dw/dt = -eta x_post delta_pre - decay w`` with
  ``x_post`` the decoded trace of the postsynaptic feedback neuron's forward
  partner and ``delta_pre`` the presynaptic feedback neuron's decoded own spikes.

Dale's law (``spec.spiking.dale``): every population's outgoing synapses keep one
sign. Each signed projection becomes an excitatory group (``W_l``, ``B_l``, weights
``w >= 0``) plus an inhibitory one (``W_inh_l``, ``B_inh_l``, weights ``w >= 0``
that subtract) from an inhibitory interneuron population (``forward_inh_l``,
``feedback_inh_l``) that relays its partner's spikes: it fires at the rate it
decodes from them (``dale_relay = "rate"``), or with its partner's spikes, one step
later (``"copy"``). Both learn by the same local rule, the inhibitory one with the
opposite sign, and are clipped at 0. :meth:`SpikingCircuit.weights` returns the
signed ``W_exc - W_inh``; monitors of ``W_l``/``B_l`` alone see the excitatory part.

Delays: ``W`` and ``B`` groups transmit spikes after ``delay_forward`` and
``delay_feedback`` (the baseline offset needs no delay: it is constant).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from brian2 import (Clock, Equations, Network, NeuronGroup, Quantity, SpikeMonitor, Synapses,
                    TimedArray, ms, second)

from ..models.neurons import SPIKING_KINDS
from . import equations as E
from . import spiking_equations as SE
from .base import (Circuit, check_plan, dense_synapses, dense_values, load_presentation,
                   mirror_noise_terms, noise_scale, one_to_one, register_circuit)
from .monitors import BEFORE_PLASTICITY, weight_monitors
from .phases import Presentations, presentation_arrays
from .readout import spiking_readout
from .spiking_units import is_unit, lif_members, membrane_values, relay, unit_model

Array = np.ndarray

# --- the circuit -----------------------------------------------------------------------------

@register_circuit
@dataclass(eq=False)
class SpikingCircuit(Circuit):
    """A built spiking circuit (see :class:`~mirrorlab.circuits.base.Circuit`).

    With Dale's law ``W[l-1]``/``B[l-1]`` are the excitatory groups (their ``w`` is the
    excitatory part only); :meth:`weights` returns the signed ``W_exc - W_inh``.

    Attributes
    ----------
    inhibitory : dict
        Dale's law only: ``"W"``, ``"B"`` (inhibitory synapse groups), ``"populations"``
        (the interneurons) and ``"links"``.
    spike_monitors : dict of str -> SpikeMonitor
        Every spiking population's spikes (see :meth:`spikes`).
    members : dict of str -> list
        LIF neurons only: each unit population's member neurons, the synapses that give
        them the unit's value and those that pool their spikes (:func:`~.spiking_units.lif_members`).
    """

    kinds = SPIKING_KINDS

    inhibitory: dict = field(default_factory=dict)
    spike_monitors: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)

    @classmethod
    def build(cls, spec, plan: Presentations) -> "SpikingCircuit":
        check_plan(spec, plan)
        clock = Clock(dt=spec.dt)
        schedule = {name: TimedArray(values, dt=_array_dt(spec, name), name=name)
                    for name, values in cls.schedule_values(spec, plan).items()}
        L = spec.n_layers
        forward = [_forward(spec, l, schedule, clock) for l in range(L + 1)]
        feedback = [_feedback(spec, l, schedule, clock) for l in range(L + 1)]
        target = _target(spec, schedule, clock)
        W = [_projection(spec, forward[l - 1], forward[l], "ff", f"W_{l}", l, schedule, clock)
             for l in range(1, L + 1)]
        B = [_projection(spec, feedback[l], feedback[l - 1], "fb", f"B_{l}", l, schedule, clock)
             for l in range(1, L + 1)]
        links = _links(spec, forward, feedback, target, schedule, clock)
        inhibitory = _inhibitory_routes(spec, forward, feedback, schedule, clock) \
            if spec.spiking.dale else {}
        units = [G for G in forward + feedback + [target] + inhibitory.get("populations", [])
                 if is_unit(G)]
        members = lif_members(spec, units, clock) if spec.neuron == "lif" else {}
        monitors = {G.name: SpikeMonitor(G, variables=["n_spikes"], name=f"{G.name}_spikes")
                    for G in units}
        network = Network(*forward, *feedback, target, *W, *B, *links, *monitors.values(),
                          *[obj for objs in inhibitory.values() for obj in objs],
                          *[obj for objs in members.values() for obj in objs])
        circuit = cls(spec, plan, network, forward, feedback, target, W, B, links, schedule,
                      inhibitory, monitors, members)
        circuit.set_parameters()
        _start_traces(circuit)
        return circuit

    @classmethod
    def schedule_values(cls, spec, plan: Presentations) -> dict[str, Array]:
        """Arrays of the TimedArrays: per presentation (``stimulus``, ``labels``,
        ``drive_gate``, ``noise_gate``, ``noise_values_l``) and per part of a presentation
        (``engaged_now``, ``mirror_now``: the presentation's gates, 0 in its first part);
        with ``error_gate = "engaged"`` the output error's gate ``task_gate`` (per presentation)."""
        task = {"task_gate": plan.engaged} if spec.spiking.error_gate == "engaged" else {}
        return {**presentation_arrays(plan, spec.noise_source == "replay"),
                "engaged_now": _learning_parts(plan.engaged, spec.spiking.parts),
                "mirror_now": _learning_parts(plan.mirror, spec.spiking.parts), **task}

    @classmethod
    def draws_random_numbers(cls, spec) -> bool:
        """Always: Poisson spikes, membrane noise and delays are Brian2's random numbers."""
        return True

    @property
    def duration(self) -> Quantity:
        """Every presentation (plasticity runs inside them, so nothing is left to apply)."""
        return len(self.presentations) * self.spec.presentation_time

    @property
    def populations(self) -> list[NeuronGroup]:
        """Every population of units (and feedback_0), inhibitory relays included."""
        return (self.forward + self.feedback + [self.target]
                + self.inhibitory.get("populations", []))

    def plastic_groups(self) -> list[tuple[str, Synapses, int]]:
        """W_l and B_l (+1) and, with Dale's law, the inhibitory W_inh_l and B_inh_l (-1)."""
        groups = super().plastic_groups()
        for kind in ("W", "B"):
            groups += [(f"{kind}_{l}", S, -1)
                       for l, S in enumerate(self.inhibitory.get(kind, []), 1)]
        return groups

    def parameter_values(self, spec):
        return _parameter_values(self, spec)

    def initial_values(self, W, b, B, feedback_signs=None):
        """Initial weights in the matrix engine's layout; with Dale's law the positive part
        goes to the excitatory, the negative part to the inhibitory group. The synaptic
        filters start where the baseline input puts them. ``feedback_signs`` ([constraints]
        of rate circuits) must be None: spiking circuits keep Dale's law with
        ``spiking.dale``."""
        if feedback_signs is not None:
            raise ValueError("spiking circuits take Dale's law from circuit.dale, not from "
                             "[constraints] feedback_dale")
        spiking = self.spec.spiking
        at_baseline = float(spiking.baseline / spiking.gain)
        for pathway, groups, inhibitory, matrices in (
                ("ff", self.W, self.inhibitory.get("W"), W),
                ("fb", self.B, self.inhibitory.get("B"), B)):
            for k, (S, matrix) in enumerate(zip(groups, matrices)):
                values = dense_values(S, matrix)
                matrix = np.asarray(matrix, dtype=float)
                if inhibitory is None:
                    yield S, "w", values
                    yield S.target, f"s_{pathway}", matrix.sum(axis=1) * at_baseline
                else:
                    yield S, "w", np.maximum(values, 0)
                    yield inhibitory[k], "w", np.maximum(-values, 0)
                    yield S.target, f"s_{pathway}", np.maximum(matrix, 0).sum(1) * at_baseline
                    yield S.target, f"s_{pathway}_inh", (np.maximum(-matrix, 0).sum(1)
                                                         * at_baseline)
        for group, bias in zip(self.forward[1:], b):
            yield group, "b", np.asarray(bias, dtype=float)

    def check_monitors(self) -> list:
        """Snapshots of every plastic group's weights when each presentation starts."""
        return weight_monitors(self, 1, when="start", order=BEFORE_PLASTICITY)

    def readout(self, monitors, n_presentations, initial, final, **masks):
        return spiking_readout(self, monitors, n_presentations, initial, final, **masks)

    def spikes(self) -> dict[str, dict]:
        """Pooled spikes of every spiking population:
        ``{name: {"i": unit, "t_s": time, "n": units, "pool": neurons per unit}}``."""
        def pooled(monitor) -> dict:
            n = np.rint(monitor.n_spikes[:]).astype(np.int64)   # spikes per event
            return {"i": np.repeat(monitor.i[:], n), "t_s": np.repeat(monitor.t[:] / second, n),
                    "n": len(monitor.source), "pool": int(self.spec.spiking.pool)}

        return {name: pooled(monitor) for name, monitor in self.spike_monitors.items()}


# --- the schedule ------------------------------------------------------------------------------

#: Gates read at every time step, at a resolution of one part of a presentation.
LEARNING_GATES = ("engaged_now", "mirror_now")


def _learning_parts(gates: Array, parts: int) -> Array:
    """Each presentation's row repeated ``parts`` times, the first part zeroed."""
    rows = np.repeat(gates, parts, axis=0)
    rows[::parts] = 0
    return rows


def _array_dt(spec, name: str) -> Quantity:
    T, onset = spec.presentation_time, spec.spiking.learning_onset
    if name not in LEARNING_GATES:
        return T
    return onset if float(onset) > 0 else T / spec.spiking.parts  # onset: no rounding of T/parts


def learning_time(spec) -> Quantity:
    """``T_learn``: the part of a presentation in which plasticity is on."""
    return spec.presentation_time * (spec.spiking.parts - 1) / spec.spiking.parts


def _target(spec, schedule: dict, clock: Clock) -> NeuronGroup:
    """target: units firing around the baseline at the current label."""
    unit, threshold = unit_model(spec)
    target = NeuronGroup(spec.sizes[-1], E.code("v = y : 1", E.TARGET_POPULATION, unit,
                                                SE.OWN_TRACE),
                         threshold=threshold, reset=SE.OWN_SPIKE, clock=clock, name="target",
                         namespace={"labels": schedule["labels"]})
    load_presentation(spec, target, E.LOAD_LABEL)
    return target


def _every_step(group, code: str) -> None:
    group.run_regularly(code, when="start", order=0, name=f"{group.name}_learn")


# --- populations ------------------------------------------------------------------------------

def _forward(spec, l: int, schedule: dict, clock: Clock) -> NeuronGroup:
    """forward_0 (shows x or noise), forward_l (hidden), forward_L (output): Poisson."""
    L = spec.n_layers
    namespace = {"layer": l, "engaged_now": schedule["engaged_now"]}
    unit, threshold = unit_model(spec)
    parts = [unit, SE.OWN_TRACE, SE.SYNAPTIC_TIME, "r = own : 1"]
    terms, load = {}, []
    if l < L:
        noise_eqs, load_noise, noise_namespace = mirror_noise_terms(spec, schedule, l)
        signal = "x" if l == 0 else "transfer_phi"
        parts += [f"v = drive * {signal} + noise_on * noise_drive * noise : 1", E.MIRROR_GATES,
                  "noise_drive : 1 (shared, constant)", noise_eqs]
        namespace.update({"drive_gate": schedule["drive_gate"],
                          "noise_gate": schedule["noise_gate"], **noise_namespace})
        load = [E.LOAD_MIRROR_GATES, load_noise]
        if l == 0:
            parts.append("x : 1")
            namespace["stimulus"] = schedule["stimulus"]
            load.append(E.LOAD_SAMPLE)
        else:
            terms = E.transfer_terms(spec.transfer, "a")
    elif spec.spiking.partner_link == "spikes":   # the output fires its prediction
        parts.append("v = loss_prediction : 1")
        terms = {"loss_prediction": E.prediction(spec.loss)}
    else:
        parts.append("v = transfer_phi : 1")
        terms = E.transfer_terms(spec.output_transfer, "a")
    if l > 0:
        parts += [SE.FORWARD_NET_INPUT, *_inputs(spec, "ff")]
    group = NeuronGroup(spec.sizes[l], Equations(E.code(*parts), **terms),
                        threshold=threshold, reset=SE.OWN_SPIKE, method="exact",
                        clock=clock, name=f"forward_{l}", namespace=namespace)
    if load:
        load_presentation(spec, group, *load)
    if l > 0:
        _every_step(group, SE.BIAS_LEARNING)
    return group


def _inputs(spec, p: str) -> list[str]:
    """Filtered inputs of pathway ``p`` and ``I_{p}``: excitatory minus inhibitory with Dale."""
    blocks = [SE.FILTERED_INPUT.format(p=p)]
    current = f"s_{p} - base_{p}"
    if spec.spiking.dale:
        blocks.append(SE.FILTERED_INPUT.format(p=f"{p}_inh"))
        current += f" - (s_{p}_inh - base_{p}_inh)"
    return blocks + [f"I_{p} = {current} : 1"]


def _feedback(spec, l: int, schedule: dict, clock: Clock) -> NeuronGroup:
    """feedback_l: Poisson neurons carrying the error (feedback_0 does not spike: it trains
    nothing and only holds the traces that B_1 learns from, and its input). With
    ``error_gate = "engaged"`` feedback_L carries its error only in engaged presentations."""
    L = spec.n_layers
    if l == 0:
        parts = [SE.PARTNER_TRACES, SE.SYNAPTIC_TIME, "tau_trace : second (shared, constant)",
                 "baseline : Hz (shared, constant)", "gain : Hz (shared, constant)",
                 *_inputs(spec, "fb"), "delta = I_fb : 1"]
        return NeuronGroup(spec.sizes[0], E.code(*parts), method="exact", clock=clock,
                           name="feedback_0", namespace={})
    unit, threshold = unit_model(spec)
    gated = l == L and spec.spiking.error_gate == "engaged"
    traces, namespace, _ = _partner_traces(spec, l, schedule)
    parts = [*traces, SE.SYNAPTIC_TIME, unit, SE.OWN_TRACE, "delta = own : 1",
             "v = task * delta_inf : 1\ntask : 1 (shared)" if gated else "v = delta_inf : 1"]
    if spec.spiking.partner_link == "spikes":   # phi' and the prediction from decoded rates
        if l < L:
            parts += [E.HIDDEN_ERROR, *_inputs(spec, "fb")]
            terms = {"transfer_dphi": E.slope_of_rate(spec.transfer, "x_fwd")}
        else:
            parts += [E.output_error_of_prediction(spec.loss, "x_fwd"), SE.LABEL_TRACE]
            terms = {"y": "y_hat"}
    elif l < L:
        parts += ["a_fwd : 1", E.HIDDEN_ERROR, *_inputs(spec, "fb")]
        terms = E.transfer_terms(spec.transfer, "a_fwd")
    else:
        parts += ["a_fwd : 1", E.output_error(spec.loss), SE.LABEL_TRACE]
        terms = {**E.transfer_terms(spec.output_transfer, "a_fwd"),
                 "y": "y_hat"}  # the label, decoded from the target's spikes
    if gated:
        namespace["task_gate"] = schedule["task_gate"]
    group = NeuronGroup(spec.sizes[l], Equations(E.code(*parts), **terms),
                        threshold=threshold, reset=SE.OWN_SPIKE, method="exact", clock=clock,
                        name=f"feedback_{l}", namespace=namespace)
    if gated:
        load_presentation(spec, group, "task = task_gate(t)")
    return group


def _partner_traces(spec, l: int, schedule: dict) -> tuple[list[str], dict, str]:
    """(equations, namespace, the partner link's on_pre) of the traces that the feedback
    population of layer ``l`` (or its relay) keeps of its forward partner's spikes; with
    ``mean_trace = "mirror"`` the slow one follows the layer's mirror presentations only
    (feedback_0 has none of its own: its slow trace runs always)."""
    if spec.spiking.mean_trace == "mirror" and l > 0:
        return ([SE.MIRROR_MEAN_TRACES, SE.MIRROR_MEAN_GATE],
                {"mirror_now": schedule["mirror_now"], "layer": l}, SE.MIRROR_MEAN_SPIKE)
    return [SE.PARTNER_TRACES], {}, SE.PARTNER_SPIKE


def _start_traces(circuit: SpikingCircuit) -> None:
    """Every trace starts at the baseline rate (the circuit starts in its resting state)."""
    baseline = circuit.spec.spiking.baseline
    for group in circuit.populations:
        for name in ("z", "e_tr", "z_fwd", "m_fwd", "y_tr"):
            if name in group.variables:
                setattr(group, name, baseline)
    for members, _, _ in circuit.members.values():
        members.V = "rand()"


# --- synapses --------------------------------------------------------------------------------

def _projection(spec, source, target, p: str, name: str, l: int, schedule: dict, clock: Clock,
                inhibitory: bool = False) -> Synapses:
    """A dense projection of pathway ``p`` ("ff": W, "fb": B) with its plasticity (W's own,
    or the rule's spiking plasticity of B); with Dale's law the excitatory or the
    inhibitory group of the pair (both ``w >= 0``)."""
    into = f"{p}_inh" if inhibitory else p
    if p == "ff":
        parameters, update = SE.FORWARD_PLASTIC, SE.FORWARD_LEARNING
    else:
        plasticity = spec.plasticity
        parameters = E.shared_constants(plasticity.parameters, "1/second")
        update = plasticity.update if plasticity.plastic else None
    namespace = {"engaged_now": schedule["engaged_now"], "mirror_now": schedule["mirror_now"],
                 "layer": l}
    S = dense_synapses(source, target, E.code(SE.PROJECTION.format(weight="w", p=into),
                                              parameters),
                       name, namespace, clock, on_pre=SE.PROJECTION_SPIKE.format(weight="w",
                                                                                  p=into))
    _set_delays(spec, S, spec.spiking.delay_forward if p == "ff" else spec.spiking.delay_feedback)
    if update is not None:
        code = update.format(weight="w", sign=-1 if inhibitory else 1)
        if spec.spiking.dale:
            code += "\n" + SE.CLIP_AT_ZERO.format(weight="w")
        _every_step(S, code)
    return S


def _set_delays(spec, S: Synapses, mean: Quantity) -> None:
    """Fixed delays, or uniform in ``mean +- delay_spread`` (drawn by Brian2's ``rand()``,
    so the run's seed fixes them)."""
    spread = spec.spiking.delay_spread
    if float(mean) == 0 and float(spread) == 0:
        return
    if float(spread) == 0:
        S.delay = mean
    else:
        S.delay = f"({float(mean / ms)!r} + (2 * rand() - 1) * {float(spread / ms)!r}) * ms"


def _links(spec, forward, feedback, target, schedule, clock) -> list[Synapses]:
    """One-to-one links: forward_l's spikes (and, with ``partner_link = "net_input"``, its
    net input) to feedback_l, feedback_l's spikes back to forward_l (the error), the
    target's spikes to feedback_L."""
    L = spec.n_layers
    net_input = SE.NET_INPUT_LINK if spec.spiking.partner_link == "net_input" else ""
    links = []
    for l in range(L + 1):
        _, namespace, on_partner_spike = _partner_traces(spec, l, schedule)
        links.append(one_to_one(forward[l], feedback[l], net_input if l > 0 else "",
                                f"forward_to_feedback_{l}", clock, on_partner_spike, namespace))
    links += [one_to_one(feedback[l], forward[l], "", f"feedback_to_forward_{l}", clock,
                         on_pre=SE.ERROR_SPIKE) for l in range(1, L + 1)]
    links.append(one_to_one(target, feedback[L], "", "target_to_feedback", clock,
                            on_pre=SE.LABEL_SPIKE))
    return links


def _inhibitory_routes(spec, forward, feedback, schedule, clock) -> dict:
    """Dale's law: interneurons relaying forward_0..L-1 and feedback_1..L, their inhibitory
    projections, and the links that feed them."""
    L = spec.n_layers
    fwd_inh = [relay(spec, forward[l], f"forward_inh_{l}", clock) for l in range(L)]
    fb_inh = [relay(spec, feedback[l], f"feedback_inh_{l}", clock,
                    traces=_partner_traces(spec, l, schedule)[:2]) for l in range(1, L + 1)]
    relayed = SE.COPY_SPIKE if spec.spiking.dale_relay == "copy" else SE.ERROR_SPIKE
    links = [one_to_one(forward[l], interneurons, "", f"forward_to_inh_{l}", clock,
                        on_pre=relayed) for l, interneurons in enumerate(fwd_inh)]
    for l, interneurons in zip(range(1, L + 1), fb_inh):
        links.append(one_to_one(feedback[l], interneurons, "", f"feedback_to_inh_{l}", clock,
                                on_pre=relayed))
        _, namespace, on_partner_spike = _partner_traces(spec, l, schedule)
        links.append(one_to_one(forward[l], interneurons, "", f"forward_to_feedback_inh_{l}",
                                clock, on_partner_spike, namespace))
    W_inh = [_projection(spec, fwd_inh[l - 1], forward[l], "ff", f"W_inh_{l}", l, schedule,
                         clock, inhibitory=True) for l in range(1, L + 1)]
    B_inh = [_projection(spec, fb_inh[l - 1], feedback[l - 1], "fb", f"B_inh_{l}", l,
                         schedule, clock, inhibitory=True) for l in range(1, L + 1)]
    return {"W": W_inh, "B": B_inh, "populations": fwd_inh + fb_inh, "links": links}


# --- parameters --------------------------------------------------------------------------------

def _parameter_values(circuit: SpikingCircuit, spec):
    """(group, variable, value) of every parameter the circuit takes from ``spec``."""
    spiking = spec.spiking
    per_time = 1 / learning_time(spec)
    shared = {"baseline": spiking.baseline, "gain": spiking.gain, "pool": spiking.pool,
              "tau_syn": spiking.tau_syn,
              "tau_trace": spiking.tau_trace, "tau_mean": spiking.tau_mean,
              "noise_drive": spiking.noise_drive}
    if spiking.lif is not None:
        shared.update(membrane_values(spec))
    members = [objects[0] for objects in circuit.members.values()]
    for group in circuit.populations + members:
        for name, value in shared.items():
            if name in group.variables:
                yield group, name, value
        if "noise_scale" in group.variables:
            yield group, "noise_scale", noise_scale(spec)
    for group in circuit.forward[1:]:
        yield group, "eta_b", spec.lr * per_time
    for S in circuit.W + circuit.inhibitory.get("W", []):
        yield S, "eta", spec.lr * per_time
        yield S, "decay", spec.rule.forward_decay * per_time
    if spec.plasticity.plastic:   # the rule's rates per presentation, per second of learning
        for S in circuit.B + circuit.inhibitory.get("B", []):
            for name, value in spec.plasticity.parameters.items():
                yield S, name, value * per_time


