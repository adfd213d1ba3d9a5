"""Backpropagation: the reference rule, with weight transport."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Plasticity, Rule
from .kp import HEBBIAN_FEEDBACK_LEARNING


@dataclass(frozen=True)
class Backprop(Rule):
    """Error sent down through the transpose of the forward weights.

    Notes
    -----
    ``B_l = W_l^T`` at every step. The feedback synapse would have to read the
    forward synapse's weight ("weight transport"), which no known biological
    mechanism does; it is here as the reference the other rules are measured
    against.

    In a rate circuit, B starts as a copy of ``W^T`` and then learns Kolen-Pollack's
    local update without decay, so it follows W exactly (up to rounding) from local
    signals, but only because its initial value was copied from W: the weight transport
    sits in the initialisation, and the locality audit reports it. No spiking form.

    References
    ----------
    Rumelhart, Hinton & Williams (1986), Nature 323, 533–536.
    """

    name = "bp"
    transports_weights = True

    def init_feedback(self, rng, W):
        return W.T.copy()

    def feedback_weights(self, W, B):
        return W.T

    def rate_plasticity(self, lr):
        return Plasticity(HEBBIAN_FEEDBACK_LEARNING, {"eta": lr, "decay": 0.0})

    def spiking_plasticity(self, lr):
        return None
