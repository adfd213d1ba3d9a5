"""The kinds of neuron a circuit is made of, and where a circuit's mirror noise comes from.

Rate kinds carry a value as an activity ``r`` (``instantaneous``: ``r = phi(a)`` at once;
``rate``: a leaky rate neuron). Spiking kinds carry it as spikes around a baseline rate
(``poisson``: pools of Poisson neurons; ``lif``: pools of leaky integrate-and-fire
neurons, :mod:`mirrorlab.models.lif`).
"""
RATE_KINDS = ("instantaneous", "rate")
SPIKING_KINDS = ("poisson", "lif")
NEURON_KINDS = RATE_KINDS + SPIKING_KINDS

#: Mirror noise: replayed from the matrix engine's arrays (exact), or drawn inside Brian2.
NOISE_SOURCES = ("replay", "brian")

#: How a spiking circuit carries a signed value: around a baseline rate ("onoff", a pair
#: of populations for +v and -v, is not built).
SIGNED_CARRIAGES = ("baseline",)

#: How Dale's inhibitory interneurons relay their partner: firing at the rate they decode
#: from its spikes, or copying its spikes one step later.
DALE_RELAYS = ("rate", "copy")
