"""One interface for every circuit, and the wiring helpers that rate and spiking circuits share.

A built circuit (:class:`Circuit`) holds named Brian2 objects: populations ``forward_l``,
``feedback_l``, ``target``, synapse groups ``W_l`` and ``B_l``, one-to-one links, and the
schedule's TimedArrays. Every kind of circuit answers the same questions: its weights in
the matrix engine's layout (:meth:`Circuit.set_weights`, :meth:`Circuit.weights`), the
values that turn a compiled build into another run (:meth:`Circuit.run_args`), what a
compiled build depends on (:meth:`Circuit.structure`), its plastic synapse groups, its
populations and their firing rates in Hz (:meth:`Circuit.rates_hz`).

Which class builds a spec is looked up in :data:`CIRCUITS` by the spec's neuron kind
(:func:`circuit_class`, :func:`build`); nothing else asks what kind a circuit is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterator

import numpy as np
from brian2 import Clock, Network, NeuronGroup, Quantity, Synapses, TimedArray

from . import equations as E
from .phases import Presentations
from .spec import CircuitSpec

Array = np.ndarray
#: ``(group, variable, value)``: one value to set on a Brian2 object.
Setting = tuple[object, str, object]

#: Slot order of the operations at a presentation boundary (``when = "start"``).
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
        Every object of the circuit; ``network["W_1"]`` finds one by name.
    forward, feedback : list of NeuronGroup
        ``forward_0 .. forward_L``, ``feedback_0 .. feedback_L``.
    target : NeuronGroup
    W, B : list of Synapses
        ``W[l - 1]`` is ``W_l``, ``B[l - 1]`` is ``B_l`` (with Dale's relays of spiking
        circuits: the excitatory groups).
    links : list of Synapses
        The one-to-one links.
    schedule : dict of TimedArray
        The presentations as TimedArrays, by name (:meth:`schedule_values`).
    """

    #: Neuron kinds this class builds (:data:`CIRCUITS`).
    kinds: ClassVar[tuple[str, ...]] = ()

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

    # --- what every kind answers ---------------------------------------------------------

    @classmethod
    def build(cls, spec: CircuitSpec, plan: Presentations) -> "Circuit":
        """The Brian2 objects of ``spec`` running ``plan``, weights at 0 (see
        :meth:`set_weights`)."""
        raise NotImplementedError

    @classmethod
    def schedule_values(cls, spec: CircuitSpec, plan: Presentations) -> dict[str, Array]:
        """Contents of the circuit's TimedArrays for ``plan``."""
        raise NotImplementedError

    @classmethod
    def structure(cls, spec: CircuitSpec, plan: Presentations) -> tuple:
        """What the generated code of a circuit depends on. Two (spec, plan) pairs of equal
        structure differ only in values (weights, learning rates, decays, noise amplitude,
        time constants, the presentations' contents), which :meth:`run_args` can change."""
        rule = spec.rule
        noise = rule.mirror_noise
        return (cls.__name__, spec.sizes, spec.transfer.name, spec.output_transfer.name,
                spec.loss.name, type(rule).__name__, rule.uses_mirror_phase,
                spec.plasticity.structure(), rule.error_form().structure(),
                noise.distribution if noise else None,
                spec.neuron, float(spec.dt), spec.presentation_steps, spec.mirror_scheme,
                spec.noise_source, spec.feedback_dale, len(plan), plan.noise is not None,
                spec.spiking.structure() if spec.spiking is not None else None)

    @classmethod
    def draws_random_numbers(cls, spec: CircuitSpec) -> bool:
        """Whether Brian2 draws random numbers in this circuit (its mirror noise; spikes),
        so that the seed shapes the run."""
        return spec.noise_source == "brian" and spec.rule.uses_mirror_phase

    @property
    def duration(self) -> Quantity:
        """How long the circuit runs to present every presentation and learn from it."""
        raise NotImplementedError

    @property
    def populations(self) -> list[NeuronGroup]:
        """Every population of the circuit whose rate is judged (forward, feedback,
        target, relays)."""
        raise NotImplementedError

    def plastic_groups(self) -> list[tuple[str, Synapses, int]]:
        """``(matrix name, synapse group, sign of its effect)`` of every W and B synapse
        group (plastic or fixed): the matrix ``W_l`` or ``B_l`` it is part of, and +1 (or
        -1 for an inhibitory route whose weights, kept >= 0, subtract)."""
        return ([(f"W_{l}", S, 1) for l, S in enumerate(self.W, 1)]
                + [(f"B_{l}", S, 1) for l, S in enumerate(self.B, 1)])

    def parameter_values(self, spec: CircuitSpec) -> Iterator[Setting]:
        """Every parameter the circuit takes from ``spec``."""
        raise NotImplementedError

    def initial_values(self, W: list[Array], b: list[Array], B: list[Array],
                       feedback_signs: list[Array] | None = None) -> Iterator[Setting]:
        """Every weight, bias (and sign) the circuit starts from, given in the matrix
        engine's layout (see :meth:`set_weights`)."""
        raise NotImplementedError

    def weights(self) -> tuple[list[Array], list[Array], list[Array]]:
        """Current ``(W, b, B)`` as numpy arrays in the matrix engine's layout (signed)."""
        matrices = {}
        for name, S, sign in self.plastic_groups():
            matrices[name] = matrices.get(name, 0) + sign * weight_matrix(S)
        L = self.spec.n_layers
        return ([matrices[f"W_{l}"] for l in range(1, L + 1)],
                [np.array(G.b[:]) for G in self.forward[1:]],
                [matrices[f"B_{l}"] for l in range(1, L + 1)])

    def spikes(self) -> dict[str, dict]:
        """Pooled spikes of every spiking population (none in rate circuits)."""
        return {}

    def check_monitors(self) -> list:
        """The monitors a plausibility check adds before the run (see :meth:`readout`)."""
        raise NotImplementedError

    def readout(self, monitors: list, n_presentations: int, initial, final, *,
                max_rate_hz: float, engaged: Array, mirror: Array):
        """What the run shows about the circuit's biology (:class:`.readout.Readout`): its
        firing rates in Hz, time constants, settling, weight changes per presentation and
        Dale's principle, from the :meth:`check_monitors` of a run of ``n_presentations``
        (``engaged``, ``mirror``: which presentations were which) from the weights
        ``initial`` to ``final``; ``max_rate_hz`` is the rate of activity 1."""
        raise NotImplementedError

    # --- shared behaviour ----------------------------------------------------------------

    def set_weights(self, W: list[Array], b: list[Array], B: list[Array],
                    feedback_signs: list[Array] | None = None) -> None:
        """Set initial weights from arrays in the matrix engine's layout.

        ``W[l]`` is ``(n_{l+1}, n_l)``, ``b[l]`` is ``(n_{l+1},)``, ``B[l]`` is ``W[l]``'s
        transposed shape (the rule's feedback state). ``feedback_signs[l]``
        (``spec.feedback_dale`` only) holds the +1/-1 sign of each neuron of
        feedback_{l+1}. Works before the run on every device.
        """
        for group, name, value in self.initial_values(W, b, B, feedback_signs):
            setattr(group, name, value)

    def run_args(self, spec: CircuitSpec, plan: Presentations,
                 initial: tuple[list[Array], list[Array], list[Array]],
                 feedback_signs: list[Array] | None = None) -> dict:
        """The values that turn this built circuit into the circuit of ``spec`` running
        ``plan`` from the weights ``initial`` (and ``feedback_signs``), as ``run_args`` of
        a standalone device.

        Raises ValueError unless ``structure(spec, plan)`` equals this circuit's: only
        values (weights, parameters, the presentations' contents) can change.
        """
        if self.structure(spec, plan) != self.structure(self.spec, self.presentations):
            raise ValueError("the circuit was built for another structure (sizes, neuron, "
                             "rule type, number of presentations, ...); build it anew")
        values = [*self.parameter_values(spec), *self.initial_values(*initial, feedback_signs)]
        args = {getattr(group, name): value for group, name, value in values}
        args.update({self.schedule[name]: array
                     for name, array in self.schedule_values(spec, plan).items()})
        return args

    def set_parameters(self) -> None:
        """Set every parameter of this circuit's own spec (after building)."""
        for group, name, value in self.parameter_values(self.spec):
            setattr(group, name, value)


#: The circuit class of each neuron kind (filled by :func:`register_circuit`).
CIRCUITS: dict[str, type[Circuit]] = {}


def register_circuit(cls: type[Circuit]) -> type[Circuit]:
    """Make ``cls`` the builder of every neuron kind in ``cls.kinds``."""
    for kind in cls.kinds:
        CIRCUITS[kind] = cls
    return cls


def circuit_class(spec: CircuitSpec) -> type[Circuit]:
    """The class that builds circuits of ``spec.neuron``."""
    try:
        return CIRCUITS[spec.neuron]
    except KeyError:
        raise ValueError(f"no circuit builds neuron kind {spec.neuron!r}; registered: "
                         f"{', '.join(CIRCUITS)}") from None


def build(spec: CircuitSpec, plan: Presentations) -> Circuit:
    """Create the Brian2 objects of ``spec`` that run the presentations ``plan``.

    Weights start at 0; set them with :meth:`Circuit.set_weights`.
    """
    return circuit_class(spec).build(spec, plan)


# --- wiring helpers ----------------------------------------------------------------------

def dense_indices(shape: tuple[int, int]) -> tuple[Array, Array]:
    """(post, pre) index arrays of every synapse of a dense ``(n_post, n_pre)`` matrix."""
    post, pre = np.indices(shape)
    return post.ravel(), pre.ravel()


def shape_of(synapses: Synapses) -> tuple[int, int]:
    """``(n_post, n_pre)`` of a synapse group's weight matrix."""
    return len(synapses.target), len(synapses.source)


def synapse_matrices(synapses: Synapses, values: Array) -> Array:
    """``(samples, n_synapses)`` values of a synapse variable (a monitor's samples, in the
    order of ``synapses``) as ``(samples, n_post, n_pre)`` matrices."""
    values = np.asarray(values)
    out = np.zeros((values.shape[0],) + shape_of(synapses))
    out[:, np.asarray(synapses.j[:]), np.asarray(synapses.i[:])] = values
    return out


def weight_matrix(synapses: Synapses) -> Array:
    """The weights ``w`` of ``synapses`` as an ``(n_post, n_pre)`` matrix."""
    matrix = np.zeros(shape_of(synapses))
    matrix[synapses.j[:], synapses.i[:]] = synapses.w[:]
    return matrix


def dense_values(synapses: Synapses, matrix) -> Array:
    """An ``(n_post, n_pre)`` matrix as values of every synapse of a dense group (in the
    order :func:`dense_synapses` connects them); the error names the group."""
    matrix = np.asarray(matrix, dtype=float)
    if matrix.shape != shape_of(synapses):
        raise ValueError(f"{synapses.name}: weights must have shape {shape_of(synapses)} "
                         f"(got {matrix.shape})")
    post, pre = dense_indices(shape_of(synapses))
    return matrix[post, pre]


def dense_synapses(source, target, model: str, name: str, namespace: dict, clock: Clock,
                   on_pre: str | None = None) -> Synapses:
    """A dense synapse group ``source -> target``, connected with explicit indices (the same
    synapse order on every device)."""
    synapses = Synapses(source, target, model, on_pre=on_pre, clock=clock, name=name,
                        namespace=namespace)
    post, pre = dense_indices((len(target), len(source)))
    synapses.connect(i=pre, j=post)
    return synapses


def one_to_one(source, target, model: str, name: str, clock: Clock,
               on_pre: str | None = None, namespace: dict | None = None) -> Synapses:
    """A one-to-one link: neuron i of ``source`` to neuron i of ``target``."""
    synapses = Synapses(source, target, model, on_pre=on_pre, clock=clock, name=name,
                        namespace=dict(namespace or {}))
    synapses.connect(j="i")
    return synapses


def load_presentation(spec: CircuitSpec, group, *blocks: str) -> None:
    """Load the next presentation into ``group`` at every presentation boundary."""
    group.run_regularly(E.code(*blocks), dt=spec.presentation_time, when="start",
                        order=PRESENTATION_ORDER, name=f"{group.name}_present")


def learn_each_presentation(spec: CircuitSpec, group, update: str, order: int) -> None:
    """Apply ``update`` at every presentation boundary (slot ``start``, ``order``), from the
    values the circuit settled to in the presentation that has just ended."""
    group.run_regularly(update, dt=spec.presentation_time, when="start", order=order,
                        name=f"{group.name}_learn")


def mirror_noise_terms(spec: CircuitSpec, schedule: dict, l: int) -> tuple[str, str, dict]:
    """(equations, load code, namespace) of the mirror noise of forward_l: replayed from
    the schedule's arrays or drawn in Brian2; nothing for a rule without a mirror phase."""
    if not spec.rule.uses_mirror_phase:
        return "", "", {}
    if spec.noise_source == "replay":
        return "", E.LOAD_NOISE["replay"], {"noise_values": schedule[f"noise_values_{l}"]}
    return E.NOISE_SCALE, E.LOAD_NOISE[spec.rule.mirror_noise.distribution], {}


def error_form_values(spec: CircuitSpec, feedback: list[NeuronGroup]) -> Iterator[Setting]:
    """(group, name, value) of the rule's hidden-error parameters on the hidden feedback
    populations feedback_1 .. feedback_{L-1} (see :func:`equations.hidden_error`)."""
    for group in feedback[1:spec.n_layers]:
        for name, value in spec.rule.error_form().parameters.items():
            yield group, name, value


def noise_scale(spec: CircuitSpec) -> float:
    """``noise_scale`` of :data:`equations.LOAD_NOISE`: sigma, or sigma*sqrt(3) (uniform)."""
    noise = spec.rule.mirror_noise
    return noise.sigma * (np.sqrt(3.0) if noise.distribution == "uniform" else 1.0)


def check_plan(spec: CircuitSpec, plan: Presentations) -> None:
    """The presentations fit the spec, and replayed noise is there when it is needed."""
    if plan.stimulus.shape[1] != spec.sizes[0] or plan.labels.shape[1] != spec.sizes[-1]:
        raise ValueError(f"presentations show {plan.stimulus.shape[1]} inputs and "
                         f"{plan.labels.shape[1]} labels; the circuit has sizes {spec.sizes}")
    if spec.rule.uses_mirror_phase and spec.noise_source == "replay" and plan.noise is None:
        raise ValueError("noise_source 'replay' needs presentations with noise arrays "
                         "(pass the mirror noise draws)")
