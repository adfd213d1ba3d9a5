"""What a spiking circuit's neurons and synapses compute, as Brian2 equation strings.

Templates in the style of :mod:`.equations`: parameters are ``(shared, constant)``
variables; ``{p}`` names a pathway (``ff``: W, ``fb``: B, ``*_inh``: an inhibitory route
of Dale's law), ``{weight}`` a synapse variable and ``{sign}`` +1 or -1. How they fit
together is in :mod:`.spiking`; the rules' own spiking plasticity is in
``models/rules``. :func:`covariance_gain` is the theory of the weight mirror's spiking
(covariance) rule.
"""
from __future__ import annotations

import numpy as np
from brian2 import Quantity, ms

# --- neurons -------------------------------------------------------------------------------

#: A unit: a pool of ``pool`` neurons with one input, carrying the signed value ``v``
#: around its baseline. Its spike event at a time step carries ``n_spikes`` neuron spikes.
UNIT = """
    baseline : Hz (shared, constant)
    gain : Hz (shared, constant)
    pool : 1 (shared, constant)
    """
#: A Poisson unit is simulated as its pooled spike train, inhomogeneous Poisson at ``pool``
#: times the rate, with at most one spike per time step (``pool * rate * dt`` < 1).
POISSON_RATE = UNIT + """
    rate = clip(baseline + gain * v, 0*Hz, inf*Hz) : Hz
    n_spikes = 1 : 1
    """
POISSON_THRESHOLD = "rand() < pool * rate * dt"
#: A counting unit issues spikes that arrive from elsewhere, counted at ``arrivals`` and
#: issued one step later as one event: a LIF unit's come from its ``pool`` member neurons
#: (:data:`LIF_CURRENT`, :data:`LIF_CONDUCTANCE`), a copying relay's from its partner.
COUNTING_UNIT = UNIT + """
    n_spikes : 1
    arrivals : 1
    """
COUNTING_THRESHOLD = "n_spikes > 0"
ISSUE_COUNT = "n_spikes = arrivals\narrivals = 0"
MEMBER_ARRIVES = "arrivals_post += 1"
COPY_SPIKE = "arrivals_post += n_spikes_pre"
#: The unit's value ``v`` read by each of its member neurons.
MEMBER_VALUE = "v_unit_post = v_pre : 1 (summed)"

#: LIF member neurons (``V`` in units of threshold - rest, see :mod:`mirrorlab.models.lif`)
#: driven by ``rest + slope * v`` as a current or an excitatory conductance.
LIF_MEMBRANE = """
    v_unit : 1
    tau_m : second (shared, constant)
    t_ref : second (shared, constant)
    sigma_m : 1 (shared, constant)
    rest : 1 (shared, constant)
    slope : 1 (shared, constant)
    """
LIF_CURRENT = LIF_MEMBRANE + """
    dV/dt = (rest + slope * v_unit - V) / tau_m + sigma_m * sqrt(2 / tau_m) * xi : 1 (unless refractory)
    """
LIF_CONDUCTANCE = LIF_MEMBRANE + """
    dV/dt = (-V + g_e * (E_e - V) + g_i * (E_i - V)) / tau_m
            + sigma_m * sqrt(2 / tau_m) * xi : 1 (unless refractory)
    g_e = clip(rest + slope * v_unit, 0, inf) : 1
    E_e : 1 (shared, constant)
    E_i : 1 (shared, constant)
    g_i : 1 (shared, constant)
    """
LIF_MEMBRANES = {"current": LIF_CURRENT, "conductance": LIF_CONDUCTANCE}


def trace_jump(tau: str, pool: str = "pool", count: str = "n_spikes") -> str:
    """What one spike event of a unit of ``pool`` neurons (``count`` spikes) adds to an
    exponential trace of time constant ``tau`` (identifiers), normalised so that the
    trace's mean is the firing rate per neuron, in Hz."""
    return f"{count} * (1 - exp(-dt / {tau})) / (dt * {pool})"


#: The neuron's own spike trace ``z`` and what it decodes from it (``own``: r or delta).
OWN_TRACE = """
    dz/dt = -z / tau_trace : Hz
    own = (z - baseline) / gain : 1
    tau_trace : second (shared, constant)
    """
OWN_SPIKE = f"z += {trace_jump('tau_trace')}"

#: Filtered, weighted input from a synapse group into ``I_{p}`` (p a pathway name), minus
#: what the group brings at baseline (``base_{p}``, summed by the group).
FILTERED_INPUT = """
    ds_{p}/dt = -s_{p} / tau_syn : 1
    base_{p} : 1
    """
SYNAPTIC_TIME = "tau_syn : second (shared, constant)"

#: forward_l, l >= 1: net input from W (and the inhibitory route), bias, and the error
#: decoded from the spikes of the feedback partner.
FORWARD_NET_INPUT = """
    a = I_ff + b : 1
    b : 1
    de_tr/dt = -e_tr / tau_syn : Hz
    delta = (e_tr - baseline) / gain : 1
    eta_b : 1/second (shared, constant)
    """

#: feedback_l: traces of the forward partner's spikes (fast ``z_fwd``, slow ``m_fwd``) and
#: the partner's value decoded from them.
PARTNER_TRACES = """
    dz_fwd/dt = -z_fwd / tau_trace : Hz
    dm_fwd/dt = -m_fwd / tau_mean : Hz
    x_fwd = (z_fwd - baseline) / gain : 1
    tau_mean : second (shared, constant)
    """
PARTNER_SPIKE = (f"z_fwd_post += {trace_jump('tau_trace_post', 'pool_pre', 'n_spikes_pre')}\n"
                 f"m_fwd_post += {trace_jump('tau_mean_post', 'pool_pre', 'n_spikes_pre')}")

#: ``mean_trace = "mirror"``: the slow trace follows the partner only while ``mean_on``
#: (the learning part of the layer's mirror presentations) and holds still otherwise, so
#: it is the mean of the presentations the covariance rule learns from.
MIRROR_MEAN_TRACES = PARTNER_TRACES.replace("-m_fwd / tau_mean", "-mean_on * m_fwd / tau_mean")
MIRROR_MEAN_GATE = "mean_on = mirror_now(t, layer) : 1"
MIRROR_MEAN_SPIKE = PARTNER_SPIKE.replace("m_fwd_post += ", "m_fwd_post += mean_on_post * ")

#: feedback_L: the label decoded from the target population's spikes.
LABEL_TRACE = """
    dy_tr/dt = -y_tr / tau_syn : Hz
    y_hat = (y_tr - baseline) / gain : 1
    """
LABEL_SPIKE = f"y_tr_post += {trace_jump('tau_syn_post', 'pool_pre', 'n_spikes_pre')}"

#: forward_l -> feedback_l: the net input a feedback neuron sees beside its partner
#: (the analog one-to-one link of the rate circuit; it shapes phi'(a) and the output error).
NET_INPUT_LINK = "a_fwd_post = a_pre : 1 (summed)"
ERROR_SPIKE = f"e_tr_post += {trace_jump('tau_syn_post', 'pool_pre', 'n_spikes_pre')}"

#: An inhibitory interneuron relaying its partner's spikes (``dale_relay = "rate"``): it
#: fires at the rate it decodes.
RELAY = """
    v = (e_tr - baseline) / gain : 1
    de_tr/dt = -e_tr / tau_syn : Hz
    """

# --- synapses ------------------------------------------------------------------------------

#: A dense projection into pathway ``p`` of its target (``weight``: the weight variable).
PROJECTION = """
    {weight} : 1
    base_{p}_post = {weight} * baseline_pre / gain_pre : 1 (summed)
    """
#: W's plasticity parameters (rates per second of learning time; a rule's plasticity of B
#: declares its own, see :func:`~mirrorlab.circuits.equations.shared_constants`).
FORWARD_PLASTIC = """
    eta : 1/second (shared, constant)
    decay : 1/second (shared, constant)
    """
PROJECTION_SPIKE = ("s_{p}_post += {weight} * " + trace_jump("tau_syn_post", "pool_pre", "n_spikes_pre")
                    + " / gain_pre")

#: W's plasticity, applied every time step (``{weight}`` and ``{sign}``: +1 excitatory, -1
#: inhibitory route); with Dale's law every route is then clipped at 0.
FORWARD_LEARNING = ("{weight} += dt * engaged_now(t) * "
                    "(-{sign} * eta * delta_post * own_pre - decay * {weight})")
CLIP_AT_ZERO = "{weight} = clip({weight}, 0, inf)"
BIAS_LEARNING = "b += dt * engaged_now(t) * (-eta_b * delta)"


def covariance_gain(rate: Quantity, gain: Quantity, tau_syn: Quantity, tau_trace: Quantity,
                    tau_mean: Quantity, dt: Quantity, delay: Quantity = 0 * ms,
                    pool: int = 1) -> float:
    """Expected drive of the spike-trace covariance rule per unit of W, on the time grid.

    A Poisson neuron j at constant ``rate`` drives a Poisson neuron i at
    ``rate + W_ij (s_j - rate)``, with ``s_j`` its spike train filtered by ``tau_syn``
    and arriving ``delay`` later. With ``z`` fast (``tau_trace``) and ``m`` slow
    (``tau_mean``) traces of each, the covariance rule's drive has expectation
    ``E[(z_i - m_i)(z_j - m_j)] / gain^2 = W_ij * covariance_gain(...)`` (dimensionless).

    Notes
    -----
    Time steps of ``dt``; a unit is a pool of ``M = pool`` neurons whose pooled spike
    is a Bernoulli event of probability ``p = M rate dt``. A trace of decay
    ``a = exp(-dt/tau)`` adds ``c/M``, ``c = (1 - a)/dt``, per pooled spike. A spike of
    j at step q raises i's pooled spike probability at step q + k by ``W dt c_s s^(k - D)``
    for ``k > D``
    (``s`` the synaptic decay, ``D = delay/dt``: the input is filtered after the
    spike's step, then read at the next). For a trace of decay ``a`` on i's spikes
    and ``b`` on j's, summing the geometric series gives
    ``Cov = W dt p (1 - p) c_a c_b c_s / M^2 / (1 - ab) * bs / (1 - bs) * b^D``; the
    rule's drive is ``K(z, z) - K(z, m) - K(m, z) + K(m, m)``. For ``dt -> 0``,
    ``K(a, b) -> W rate / M tau_b / ((tau_a + tau_b)(tau_b + tau_s)) exp(-delay/tau_b)``:
    the spiking variability that the rule feeds on is averaged down by the pool.
    """
    step = float(dt)
    p = pool * float(rate) * step
    decay = {name: np.exp(-step / float(tau)) for name, tau in
             (("z", tau_trace), ("m", tau_mean), ("s", tau_syn))}
    jump = {name: (1 - a) / step for name, a in decay.items()}
    lag = int(round(float(delay) / step))

    def K(i_side: str, j_side: str) -> float:
        a, b, s = decay[i_side], decay[j_side], decay["s"]
        return (step * p * (1 - p) * jump[i_side] * jump[j_side] * jump["s"] / pool ** 2
                / (1 - a * b) * b * s / (1 - b * s) * b ** lag)

    return (K("z", "z") - K("z", "m") - K("m", "z") + K("m", "m")) / float(gain) ** 2
