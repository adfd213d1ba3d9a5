"""CircuitSpec: everything needed to wire a circuit, checked where it is given."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from brian2 import Hz, Quantity, ms

from ..models.losses import MSE, SigmoidCrossEntropy, get_loss
from ..models.rules import Rule
from ..models.transfer import Transfer, get_transfer
from ..sims.config import MIRROR_SCHEMES, NEURON_KINDS, NOISE_SOURCES, ConfigError, make_rule
from .learning import FEEDBACK_LEARNING
from ..models.lif import LIFNeuron
from .spiking_spec import SPIKING_KINDS, SpikingSpec

#: Time steps in which instantaneous neurons settle: one up the forward and down the
#: feedback pathway, one for the error link from feedback_l back to forward_l.
INSTANTANEOUS_SETTLE_STEPS = 2
#: Time constants allowed per leaky stage on the longest path of a rate circuit.
RATE_SETTLE_TAUS_PER_STAGE = 4


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
        ``fa``, ``wm``, ``kp`` or ``bp`` (see :data:`.learning.FEEDBACK_LEARNING`).
    lr : float
        Learning rate of W and b (the rule's own rates live in ``rule``).
    neuron : {"instantaneous", "rate", "poisson", "lif"}
        ``r = phi(a)`` at once, or ``dr/dt = (phi(a) - r) / tau`` (feedback errors alike),
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
        _check(type(self.rule) in FEEDBACK_LEARNING, "rule",
               "circuits support fa, ss, wm, kp and bp", getattr(self.rule, "name", self.rule))
        _check(not (self.feedback_dale and self.rule.transports_weights), "feedback_dale",
               f"has no meaning for rule {self.rule.name!r}, whose feedback copies W",
               self.feedback_dale)
        _check(getattr(self.rule, "target_std", 0.0) == 0.0, "rule.target_std",
               "growth control rescales B by its global norm, which is not local; circuits "
               "need target_std = 0", getattr(self.rule, "target_std", None))
        _check(self.lr > 0, "lr", "must be > 0", self.lr)
        _check(self.neuron in NEURON_KINDS, "neuron", f"must be one of {', '.join(NEURON_KINDS)}",
               self.neuron)
        _check(self.mirror_scheme in MIRROR_SCHEMES, "mirror_scheme",
               f"must be one of {', '.join(MIRROR_SCHEMES)}", self.mirror_scheme)
        _check(self.noise_source in NOISE_SOURCES, "noise_source",
               f"must be one of {', '.join(NOISE_SOURCES)}", self.noise_source)
        _check(float(self.tau) > 0 and float(self.dt) > 0, "tau, dt", "must be > 0",
               (self.tau, self.dt))
        _check(self.settle_steps >= 0, "settle_steps", "must be >= 0 (0 = automatic)",
               self.settle_steps)
        _check((self.spiking is not None) == (self.neuron in SPIKING_KINDS), "spiking",
               f"must be given exactly for spiking neurons ({', '.join(SPIKING_KINDS)})",
               self.spiking)
        _check(self.spiking is None or self.rule.name in ("fa", "wm", "kp"), "rule",
               "spiking circuits support fa, wm and kp", self.rule.name)
        _check(self.spiking is None or (self.spiking.lif is not None) == (self.neuron == "lif"),
               "spiking.lif", "must be given exactly for lif neurons", self.spiking)

    @property
    def n_layers(self) -> int:
        """L, the number of weight layers."""
        return len(self.sizes) - 1

    @property
    def presentation_steps(self) -> int:
        """Time steps per presentation: ``settle_steps`` or, if 0, enough to settle.

        Instantaneous neurons settle exactly in :data:`INSTANTANEOUS_SETTLE_STEPS`
        (the populations are scheduled along the signal path, see
        :mod:`mirrorlab.circuits.build`). Rate neurons add ``2L`` leaky stages on
        the longest path (forward rates, then feedback errors), given
        :data:`RATE_SETTLE_TAUS_PER_STAGE` time constants each.
        """
        if self.spiking is not None:
            return self.spiking.presentation_steps(self.dt)
        if self.settle_steps:
            return self.settle_steps
        if self.neuron == "instantaneous":
            return INSTANTANEOUS_SETTLE_STEPS
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


def spec_from_config(config) -> CircuitSpec:
    """The :class:`CircuitSpec` a :class:`mirrorlab.sims.config.Config` describes.

    Circuits present one sample at a time, so ``training.batch_size`` must be 1,
    ``training.momentum`` and ``training.weight_decay`` 0, and
    ``schedule.mirror_batch_size`` 0 or 1. Of ``[constraints]``, ``feedback_dale`` is
    wired; ``feedback_levels`` is not (see the error it raises).
    """
    training, schedule, circuit = config.training, config.schedule, config.circuit
    for where, value, ok, allowed in (
            ("training.batch_size", training.batch_size, training.batch_size == 1, "must be 1"),
            ("training.momentum", training.momentum, training.momentum == 0, "must be 0"),
            ("training.weight_decay", training.weight_decay, training.weight_decay == 0,
             "must be 0"),
            ("schedule.mirror_batch_size", schedule.mirror_batch_size,
             schedule.mirror_batch_size in (0, 1), "must be 0 or 1")):
        if not ok:
            raise ConfigError(f"{where}: {allowed} for circuits, which learn from one sample "
                              f"(or one noise draw) per presentation (got {value!r})")
    if config.constraints.feedback_levels:
        raise ConfigError("constraints.feedback_levels: not in circuits: the level step "
                          "follows mean|B| over a whole synapse group, which no single "
                          "synapse sees; must be 0 for circuits (got "
                          f"{config.constraints.feedback_levels!r})")
    network = config.network
    try:
        return _spec(config, network, training, schedule, circuit)
    except ValueError as err:   # name the config field, not the spec's
        message = str(err)
        for spec_field, config_field in CONFIG_FIELDS.items():
            message = message.replace(f"CircuitSpec.{spec_field}:", f"{config_field}:")
        raise ConfigError(message) from None


#: The config field behind each CircuitSpec field, for error messages.
CONFIG_FIELDS = {"feedback_dale": "constraints.feedback_dale", "loss": "network.loss",
                 "lr": "training.lr", "rule": "rule.name",
                 "mirror_scheme": "schedule.mirror_scheme", "neuron": "circuit.neuron",
                 "noise_source": "circuit.noise_source", "settle_steps": "circuit.settle_steps",
                 "sizes": "network.sizes"}


def _spec(config, network, training, schedule, circuit) -> CircuitSpec:
    return CircuitSpec(
        sizes=tuple(network.sizes), transfer=get_transfer(network.transfer),
        output_transfer=get_transfer(network.output_transfer),
        loss=get_loss(network.loss, network.output_transfer), rule=make_rule(config.rule),
        lr=training.lr, neuron=circuit.neuron, tau=circuit.tau_ms * ms, dt=circuit.dt_ms * ms,
        mirror_scheme=schedule.mirror_scheme, settle_steps=circuit.settle_steps,
        noise_source=circuit.noise_source, feedback_dale=config.constraints.feedback_dale,
        spiking=_spiking(circuit))


def _spiking(circuit) -> SpikingSpec | None:
    """The spiking parameters of ``[circuit]``, if its neurons spike."""
    if circuit.neuron not in SPIKING_KINDS:
        return None
    lif = LIFNeuron(tau_m=circuit.lif_tau_m_ms * 1e-3, refractory=circuit.lif_refractory_ms * 1e-3,
                    sigma=circuit.lif_sigma, synapses=circuit.lif_synapses) \
        if circuit.neuron == "lif" else None
    return SpikingSpec(
        baseline=circuit.baseline_hz * Hz, gain=circuit.gain_hz * Hz,
        pool=circuit.neurons_per_unit, lif=lif, signed=circuit.signed,
        tau_syn=circuit.tau_syn_ms * ms, tau_trace=circuit.tau_trace_ms * ms,
        tau_mean=circuit.tau_mean_ms * ms, presentation=circuit.presentation_ms * ms,
        noise_drive=circuit.noise_drive, dale=circuit.dale, dale_relay=circuit.dale_relay,
        delay_forward=circuit.delay_forward_ms * ms,
        delay_feedback=circuit.delay_feedback_ms * ms, delay_spread=circuit.delay_spread_ms * ms)
