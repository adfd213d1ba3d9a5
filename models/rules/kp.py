"""Kolen–Pollack: feedback learns the transpose of the forward update, both decay."""
from __future__ import annotations

from dataclasses import dataclass

from ..params import fraction_below_one, parameter, positive
from .base import Plasticity, Rule, uniform_feedback

#: Rate circuits: B_l learns from the rate below (its postsynaptic side) and the error
#: above (its presynaptic side), the transpose of W_l's update, in engaged presentations.
HEBBIAN_FEEDBACK_LEARNING = "w += was_engaged(t) * (-eta * r_fwd_post * delta_pre - decay * w)"

#: Spiking circuits: the same from the decoded traces, at every time step.
SPIKING_HEBBIAN_FEEDBACK_LEARNING = ("{weight} += dt * engaged_now(t) * "
                                     "(-{sign} * eta * x_fwd_post * own_pre - decay * {weight})")


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
    the two pathways forget their initial difference. With momentum or weight decay,
    B keeps its own velocity and decays by its own value, as W does: both stay local.

    References
    ----------
    Kolen & Pollack (1994), IEEE ICNN; Akrout, Wilson, Humphreys, Lillicrap &
    Tweed (2019), NeurIPS, arXiv:1904.05391.
    """

    decay: float = parameter(1e-4, fraction_below_one)
    scale: float = parameter(1.0, positive)
    name = "kp"

    @property
    def forward_decay(self) -> float:
        return self.decay

    @property
    def engaged_decay(self) -> float:
        return self.decay

    def engaged_gradient(self, B, hebbian):
        return hebbian

    def init_feedback(self, rng, W):
        return uniform_feedback(rng, W, self.scale)

    def rate_plasticity(self, lr):
        return Plasticity(HEBBIAN_FEEDBACK_LEARNING, {"eta": lr, "decay": self.decay})

    def spiking_plasticity(self, lr):
        return Plasticity(SPIKING_HEBBIAN_FEEDBACK_LEARNING, {"eta": lr, "decay": self.decay})
