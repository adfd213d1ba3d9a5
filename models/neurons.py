"""The kinds of neuron a circuit is made of, and where a circuit's mirror noise comes from.

Rate kinds carry a value as an activity ``r`` (``instantaneous``: ``r = phi(a)`` at once;
``rate``: a leaky rate neuron). ``firing_rate`` neurons are leaky rate neurons
that fire ``baseline_hz + gain_hz * r`` Hz and talk to each other only through those
rates. Spiking kinds carry it as spikes around a baseline rate
(``poisson``: pools of Poisson neurons; ``lif``: pools of leaky integrate-and-fire
neurons, :mod:`mirrorlab.models.lif`).
"""
import math

from .params import non_negative, one_of, positive, require, satisfies

RATE_KINDS = ("instantaneous", "rate")
#: Leaky rate neurons that fire non-negative rates around a baseline, with Dale's law,
#: noise populations and an output that fires its prediction (:mod:`circuits.firing_rate`).
FIRING_RATE_KINDS = ("firing_rate",)
SPIKING_KINDS = ("poisson", "lif")
NEURON_KINDS = RATE_KINDS + FIRING_RATE_KINDS + SPIKING_KINDS

#: Mirror noise: replayed from the matrix engine's arrays (exact), or drawn inside Brian2.
NOISE_SOURCES = ("replay", "brian")

#: How a spiking circuit carries a signed value: around a baseline rate ("onoff", a pair
#: of populations for +v and -v, is not built).
SIGNED_CARRIAGES = ("baseline",)

#: How Dale's inhibitory interneurons relay their partner: firing at the rate they decode
#: from its spikes, or copying its spikes one step later.
DALE_RELAYS = ("rate", "copy")

#: What a spiking feedback neuron reads of its forward partner to form its error: the
#: partner's net input through an analog one-to-one link (as the rate circuit does), or
#: only the partner's spikes (the output population then fires its prediction, and the
#: output error and phi' are computed from the rate decoded from those spikes).
PARTNER_LINKS = ("net_input", "spikes")

#: When a spiking circuit's output error units carry the error: in every presentation
#: ("none": mirror presentations have no label, so the error is the prediction itself), or
#: only in engaged presentations, the label's ("engaged": at baseline in mirror ones).
ERROR_GATES = ("none", "engaged")

#: When the weight mirror's covariance rule updates the slow mean ``m`` that it subtracts
#: from a forward partner's spike trace: always (a running mean over every kind of
#: presentation), or only in the learning part of its layer's mirror presentations (the
#: mean of the very presentations it learns from).
MEAN_TRACES = ("always", "mirror")

#: A spiking presentation is split into this many parts, unless ``learning_onset_ms`` sets
#: the part; plasticity is off in the first one, while the loop settles to the new input.
PRESENTATION_PARTS = 4

#: What each parameter of spiking neurons accepts, in the config's units (``[circuit]``:
#: Hz, ms, counts). The config and :class:`~mirrorlab.circuits.spiking_spec.SpikingSpec`
#: both check against these declarations and :func:`check_spiking_combination`.
SPIKING_PARAMETERS = {
    "baseline_hz": (positive,),
    "gain_hz": (positive,),
    "neurons_per_unit": (satisfies(lambda v: v >= 1, "must be >= 1"),),
    "signed": (one_of(*SIGNED_CARRIAGES),),
    "tau_syn_ms": (positive,),
    "tau_trace_ms": (positive,),
    "tau_mean_ms": (positive,),
    "presentation_ms": (positive,),
    "noise_drive": (non_negative,),
    "dale_relay": (one_of(*DALE_RELAYS),),
    "partner_link": (one_of(*PARTNER_LINKS),),
    "error_gate": (one_of(*ERROR_GATES),),
    "learning_onset_ms": (non_negative,),
    "mean_trace": (one_of(*MEAN_TRACES),),
    "delay_forward_ms": (non_negative,),
    "delay_feedback_ms": (non_negative,),
    "delay_spread_ms": (non_negative,),
}


def check_spiking(values: dict, neuron: str, where: str = "circuit") -> None:
    """Check spiking parameters ``values`` (names and units of :data:`SPIKING_PARAMETERS`)
    of units of ``neuron`` kind: each against its declaration, then the combinations (the
    presentation against the time step: :func:`presentation_steps`); the error names
    ``{where}.{field}``."""
    for name, allowed in SPIKING_PARAMETERS.items():
        for rule in allowed:
            rule.check(f"{where}.{name}", values[name])
    require(values["tau_mean_ms"] > values["tau_trace_ms"], f"{where}.tau_mean_ms",
            "must be longer than tau_trace_ms (it is the slow running mean)",
            values["tau_mean_ms"])
    spread, mean = values["delay_spread_ms"], min(values["delay_forward_ms"],
                                                  values["delay_feedback_ms"])
    require(spread <= mean or spread == 0, f"{where}.delay_spread_ms",
            "must not exceed the mean delays (delays cannot be negative)", spread)
    require(neuron != "lif" or max(values["delay_forward_ms"], values["delay_feedback_ms"]) == 0,
            f"{where}.neuron", "lif units do not take delays: a LIF unit's spike event carries "
            "the count of its members' spikes, which a delayed synapse would read when the "
            "spike arrives, not when it left", neuron)


def learning_parts(presentation_ms: float, learning_onset_ms: float,
                   where: str = "circuit") -> int:
    """Parts of a spiking presentation, plasticity off in the first: ``presentation /
    learning_onset`` (a whole number >= 2), or :data:`PRESENTATION_PARTS` for onset 0."""
    if learning_onset_ms == 0:
        return PRESENTATION_PARTS
    parts = int(round(presentation_ms / learning_onset_ms))
    require(parts >= 2 and math.isclose(parts * learning_onset_ms, presentation_ms),
            f"{where}.learning_onset_ms", f"must divide presentation_ms ({presentation_ms:g}) "
            "into two or more equal parts (0 = a quarter of it)", learning_onset_ms)
    return parts


def presentation_steps(presentation_ms: float, dt_ms: float, learning_onset_ms: float = 0.0,
                       where: str = "circuit") -> int:
    """Time steps of a spiking presentation: ``presentation / dt``, which must be a positive
    whole multiple of its parts (:func:`learning_parts`)."""
    parts = learning_parts(presentation_ms, learning_onset_ms, where)
    steps = int(round(presentation_ms / dt_ms))
    require(steps % parts == 0 and steps > 0, f"{where}.presentation_ms",
            f"must be a positive multiple of {parts} time steps (dt = {dt_ms:g} ms)",
            presentation_ms)
    return steps
