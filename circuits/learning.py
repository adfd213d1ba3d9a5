"""How each learning rule makes the feedback synapses B learn in a circuit.

One entry per rule type in :data:`FEEDBACK_LEARNING`; a rule without an entry
cannot be wired (see :class:`~mirrorlab.circuits.spec.CircuitSpec`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..models.rules import Backprop, FeedbackAlignment, KolenPollack, WeightMirror
from .equations import KOLEN_POLLACK_LEARNING, WEIGHT_MIRROR_LEARNING


@dataclass(frozen=True)
class FeedbackLearning:
    """Plasticity of the B synapse groups.

    Attributes
    ----------
    update : str
        Code applied at each presentation boundary, gated by the presentation that ended.
    eta, decay : float
        Values of the synapses' ``eta`` and ``decay``.
    """

    update: str
    eta: float
    decay: float


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


def weight_mirror(spec) -> FeedbackLearning:
    """``dB_l = eta_B xi_{l-1} phi(W_l xi_{l-1} + b_l)^T - lambda_B B_l``, mirror presentations."""
    return FeedbackLearning(WEIGHT_MIRROR_LEARNING, spec.rule.lr, spec.rule.decay)


FEEDBACK_LEARNING = {
    FeedbackAlignment: fixed,
    KolenPollack: kolen_pollack,
    Backprop: transported,
    WeightMirror: weight_mirror,
}
