"""Recursive local representation alignment: each layer moves toward a local target."""
from __future__ import annotations

from dataclasses import dataclass

from ..params import non_negative, parameter, positive
from .base import FIXED, ErrorForm, Plasticity, Rule, uniform_feedback
from .kp import HEBBIAN_FEEDBACK_LEARNING

#: The error neuron of a hidden layer: its activity minus the activity of its local target,
#: the net input moved by ``beta`` against the error that the error synapses E carry down.
TARGET_MISMATCH = "phi(a) - phi(a - beta * carried)"


@dataclass(frozen=True)
class RecursiveLRA(Rule):
    """Error neurons compare each layer with a local target set through learned error
    synapses; every layer learns from its own error, with no chain of derivatives.

    Parameters
    ----------
    beta : float
        How far a layer's target moves its net input against the error from above.
    gamma : float
        The error synapses' learning rate relative to W's (0: E stays fixed).
    scale : float
        Size of the random initial E relative to ``U(-1,1)/sqrt(n_l)``.

    Notes
    -----
    The feedback synapses ``B_l`` are the error synapses ``E_l`` of the papers. The output
    error is the loss gradient ``e_L = dloss/da_L``; below it, recursively,
    ``e_{l-1} = phi(a_{l-1}) - phi(a_{l-1} - beta * E_l e_l)``: the layer's activity minus
    its local target's. Every layer then learns in parallel from its own error and its
    input, ``dW_l = -eta e_l x_{l-1}^T``, and the error synapses follow the transpose of
    that update, ``dE_l = gamma * dW_l^T = -gamma eta x_{l-1} e_l^T`` (both signals are
    present at the synapse). For small ``beta``, ``e_{l-1} ~ beta phi'(a_{l-1}) E_l e_l``:
    feedback alignment's error scaled by ``beta``, here as a difference of two activities
    instead of a product with a derivative. mirrorlab follows the authors' public LRA-E code
    (plain updates, no update clipping); optimiser, momentum and weight decay are the run's.

    References
    ----------
    Ororbia, Mali, Kifer & Giles (2023), "Backpropagation-free deep learning with recursive
    local representation alignment", AAAI 37, arXiv:2002.03911; Ororbia & Mali (2019),
    "Biologically motivated algorithms for propagating local target representations",
    AAAI 33 (LRA-E).
    """

    beta: float = parameter(0.1, positive)
    gamma: float = parameter(1.0, non_negative)
    scale: float = parameter(1.0, positive)
    name = "rlra"

    def init_feedback(self, rng, W):
        return uniform_feedback(rng, W, self.scale)

    def hidden_error(self, transfer, a, x, carried):
        return x - transfer.phi(a - self.beta * carried)

    def error_form(self):
        return ErrorForm(TARGET_MISMATCH, {"beta": self.beta})

    def engaged_gradient(self, B, hebbian):
        return self.gamma * hebbian if self.gamma else None

    def rate_plasticity(self, lr):
        if not self.gamma:
            return FIXED
        return Plasticity(HEBBIAN_FEEDBACK_LEARNING, {"eta": self.gamma * lr, "decay": 0.0})

    def spiking_plasticity(self, lr):
        return None
