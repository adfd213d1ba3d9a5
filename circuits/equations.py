"""What the circuit's neurons and synapses compute, as Brian2 equation strings.

Every string here is a template: numbers never appear in it. Parameters are
group variables declared ``(shared, constant)`` (so a compiled standalone
binary can be rerun with other values through ``run_args``); the per-
presentation schedule enters through TimedArrays named in the groups'
namespaces; the transfer function and the loss enter by substituting the
placeholder identifiers ``transfer_phi``, ``transfer_dphi`` with expressions
from :mod:`models` (the output error is the loss's own ``delta_expr``).

Populations (all rates are dimensionless):

- ``forward_0`` carries the data sample ``x`` or mirror noise;
  ``forward_l`` (l >= 1) has net input ``a = I_ff + b`` and rate
  ``r = phi(a)`` (plus noise where the mirror phase injects it).
- ``feedback_l`` carries the error ``delta_l``. It also holds one-to-one copies
  of its forward partner's net input ``a_fwd`` and rate ``r_fwd``: what a
  feedback neuron sitting beside its forward neuron can see.
- ``target`` carries the label ``y`` of the current sample.

Where the derivative sits: ``feedback_l`` multiplies the error arriving from
above by ``phi'(a_fwd)``, so its output ``delta`` is the full error
``delta_l = phi'(a_l) * (B_{l+1} delta_{l+1})``; the error link hands this
``delta`` unchanged to ``forward_l``, where ``W_l`` and ``b_l`` learn from it.
"""
from __future__ import annotations

import re

from brian2 import Equations
from brian2.utils.stringtools import word_substitute

from ..models.transfer import Transfer

# --- neurons -------------------------------------------------------------------------

#: How a population's output ``v`` follows its steady-state value ``v_inf``.
#: ``instantaneous``: at once (so a settled circuit computes exactly what the matrix
#: engine does); ``rate``: a leaky rate neuron with time constant ``tau``.
NEURON_OUTPUT: dict[str, str] = {
    "instantaneous": "v = v_inf : 1",
    "rate": """
        dv/dt = (v_inf - v) / tau : 1
        tau : second (shared, constant)
        """,
}

#: forward_0: the input layer shows the data sample or, in a mirror presentation, noise.
INPUT_POPULATION = """
    r = drive * x + noise_on * noise : 1
    x : 1
    """

#: forward_l, 1 <= l < L: driven by W_l, with noise added where the mirror phase says.
HIDDEN_RATE = "r_inf = drive * transfer_phi + noise_on * noise : 1"

#: forward_L: always driven by W_L, never given noise.
OUTPUT_RATE = "r_inf = transfer_phi : 1"

#: Gates a presentation sets on forward_0 .. forward_{L-1}, and the noise it injects.
MIRROR_GATES = """
    drive : 1 (shared)
    noise_on : 1 (shared)
    noise : 1
    """

#: forward_l, l >= 1: net input, bias, and the error delivered to the neuron.
NET_INPUT = """
    a = I_ff + b : 1
    I_ff : 1
    b : 1
    delta : 1
    eta_b : 1 (shared, constant)
    """

#: feedback_l, 1 <= l < L (spiking circuits): the error from above times phi'(a) of the
#: forward partner. Rate circuits ask the rule (:func:`hidden_error`).
HIDDEN_ERROR = "delta_inf = transfer_dphi * I_fb : 1"

#: feedback_0: the error arriving at the input layer (it trains nothing).
INPUT_ERROR = "delta_inf = I_fb : 1"

#: feedback_l, l >= 1: the forward partner's net input and its noise-free rate phi(a).
#: ``r_drive`` is the "post" side of the weight-mirror update of B_l.
PARTNER_NET_INPUT = """
    a_fwd : 1
    r_drive = transfer_phi : 1
    """

#: feedback_l, l < L: the forward partner's rate (including any injected noise);
#: the "pre" side of the updates of B_{l+1}.
PARTNER_RATE = "r_fwd : 1"

#: feedback_l, l < L: the error summed from the layer above through B_{l+1}.
ERROR_INPUT = "I_fb : 1"

#: feedback_L: the label copied from the target population.
LABEL_INPUT = "y : 1"

#: target: the label of the current sample.
TARGET_POPULATION = "y : 1"

# --- synapses ------------------------------------------------------------------------

#: W_l: forward_{l-1} -> forward_l.
FORWARD_SYNAPSE = """
    w : 1
    I_ff_post = w * r_pre : 1 (summed)
    """

#: B_l: feedback_l -> feedback_{l-1}.
FEEDBACK_SYNAPSE = """
    w : 1
    I_fb_post = w * delta_pre : 1 (summed)
    """

#: Parameters of W's plasticity (a rule's plasticity of B declares its own, see
#: :func:`shared_constants`).
PLASTIC = """
    eta : 1 (shared, constant)
    decay : 1 (shared, constant)
    """

#: One-to-one links: what a neuron hands its partner.
NET_INPUT_LINK = "a_fwd_post = a_pre : 1 (summed)"
RATE_LINK = "r_fwd_post = r_pre : 1 (summed)"
ERROR_LINK = "delta_post = delta_pre : 1 (summed)"
LABEL_LINK = "y_post = y_pre : 1 (summed)"

# --- plasticity (applied at each presentation boundary, from the settled values) ---------
# ``was_engaged(t)`` and ``was_mirror(t, layer)`` are broadcast gates: 1 if the
# presentation that has just ended was engaged (resp. mirrored layer ``layer``).

#: W_l learns from the error at its postsynaptic neuron and the presynaptic rate;
#: ``decay`` is the rule's forward decay (Kolen-Pollack), else 0.
FORWARD_LEARNING = "w += was_engaged(t) * (-eta * delta_post * r_pre - decay * w)"

#: b_l learns from the error at its neuron.
BIAS_LEARNING = "b += was_engaged(t) * (-eta_b * delta)"

#: Dale's principle in the feedback pathway: each feedback neuron's fixed sign
#: (+1 excitatory, -1 inhibitory), shared by all its outgoing B synapses.
DALE_SIGN = "dale_sign : 1 (constant)"

#: After every update of B: a synapse whose sign disagrees with its presynaptic
#: feedback neuron's is set to zero (it can shrink to nothing, never flip).
DALE_PROJECTION = "w = w * int(w * dale_sign_pre >= 0)"

# --- what each presentation loads (TimedArrays indexed by presentation) ------------------

LOAD_SAMPLE = "x = stimulus(t, i)"
LOAD_LABEL = "y = labels(t, i)"
LOAD_MIRROR_GATES = """
    drive = drive_gate(t, layer)
    noise_on = noise_gate(t, layer)
    """

#: Where the noise of a mirror presentation comes from: replayed from arrays
#: (exactly the matrix engine's stream) or drawn inside Brian2 once per presentation.
#: ``noise_scale`` is sigma (gaussian) or the half width sigma*sqrt(3) (uniform).
LOAD_NOISE: dict[str, str] = {
    "replay": "noise = noise_values(t, i)",
    "gaussian": "noise = noise_scale * randn()",
    "uniform": "noise = noise_scale * (2 * rand() - 1)",
}
NOISE_SCALE = "noise_scale : 1 (shared, constant)"


# --- assembling -----------------------------------------------------------------------

def output_error(loss, of: str = "a_fwd") -> str:
    """feedback_L: the output error ``dloss/da_L`` (the loss's ``delta_expr``) from the copied
    net input ``of`` and the label ``y``."""
    if loss.delta_expr is None:
        raise ValueError(f"loss {loss.name!r} has no per-unit output error; circuits support "
                         "'mse' and 'sigmoid_xent'")
    return f"delta_inf = {_in_terms_of(loss.delta_expr, of)} : 1"


def output_error_of_prediction(loss, of: str = "x_fwd") -> str:
    """feedback_L: the output error ``dloss/da_L`` (the loss's ``error_of_prediction_expr``)
    from the prediction ``of`` (a rate decoded from the output population's spikes, which
    fires the prediction) and the label ``y``."""
    if loss.error_of_prediction_expr is None:
        raise ValueError(f"loss {loss.name!r} has no per-unit output error; circuits support "
                         "'mse' and 'sigmoid_xent'")
    return f"delta_inf = {word_substitute(loss.error_of_prediction_expr, {'r': of})} : 1"


def prediction(loss) -> str:
    """The output unit's prediction (the loss's ``predict_expr``) in terms of its net input
    ``a``, for an output population that fires its prediction."""
    if loss.predict_expr is None:
        raise ValueError(f"an output that fires its prediction needs a per-unit prediction; "
                         f"loss {loss.name!r} has none (use 'sigmoid_xent' or 'mse')")
    return "(" + loss.predict_expr + ")"


def hidden_error(rule, transfer: Transfer, carried: str = "I_fb", of: str = "a_fwd") -> str:
    """feedback_l, 1 <= l < L: the rule's hidden error (its :class:`ErrorForm`) with the
    forward partner's net input ``of`` and the error ``carried`` from above, and the
    declarations of the form's parameters."""
    form = rule.error_form()
    expression = expand_transfer(word_substitute(form.expression, {"a": of, "carried": carried}),
                                 transfer)
    return code(f"delta_inf = {expression} : 1", shared_constants(form.parameters))


def expand_transfer(expression: str, transfer: Transfer) -> str:
    """``expression`` with every ``phi(x)`` and ``dphi(x)`` written out as ``transfer``'s
    own expressions of ``x`` (``x`` may hold parentheses)."""
    calls = {"phi": transfer.phi_expr, "dphi": transfer.dphi_expr}
    match = re.search(r"\b(d?phi)\(", expression)
    if match is None:
        return expression
    start, depth = match.end(), 1
    for end in range(start, len(expression)):
        depth += {"(": 1, ")": -1}.get(expression[end], 0)
        if depth == 0:
            break
    else:
        raise ValueError(f"unbalanced parentheses in the hidden error {expression!r}")
    argument = expand_transfer(expression[start:end], transfer)
    written = _in_terms_of(calls[match.group(1)], f"({argument})")
    return expression[:match.start()] + written + expand_transfer(expression[end + 1:], transfer)


def slope_of_rate(transfer: Transfer, of: str) -> str:
    """``phi'`` as an expression of the rate ``of`` (see ``Transfer.dphi_of_rate_expr``)."""
    if transfer.dphi_of_rate_expr is None:
        raise ValueError(f"transfer {transfer.name!r} gives no phi' of a decoded rate")
    return "(" + word_substitute(transfer.dphi_of_rate_expr, {"r": of}) + ")"


def _in_terms_of(expr: str, of: str) -> str:
    """``expr``, an expression of ``a``, as an expression of the variable ``of``."""
    return "(" + word_substitute(expr, {"a": of}) + ")"


def transfer_terms(transfer: Transfer, of: str) -> dict[str, str]:
    """Substitutions ``transfer_phi``, ``transfer_dphi`` -> expressions of the variable ``of``."""
    return {"transfer_phi": _in_terms_of(transfer.phi_expr, of),
            "transfer_dphi": _in_terms_of(transfer.dphi_expr, of)}


def with_output(kind: str, output: str, *parts: str, **substitutions) -> Equations:
    """Equations of a population whose output variable ``output`` follows ``{output}_inf``.

    ``parts`` are equation strings joined into one model; ``substitutions``
    replace placeholder identifiers (see :func:`transfer_terms`).
    """
    dynamics = Equations(NEURON_OUTPUT[kind], v=output, v_inf=f"{output}_inf")
    return Equations("\n".join(parts), **substitutions) + dynamics


def shared_constants(parameters, unit: str = "1") -> str:
    """Declarations ``name : unit (shared, constant)`` of a plasticity's parameters: values
    that a compiled standalone build takes at run time."""
    return "\n".join(f"{name} : {unit} (shared, constant)" for name in parameters)


def code(*lines: str) -> str:
    """Join code blocks into one block for ``run_regularly``."""
    return "\n".join(line.strip() for block in lines for line in block.strip().splitlines())
