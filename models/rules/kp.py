"""Kolen–Pollack: feedback learns the transpose of the forward update, both decay."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Rule, uniform_feedback


@dataclass(frozen=True)
class KolenPollack(Rule):
    """Feedback synapses receive the same local update as their forward partners.

    Parameters
    ----------
    decay : float
        Per-step fraction ``lambda`` by which both W and B shrink.
    scale : float
        Size of the random initial B relative to ``U(-1,1)/sqrt(n_l)``.

    Notes
    -----
    ``dB_l = -eta x_{l-1} delta_l^T - lambda B_l`` and
    ``dW_l = -eta delta_l x_{l-1}^T - lambda W_l``. The update of ``B_l``
    uses only the activity below and the error above, both present at the
    feedback synapse. Subtracting, ``W_l - B_l^T`` shrinks as ``(1 - lambda)^t``:
    the two pathways forget their initial difference.

    References
    ----------
    Kolen & Pollack (1994), IEEE ICNN; Akrout, Wilson, Humphreys, Lillicrap &
    Tweed (2019), NeurIPS, arXiv:1904.05391.
    """

    decay: float = 1e-4
    scale: float = 1.0
    name = "kp"

    def __post_init__(self):
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"rule.kp.decay: must be in [0, 1) (got {self.decay})")

    @property
    def forward_decay(self) -> float:
        return self.decay

    def engaged_update(self, W, B, step_W):
        return -step_W.T - self.decay * B

    def init_feedback(self, rng, W):
        return uniform_feedback(rng, W, self.scale)
