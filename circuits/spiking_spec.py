"""What a spiking circuit adds to a CircuitSpec: rates, traces, delays, Dale's law.

Kept apart from :mod:`.spec` (which holds one ``spiking`` field of this type) so
that the spiking parameters are checked in one place and the rate circuits do
not see them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from brian2 import Hz, Quantity, ms

from ..models.lif import LIFNeuron
from ..models.neurons import DALE_RELAYS, SIGNED_CARRIAGES
#: A presentation is split into this many parts; plasticity is off in the first one,
#: while the traces forget the previous presentation.
PRESENTATION_PARTS = 4


@dataclass(frozen=True, eq=False)
class SpikingSpec:
    """Parameters of spiking populations and spike-trace plasticity.

    A signed value ``v`` (a rate ``phi(a)``, an error ``delta``, a noise draw) is
    carried by neurons firing at ``baseline + gain * v`` (Poisson neurons: exactly, clipped
    at 0; LIF neurons: the tangent at v = 0 of their f-I curve) and read by their targets
    as ``(trace - baseline) / gain``.

    Attributes
    ----------
    baseline, gain : Quantity (Hz)
        Rate at ``v = 0`` and rate per unit of ``v``, per neuron.
    pool : int
        Neurons per unit: each unit is a pool of this many neurons with the same
        input; its readers see the pooled spike train and average over the pool, so the
        decoded value's spiking noise falls as ``1 / pool``. Poisson pools are simulated
        as one pooled spike train, LIF pools as ``pool`` member neurons.
    lif : LIFNeuron or None
        The member neurons' membrane (``neuron = "lif"`` only; its ``dt`` is the circuit's).
    signed : {"baseline"}
        How signed values are carried (see :data:`SIGNED_CARRIAGES`).
    tau_syn : Quantity (ms)
        Synaptic filter: every spike adds an exponential of this time constant to
        the postsynaptic input (weighted by ``w / gain``).
    tau_trace : Quantity (ms)
        Fast spike trace used by plasticity (``z``).
    tau_mean : Quantity (ms)
        Slow spike trace (``m``), the running mean that the covariance rule removes.
    presentation : Quantity (ms)
        Duration of one presentation (sample or mirror-noise draw).
    noise_drive : float
        Mirror noise drive, in units of the rule's sigma: a noisy population fires at
        ``baseline + gain * noise_drive * xi`` with one ``xi`` per presentation.
        0 = the neurons' own spiking variability is the only mirror noise.
    dale : bool
        Every population's outgoing synapses keep one sign; negative weights go
        through inhibitory interneurons, and weights are clipped at 0.
    dale_relay : {"rate", "copy"}
        What an inhibitory interneuron fires: new spikes at the rate it decodes from its
        partner's spikes, or its partner's spikes one step later.
    delay_forward, delay_feedback : Quantity (ms)
        Mean spike transmission delay of the W and of the B synapse groups.
    delay_spread : Quantity (ms)
        Delays are drawn uniformly in ``mean +- delay_spread`` (0 = fixed).
    """

    baseline: Quantity = field(default_factory=lambda: 30 * Hz)
    gain: Quantity = field(default_factory=lambda: 15 * Hz)
    pool: int = 20
    lif: LIFNeuron | None = None
    signed: str = "baseline"
    tau_syn: Quantity = field(default_factory=lambda: 10 * ms)
    tau_trace: Quantity = field(default_factory=lambda: 10 * ms)
    tau_mean: Quantity = field(default_factory=lambda: 1000 * ms)
    presentation: Quantity = field(default_factory=lambda: 100 * ms)
    noise_drive: float = 1.0
    dale: bool = False
    dale_relay: str = "rate"
    delay_forward: Quantity = field(default_factory=lambda: 0 * ms)
    delay_feedback: Quantity = field(default_factory=lambda: 0 * ms)
    delay_spread: Quantity = field(default_factory=lambda: 0 * ms)

    def __post_init__(self):
        _check(float(self.baseline) > 0, "baseline_hz", "must be > 0", self.baseline)
        _check(float(self.gain) > 0, "gain_hz", "must be > 0", self.gain)
        _check(self.pool >= 1, "neurons_per_unit", "must be >= 1", self.pool)
        _check(self.signed in SIGNED_CARRIAGES, "signed",
               f"must be one of {', '.join(SIGNED_CARRIAGES)} (on/off population pairs are "
               "not built yet)", self.signed)
        for name in ("tau_syn", "tau_trace", "tau_mean", "presentation"):
            _check(float(getattr(self, name)) > 0, f"{name}_ms", "must be > 0",
                   getattr(self, name))
        _check(self.tau_mean > self.tau_trace, "tau_mean_ms",
               "must be longer than tau_trace_ms (it is the slow running mean)", self.tau_mean)
        _check(self.noise_drive >= 0, "noise_drive", "must be >= 0", self.noise_drive)
        _check(self.dale_relay in DALE_RELAYS, "dale_relay",
               f"must be one of {', '.join(DALE_RELAYS)}", self.dale_relay)
        for name in ("delay_forward", "delay_feedback", "delay_spread"):
            _check(float(getattr(self, name)) >= 0, f"{name}_ms", "must be >= 0",
                   getattr(self, name))
        _check(self.delay_spread <= min(self.delay_forward, self.delay_feedback)
               or float(self.delay_spread) == 0, "delay_spread_ms",
               "must not exceed the mean delays (delays cannot be negative)", self.delay_spread)
        _check(self.lif is None or float(max(self.delay_forward, self.delay_feedback)) == 0,
               "neuron", "lif units do not take delays: a LIF unit's spike event carries the "
               "count of its members' spikes, which a delayed synapse would read when the "
               "spike arrives, not when it left", "lif")

    def structure(self) -> tuple:
        """What of these parameters is compiled into a standalone binary (the routes of
        Dale's law and the delays); the rest can change between runs of one build."""
        return (self.dale, self.dale_relay, float(self.delay_forward), float(self.delay_feedback),
                float(self.delay_spread), self.lif.synapses if self.lif else None)

    def presentation_steps(self, dt: Quantity) -> int:
        """Time steps per presentation: ``presentation / dt``, which must be a whole
        multiple of :data:`PRESENTATION_PARTS`."""
        steps = int(round(float(self.presentation / dt)))
        _check(steps % PRESENTATION_PARTS == 0 and steps > 0, "presentation_ms",
               f"must be a positive multiple of {PRESENTATION_PARTS} time steps "
               f"(dt = {dt})", self.presentation)
        return steps


def _check(ok: bool, name: str, message: str, value) -> None:
    if not ok:
        raise ValueError(f"circuit.{name}: {message} (got {value!r})")
