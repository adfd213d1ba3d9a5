"""Firing-rate circuits: the rate circuit made of neurons a physiologist would accept
(``circuit.neuron = "firing_rate"``; equations in :mod:`.firing_rate_equations`).

Every population is a leaky rate neuron (time constant ``tau``) that fires a
non-negative rate around a baseline and is read by other neurons only through that
rate. Beside the rate circuit's populations (``forward_l``, ``feedback_l``, ``target``)
there are:

- ``forward_inh_l`` (l < L) and ``feedback_inh_l`` (l >= 1): inhibitory relay
  interneurons, one per neuron, firing at their partner's rate. Every signed weight is
  a pair of non-negative synapses, ``W_l`` from forward_{l-1} (excitatory) and
  ``W_inh_l`` from forward_inh_{l-1} (inhibitory), likewise ``B_l`` and ``B_inh_l``:
  each presynaptic population has one sign (Dale's principle).
- ``noise_l`` (l < L, rules with a mirror phase): noisy neurons whose rate carries the
  mirror noise into forward_l through one-to-one synapses (``noise_to_forward_l``).

The output population fires its prediction (``sigmoid(a)`` for ``sigmoid_xent``), the
error populations fire their error around the baseline. The values carried are those of
the rate circuit, so once settled (and while no rate is clipped at 0 Hz and no synapse
at 0) the circuit computes what the matrix engine computes; ``tests/test_firing_rate.py``
checks this. Presentations, boundaries and plasticity order are :mod:`.rate`'s.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from brian2 import Clock, Equations, Network, NeuronGroup, StateMonitor, Synapses, TimedArray

from ..models.neurons import FIRING_RATE_KINDS
from . import equations as E
from . import firing_rate_equations as F
from .base import (BIAS_PLASTICITY_ORDER, SYNAPTIC_PLASTICITY_ORDER, check_plan,
                   dense_synapses, dense_values, error_form_values, learn_each_presentation,
                   load_presentation, mirror_noise_terms, noise_scale, one_to_one,
                   register_circuit)
from .monitors import BEFORE_PLASTICITY
from .phases import Presentations
from .rate import RateCircuit, partner_links
from .readout import firing_rate_readout
from .spec import CircuitSpec

Array = np.ndarray

#: Variables a firing-rate circuit's check samples per population, where it has them.
FIRING_VARIABLES = ("rho", "r", "r_inf", "delta", "delta_inf", "r_fwd", "r_drive")


@register_circuit
@dataclass(eq=False)
class FiringRateCircuit(RateCircuit):
    """A built firing-rate circuit (see :class:`~mirrorlab.circuits.base.Circuit`).

    Besides the base attributes: ``forward_relays`` (forward_inh_0 .. forward_inh_{L-1}),
    ``feedback_relays`` (feedback_inh_1 .. feedback_inh_L), ``noise_populations``
    (noise_0 .. noise_{L-1}, none without a mirror phase), and the inhibitory synapse
    groups ``W_inh`` and ``B_inh`` (``W_inh[l - 1]`` is ``W_inh_l``).
    """

    kinds = FIRING_RATE_KINDS

    forward_relays: list[NeuronGroup] = field(default_factory=list)
    feedback_relays: list[NeuronGroup] = field(default_factory=list)
    noise_populations: list[NeuronGroup] = field(default_factory=list)
    W_inh: list[Synapses] = field(default_factory=list)
    B_inh: list[Synapses] = field(default_factory=list)

    @classmethod
    def build(cls, spec: CircuitSpec, plan: Presentations) -> "FiringRateCircuit":
        check_plan(spec, plan)
        clock = Clock(dt=spec.dt)
        T = spec.presentation_time
        L = spec.n_layers
        schedule = {name: TimedArray(values, dt=T, name=name)
                    for name, values in cls.schedule_values(spec, plan).items()}
        forward = _forward_populations(spec, schedule, clock)
        feedback = _feedback_populations(spec, clock)
        target = _population(spec, "target", spec.sizes[-1], F.TARGET_POPULATION, "r", clock,
                             {"labels": schedule["labels"]}, order=0)
        load_presentation(spec, target, E.LOAD_LABEL)
        forward_relays = [_population(spec, f"forward_inh_{l}", n, F.FORWARD_RELAY, "r", clock,
                                      order=_order(spec, "forward", l) - 1)
                          for l, n in enumerate(spec.sizes[:-1])]
        feedback_relays = [_population(spec, f"feedback_inh_{l}", spec.sizes[l],
                                       F.FEEDBACK_RELAY, "delta", clock,
                                       order=_order(spec, "feedback", l) - 1)
                           for l in range(1, L + 1)]
        noise = ([_noise_population(spec, l, schedule, clock) for l in range(L)]
                 if spec.rule.uses_mirror_phase else [])
        W, W_inh = zip(*[(_forward_synapses(spec, l, forward[l - 1], forward[l], +1, schedule,
                                            clock),
                          _forward_synapses(spec, l, forward_relays[l - 1], forward[l], -1,
                                            schedule, clock))
                         for l in range(1, L + 1)])
        B, B_inh = zip(*[(_feedback_synapses(spec, l, feedback[l], feedback[l - 1], +1,
                                             schedule, clock),
                          _feedback_synapses(spec, l, feedback_relays[l - 1], feedback[l - 1],
                                             -1, schedule, clock))
                         for l in range(1, L + 1)])
        links = _links(spec, forward, feedback, target, forward_relays, feedback_relays, noise,
                       clock)
        network = Network(*forward, *feedback, target, *forward_relays, *feedback_relays,
                          *noise, *W, *W_inh, *B, *B_inh, *links)
        circuit = cls(spec, plan, network, forward, feedback, target, list(W), list(B), links,
                      schedule, forward_relays, feedback_relays, noise, list(W_inh),
                      list(B_inh))
        circuit.set_parameters()
        return circuit

    @property
    def populations(self) -> list[NeuronGroup]:
        return (self.forward + self.feedback + [self.target] + self.forward_relays
                + self.feedback_relays + self.noise_populations)

    def plastic_groups(self) -> list[tuple[str, Synapses, int]]:
        L = self.spec.n_layers
        return [(f"{kind}_{l}", group, sign)
                for kind, groups in (("W", (self.W, self.W_inh)), ("B", (self.B, self.B_inh)))
                for l in range(1, L + 1)
                for group, sign in ((groups[0][l - 1], +1), (groups[1][l - 1], -1))]

    def parameter_values(self, spec: CircuitSpec):
        firing = spec.firing
        for group in self.populations:
            yield group, "tau", spec.tau
            yield group, "rho0", firing.baseline
            yield group, "gain", firing.gain
        for group in self.noise_populations:
            if "noise_scale" in group.variables:
                yield group, "noise_scale", noise_scale(spec)
        for group in self.forward[1:]:
            yield group, "eta_b", spec.lr
        yield from error_form_values(spec, self.feedback)
        for S in self.W + self.W_inh:
            yield S, "eta", spec.lr
            yield S, "decay", spec.rule.forward_decay
            yield S, "w_rest", firing.resting_weight
        if spec.plasticity.plastic:
            for S in self.B + self.B_inh:
                for name, value in spec.plasticity.parameters.items():
                    yield S, name, value
                yield S, "w_rest", firing.resting_weight

    def initial_values(self, W, b, B, feedback_signs=None):
        if feedback_signs is not None:
            raise ValueError("feedback_signs: firing_rate circuits keep Dale's principle with "
                             "relay interneurons; they take no feedback signs")
        start = self.spec.plasticity.initial
        feedback = []
        for w, fb in zip(W, B):
            values = start(w, fb) if start else {"w": fb}
            if set(values) != {"w"}:
                raise ValueError(f"rule {self.spec.rule.name!r}: its feedback synapses start "
                                 f"with {sorted(values)}; firing_rate circuits take 'w' only")
            feedback.append(values["w"])
        c = self.spec.firing.resting_weight
        for kind, excitatory, inhibitory, matrices in (("W", self.W, self.W_inh, W),
                                                       ("B", self.B, self.B_inh, feedback)):
            for l, (Sp, Sm, matrix) in enumerate(zip(excitatory, inhibitory, matrices), 1):
                matrix = np.asarray(matrix, dtype=float)
                largest = float(np.max(np.abs(matrix), initial=0.0))
                if largest > 2 * c:
                    raise ValueError(f"circuit.resting_weight: {c:g} is too small for {kind}_{l} "
                                     f"(|w| up to {largest:.3g}; the synapse pair c +- w/2 "
                                     f"needs c >= {largest / 2:.3g})")
                yield Sp, "w", dense_values(Sp, c + matrix / 2)
                yield Sm, "w", dense_values(Sm, c - matrix / 2)
        for group, bias in zip(self.forward[1:], b):
            yield group, "b", np.asarray(bias, dtype=float)

    def check_monitors(self) -> list:
        """Every population's rate and values at every boundary (the settled values)."""
        T = self.spec.presentation_time
        return [StateMonitor(G, [v for v in FIRING_VARIABLES if v in G.variables], record=True,
                             dt=T, when="start", order=BEFORE_PLASTICITY,
                             name=f"{G.name}_activity")
                for G in self.populations]

    def readout(self, monitors, n_presentations, initial, final, **masks):
        return firing_rate_readout(self, monitors, n_presentations, initial, final, **masks)


# --- populations --------------------------------------------------------------------------

def _order(spec: CircuitSpec, pathway: str, l: int) -> int:
    """Scheduling order: noise, forward_0, its relay, .. forward_L, then feedback_L, its
    relay, .. feedback_0 (every population is leaky, so the order only shifts a step)."""
    return 2 * l + 1 if pathway == "forward" else 2 * (2 * spec.n_layers + 1 - l) + 1


def _population(spec: CircuitSpec, name: str, n: int, model: str, value: str, clock: Clock,
                namespace: dict | None = None, *, order: int, **substitutions) -> NeuronGroup:
    """A leaky population whose ``value`` follows ``{value}_inf`` and fires ``rho``."""
    equations = E.with_output("rate", value, model, **substitutions) + Equations(F.FIRING,
                                                                                 v=value)
    return NeuronGroup(n, equations, method="exponential_euler", clock=clock, name=name,
                       order=order, namespace=namespace or {})


def _forward_populations(spec: CircuitSpec, schedule: dict, clock: Clock) -> list[NeuronGroup]:
    L = spec.n_layers
    gates = {name: schedule[name] for name in ("drive_gate", "noise_gate")}
    populations = []
    for l, n in enumerate(spec.sizes):
        namespace = {"layer": l}
        if l == 0:
            model, terms = E.code(F.INPUT_POPULATION, F.GATES), {}
            namespace |= {"stimulus": schedule["stimulus"], **gates}
        elif l < L:
            model = E.code(F.HIDDEN_RATE, F.NET_INPUT, F.GATES)
            terms = E.transfer_terms(spec.transfer, "a")
            namespace |= gates
        else:
            model = E.code(F.OUTPUT_RATE, F.NET_INPUT)
            terms = {"loss_predict": E.prediction(spec.loss)}
        if l > 0:
            namespace["was_engaged"] = schedule["was_engaged"]
        group = _population(spec, f"forward_{l}", n, model, "r", clock, namespace,
                            order=_order(spec, "forward", l), **terms)
        if l < L:
            load_presentation(spec, group, E.LOAD_MIRROR_GATES,
                              E.LOAD_SAMPLE if l == 0 else "")
        if l > 0:
            learn_each_presentation(spec, group, E.BIAS_LEARNING, BIAS_PLASTICITY_ORDER)
        populations.append(group)
    return populations


def _feedback_populations(spec: CircuitSpec, clock: Clock) -> list[NeuronGroup]:
    L, populations = spec.n_layers, []
    for l, n in enumerate(spec.sizes):
        if l == 0:
            parts, terms = (F.INPUT_ERROR, E.PARTNER_RATE), {}
        elif l < L:
            parts = (E.hidden_error(spec.rule, spec.transfer, carried="(I_fb_exc + I_fb_inh)"),
                     F.ERROR_INPUTS, E.PARTNER_NET_INPUT, E.PARTNER_RATE)
            terms = E.transfer_terms(spec.transfer, "a_fwd")
        else:
            parts = (E.output_error(spec.loss), E.PARTNER_NET_INPUT, E.LABEL_INPUT)
            terms = E.transfer_terms(spec.output_transfer, "a_fwd")
        populations.append(_population(spec, f"feedback_{l}", n, E.code(*parts), "delta",
                                       clock, order=_order(spec, "feedback", l), **terms))
    return populations


def _noise_population(spec: CircuitSpec, l: int, schedule: dict, clock: Clock) -> NeuronGroup:
    """noise_l: fires the mirror noise of forward_l (replayed or drawn per presentation)."""
    noise_eqs, load_noise, namespace = mirror_noise_terms(spec, schedule, l)
    group = _population(spec, f"noise_{l}", spec.sizes[l], E.code(F.NOISE_POPULATION,
                                                                   noise_eqs),
                        "r", clock, namespace, order=0)
    load_presentation(spec, group, load_noise)
    return group


# --- synapses -----------------------------------------------------------------------------

def _plastic(spec: CircuitSpec, source, target, model: str, update: str, sign: int, name: str,
             namespace: dict, clock: Clock) -> Synapses:
    S = dense_synapses(source, target, E.code(model, F.PLASTIC), name, namespace, clock)
    learn_each_presentation(spec, S, F.excitatory_inhibitory(update, sign, name),
                            SYNAPTIC_PLASTICITY_ORDER)
    return S


def _forward_synapses(spec: CircuitSpec, l: int, source, target, sign: int, schedule,
                      clock) -> Synapses:
    """W_l (sign +1, from forward_{l-1}) or W_inh_l (-1, from forward_inh_{l-1})."""
    name = f"W_{l}" if sign > 0 else f"W_inh_{l}"
    return _plastic(spec, source, target, F.FORWARD_SYNAPSE[sign], E.FORWARD_LEARNING, sign,
                    name, {"was_engaged": schedule["was_engaged"]}, clock)


def _feedback_synapses(spec: CircuitSpec, l: int, source, target, sign: int, schedule,
                       clock) -> Synapses:
    """B_l (sign +1, from feedback_l) or B_inh_l (-1, from feedback_inh_l)."""
    name = f"B_{l}" if sign > 0 else f"B_inh_{l}"
    plasticity = spec.plasticity
    if not plasticity.plastic:
        return dense_synapses(source, target, F.FEEDBACK_SYNAPSE[sign], name, {}, clock)
    if plasticity.variables.strip():
        raise ValueError(f"rule {spec.rule.name!r}: its feedback synapses have variables "
                         "besides w, which firing_rate circuits do not pair")
    namespace = {"was_engaged": schedule["was_engaged"], "was_mirror": schedule["was_mirror"],
                 "layer": l}
    model = E.code(F.FEEDBACK_SYNAPSE[sign], E.shared_constants(
        [p for p in plasticity.parameters if p not in ("eta", "decay")]))
    return _plastic(spec, source, target, model, plasticity.update, sign, name, namespace, clock)


def _links(spec: CircuitSpec, forward, feedback, target, forward_relays, feedback_relays,
           noise, clock) -> list[Synapses]:
    """One-to-one links: partners (forward_l <-> feedback_l) and the label as in the rate
    circuit but read from rates, then relays and noise."""
    links = partner_links(spec, forward, feedback, target, clock, F)
    links += [one_to_one(forward[l], relay, F.RELAY_LINK, f"forward_to_relay_{l}", clock)
              for l, relay in enumerate(forward_relays)]
    links += [one_to_one(feedback[l], relay, E.code(F.RELAY_LINK, F.DRIVE_LINK),
                         f"feedback_to_relay_{l}", clock)
              for l, relay in enumerate(feedback_relays, 1)]
    links += [one_to_one(source, forward[l], F.NOISE_LINK, f"noise_to_forward_{l}", clock)
              for l, source in enumerate(noise)]
    return links
