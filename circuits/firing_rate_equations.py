"""What a firing-rate circuit's neurons and synapses compute, as Brian2 equation strings.

Every population is a leaky rate neuron: its value ``v`` (``r`` in forward, relay, noise
and target populations, ``delta`` in feedback populations) follows
``dv/dt = (v_inf - v) / tau`` and it fires

    rho = gain * clip(v + rho0 / gain, 0, inf)        (Hz),

the baseline rate ``rho0`` plus ``gain`` per unit of value, never below 0 Hz. Neurons
talk to each other only through ``rho``: a synapse reads its presynaptic value as the
deviation of the presynaptic rate from its baseline, ``(rho_pre - rho0_pre) / gain_pre``
(:data:`DECODED_PRE`), which is ``v_pre`` while the rate is not clipped. The baseline
input this leaves out (``w * rho0 / gain``) is the tonic drive that a balanced,
homeostatic circuit cancels; modelling it would only add a constant per neuron.

The values are those of the abstract rate circuit (:mod:`.equations`), so a settled
firing-rate circuit computes what the matrix engine computes. What differs is how they
are carried: every population fires a non-negative rate; every signed weight is two
non-negative synapses, one excitatory and one through an inhibitory relay interneuron
(Dale's principle); the mirror noise is the rate of noise populations entering through
one-to-one synapses; the output population fires its prediction ``sigmoid(a)``.

Time constants: every neuron's ``tau``, and excitatory synapses whose drive follows the
presynaptic rate with the same ``tau`` (``x_syn``; inhibition arrives through a relay
neuron of that ``tau`` and acts at once), so that the two synapses of a weight deliver
their signals with the same delay. A relay is updated before its partner in each time
step, so that it filters the same samples of the partner's rate as ``x_syn`` does.
"""
from __future__ import annotations

from brian2.utils.stringtools import word_substitute

#: Every population: its firing rate (Hz) from its value ``v``, around the baseline, and
#: the synaptic drive its excitatory synapses deliver, ``x_syn``: the rate above baseline
#: low-pass filtered with the time constant ``tau`` (transmitter release and receptor
#: kinetics). The inhibitory route passes a relay neuron of the same ``tau`` instead, so
#: both routes of a weight lag alike and their resting parts (``c``, see
#: :func:`excitatory_inhibitory`) cancel at every moment, not only once settled.
FIRING = """
    rho = gain * clip(v + rho0 / gain, 0, inf) : Hz
    dx_syn/dt = ((rho - rho0) / gain - x_syn) / tau : 1
    rho0 : Hz (shared, constant)
    gain : Hz (shared, constant)
    """

#: A synapse's reading of its presynaptic neuron's value: the rate above baseline.
DECODED_PRE = "((rho_pre - rho0_pre) / gain_pre)"

#: Gates a presentation sets on forward_0 .. forward_{L-1}.
GATES = """
    drive : 1 (shared)
    noise_on : 1 (shared)
    """

#: forward_0: the sample, or (mirror) the rate of the noise population noise_0.
INPUT_POPULATION = """
    r_inf = drive * x + noise_on * I_noise : 1
    x : 1
    I_noise : 1
    """

#: forward_l, 1 <= l < L: phi of its net input, or (mirror) its noise population's rate.
HIDDEN_RATE = """
    r_inf = drive * transfer_phi + noise_on * I_noise : 1
    I_noise : 1
    """

#: forward_L fires the network's prediction (``loss_predict`` of its net input).
OUTPUT_RATE = "r_inf = loss_predict : 1"

#: forward_l, l >= 1: net input from the excitatory and the inhibitory synapses, bias,
#: the error delivered to the neuron.
NET_INPUT = """
    a = I_exc + I_inh + b : 1
    I_exc : 1
    I_inh : 1
    b : 1
    delta : 1
    eta_b : 1 (shared, constant)
    """

#: feedback_l, 1 <= l < L: the error from above arrives on both routes; the neuron forms
#: its error from their sum as the rule says (``equations.hidden_error``).
ERROR_INPUTS = """
    I_fb_exc : 1
    I_fb_inh : 1
    """

#: feedback_0: the error arriving at the input layer (it trains nothing).
INPUT_ERROR = """
    delta_inf = I_fb_exc + I_fb_inh : 1
    I_fb_exc : 1
    I_fb_inh : 1
    """

#: Inhibitory relay of forward_l: fires at its partner's rate.
FORWARD_RELAY = """
    r_inf = I_relay : 1
    I_relay : 1
    """

#: Inhibitory relay of feedback_l: fires at its partner's rate and, sitting with the same
#: forward neuron, holds the partner drive ``r_drive`` that B's plasticity reads.
FEEDBACK_RELAY = """
    delta_inf = I_relay : 1
    I_relay : 1
    r_drive : 1
    """

#: noise_l: a noisy neuron whose rate carries this presentation's noise value.
NOISE_POPULATION = """
    r_inf = noise : 1
    noise : 1
    """

#: target: fires the label of the current sample.
TARGET_POPULATION = """
    r_inf = y : 1
    y : 1
    """

# --- synapses ------------------------------------------------------------------------

#: The parameters of a plastic group: learning rate, decay, resting weight.
PLASTIC = """
    eta : 1 (shared, constant)
    decay : 1 (shared, constant)
    w_rest : 1 (shared, constant)
    """

#: W_l (excitatory) and W_inh_l (through forward_inh_{l-1}) onto forward_l.
FORWARD_SYNAPSE = {+1: "w : 1\nI_exc_post = w * x_syn_pre : 1 (summed)",
                   -1: f"w : 1\nI_inh_post = -w * {DECODED_PRE} : 1 (summed)"}
#: B_l (excitatory) and B_inh_l (through feedback_inh_l) onto feedback_{l-1}.
FEEDBACK_SYNAPSE = {+1: "w : 1\nI_fb_exc_post = w * x_syn_pre : 1 (summed)",
                    -1: f"w : 1\nI_fb_inh_post = -w * {DECODED_PRE} : 1 (summed)"}

#: One-to-one links, each a rate read by the partner (the net input ``a`` is the forward
#: neuron's own state, shared with its feedback partner as in the abstract circuit).
RATE_LINK = f"r_fwd_post = {DECODED_PRE} : 1 (summed)"
NET_INPUT_LINK = "a_fwd_post = a_pre : 1 (summed)"
ERROR_LINK = f"delta_post = {DECODED_PRE} : 1 (summed)"
LABEL_LINK = f"y_post = {DECODED_PRE} : 1 (summed)"
RELAY_LINK = f"I_relay_post = {DECODED_PRE} : 1 (summed)"
DRIVE_LINK = "r_drive_post = r_drive_pre : 1 (summed)"
NOISE_LINK = f"I_noise_post = {DECODED_PRE} : 1 (summed)"


def excitatory_inhibitory(update: str, sign: int, where: str) -> str:
    """A plasticity ``update`` of a signed weight ``w`` as the update of one synapse of its
    excitatory (``sign = +1``) or inhibitory (``-1``) pair.

    The pair is ``w+ = c + w/2``, ``w- = c - w/2`` around the resting weight ``c``
    (``w_rest``). Each line ``w += dw`` becomes ``w += sign * dw / 2`` with the signed
    weight in ``dw`` read from the synapse's own value, ``w = sign * 2 * (w_own - c)``:
    exact, because every update changes ``w+`` and ``w-`` by opposite amounts, so
    ``w+ + w- = 2c`` always. Presynaptic values are read from rates
    (:data:`DECODED_PRE`). Afterwards the synapse is kept >= 0 (Dale's principle; it
    binds only if ``|w|`` outgrows ``2c``). ``where`` names the group in errors.
    """
    lines = []
    for line in update.strip().splitlines():
        target, _, change = line.strip().partition("+=")
        if target.strip() != "w" or not change.strip():
            raise ValueError(f"{where}: the plasticity line {line.strip()!r} is not of the "
                             "form 'w += ...', so it has no excitatory/inhibitory form")
        change = word_substitute(change, {"w": f"({sign} * 2 * (w - w_rest))",
                                          "r_pre": DECODED_PRE, "delta_pre": DECODED_PRE})
        lines.append(f"w += {sign} * 0.5 * ({change.strip()})")
    return "\n".join(lines + ["w = clip(w, 0, inf)"])
