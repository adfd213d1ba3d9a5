"""Rate circuits: a CircuitSpec of rate neurons wired into named Brian2 populations and
synapse groups (``circuit.neuron = "instantaneous"`` or ``"rate"``).

Populations: ``forward_0 .. forward_L``, ``feedback_0 .. feedback_L``, ``target``.
Synapse groups: ``W_1 .. W_L`` (forward_{l-1} -> forward_l), ``B_1 .. B_L``
(feedback_l -> feedback_{l-1}), and one-to-one links ``forward_to_feedback_l``
(a_l and r_l to the feedback partner), ``feedback_to_forward_l`` (delta_l back
to the forward neuron) and ``target_to_feedback`` (the label into feedback_L).
Nothing in B's equations reads W, nor the other way round.

Presentation boundaries. Every presentation lasts ``T = spec.presentation_time``.
At each boundary (every ``T``, slot ``start``) three kinds of operation run, in
this order:

1. synaptic plasticity (W, and B where the rule learns), from the values the
   circuit settled to during the presentation that has just ended, gated by
   what that presentation was (``was_engaged(t)``, ``was_mirror(t, layer)``);
2. bias plasticity (b of forward_1 .. forward_L), after 1 because W_l's update
   reads the presynaptic rate, which depends on the presynaptic bias;
3. loading the next presentation from the TimedArrays: sample, label, noise and
   the gates ``drive`` and ``noise_on``.

Settling within a presentation. Brian2 updates a summed variable in the
``groups`` slot just before its target population, in the order of the target
populations. They are ordered along the signal path (:func:`pathway_order`):
forward_1 .. forward_L, then feedback_L .. feedback_0. So a single time step
carries a new sample up the forward pathway and its error down the feedback
pathway; only the error link from feedback_l back to forward_l runs against
this order and lands one step later. Instantaneous neurons therefore settle
exactly in 2 steps, whatever L (see ``CircuitSpec.presentation_steps``).

The schedule is read only at the boundaries, where ``t`` is a multiple of ``T``:
row p of a TimedArray holds presentation p, except for the plasticity gates,
whose row p says what the presentation *ending* at boundary p was (row 0 is 0:
nothing has ended at t = 0). Besides these broadcast gates, plasticity code reads
only synaptic, presynaptic and postsynaptic variables. The run goes on for one
presentation after the last, so that the last plasticity update is applied.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import Clock, Equations, Network, NeuronGroup, Quantity, Synapses, TimedArray

from ..models.neurons import RATE_KINDS
from . import equations as E
from .base import (BIAS_PLASTICITY_ORDER, SYNAPTIC_PLASTICITY_ORDER, Circuit, check_plan,
                   dense_synapses, dense_values, error_form_values, learn_each_presentation,
                   load_presentation, mirror_noise_terms, noise_scale, one_to_one,
                   register_circuit)
from .monitors import activity_monitors
from .phases import Presentations, presentation_arrays
from .readout import ACTIVITY_VARIABLES, rate_readout
from .spec import CircuitSpec

Array = np.ndarray


@register_circuit
@dataclass(eq=False)
class RateCircuit(Circuit):
    """A built rate circuit (see :class:`~mirrorlab.circuits.base.Circuit`)."""

    kinds = RATE_KINDS

    @classmethod
    def build(cls, spec: CircuitSpec, plan: Presentations) -> "RateCircuit":
        check_plan(spec, plan)
        clock = Clock(dt=spec.dt)
        T = spec.presentation_time
        schedule = {name: TimedArray(values, dt=T, name=name)
                    for name, values in cls.schedule_values(spec, plan).items()}
        forward = _forward_populations(spec, schedule, clock)
        feedback = _feedback_populations(spec, clock)
        target = NeuronGroup(spec.sizes[-1], E.TARGET_POPULATION, clock=clock, name="target",
                             namespace={"labels": schedule["labels"]})
        load_presentation(spec, target, E.LOAD_LABEL)
        W = [_forward_synapses(spec, l, forward, schedule, clock)
             for l in range(1, spec.n_layers + 1)]
        B = [_feedback_synapses(spec, l, feedback, schedule, clock)
             for l in range(1, spec.n_layers + 1)]
        links = partner_links(spec, forward, feedback, target, clock)
        network = Network(*forward, *feedback, target, *W, *B, *links)
        circuit = cls(spec, plan, network, forward, feedback, target, W, B, links, schedule)
        circuit.set_parameters()
        return circuit

    @classmethod
    def schedule_values(cls, spec: CircuitSpec, plan: Presentations) -> dict[str, Array]:
        """Arrays of the plan's TimedArrays: row p = presentation p, or, for the plasticity
        gates ``was_engaged`` and ``was_mirror``, the presentation that ends at boundary p."""
        return {**presentation_arrays(plan, spec.noise_source == "replay"),
                "was_engaged": _ended(plan.engaged), "was_mirror": _ended(plan.mirror)}

    @property
    def duration(self) -> Quantity:
        """Run time: every presentation, plus one in which the last one's plasticity is
        applied (at its first step; the rest of it learns nothing). Ending on a whole
        presentation keeps the end time a multiple of every clock's dt."""
        return (len(self.presentations) + 1) * self.spec.presentation_time

    @property
    def populations(self) -> list[NeuronGroup]:
        return self.forward + self.feedback + [self.target]

    def parameter_values(self, spec: CircuitSpec):
        return _parameter_values(self, spec)

    def initial_values(self, W, b, B, feedback_signs=None):
        return [*_weight_values(self, W, b, B), *_sign_values(self, feedback_signs)]

    def check_monitors(self) -> list:
        """Every population's activity at every boundary (the settled values)."""
        return activity_monitors(self, 1, ACTIVITY_VARIABLES, ACTIVITY_VARIABLES)

    def readout(self, monitors, n_presentations, initial, final, **masks):
        return rate_readout(self, monitors, n_presentations, initial, final, **masks)


def _parameter_values(circuit: RateCircuit, spec: CircuitSpec):
    """(group, variable, value) of every parameter the circuit takes from ``spec``."""
    for group in circuit.forward + circuit.feedback:
        if "tau" in group.variables:
            yield group, "tau", spec.tau
        if "noise_scale" in group.variables:
            yield group, "noise_scale", noise_scale(spec)
    for group in circuit.forward[1:]:
        yield group, "eta_b", spec.lr
    yield from error_form_values(spec, circuit.feedback)
    for W in circuit.W:
        yield W, "eta", spec.lr
        yield W, "decay", spec.rule.forward_decay
    if spec.plasticity.plastic:
        for B in circuit.B:
            for name, value in spec.plasticity.parameters.items():
                yield B, name, value


def _weight_values(circuit: RateCircuit, W: list[Array], b: list[Array], B: list[Array]):
    """(group, variable, value) of every weight and bias, from the matrix engine's layout
    (``B`` is the rule's feedback state; see :attr:`Plasticity.initial`)."""
    start = circuit.spec.plasticity.initial
    feedback = [start(w, fb) if start else {"w": fb} for w, fb in zip(W, B)]
    matrices = [(S, "w", w) for S, w in zip(circuit.W, W)] + [
        (S, name, value) for S, values in zip(circuit.B, feedback) for name, value in values.items()]
    for synapses, name, matrix in matrices:
        yield synapses, name, dense_values(synapses, matrix)
    for group, bias in zip(circuit.forward[1:], b):
        yield group, "b", np.asarray(bias, dtype=float)


def _sign_values(circuit: RateCircuit, feedback_signs: list[Array] | None):
    """(group, "dale_sign", signs) of feedback_1 .. feedback_L (Dale's principle)."""
    if circuit.spec.feedback_dale != (feedback_signs is not None):
        raise ValueError("feedback_signs: give one +1/-1 array per feedback layer exactly "
                         "when the spec has feedback_dale")
    for group, signs in zip(circuit.feedback[1:], feedback_signs or []):
        signs = np.asarray(signs, dtype=float)
        if signs.shape != (len(group),) or not np.all(np.abs(signs) == 1):
            raise ValueError(f"{group.name}: feedback signs must be {len(group)} values of "
                             f"+1 or -1")
        yield group, "dale_sign", signs


# --- the schedule -------------------------------------------------------------------------

def _ended(gates: Array) -> Array:
    """Gates shifted by one presentation, with a 0 row first."""
    return np.concatenate([np.zeros_like(gates[:1]), gates])


# --- populations --------------------------------------------------------------------------

def pathway_order(spec: CircuitSpec, pathway: str, l: int) -> int:
    """Scheduling order of population ``l`` of ``pathway`` ("forward" or "feedback"):
    forward_0 .. forward_L, then feedback_L .. feedback_0."""
    return l if pathway == "forward" else 2 * spec.n_layers + 1 - l


def _forward_populations(spec: CircuitSpec, schedule: dict, clock: Clock) -> list[NeuronGroup]:
    """forward_0 (input), forward_1 .. forward_{L-1} (hidden), forward_L (output)."""
    L = spec.n_layers
    return ([_input_population(spec, schedule, clock)]
            + [_hidden_population(spec, l, schedule, clock) for l in range(1, L)]
            + [_output_population(spec, schedule, clock)])


def _input_population(spec: CircuitSpec, schedule: dict, clock: Clock) -> NeuronGroup:
    noise_eqs, load_noise, noise_namespace = mirror_noise_terms(spec, schedule, 0)
    group = NeuronGroup(spec.sizes[0], E.code(E.INPUT_POPULATION, E.MIRROR_GATES, noise_eqs),
                        clock=clock, name="forward_0", order=pathway_order(spec, "forward", 0),
                        namespace={"stimulus": schedule["stimulus"], **_gates(schedule),
                                   **noise_namespace, "layer": 0})
    load_presentation(spec, group, E.LOAD_MIRROR_GATES, E.LOAD_SAMPLE, load_noise)
    return group


def _hidden_population(spec: CircuitSpec, l: int, schedule: dict, clock: Clock) -> NeuronGroup:
    noise_eqs, load_noise, noise_namespace = mirror_noise_terms(spec, schedule, l)
    model = E.with_output(spec.neuron, "r", E.HIDDEN_RATE, E.NET_INPUT, E.MIRROR_GATES, noise_eqs,
                          **E.transfer_terms(spec.transfer, "a"))
    group = _learning_population(spec, l, model, schedule, clock,
                                 {**_gates(schedule), **noise_namespace})
    load_presentation(spec, group, E.LOAD_MIRROR_GATES, load_noise)
    return group


def _output_population(spec: CircuitSpec, schedule: dict, clock: Clock) -> NeuronGroup:
    model = E.with_output(spec.neuron, "r", E.OUTPUT_RATE, E.NET_INPUT,
                          **E.transfer_terms(spec.output_transfer, "a"))
    return _learning_population(spec, spec.n_layers, model, schedule, clock, {})


def _learning_population(spec: CircuitSpec, l: int, model: Equations, schedule: dict,
                         clock: Clock, namespace: dict) -> NeuronGroup:
    """forward_l, l >= 1, with its bias learning."""
    group = NeuronGroup(spec.sizes[l], model, method="exponential_euler", clock=clock,
                        name=f"forward_{l}", order=pathway_order(spec, "forward", l),
                        namespace={**namespace, "was_engaged": schedule["was_engaged"],
                                   "layer": l})
    learn_each_presentation(spec, group, E.BIAS_LEARNING, BIAS_PLASTICITY_ORDER)
    return group


def _gates(schedule: dict) -> dict:
    return {name: schedule[name] for name in ("drive_gate", "noise_gate")}


def _feedback_populations(spec: CircuitSpec, clock: Clock) -> list[NeuronGroup]:
    L, populations = spec.n_layers, []
    for l, n in enumerate(spec.sizes):
        if l == 0:
            parts, terms = (E.INPUT_ERROR, E.PARTNER_RATE, E.ERROR_INPUT), {}
        elif l < L:
            parts = (E.hidden_error(spec.rule, spec.transfer), E.PARTNER_NET_INPUT,
                     E.PARTNER_RATE, E.ERROR_INPUT)
            terms = E.transfer_terms(spec.transfer, "a_fwd")
        else:
            parts = (E.output_error(spec.loss), E.PARTNER_NET_INPUT, E.LABEL_INPUT)
            terms = E.transfer_terms(spec.output_transfer, "a_fwd")
        if spec.feedback_dale and l > 0:
            parts += (E.DALE_SIGN,)
        group = NeuronGroup(n, E.with_output(spec.neuron, "delta", *parts, **terms),
                            method="exponential_euler", clock=clock, name=f"feedback_{l}",
                            order=pathway_order(spec, "feedback", l), namespace={})
        populations.append(group)
    return populations


# --- synapses -----------------------------------------------------------------------------

def _forward_synapses(spec: CircuitSpec, l: int, forward, schedule, clock) -> Synapses:
    """W_l: forward_{l-1} -> forward_l, learning in engaged presentations."""
    W = dense_synapses(forward[l - 1], forward[l], E.code(E.FORWARD_SYNAPSE, E.PLASTIC),
                       f"W_{l}", {"was_engaged": schedule["was_engaged"]}, clock)
    learn_each_presentation(spec, W, E.FORWARD_LEARNING, SYNAPTIC_PLASTICITY_ORDER)
    return W


def _feedback_synapses(spec: CircuitSpec, l: int, feedback, schedule, clock) -> Synapses:
    """B_l: feedback_l -> feedback_{l-1}, learning as the rule's plasticity says."""
    plasticity = spec.plasticity
    if not plasticity.plastic:
        return dense_synapses(feedback[l], feedback[l - 1], E.FEEDBACK_SYNAPSE, f"B_{l}", {},
                              clock)
    namespace = {"was_engaged": schedule["was_engaged"], "was_mirror": schedule["was_mirror"],
                 "layer": l}
    model = E.code(E.FEEDBACK_SYNAPSE, E.shared_constants(plasticity.parameters),
                   plasticity.variables)
    B = dense_synapses(feedback[l], feedback[l - 1], model, f"B_{l}", namespace, clock)
    update = E.code(plasticity.update, E.DALE_PROJECTION if spec.feedback_dale else "")
    learn_each_presentation(spec, B, update, SYNAPTIC_PLASTICITY_ORDER)
    return B


def partner_links(spec: CircuitSpec, forward, feedback, target, clock,
                  equations=E) -> list[Synapses]:
    """One-to-one links: forward_l -> feedback_l, feedback_l -> forward_l, target -> feedback_L,
    carrying ``equations``' NET_INPUT_LINK, RATE_LINK, ERROR_LINK and LABEL_LINK (this
    module's values, or a firing-rate circuit's, which read rates)."""
    L = spec.n_layers
    links = []
    for l in range(L + 1):
        carried = (((equations.NET_INPUT_LINK,) if l > 0 else ())
                   + ((equations.RATE_LINK,) if l < L else ()))
        links.append(one_to_one(forward[l], feedback[l], E.code(*carried),
                                f"forward_to_feedback_{l}", clock))
    for l in range(1, L + 1):
        links.append(one_to_one(feedback[l], forward[l], equations.ERROR_LINK,
                                f"feedback_to_forward_{l}", clock))
    links.append(one_to_one(target, feedback[L], equations.LABEL_LINK, "target_to_feedback",
                            clock))
    return links
