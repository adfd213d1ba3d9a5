"""Weight mirror: feedback learns W^T from noise in a separate mirror phase."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..noise import NoiseSource
from .base import Rule, uniform_feedback


@dataclass(frozen=True)
class WeightMirror(Rule):
    """Hebbian learning of feedback weights while the forward layer is driven by noise.

    Parameters
    ----------
    lr : float
        Mirror learning rate ``eta_B``.
    decay : float
        Per-mirror-step weight decay ``lambda_B`` of B.
    noise : NoiseSource
        The zero-mean iid noise ``xi`` (distribution and ``sigma``) that drives
        each layer's input during the mirror phase.
    target_std : float
        Growth control. If > 0, after each mirror update B is rescaled so that
        its output for unit-variance white input has standard deviation
        ``target_std``: ``||B_l||_F / sqrt(n_{l-1}) = target_std``. 0 = off.
    scale : float
        Size of the random initial B relative to ``U(-1,1)/sqrt(n_l)``.

    Notes
    -----
    In a mirror step the layer below carries noise ``xi_{l-1}`` and the layer
    itself fires ``y_l = phi(W_l xi_{l-1} + b_l)``; the feedback synapse from
    neuron j of layer l to neuron i of layer l-1 sees both ends and learns
    ``dB_l = eta_B <xi_{l-1} y_l^T> - lambda_B B_l`` (mean over the batch).
    For a linear layer ``E[xi y^T] = sigma^2 W^T``, so B relaxes to
    ``c W_l^T`` with ``c = eta_B sigma^2 / lambda_B``. For a nonlinear layer and
    gaussian noise, Stein's lemma gives ``sigma^2 W^T diag(E[phi'])``: same
    signs, column-wise rescaled.

    References
    ----------
    Akrout, Wilson, Humphreys, Lillicrap & Tweed (2019), "Deep learning without
    weight transport", NeurIPS, arXiv:1904.05391.
    """

    lr: float = 0.05
    decay: float = 0.5
    noise: NoiseSource = field(default_factory=NoiseSource)
    target_std: float = 0.0
    scale: float = 1.0
    name = "wm"
    uses_mirror_phase = True

    def __post_init__(self):
        if not self.lr > 0:
            raise ValueError(f"rule.wm.lr: must be > 0 (got {self.lr})")
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"rule.wm.decay: must be in [0, 1) (got {self.decay})")
        if not self.target_std >= 0:
            raise ValueError(f"rule.wm.target_std: must be >= 0 (got {self.target_std})")

    def init_feedback(self, rng, W):
        return uniform_feedback(rng, W, self.scale)

    def mirror_update(self, B: np.ndarray, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
        """``dB = eta_B <pre post^T> - lambda_B B`` for one mirror batch.

        ``pre`` is ``(batch, n_{l-1})`` (the noise, or the noisy activity),
        ``post`` is ``(batch, n_l)``; returns an array of B's shape.
        """
        return self.lr * (pre.T @ post) / pre.shape[0] - self.decay * B

    def control_growth(self, B: np.ndarray) -> np.ndarray:
        """Rescale B to the target output std (unchanged when ``target_std`` is 0)."""
        if self.target_std == 0:
            return B
        output_std = np.linalg.norm(B) / np.sqrt(B.shape[0])
        return B if output_std == 0 else B * (self.target_std / output_std)
