"""Leaky integrate-and-fire neurons with membrane noise: their firing rate and the drive
that makes them carry a signed value around a baseline rate.

The membrane potential ``V`` is measured in units of the distance from rest (0) to
threshold (1); a spike resets it to 0 and holds it there for ``refractory``:

- current-based: ``dV/dt = (mu - V) / tau_m + sigma sqrt(2 / tau_m) xi``, the drive
  ``mu`` is an input current (in units of threshold);
- conductance-based: ``dV/dt = (-V + g_e (E_e - V) + g_i (E_i - V)) / tau_m
  + sigma sqrt(2 / tau_m) xi``, the drive is the excitatory conductance ``g_e`` (in units
  of the leak conductance) against a fixed inhibitory one ``g_i``. With biological
  potentials (rest -70 mV, threshold -55 mV, E_e 0 mV, E_i -80 mV) ``E_e = 14/3`` and
  ``E_i = -2/3``.

``sigma`` is the standard deviation of the free membrane potential (no threshold) of
the current-based neuron. The stationary rate follows the Siegert formula (Brunel 2000,
eq. 21) for an Ornstein-Uhlenbeck membrane; the conductance-based neuron is an
Ornstein-Uhlenbeck membrane with the effective time constant
``tau_m / (1 + g_e + g_i)`` and mean ``(g_e E_e + g_i E_i) / (1 + g_e + g_i)``.
On a time grid of ``dt`` (Euler-Maruyama) two things change, and :func:`firing_rate`
corrects for both: the free membrane's variance grows by ``1 / (1 - dt / (2 tau))``,
and threshold crossings between steps are missed, which acts as threshold and reset
shifted up by ``beta`` times the noise of one step, ``beta = |zeta(1/2)| / sqrt(2 pi)
= 0.5826`` (the continuity correction of a discretely watched barrier: Siegmund 1979;
Broadie, Glasserman & Kou 1997).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize, special

#: How a LIF neuron's drive enters its membrane.
SYNAPSE_KINDS = ("current", "conductance")
#: Mean overshoot of a Gaussian random walk over a barrier, in units of one step's sd.
BARRIER_OVERSHOOT = abs(special.zeta(0.5)) / np.sqrt(2 * np.pi)


@dataclass(frozen=True)
class LIFNeuron:
    """A noisy leaky integrate-and-fire neuron (times in seconds, potentials in units of
    threshold - rest).

    Attributes
    ----------
    tau_m, refractory : float (s)
        Membrane time constant and absolute refractory period.
    sigma : float
        Standard deviation of the free membrane potential (current-based neuron).
    synapses : {"current", "conductance"}
        What the drive is: an input current ``mu`` or an excitatory conductance ``g_e``.
    E_e, E_i, g_i : float
        Reversal potentials and the fixed inhibitory conductance (conductance-based).
    dt : float (s) or 0
        Time step of the simulation whose rates are wanted (0: continuous time).
    """

    tau_m: float = 0.020
    refractory: float = 0.002
    sigma: float = 0.3
    synapses: str = "current"
    E_e: float = 14 / 3
    E_i: float = -2 / 3
    g_i: float = 0.5
    dt: float = 0.0

    def __post_init__(self):
        if self.synapses not in SYNAPSE_KINDS:
            raise ValueError(f"synapses must be one of {', '.join(SYNAPSE_KINDS)} "
                             f"(got {self.synapses!r})")
        for name in ("tau_m", "sigma"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0 (got {getattr(self, name)!r})")
        for name in ("refractory", "dt", "g_i"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (got {getattr(self, name)!r})")
        if self.synapses == "conductance" and not self.E_e > 1:
            raise ValueError(f"E_e must lie above threshold (1) (got {self.E_e!r})")

    def membrane(self, drive: float) -> tuple[float, float, float]:
        """``(mean, sd, tau)`` of the free membrane potential at ``drive``."""
        if self.synapses == "current":
            return drive, self.sigma, self.tau_m
        g_e = max(drive, 0.0)
        total = 1 + g_e + self.g_i
        tau = self.tau_m / total
        return (g_e * self.E_e + self.g_i * self.E_i) / total, self.sigma * np.sqrt(tau / self.tau_m), tau


def firing_rate(neuron: LIFNeuron, drive: float) -> float:
    """Stationary firing rate (Hz) of ``neuron`` at a constant ``drive``."""
    mean, sd, tau = neuron.membrane(drive)
    if neuron.dt > 0:
        sd = sd / np.sqrt(1 - neuron.dt / (2 * tau))
    sigma_B = np.sqrt(2.0) * sd                   # Brunel's noise amplitude
    shift = BARRIER_OVERSHOOT * sigma_B * np.sqrt(neuron.dt / tau)   # one step's noise
    upper, lower = (1 + shift - mean) / sigma_B, (shift - mean) / sigma_B
    # e^{u^2} (1 + erf u) = erfcx(-u): finite where the plain product overflows
    passage, _ = integrate.quad(lambda u: special.erfcx(-u), lower, upper, limit=200)
    return 1.0 / (neuron.refractory + tau * np.sqrt(np.pi) * passage)


@dataclass(frozen=True)
class RateCoding:
    """The drive ``rest + slope * v`` under which a LIF neuron fires at ``baseline`` Hz
    for ``v = 0`` with ``gain`` Hz per unit of ``v`` (the tangent of its f-I curve)."""

    rest: float
    slope: float


def rate_coding(neuron: LIFNeuron, baseline: float, gain: float) -> RateCoding:
    """Solve for the drive of a rate code ``baseline + gain v`` (Hz) at ``v = 0``.

    Raises ValueError when ``baseline`` cannot be reached (at or above ``1/refractory``).
    """
    top = 1.0 / neuron.refractory if neuron.refractory > 0 else np.inf
    if not 0 < baseline < 0.95 * top:
        raise ValueError(f"a LIF neuron with a {neuron.refractory * 1e3:g} ms refractory period "
                         f"cannot fire at a baseline of {baseline:g} Hz")
    low, high = (-5.0, 20.0) if neuron.synapses == "current" else (0.0, 20.0)
    rest = optimize.brentq(lambda d: firing_rate(neuron, d) - baseline, low, high, xtol=1e-10)
    step = 1e-4 * max(1.0, abs(rest))
    slope_hz = (firing_rate(neuron, rest + step) - firing_rate(neuron, rest - step)) / (2 * step)
    return RateCoding(rest=rest, slope=gain / slope_hz)
