"""Sign symmetry: feedback carries only the signs of the forward weights."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import one_of, parameter, positive
from .base import Plasticity, Rule

SIGN_SYMMETRY_MAGNITUDES = ("uniform", "random")

#: Rate circuits: B_l delivers a fixed magnitude with the sign of a shadow of W_l^T that
#: follows W_l's updates from local signals (Kolen-Pollack's update without decay); the
#: weight transport is the shadow's initial value, W_l^T.
SIGN_SYMMETRY_SYNAPSE = """
    magnitude : 1 (constant)
    shadow : 1
    """
SIGN_SYMMETRY_LEARNING = """
    shadow += was_engaged(t) * (-eta * r_fwd_post * delta_pre)
    w = magnitude * sign(shadow)
    """


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
    rule transports one bit per synapse. No spiking form.

    References
    ----------
    Liao, Leibo & Poggio (2016), AAAI; Xiao, Chen, Liao & Poggio (2018), arXiv:1811.03567.
    """

    scale: float = parameter(1.0, positive)
    magnitudes: str = parameter("uniform", one_of(*SIGN_SYMMETRY_MAGNITUDES))
    name = "ss"
    transports_weights = True

    def init_feedback(self, rng, W):
        n_post, n_pre = W.shape
        if self.magnitudes == "uniform":
            magnitude = np.ones((n_pre, n_post))
        else:
            magnitude = rng.uniform(0.0, 1.0, size=(n_pre, n_post))
        return self.scale * magnitude / np.sqrt(n_post)

    def feedback_weights(self, W, B):
        return B * np.sign(W.T)

    def rate_plasticity(self, lr):
        return Plasticity(SIGN_SYMMETRY_LEARNING, {"eta": lr, "decay": 0.0},
                          SIGN_SYMMETRY_SYNAPSE, _shadow_of_forward)

    def spiking_plasticity(self, lr):
        return None


def _shadow_of_forward(W: np.ndarray, B: np.ndarray) -> dict[str, np.ndarray]:
    """Sign symmetry's synapses start with the magnitudes ``B``, a shadow copied from
    ``W^T`` (the transport), and the delivered weight."""
    return {"magnitude": B, "shadow": W.T, "w": B * np.sign(W.T)}
