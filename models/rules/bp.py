"""Backpropagation: the reference rule, with weight transport."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Rule


@dataclass(frozen=True)
class Backprop(Rule):
    """Error sent down through the transpose of the forward weights.

    Notes
    -----
    ``B_l = W_l^T`` at every step. The feedback synapse would have to read the
    forward synapse's weight ("weight transport"), which no known biological
    mechanism does; it is here as the reference the other rules are measured
    against.

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
