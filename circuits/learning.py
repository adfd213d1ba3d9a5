"""How each learning rule makes the feedback synapses B learn in a circuit.

One entry per rule type in :data:`FEEDBACK_LEARNING`; a rule without an entry
cannot be wired (see :class:`~mirrorlab.circuits.spec.CircuitSpec`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..models.rules import Backprop, FeedbackAlignment, KolenPollack, SignSymmetry, WeightMirror
from .equations import (KOLEN_POLLACK_LEARNING, SIGN_SYMMETRY_LEARNING, SIGN_SYMMETRY_SYNAPSE,
                        WEIGHT_MIRROR_LEARNING)


@dataclass(frozen=True)
class FeedbackLearning:
    """Plasticity of the B synapse groups.

    Attributes
    ----------
    update : str
        Code applied at each presentation boundary, gated by the presentation that ended.
    eta, decay : float
        Values of the synapses' ``eta`` and ``decay``.
    model : str
        Further synaptic variables the update uses.
    initial : callable or None
        ``initial(W_l, B_l)`` -> ``{variable: (n_{l-1}, n_l) matrix}``, the synapses'
        starting values from the matrix engine's ``W_l`` and feedback state ``B_l``;
        None: ``w`` starts at ``B_l``.
    """

    update: str
    eta: float
    decay: float
    model: str = ""
    initial: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]] | None = None


def fixed(spec) -> None:
    """Feedback alignment: B never changes."""
    return None


def kolen_pollack(spec) -> FeedbackLearning:
    """``dB_l = -eta x_{l-1} delta_l^T - lambda B_l`` in engaged presentations."""
    return FeedbackLearning(KOLEN_POLLACK_LEARNING, spec.lr, spec.rule.decay)


def transported(spec) -> FeedbackLearning:
    """Backprop as Kolen-Pollack without decay, B starting at W^T.

    B then follows W exactly (up to rounding) from local signals, but only
    because its initial value was copied from W: the weight transport sits in
    the initialisation, and :func:`~mirrorlab.circuits.audit.locality_audit`
    reports it.
    """
    return FeedbackLearning(KOLEN_POLLACK_LEARNING, spec.lr, 0.0)


def sign_symmetry(spec) -> FeedbackLearning:
    """``B_l`` delivers ``M_l * sign(W_l^T)``: fixed magnitudes ``M_l`` (the rule's state)
    and the signs of a shadow of ``W_l^T`` that follows W's updates. The shadow starts
    as a copy of ``W_l^T``: the weight transport sits there, and the audit reports it."""
    return FeedbackLearning(SIGN_SYMMETRY_LEARNING, spec.lr, 0.0, SIGN_SYMMETRY_SYNAPSE,
                            _sign_symmetry_start)


def _sign_symmetry_start(W: np.ndarray, B: np.ndarray) -> dict[str, np.ndarray]:
    return {"magnitude": B, "shadow": W.T, "w": B * np.sign(W.T)}


def weight_mirror(spec) -> FeedbackLearning:
    """``dB_l = eta_B xi_{l-1} phi(W_l xi_{l-1} + b_l)^T - lambda_B B_l``, mirror presentations."""
    return FeedbackLearning(WEIGHT_MIRROR_LEARNING, spec.rule.lr, spec.rule.decay)


FEEDBACK_LEARNING = {
    FeedbackAlignment: fixed,
    KolenPollack: kolen_pollack,
    Backprop: transported,
    SignSymmetry: sign_symmetry,
    WeightMirror: weight_mirror,
}
