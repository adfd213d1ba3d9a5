"""A trained network with ternary synapses, run forward (inference only) as a Brian2 circuit.

A combinatorial ternary trainer (CoNNTrA) leaves a layered network whose weights and
biases are integers in {-1, 0, +1}, one positive scale per layer. This module states that
network (:class:`TernaryNetwork`, with a numpy reference of its forward pass) and runs it
as a circuit whose synapses hold exactly those integers (:func:`build_ternary_circuit`,
:func:`run_ternary_circuit`), so that one can show that the circuit predicts what the
trained network predicts.

The math (the matrix engine's layout, batches as rows): sizes ``n_0 .. n_L``; for
``l = 1 .. L`` ternary weights ``T_l`` of shape ``(n_l, n_{l-1})``, ternary biases ``t_l``
of shape ``(n_l,)`` and a scale ``s_l > 0``::

    a_l = s_l * (T_l x_{l-1} + t_l),   x_l = phi(a_l)

with the hidden transfer function for ``l < L`` and the output transfer for ``l = L``; the
prediction is ``argmax(a_L)``.

The circuit:

- ``input`` (n_0 neurons) shows one sample per presentation, loaded from the TimedArray
  ``stimulus`` at each presentation boundary;
- ``layer_1 .. layer_L``: instantaneous rate neurons, ``a = s * (I + bias)``, ``r = phi(a)``,
  with ``I`` summed from the synapses below, ``bias`` holding ``t_l`` and ``s`` a
  ``(shared, constant)`` parameter holding ``s_l``;
- ``T_1 .. T_L``: dense synapse groups ``layer_{l-1} -> layer_l`` (``input`` for l = 1)
  whose ``w`` is an integer variable holding ``T_l``;
- ``output_net_input``: a monitor of ``layer_L``'s ``a`` at every presentation boundary.

Settling. Brian2 updates a summed variable in the ``groups`` slot just before its
target population, in the order of the target populations. The populations are ordered
along the signal path (``input`` 0, ``layer_l`` l), so one time step carries a sample from
``input`` to ``layer_L``: a presentation of one step settles exactly, and longer ones
recompute the same values. The monitor reads ``a`` at the start of the next boundary,
before anything there runs, i.e. the value the presentation that has just ended settled
to; the run lasts one presentation longer than the samples (a zero sample) for the last
one to be read.

Every equation string is a template without numbers; the scales are ``(shared,
constant)`` parameters, the biases and weights ``constant`` variables, set after building.
Each call builds a fresh ``brian2.Network`` with its own objects, so repeated calls do not
collide (the magic network is left alone).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import (Clock, Equations, Network, NeuronGroup, Quantity, StateMonitor, Synapses,
                    TimedArray, ms)

from ..models.constraints import BITS_PER_TERNARY, TERNARY_VALUES
from ..models.transfer import Transfer, get_transfer
from . import equations as E
from .base import dense_synapses, dense_values, weight_matrix

Array = np.ndarray

#: Time step of the circuit. The circuit has no dynamics (instantaneous neurons), so the
#: value changes nothing but the times at which the presentations happen.
DT = 0.1 * ms

# --- equations (templates: no numbers) -----------------------------------------------------

#: input: the rate of an input neuron, the current sample's value.
INPUT_POPULATION = "r : 1"

#: What each presentation loads into ``input``.
LOAD_SAMPLE = "r = stimulus(t, i)"

#: layer_l: net input from the summed synaptic input and the ternary bias, times the
#: layer's scale; rate ``phi(a)`` (``transfer_phi`` is substituted, see
#: :func:`equations.transfer_terms`).
TERNARY_LAYER = """
    r = transfer_phi : 1
    a = s * (I + bias) : 1
    I : 1
    bias : 1 (constant)
    s : 1 (shared, constant)
    """

#: T_l: one ternary synapse, an integer weight in {-1, 0, 1}.
TERNARY_SYNAPSE = """
    w : integer (constant)
    I_post = w * r_pre : 1 (summed)
    """


# --- the network -----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class TernaryNetwork:
    """A layered network with ternary weights and biases and one scale per layer.

    Parameters
    ----------
    weights : list of ndarray
        ``weights[l - 1]`` is ``T_l``, shape ``(n_l, n_{l-1})``, entries in {-1, 0, 1}
        (any integer or integer-valued float dtype; stored as read-only int8).
    biases : list of ndarray
        ``biases[l - 1]`` is ``t_l``, shape ``(n_l,)``, entries in {-1, 0, 1} (stored as
        read-only int8).
    scales : list of float
        ``scales[l - 1]`` is ``s_l > 0``, dimensionless (stored as floats).
    transfer : str
        Transfer function of the hidden layers (a name of
        :data:`mirrorlab.models.transfer.TRANSFERS`).
    output_transfer : str
        Transfer function of the output layer (usually ``"linear"``); the prediction reads
        the output's net input, so it only matters to ``x_L``.

    Raises
    ------
    ValueError
        Naming the field (``weights[1]``, ``biases[0]``, ``scales[2]``, ``transfer``, ...)
        where a value is not ternary, the shapes do not chain, a scale is not positive, the
        lists differ in length or a transfer function is unknown.

    Notes
    -----
    ``a_l = s_l (T_l x_{l-1} + t_l)``, ``x_l = phi(a_l)`` (``phi`` the output transfer for
    ``l = L``), the prediction ``argmax a_L``. All activities and net inputs are
    dimensionless.
    """

    weights: list[Array]
    biases: list[Array]
    scales: list[float]
    transfer: str
    output_transfer: str = "linear"

    def __post_init__(self) -> None:
        weights, biases, scales = self.weights, self.biases, self.scales
        for field, values in (("weights", weights), ("biases", biases), ("scales", scales)):
            if isinstance(values, (str, bytes, np.ndarray)) or not hasattr(values, "__len__"):
                raise ValueError(f"{field}: give a list with one entry per layer "
                                 f"(got {type(values).__name__})")
        if len(weights) == 0:
            raise ValueError("weights: give at least one layer (got none)")
        for field, values in (("biases", biases), ("scales", scales)):
            if len(values) != len(weights):
                raise ValueError(f"{field}: one per layer, {len(weights)} (got {len(values)})")
        T = [_ternary(f"weights[{k}]", w, 2) for k, w in enumerate(weights)]
        t = [_ternary(f"biases[{k}]", b, 1) for k, b in enumerate(biases)]
        for k in range(1, len(T)):
            if T[k].shape[1] != T[k - 1].shape[0]:
                raise ValueError(f"weights[{k}]: shape {T[k].shape} does not follow "
                                 f"weights[{k - 1}] of shape {T[k - 1].shape}: it needs "
                                 f"{T[k - 1].shape[0]} columns")
        for k, (w, b) in enumerate(zip(T, t)):
            if b.shape != (w.shape[0],):
                raise ValueError(f"biases[{k}]: shape must be {(w.shape[0],)}, one per row of "
                                 f"weights[{k}] (got {b.shape})")
        s = [_scale(f"scales[{k}]", value) for k, value in enumerate(scales)]
        for field in ("transfer", "output_transfer"):
            _transfer(field, getattr(self, field))
        object.__setattr__(self, "weights", T)
        object.__setattr__(self, "biases", t)
        object.__setattr__(self, "scales", s)

    @property
    def sizes(self) -> tuple[int, ...]:
        """``(n_0, n_1, ..., n_L)``: the number of units of every layer."""
        return (self.weights[0].shape[1],) + tuple(w.shape[0] for w in self.weights)

    @property
    def n_layers(self) -> int:
        """``L``: the number of weight layers."""
        return len(self.weights)

    @property
    def parameter_count(self) -> int:
        """Number of ternary parameters: every weight and every bias (the scales, one float
        per layer, not counted)."""
        return sum(w.size + b.size for w, b in zip(self.weights, self.biases))

    @property
    def memory_bits(self) -> int:
        """Bits that store the ternary parameters: two per weight and bias (two bits hold a
        ternary value)."""
        return BITS_PER_TERNARY * self.parameter_count

    def transfers(self) -> list[Transfer]:
        """The transfer function of layer ``l`` at index ``l - 1`` (hidden ones, then the
        output's)."""
        hidden, output = get_transfer(self.transfer), get_transfer(self.output_transfer)
        return [hidden] * (self.n_layers - 1) + [output]

    def check_inputs(self, x) -> Array:
        """``x`` as a float64 array ``(n_samples, n_0)``, checked.

        Raises
        ------
        ValueError
            Naming ``x`` where it is not 2-D, has no rows, is not ``n_0`` wide or holds
            non-finite values.
        """
        try:
            x = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("x: must be an array of numbers of shape (n_samples, "
                             f"{self.sizes[0]})") from None
        if x.ndim != 2 or x.shape[1] != self.sizes[0] or x.shape[0] == 0:
            raise ValueError(f"x: shape must be (n_samples, {self.sizes[0]}) with "
                             f"n_samples >= 1 (got {x.shape})")
        if not np.all(np.isfinite(x)):
            raise ValueError("x: every value must be finite")
        return x

    def net_inputs(self, x) -> Array:
        """The output net inputs ``a_L`` of a batch, by numpy (the reference).

        Parameters
        ----------
        x : array_like, shape (n_samples, n_0)
            Input activities, one sample per row (dimensionless).

        Returns
        -------
        ndarray, shape (n_samples, n_L)
            ``a_L`` of every sample (dimensionless), float64.
        """
        activity = self.check_inputs(x)
        net_input = activity
        for T, t, s, transfer in zip(self.weights, self.biases, self.scales, self.transfers()):
            net_input = s * (activity @ T.T.astype(float) + t.astype(float))
            activity = transfer.phi(net_input)
        return net_input

    def predict(self, x) -> Array:
        """The predicted class of every sample: ``argmax a_L``.

        Parameters
        ----------
        x : array_like, shape (n_samples, n_0)

        Returns
        -------
        ndarray of int, shape (n_samples,)
        """
        return np.argmax(self.net_inputs(x), axis=1)


def _ternary(field: str, value, ndim: int) -> Array:
    """``value`` as a read-only int8 array of ``ndim`` dimensions with entries in
    {-1, 0, 1}; the error names ``field``."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = np.asarray(None)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{field}: must be an array of -1, 0 and 1 (got dtype {array.dtype})")
    if array.ndim != ndim:
        raise ValueError(f"{field}: must be {ndim}-D (got shape {array.shape})")
    if 0 in array.shape:
        raise ValueError(f"{field}: must not be empty (got shape {array.shape})")
    allowed = np.isin(array, TERNARY_VALUES)
    if not np.all(allowed):
        wrong = np.unique(array[~allowed])[:5]
        raise ValueError(f"{field}: entries must be -1, 0 or 1 (got {wrong.tolist()})")
    ternary = array.astype(np.int8)
    ternary.flags.writeable = False
    return ternary


def _scale(field: str, value) -> float:
    """``value`` as a positive finite float; the error names ``field``."""
    try:
        scale = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field}: must be a positive number (got {value!r})") from None
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"{field}: must be a positive finite number (got {scale})")
    return scale


def _transfer(field: str, name) -> Transfer:
    """The transfer function called ``name``; the error names ``field``."""
    try:
        return get_transfer(name)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{field}: {error}") from None


# --- the circuit -----------------------------------------------------------------------------

@dataclass(eq=False)
class TernaryCircuit:
    """A built ternary circuit, ready to run every sample once.

    Attributes
    ----------
    ternary : TernaryNetwork
        The network the circuit holds.
    network : brian2.Network
        Every Brian2 object of the circuit; ``network["T_1"]`` finds one by name.
    input : NeuronGroup
        ``input``, n_0 neurons.
    layers : list of NeuronGroup
        ``layer_1 .. layer_L`` (``layers[l - 1]`` is ``layer_l``).
    synapses : list of Synapses
        ``T_1 .. T_L`` (``synapses[l - 1]`` is ``T_l``).
    monitor : StateMonitor
        ``output_net_input``: ``layer_L``'s ``a`` at every presentation boundary.
    stimulus : TimedArray
        Row p: the sample of presentation p (a final zero row, see :attr:`duration`).
    n_samples : int
    steps_per_sample : int
        Time steps of one presentation.
    """

    ternary: TernaryNetwork
    network: Network
    input: NeuronGroup
    layers: list[NeuronGroup]
    synapses: list[Synapses]
    monitor: StateMonitor
    stimulus: TimedArray
    n_samples: int
    steps_per_sample: int

    @property
    def presentation_time(self) -> Quantity:
        """How long one sample is shown (``steps_per_sample * DT``)."""
        return self.steps_per_sample * DT

    @property
    def duration(self) -> Quantity:
        """Run time: every sample, plus one presentation at whose first boundary the last
        sample's settled net input is read."""
        return (self.n_samples + 1) * self.presentation_time

    def ternary_weights(self) -> list[Array]:
        """``T_1 .. T_L`` read back from the synapse groups, int8 arrays ``(n_l, n_{l-1})``
        in the matrix engine's layout."""
        return [weight_matrix(S).astype(np.int8) for S in self.synapses]

    def ternary_biases(self) -> list[Array]:
        """``t_1 .. t_L`` read back from the layers, int8 arrays ``(n_l,)``."""
        return [np.asarray(G.bias[:]).astype(np.int8) for G in self.layers]

    def scales(self) -> list[float]:
        """``s_1 .. s_L`` read back from the layers."""
        return [float(np.asarray(G.s[:]).ravel()[0]) for G in self.layers]

    def run(self) -> Array:
        """Run every sample once and return the output net inputs (:meth:`net_inputs`)."""
        self.network.run(self.duration)
        return self.net_inputs()

    def net_inputs(self) -> Array:
        """``a_L`` the circuit settled to for every sample, shape ``(n_samples, n_L)``
        (dimensionless), after :meth:`run`.

        Sample 0 of the monitor (t = 0) precedes every presentation and is dropped; sample
        ``p + 1`` holds presentation ``p``.
        """
        recorded = np.asarray(self.monitor.a[:]).T
        if recorded.shape[0] != self.n_samples + 1:
            raise RuntimeError(f"the monitor holds {recorded.shape[0]} boundaries; run the "
                               f"circuit for {self.duration} first (expected "
                               f"{self.n_samples + 1})")
        return recorded[1:]


def build_ternary_circuit(network: TernaryNetwork, x, steps_per_sample: int | None = None
                          ) -> TernaryCircuit:
    """Build the Brian2 circuit of ``network`` showing the rows of ``x`` one by one.

    Parameters
    ----------
    network : TernaryNetwork
    x : array_like, shape (n_samples, n_0)
        The samples, one per presentation (dimensionless).
    steps_per_sample : int, optional
        Time steps (of :data:`DT`) of one presentation, at least 1. Default 1: the
        populations are ordered along the signal path, so one step carries a sample up all
        L layers; more steps recompute the same values.

    Returns
    -------
    TernaryCircuit
        Built, every weight, bias and scale set and checked against ``network``; not run.

    Raises
    ------
    ValueError
        Naming ``network``, ``x`` or ``steps_per_sample`` where one is wrong, or the
        synapse group whose read-back weights differ from ``network``'s.
    """
    if not isinstance(network, TernaryNetwork):
        raise ValueError(f"network: must be a TernaryNetwork (got {type(network).__name__})")
    x = network.check_inputs(x)
    steps = _steps(steps_per_sample)
    clock = Clock(dt=DT, name="ternary_clock")
    T = steps * DT
    stimulus = TimedArray(np.vstack([x, np.zeros((1, x.shape[1]))]), dt=T, name="stimulus")
    source = NeuronGroup(network.sizes[0], INPUT_POPULATION, clock=clock, name="input",
                         order=0, namespace={"stimulus": stimulus})
    source.run_regularly(LOAD_SAMPLE, dt=T, when="start", order=0, name="input_present")
    layers, synapses, below = [], [], source
    for l, transfer in enumerate(network.transfers(), 1):
        model = Equations(TERNARY_LAYER, **E.transfer_terms(transfer, "a"))
        layer = NeuronGroup(network.sizes[l], model, clock=clock, name=f"layer_{l}", order=l,
                            namespace={})
        synapses.append(dense_synapses(below, layer, TERNARY_SYNAPSE, f"T_{l}", {}, clock))
        layers.append(layer)
        below = layer
    monitor = StateMonitor(layers[-1], "a", record=True, dt=T, when="start", order=-1,
                           name="output_net_input")
    circuit = TernaryCircuit(network, Network(source, *layers, *synapses, monitor), source,
                             layers, synapses, monitor, stimulus, x.shape[0], steps)
    _set_values(circuit)
    return circuit


def run_ternary_circuit(network: TernaryNetwork, x, steps_per_sample: int | None = None
                        ) -> Array:
    """Run ``network`` as a Brian2 circuit on every row of ``x``.

    Parameters
    ----------
    network : TernaryNetwork
    x : array_like, shape (n_samples, n_0)
        The samples (dimensionless).
    steps_per_sample : int, optional
        Time steps of one presentation (see :func:`build_ternary_circuit`).

    Returns
    -------
    ndarray, shape (n_samples, n_L)
        The output net inputs ``a_L`` as the circuit computed them (dimensionless);
        ``argmax`` along axis 1 is the circuit's prediction.
    """
    return build_ternary_circuit(network, x, steps_per_sample).run()


def _steps(steps_per_sample) -> int:
    """``steps_per_sample`` (default 1) as an int >= 1; the error names the field."""
    if steps_per_sample is None:
        return 1
    if isinstance(steps_per_sample, bool) or not isinstance(steps_per_sample, (int, np.integer)) \
            or steps_per_sample < 1:
        raise ValueError(f"steps_per_sample: must be an integer >= 1 (got {steps_per_sample!r})")
    return int(steps_per_sample)


def _set_values(circuit: TernaryCircuit) -> None:
    """Set every weight, bias and scale of ``circuit`` from its network and read the weights
    back: an integer variable would silently truncate a value that was not ternary."""
    network = circuit.ternary
    for S, layer, T, t, s in zip(circuit.synapses, circuit.layers, network.weights,
                                 network.biases, network.scales):
        S.w = dense_values(S, T).astype(np.int32)
        layer.bias = t.astype(float)
        layer.s = s
    for S, T, read in zip(circuit.synapses, network.weights, circuit.ternary_weights()):
        if not np.array_equal(read, T) or not np.all(np.isin(read, TERNARY_VALUES)):
            raise ValueError(f"{S.name}: the synapses hold other values than the network's "
                             f"ternary weights")
