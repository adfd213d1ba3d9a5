"""What a spiking circuit adds to a CircuitSpec: rates, traces, delays, Dale's law.

Kept apart from :mod:`.spec` (which holds one ``spiking`` field of this type) so that
the rate circuits do not see them. The parameters are checked against the declarations of
:mod:`mirrorlab.models.neurons`, which the config's ``[circuit]`` section uses too.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from brian2 import Hz, Quantity, ms

from ..models.lif import LIFNeuron
from ..models.neurons import check_spiking, learning_parts, presentation_steps


@dataclass(frozen=True, eq=False)
class SpikingSpec:
    """Parameters of spiking populations and spike-trace plasticity.

    A signed value ``v`` (a rate ``phi(a)``, an error ``delta``, a noise draw) is
    carried by neurons firing at ``baseline + gain * v`` (Poisson neurons: exactly, clipped
    at 0 and at one pooled spike per time step, ``1 / (pool * dt)`` per neuron, 100 Hz for
    pools of 20 at 0.5 ms; LIF neurons: the tangent at v = 0 of their f-I curve, which
    compresses values below about -0.5 and above +1, see docs/spiking.md) and read by their
    targets as ``(trace - baseline) / gain``.

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
    partner_link : {"net_input", "spikes"}
        What a feedback neuron reads of its forward partner to form its error: its net
        input ``a`` through an analog one-to-one link, or only its spikes (the output
        population fires its prediction; the output error and ``phi'`` are computed from
        the rate decoded from the partner's spikes, so that they are linear, or nearly,
        in the spike noise instead of a nonlinear function of a noisy ``a``).
    error_gate : {"none", "engaged"}
        When the output error units carry the error: in every presentation, or only in
        engaged ones (in mirror presentations, which have no label, they fire at baseline,
        so no label-less error is left in the loop when the next engaged one learns).
    mean_trace : {"always", "mirror"}
        When the slow trace ``m`` that the covariance rule subtracts follows the forward
        partner's spikes: always (a running mean over engaged and mirror presentations),
        or only in the learning part of its layer's mirror presentations.
    learning_onset : Quantity (ms)
        Plasticity is off in this first part of every presentation, while the loop settles
        to the new input (0 ms = a quarter of the presentation); it must divide the
        presentation into equal parts (the learning gates' time step).
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
    partner_link: str = "net_input"
    error_gate: str = "none"
    mean_trace: str = "always"
    learning_onset: Quantity = field(default_factory=lambda: 0 * ms)
    delay_forward: Quantity = field(default_factory=lambda: 0 * ms)
    delay_feedback: Quantity = field(default_factory=lambda: 0 * ms)
    delay_spread: Quantity = field(default_factory=lambda: 0 * ms)

    def __post_init__(self):
        check_spiking(self.parameters(), "lif" if self.lif is not None else "poisson")

    def parameters(self) -> dict:
        """These parameters in the names and units of the config's ``[circuit]`` section."""
        return {"baseline_hz": float(self.baseline / Hz), "gain_hz": float(self.gain / Hz),
                "neurons_per_unit": self.pool, "signed": self.signed,
                **{f"{name}_ms": float(getattr(self, name) / ms)
                   for name in ("tau_syn", "tau_trace", "tau_mean", "presentation",
                                "learning_onset", "delay_forward", "delay_feedback", "delay_spread")},
                "noise_drive": self.noise_drive, "dale_relay": self.dale_relay,
                "partner_link": self.partner_link, "error_gate": self.error_gate,
                "mean_trace": self.mean_trace}

    def structure(self) -> tuple:
        """What of these parameters is compiled into a standalone binary (the routes of
        Dale's law and the delays); the rest can change between runs of one build."""
        return (self.dale, self.dale_relay, self.partner_link, self.error_gate, self.mean_trace,
                self.parts,
                float(self.delay_forward), float(self.delay_feedback), float(self.delay_spread),
                self.lif.synapses if self.lif else None)

    @property
    def parts(self) -> int:
        """Parts of a presentation, plasticity off in the first (``learning_onset``)."""
        return learning_parts(float(self.presentation / ms), float(self.learning_onset / ms))

    def presentation_steps(self, dt: Quantity) -> int:
        """Time steps per presentation: ``presentation / dt``, a whole multiple of
        :attr:`parts`."""
        return presentation_steps(float(self.presentation / ms), float(dt / ms),
                                  float(self.learning_onset / ms))
