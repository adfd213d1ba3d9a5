"""CircuitSpec: everything needed to wire a circuit, checked where it is given."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from brian2 import Hz, Quantity, ms

from ..models.losses import MSE, SigmoidCrossEntropy
from ..models.neurons import FIRING_RATE_KINDS, NEURON_KINDS, NOISE_SOURCES, SPIKING_KINDS
from ..models.params import ParameterError
from ..models.rules import CHAIN_RULE, Plasticity, Rule
from ..models.schedule import MIRROR_SCHEME
from ..models.transfer import Transfer
from .spiking_spec import SpikingSpec

#: Time steps in which instantaneous neurons settle: one up the forward and down the
#: feedback pathway, one for the error link from feedback_l back to forward_l.
INSTANTANEOUS_SETTLE_STEPS = 2
#: Time constants allowed per leaky stage on the longest path of a rate circuit.
RATE_SETTLE_TAUS_PER_STAGE = 4
#: Time constants per leaky stage of a firing-rate circuit, whose 2 + 4L stages (relays
#: included) settle together: a chain of n equal stages settles in about n + 3 sqrt(n)
#: time constants, not 4n.
FIRING_SETTLE_TAUS_PER_STAGE = 2


@dataclass(frozen=True)
class FiringRateSpec:
    """How a firing-rate circuit (``neuron = "firing_rate"``) carries values as rates.

    Parameters
    ----------
    baseline, gain : Quantity (Hz)
        A value v (the matrix engine's activity, error or noise) is the firing rate
        ``baseline + gain * v``, clipped at 0 Hz (so values below ``-baseline / gain`` are
        lost: the circuit equals the matrix engine only while no rate is clipped).
    resting_weight : float
        Every signed weight w is a pair of synapses, excitatory ``c + w/2`` and inhibitory
        (through a relay interneuron) ``c - w/2``, around this resting weight ``c``; both
        stay >= 0 (Dale's principle) while ``|w| <= 2c``.
    """

    baseline: Quantity = field(default_factory=lambda: 40 * Hz)
    gain: Quantity = field(default_factory=lambda: 20 * Hz)
    resting_weight: float = 2.0

    def __post_init__(self):
        _check(float(self.baseline) > 0 and float(self.gain) > 0, "firing",
               "baseline and gain must be > 0 Hz", (self.baseline, self.gain))
        _check(self.resting_weight > 0, "firing.resting_weight", "must be > 0",
               self.resting_weight)


@dataclass(frozen=True, eq=False)
class CircuitSpec:
    """A layered circuit trained one sample per presentation.

    Parameters
    ----------
    sizes : tuple of int
        Layer sizes ``n_0 .. n_L`` (input first).
    transfer, output_transfer : Transfer
        Transfer functions of the hidden layers and of the output layer.
    loss : MSE or SigmoidCrossEntropy
        A loss whose output error is per unit (``softmax_xent`` couples the units).
    rule : Rule
        Any rule with a circuit form of this spec's kind (:meth:`Rule.rate_plasticity`,
        :meth:`Rule.spiking_plasticity`); :attr:`plasticity` is that form.
    lr : float
        Learning rate of W and b (the rule's own rates live in ``rule``).
    neuron : {"instantaneous", "rate", "firing_rate", "poisson", "lif"}
        ``r = phi(a)`` at once, or ``dr/dt = (phi(a) - r) / tau`` (feedback errors alike),
        or leaky neurons that fire non-negative rates with Dale's law (:mod:`.firing_rate`),
        or spiking units (:mod:`.spiking`).
    tau, dt : Quantity
        Neuron time constant (rate neurons) and simulation time step.
    mirror_scheme : {"alternating", "simultaneous"}
        As in :meth:`MatrixEngine.mirror_step`.
    settle_steps : int
        Time steps per presentation; 0 = :attr:`presentation_steps` chooses.
    noise_source : {"replay", "brian"}
        Mirror noise replayed from arrays (exact) or drawn inside Brian2.
    feedback_dale : bool
        Dale's principle in the feedback pathway: every feedback neuron has a fixed
        sign (given when the weights are set) that all its B synapses keep.
    spiking : SpikingSpec or None
        Spiking neurons' parameters; given exactly when ``neuron`` spikes ("poisson", "lif").
    firing : FiringRateSpec or None
        Firing-rate neurons' parameters; given exactly when ``neuron`` is "firing_rate".
    """

    sizes: tuple[int, ...]
    transfer: Transfer
    output_transfer: Transfer
    loss: MSE | SigmoidCrossEntropy
    rule: Rule
    lr: float
    neuron: str = "instantaneous"
    tau: Quantity = field(default_factory=lambda: 1 * ms)
    dt: Quantity = field(default_factory=lambda: 0.1 * ms)
    mirror_scheme: str = "alternating"
    settle_steps: int = 0
    noise_source: str = "replay"
    feedback_dale: bool = False
    spiking: SpikingSpec | None = None
    firing: FiringRateSpec | None = None
    plasticity: Plasticity = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(n) for n in self.sizes))
        _check(len(self.sizes) >= 2 and min(self.sizes) > 0, "sizes",
               "must list at least two positive layer sizes", self.sizes)
        _check(self.loss.name != "softmax_xent", "loss",
               "softmax_xent couples the output units (each unit's error needs every unit's "
               "net input), which a circuit of separate neurons cannot compute; use "
               "sigmoid_xent or mse for circuits", self.loss.name)
        _check(isinstance(self.loss, (MSE, SigmoidCrossEntropy)), "loss",
               "must be mse or sigmoid_xent", getattr(self.loss, "name", self.loss))
        _check(isinstance(self.rule, Rule), "rule", "must be a learning rule", self.rule)
        _check(not (self.feedback_dale and self.rule.transports_weights), "feedback_dale",
               f"has no meaning for rule {self.rule.name!r}, whose feedback copies W",
               self.feedback_dale)
        _check(self.lr > 0, "lr", "must be > 0", self.lr)
        _check(self.neuron in NEURON_KINDS, "neuron", f"must be one of {', '.join(NEURON_KINDS)}",
               self.neuron)
        MIRROR_SCHEME.check("CircuitSpec.mirror_scheme", self.mirror_scheme)
        _check(self.noise_source in NOISE_SOURCES, "noise_source",
               f"must be one of {', '.join(NOISE_SOURCES)}", self.noise_source)
        _check(float(self.tau) > 0 and float(self.dt) > 0, "tau, dt", "must be > 0",
               (self.tau, self.dt))
        _check(self.settle_steps >= 0, "settle_steps", "must be >= 0 (0 = automatic)",
               self.settle_steps)
        _check((self.spiking is not None) == (self.neuron in SPIKING_KINDS), "spiking",
               f"must be given exactly for spiking neurons ({', '.join(SPIKING_KINDS)})",
               self.spiking)
        _check(self.spiking is None or (self.spiking.lif is not None) == (self.neuron == "lif"),
               "spiking.lif", "must be given exactly for lif neurons", self.spiking)
        _check((self.firing is not None) == (self.neuron in FIRING_RATE_KINDS), "firing",
               f"must be given exactly for {', '.join(FIRING_RATE_KINDS)} neurons", self.firing)
        _check(not (self.firing is not None and self.feedback_dale), "feedback_dale",
               "is built into firing_rate circuits (every weight is an excitatory and an "
               "inhibitory synapse); leave it off", self.feedback_dale)
        object.__setattr__(self, "plasticity", self._rule_plasticity())

    def _rule_plasticity(self) -> Plasticity:
        """The rule's plasticity of B in a circuit of this kind (asked of the rule)."""
        kind = "rate" if self.spiking is None else "spiking"
        try:
            plasticity = (self.rule.rate_plasticity(self.lr) if self.spiking is None
                          else self.rule.spiking_plasticity(self.lr))
        except ParameterError as err:   # a parameter the circuit form cannot take
            field_name = (err.where or "").rsplit(".", 1)[-1]
            raise ValueError(f"CircuitSpec.rule.{field_name}: {str(err).split(': ', 1)[-1]}") \
                from None
        _check(plasticity is not None, "rule", f"rule {self.rule.name!r} has no {kind} "
               "circuit form", self.rule.name)
        _check(kind == "rate" or self.rule.error_form() == CHAIN_RULE, "rule",
               f"rule {self.rule.name!r} forms its hidden errors as "
               f"{self.rule.error_form().expression!r}, which spiking circuits do not compute",
               self.rule.name)
        return plasticity

    @property
    def n_layers(self) -> int:
        """L, the number of weight layers."""
        return len(self.sizes) - 1

    @property
    def presentation_steps(self) -> int:
        """Time steps per presentation: ``settle_steps`` or, if 0, enough to settle.

        Instantaneous neurons settle exactly in :data:`INSTANTANEOUS_SETTLE_STEPS`
        (the populations are scheduled along the signal path, see
        :mod:`mirrorlab.circuits.rate`). Rate neurons add ``2L`` leaky stages on
        the longest path (forward rates, then feedback errors), given
        :data:`RATE_SETTLE_TAUS_PER_STAGE` time constants each.
        """
        if self.spiking is not None:
            return self.spiking.presentation_steps(self.dt)
        if self.settle_steps:
            return self.settle_steps
        if self.neuron == "instantaneous":
            return INSTANTANEOUS_SETTLE_STEPS
        if self.firing is not None:   # input, relays, forward, feedback (see firing_rate)
            return math.ceil(FIRING_SETTLE_TAUS_PER_STAGE * (2 + 4 * self.n_layers)
                             * float(self.tau / self.dt))
        stages = 2 * self.n_layers
        return INSTANTANEOUS_SETTLE_STEPS + math.ceil(
            RATE_SETTLE_TAUS_PER_STAGE * stages * float(self.tau / self.dt))

    @property
    def presentation_time(self) -> Quantity:
        """``presentation_steps * dt``. (Brian2 may warn that a TimedArray's grid is not
        aligned when this ratio is not an integer in floating point; the circuit reads its
        TimedArrays only at presentation boundaries, where the rounding is harmless.)"""
        return self.presentation_steps * self.dt


def _check(ok: bool, name: str, message: str, value) -> None:
    if not ok:
        raise ValueError(f"CircuitSpec.{name}: {message} (got {value!r})")
