"""Weight mirror: feedback learns W^T from noise in a separate mirror phase."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..noise import NOISE_DISTRIBUTIONS, NoiseSource
from ..params import fraction_below_one, non_negative, one_of, parameter, positive, require
from .base import Plasticity, Rule, uniform_feedback

#: Rate circuits: B_l learns from the noise-driven rates on its two sides, in the mirror
#: presentations of its layer.
WEIGHT_MIRROR_LEARNING = "w += was_mirror(t, layer) * (eta * r_fwd_post * r_drive_pre - decay * w)"

#: Spiking circuits: the covariance of the fast spike traces of the two forward partners
#: around their slow running means (no zero-mean input needed), at every time step.
COVARIANCE_LEARNING = ("{weight} += dt * mirror_now(t, layer) * ({sign} * eta * "
                       "(z_fwd_pre - m_fwd_pre) * (z_fwd_post - m_fwd_post) / (gain_pre * gain_post)"
                       " - decay * {weight})")


@dataclass(frozen=True)
class WeightMirror(Rule):
    """Hebbian learning of feedback weights while the forward layer is driven by noise.

    Parameters
    ----------
    lr : float
        Mirror learning rate ``eta_B``.
    decay : float
        Per-mirror-step weight decay ``lambda_B`` of B.
    noise : {"gaussian", "uniform"}
        Distribution of the zero-mean iid noise ``xi`` that drives each layer's input
        during the mirror phase (see :class:`~mirrorlab.models.noise.NoiseSource`).
    sigma : float
        Its standard deviation (dimensionless rate units).
    target_std : float
        Growth control. If > 0, after each mirror update B is rescaled so that
        its output for unit-variance white input has standard deviation
        ``target_std``: ``||B_l||_F / sqrt(n_{l-1}) = target_std``. 0 = off.
        Matrix engine only: the rescaling reads a whole synapse group's norm.
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
    signs, column-wise rescaled. Spiking circuits learn B from the covariance of spike
    traces (``COVARIANCE_LEARNING``), whose expectation is ``W^T`` times a positive
    constant for coupled Poisson neurons.

    References
    ----------
    Akrout, Wilson, Humphreys, Lillicrap & Tweed (2019), "Deep learning without
    weight transport", NeurIPS, arXiv:1904.05391.
    """

    lr: float = parameter(0.05, positive)
    decay: float = parameter(0.5, fraction_below_one)
    noise: str = parameter("gaussian", one_of(*NOISE_DISTRIBUTIONS))
    sigma: float = parameter(1.0, positive)
    target_std: float = parameter(0.0, non_negative)
    scale: float = parameter(1.0, positive)
    name = "wm"
    uses_mirror_phase = True

    def init_feedback(self, rng, W):
        return uniform_feedback(rng, W, self.scale)

    @cached_property
    def mirror_noise(self) -> NoiseSource:
        return NoiseSource(self.noise, self.sigma)

    def mirror_update(self, B: np.ndarray, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
        """``dB = eta_B <pre post^T> - lambda_B B`` for one mirror batch.

        ``pre`` is ``(batch, n_{l-1})`` (the noise, or the noisy activity),
        ``post`` is ``(batch, n_l)``; returns an array of B's shape.
        """
        return self.lr * (pre.T @ post) / pre.shape[0] - self.decay * B

    def mirror_rates(self) -> tuple[float, float]:
        return self.lr, self.decay

    def control_growth(self, B: np.ndarray) -> np.ndarray:
        """Rescale B to the target output std (unchanged when ``target_std`` is 0)."""
        if self.target_std == 0:
            return B
        output_std = np.linalg.norm(B) / np.sqrt(B.shape[0])
        return B if output_std == 0 else B * (self.target_std / output_std)

    def rate_plasticity(self, lr):
        self._local_growth_only()
        return Plasticity(WEIGHT_MIRROR_LEARNING, {"eta": self.lr, "decay": self.decay})

    def spiking_plasticity(self, lr):
        self._local_growth_only()
        return Plasticity(COVARIANCE_LEARNING, {"eta": self.lr, "decay": self.decay})

    def _local_growth_only(self) -> None:
        require(self.target_std == 0, "rule.wm.target_std", "growth control rescales B by its "
                "global norm, which is not local; circuits need target_std = 0",
                self.target_std)
