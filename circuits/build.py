"""Wiring a CircuitSpec into named Brian2 populations and synapse groups.

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

from . import equations as E
from .learning import FEEDBACK_LEARNING
from .phases import Presentations, presentation_arrays
from .spec import CircuitSpec

Array = np.ndarray

SYNAPTIC_PLASTICITY_ORDER = 0
BIAS_PLASTICITY_ORDER = 1
PRESENTATION_ORDER = 2


@dataclass(eq=False)
class Circuit:
    """A built circuit: named Brian2 objects, ready to run.

    Attributes
    ----------
    spec : CircuitSpec
    presentations : Presentations
    network : brian2.Network
        All objects below; ``network["W_1"]`` finds one by name.
    forward, feedback : list of NeuronGroup
        ``forward_0 .. forward_L``, ``feedback_0 .. feedback_L``.
    target : NeuronGroup
    W, B : list of Synapses
        ``W[l - 1]`` is ``W_l``, ``B[l - 1]`` is ``B_l``.
    links : list of Synapses
        The one-to-one links.
    schedule : dict of TimedArray
        The presentations as TimedArrays, by name (see :func:`schedule_values`).
    """

    spec: CircuitSpec
    presentations: Presentations
    network: Network
    forward: list[NeuronGroup]
    feedback: list[NeuronGroup]
    target: NeuronGroup
    W: list[Synapses]
    B: list[Synapses]
    links: list[Synapses]
    schedule: dict[str, TimedArray]

    @property
    def duration(self) -> Quantity:
        """Run time: every presentation, plus one in which the last one's plasticity is
        applied (at its first step; the rest of it learns nothing). Ending on a whole
        presentation keeps the end time a multiple of every clock's dt."""
        return (len(self.presentations) + 1) * self.spec.presentation_time

    def set_weights(self, W: list[Array], b: list[Array], B: list[Array],
                    feedback_signs: list[Array] | None = None) -> None:
        """Set initial weights from arrays in the matrix engine's layout.

        ``W[l]`` is ``(n_{l+1}, n_l)``, ``b[l]`` is ``(n_{l+1},)``, ``B[l]`` is ``W[l]``'s
        transposed shape. ``feedback_signs[l]`` (``spec.feedback_dale`` only) holds the
        +1/-1 sign of each neuron of feedback_{l+1}. Works before the run on every device.
        """
        for group, name, value in self._initial_values(W, b, B, feedback_signs):
            setattr(group, name, value)

    def _initial_values(self, W, b, B, feedback_signs):
        return list(_weight_values(self, W, b, B)) + list(_sign_values(self, feedback_signs))

    def run_args(self, spec: CircuitSpec, plan: Presentations,
                 initial: tuple[list[Array], list[Array], list[Array]],
                 feedback_signs: list[Array] | None = None) -> dict:
        """The values that turn this built circuit into the circuit of ``spec`` running
        ``plan`` from the weights ``initial`` (and ``feedback_signs``, see
        :meth:`set_weights`), as ``run_args`` of a standalone device.

        Raises ValueError unless ``structure(spec, plan)`` equals this circuit's: only
        values (weights, parameters, the presentations' contents) can change.
        """
        if structure(spec, plan) != structure(self.spec, self.presentations):
            raise ValueError("the circuit was built for another structure (sizes, neuron, "
                             "rule type, number of presentations, ...); build it anew")
        values = list(_parameter_values(self, spec)) + self._initial_values(*initial,
                                                                             feedback_signs)
        args = {getattr(group, name): value for group, name, value in values}
        args.update({self.schedule[name]: array
                     for name, array in schedule_values(spec, plan).items()})
        return args

    def weights(self) -> tuple[list[Array], list[Array], list[Array]]:
        """Current ``(W, b, B)`` as numpy arrays in the matrix engine's layout."""
        return ([_matrix(S) for S in self.W], [np.array(G.b[:]) for G in self.forward[1:]],
                [_matrix(S) for S in self.B])


def build(spec: CircuitSpec, plan: Presentations) -> Circuit:
    """Create the Brian2 objects of ``spec`` that run the presentations ``plan``.

    Weights start at 0; set them with :meth:`Circuit.set_weights`. Spiking specs
    (``spec.spiking``) are built by :func:`.spiking.build_spiking`.
    """
    if spec.spiking is not None:
        from .spiking import build_spiking
        return build_spiking(spec, plan)
    _check_plan(spec, plan)
    clock = Clock(dt=spec.dt)
    T = spec.presentation_time
    schedule = {name: TimedArray(values, dt=T, name=name)
                for name, values in schedule_values(spec, plan).items()}
    forward = _forward_populations(spec, schedule, clock)
    feedback = _feedback_populations(spec, clock)
    target = NeuronGroup(spec.sizes[-1], E.TARGET_POPULATION, clock=clock, name="target",
                         namespace={"labels": schedule["labels"]})
    _load(spec, target, E.LOAD_LABEL)
    W = [_forward_synapses(spec, l, forward, schedule, clock) for l in range(1, spec.n_layers + 1)]
    B = [_feedback_synapses(spec, l, feedback, schedule, clock)
         for l in range(1, spec.n_layers + 1)]
    links = _links(spec, forward, feedback, target, clock)
    network = Network(*forward, *feedback, target, *W, *B, *links)
    circuit = Circuit(spec, plan, network, forward, feedback, target, W, B, links, schedule)
    for group, name, value in _parameter_values(circuit, spec):
        setattr(group, name, value)
    return circuit


def structure(spec: CircuitSpec, plan: Presentations) -> tuple:
    """What the generated code of a circuit depends on.

    Two (spec, plan) pairs of equal structure differ only in values: weights, learning
    rates, decays, noise amplitude, time constant and the presentations' contents.
    """
    rule = spec.rule
    noise = getattr(rule, "noise", None)
    return (spec.sizes, spec.transfer.name, spec.output_transfer.name, spec.loss.name,
            type(rule).__name__, noise.distribution if noise else None, spec.neuron,
            float(spec.dt), spec.presentation_steps, spec.mirror_scheme, spec.noise_source,
            spec.feedback_dale, len(plan), plan.noise is not None,
            spec.spiking.structure() if spec.spiking is not None else None)


def _parameter_values(circuit: Circuit, spec: CircuitSpec):
    """(group, variable, value) of every parameter the circuit takes from ``spec``."""
    for group in circuit.forward + circuit.feedback:
        if "tau" in group.variables:
            yield group, "tau", spec.tau
        if "noise_scale" in group.variables:
            yield group, "noise_scale", _noise_scale(spec)
    for group in circuit.forward[1:]:
        yield group, "eta_b", spec.lr
    for W in circuit.W:
        yield W, "eta", spec.lr
        yield W, "decay", spec.rule.forward_decay
    learning = FEEDBACK_LEARNING[type(spec.rule)](spec)
    if learning is not None:
        for B in circuit.B:
            yield B, "eta", learning.eta
            yield B, "decay", learning.decay


def _weight_values(circuit: Circuit, W: list[Array], b: list[Array], B: list[Array]):
    """(group, variable, value) of every weight and bias, from the matrix engine's layout
    (``B`` is the rule's feedback state; see :attr:`FeedbackLearning.initial`)."""
    learning = FEEDBACK_LEARNING[type(circuit.spec.rule)](circuit.spec)
    start = learning.initial if learning is not None else None
    feedback = [start(w, fb) if start else {"w": fb} for w, fb in zip(W, B)]
    matrices = [(S, "w", w) for S, w in zip(circuit.W, W)] + [
        (S, name, value) for S, values in zip(circuit.B, feedback) for name, value in values.items()]
    for synapses, name, matrix in matrices:
        post, pre = _dense_indices(_shape(synapses))
        matrix = np.asarray(matrix, dtype=float)
        if matrix.shape != _shape(synapses):
            raise ValueError(f"{synapses.name}: weights must have shape "
                             f"{_shape(synapses)} (got {matrix.shape})")
        yield synapses, name, matrix[post, pre]
    for group, bias in zip(circuit.forward[1:], b):
        yield group, "b", np.asarray(bias, dtype=float)


def _sign_values(circuit: Circuit, feedback_signs: list[Array] | None):
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

def _check_plan(spec: CircuitSpec, plan: Presentations) -> None:
    if plan.stimulus.shape[1] != spec.sizes[0] or plan.labels.shape[1] != spec.sizes[-1]:
        raise ValueError(f"presentations show {plan.stimulus.shape[1]} inputs and "
                         f"{plan.labels.shape[1]} labels; the circuit has sizes {spec.sizes}")
    if spec.rule.uses_mirror_phase and spec.noise_source == "replay" and plan.noise is None:
        raise ValueError("noise_source 'replay' needs presentations with noise arrays "
                         "(pass the mirror noise draws)")


def schedule_values(spec: CircuitSpec, plan: Presentations) -> dict[str, Array]:
    """Arrays of the plan's TimedArrays: row p = presentation p, or, for the plasticity
    gates ``was_engaged`` and ``was_mirror``, the presentation that ends at boundary p."""
    return {**presentation_arrays(plan, spec.noise_source == "replay"),
            "was_engaged": _ended(plan.engaged), "was_mirror": _ended(plan.mirror)}


def _ended(gates: Array) -> Array:
    """Gates shifted by one presentation, with a 0 row first."""
    return np.concatenate([np.zeros_like(gates[:1]), gates])


def _load(spec: CircuitSpec, group, *blocks: str) -> None:
    """Load the next presentation into ``group`` at every presentation boundary."""
    group.run_regularly(E.code(*blocks), dt=spec.presentation_time, when="start",
                        order=PRESENTATION_ORDER, name=f"{group.name}_present")


def _learn(spec: CircuitSpec, group, update: str, order: int) -> None:
    """Apply ``update`` at every presentation boundary, from the settled values."""
    group.run_regularly(update, dt=spec.presentation_time, when="start", order=order,
                        name=f"{group.name}_learn")


# --- populations --------------------------------------------------------------------------

def pathway_order(spec: CircuitSpec, pathway: str, l: int) -> int:
    """Scheduling order of population ``l`` of ``pathway`` ("forward" or "feedback"):
    forward_0 .. forward_L, then feedback_L .. feedback_0."""
    return l if pathway == "forward" else 2 * spec.n_layers + 1 - l


def _noise(spec: CircuitSpec, schedule: dict, l: int) -> tuple[str, str, dict]:
    """(equations, load code, namespace) of the mirror noise of forward_l."""
    if not spec.rule.uses_mirror_phase:
        return "", "", {}
    if spec.noise_source == "replay":
        return "", E.LOAD_NOISE["replay"], {"noise_values": schedule[f"noise_values_{l}"]}
    return E.NOISE_SCALE, E.LOAD_NOISE[spec.rule.noise.distribution], {}


def _noise_scale(spec: CircuitSpec) -> float:
    """``noise_scale`` of :data:`equations.LOAD_NOISE`: sigma, or sigma*sqrt(3) (uniform)."""
    noise = spec.rule.noise
    return noise.sigma * (np.sqrt(3.0) if noise.distribution == "uniform" else 1.0)


def _forward_populations(spec: CircuitSpec, schedule: dict, clock: Clock) -> list[NeuronGroup]:
    """forward_0 (input), forward_1 .. forward_{L-1} (hidden), forward_L (output)."""
    L = spec.n_layers
    return ([_input_population(spec, schedule, clock)]
            + [_hidden_population(spec, l, schedule, clock) for l in range(1, L)]
            + [_output_population(spec, schedule, clock)])


def _input_population(spec: CircuitSpec, schedule: dict, clock: Clock) -> NeuronGroup:
    noise_eqs, load_noise, noise_namespace = _noise(spec, schedule, 0)
    group = NeuronGroup(spec.sizes[0], E.code(E.INPUT_POPULATION, E.MIRROR_GATES, noise_eqs),
                        clock=clock, name="forward_0", order=pathway_order(spec, "forward", 0),
                        namespace={"stimulus": schedule["stimulus"], **_gates(schedule),
                                   **noise_namespace, "layer": 0})
    _load(spec, group, E.LOAD_MIRROR_GATES, E.LOAD_SAMPLE, load_noise)
    return group


def _hidden_population(spec: CircuitSpec, l: int, schedule: dict, clock: Clock) -> NeuronGroup:
    noise_eqs, load_noise, noise_namespace = _noise(spec, schedule, l)
    model = E.with_output(spec.neuron, "r", E.HIDDEN_RATE, E.NET_INPUT, E.MIRROR_GATES, noise_eqs,
                          **E.transfer_terms(spec.transfer, "a"))
    group = _learning_population(spec, l, model, schedule, clock,
                                 {**_gates(schedule), **noise_namespace})
    _load(spec, group, E.LOAD_MIRROR_GATES, load_noise)
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
    _learn(spec, group, E.BIAS_LEARNING, BIAS_PLASTICITY_ORDER)
    return group


def _gates(schedule: dict) -> dict:
    return {name: schedule[name] for name in ("drive_gate", "noise_gate")}


def _feedback_populations(spec: CircuitSpec, clock: Clock) -> list[NeuronGroup]:
    L, populations = spec.n_layers, []
    for l, n in enumerate(spec.sizes):
        if l == 0:
            parts, terms = (E.INPUT_ERROR, E.PARTNER_RATE, E.ERROR_INPUT), {}
        elif l < L:
            parts = (E.HIDDEN_ERROR, E.PARTNER_NET_INPUT, E.PARTNER_RATE, E.ERROR_INPUT)
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

def _dense_indices(shape: tuple[int, int]) -> tuple[Array, Array]:
    """(post, pre) index arrays of every synapse of a dense ``(n_post, n_pre)`` matrix."""
    post, pre = np.indices(shape)
    return post.ravel(), pre.ravel()


def _shape(synapses: Synapses) -> tuple[int, int]:
    return len(synapses.target), len(synapses.source)


def synapse_matrices(synapses: Synapses, values: Array) -> Array:
    """``(samples, n_synapses)`` values of a synapse variable (a monitor's samples, in the
    order of ``synapses``) as ``(samples, n_post, n_pre)`` matrices."""
    values = np.asarray(values)
    out = np.zeros((values.shape[0],) + _shape(synapses))
    out[:, np.asarray(synapses.j[:]), np.asarray(synapses.i[:])] = values
    return out


def _matrix(synapses: Synapses) -> Array:
    """The weights of ``synapses`` as an ``(n_post, n_pre)`` matrix."""
    matrix = np.zeros(_shape(synapses))
    matrix[synapses.j[:], synapses.i[:]] = synapses.w[:]
    return matrix


def _dense(source, target, model: str, name: str, namespace: dict, clock: Clock) -> Synapses:
    synapses = Synapses(source, target, model, clock=clock, name=name, namespace=namespace)
    post, pre = _dense_indices((len(target), len(source)))
    synapses.connect(i=pre, j=post)
    return synapses


def _forward_synapses(spec: CircuitSpec, l: int, forward, schedule, clock) -> Synapses:
    """W_l: forward_{l-1} -> forward_l, learning in engaged presentations."""
    W = _dense(forward[l - 1], forward[l], E.code(E.FORWARD_SYNAPSE, E.PLASTIC), f"W_{l}",
               {"was_engaged": schedule["was_engaged"]}, clock)
    _learn(spec, W, E.FORWARD_LEARNING, SYNAPTIC_PLASTICITY_ORDER)
    return W


def _feedback_synapses(spec: CircuitSpec, l: int, feedback, schedule, clock) -> Synapses:
    """B_l: feedback_l -> feedback_{l-1}, learning as the rule says."""
    learning = FEEDBACK_LEARNING[type(spec.rule)](spec)
    if learning is None:
        return _dense(feedback[l], feedback[l - 1], E.FEEDBACK_SYNAPSE, f"B_{l}", {}, clock)
    namespace = {"was_engaged": schedule["was_engaged"], "was_mirror": schedule["was_mirror"],
                 "layer": l}
    B = _dense(feedback[l], feedback[l - 1],
               E.code(E.FEEDBACK_SYNAPSE, E.PLASTIC, learning.model), f"B_{l}", namespace, clock)
    update = E.code(learning.update, E.DALE_PROJECTION if spec.feedback_dale else "")
    _learn(spec, B, update, SYNAPTIC_PLASTICITY_ORDER)
    return B


def _links(spec: CircuitSpec, forward, feedback, target, clock) -> list[Synapses]:
    """One-to-one links: forward_l -> feedback_l, feedback_l -> forward_l, target -> feedback_L."""
    L, links = spec.n_layers, []

    def link(source, dest, model: str, name: str) -> None:
        synapses = Synapses(source, dest, model, clock=clock, name=name, namespace={})
        synapses.connect(j="i")
        links.append(synapses)

    for l in range(L + 1):
        carried = ((E.NET_INPUT_LINK,) if l > 0 else ()) + ((E.RATE_LINK,) if l < L else ())
        link(forward[l], feedback[l], E.code(*carried), f"forward_to_feedback_{l}")
    for l in range(1, L + 1):
        link(feedback[l], forward[l], E.ERROR_LINK, f"feedback_to_forward_{l}")
    link(target, feedback[L], E.LABEL_LINK, "target_to_feedback")
    return links
