"""Sign symmetry: feedback carries only the signs of the forward weights."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Rule

SIGN_SYMMETRY_MAGNITUDES = ("uniform", "random")


@dataclass(frozen=True)
class SignSymmetry(Rule):
    """Feedback weights with the signs of ``W^T`` and magnitudes of their own.

    Parameters
    ----------
    scale : float
        Magnitude relative to ``1/sqrt(n_l)``.
    magnitudes : {"uniform", "random"}
        ``uniform``: every feedback synapse has magnitude ``scale/sqrt(n_l)``;
        ``random``: fixed random magnitudes ``scale * U(0, 1) / sqrt(n_l)``.

    Notes
    -----
    ``B_l = M_l * sign(W_l^T)``, with ``M_l`` the fixed magnitudes (the state
    this rule keeps). The sign is still read from W at every step, so this
    rule transports one bit per synapse.

    References
    ----------
    Liao, Leibo & Poggio (2016), AAAI; Xiao, Chen, Liao & Poggio (2018), arXiv:1811.03567.
    """

    scale: float = 1.0
    magnitudes: str = "uniform"
    name = "ss"
    transports_weights = True

    def __post_init__(self):
        if self.magnitudes not in SIGN_SYMMETRY_MAGNITUDES:
            raise ValueError(f"rule.ss.magnitudes: must be one of "
                             f"{', '.join(SIGN_SYMMETRY_MAGNITUDES)} (got {self.magnitudes!r})")

    def init_feedback(self, rng, W):
        n_post, n_pre = W.shape
        if self.magnitudes == "uniform":
            magnitude = np.ones((n_pre, n_post))
        else:
            magnitude = rng.uniform(0.0, 1.0, size=(n_pre, n_post))
        return self.scale * magnitude / np.sqrt(n_post)

    def feedback_weights(self, W, B):
        return B * np.sign(W.T)
