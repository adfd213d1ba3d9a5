"""What every learning rule declares.

A rule says how the feedback weights ``B_l`` are set or learned; the forward
weights ``W_l`` always learn from the error that ``B`` delivers,
``dW_l = -eta * delta_l x_{l-1}^T``. Rules return *deltas*; the engine applies
them (so several effects on one synapse group never depend on order).

Shapes: ``W_l`` is ``(n_l, n_{l-1})``, ``B_l`` is ``(n_{l-1}, n_l)`` like
``W_l^T``; batches are rows: ``x_{l-1}`` is ``(batch, n_{l-1})``, ``delta_l``
is ``(batch, n_l)``.
"""
from __future__ import annotations

import numpy as np

Array = np.ndarray


def uniform_feedback(rng: np.random.Generator, W: Array, scale: float) -> Array:
    """Random feedback weights ``scale * U(-1, 1) / sqrt(n_l)`` of ``W``'s transposed shape.

    ``1/sqrt(n_l)`` is the fan-in scaling of the feedback pathway (it sums over
    the ``n_l`` errors of the layer above), so ``scale = 1`` gives a feedback
    signal of the same size as a standard forward initialisation would.
    """
    n_post, n_pre = W.shape
    return scale * rng.uniform(-1.0, 1.0, size=(n_pre, n_post)) / np.sqrt(n_post)


class Rule:
    """Base class: feedback weights fixed after initialisation (no learning).

    Subclasses override only what differs. Attributes
    ``transports_weights`` (B is read from W: not biologically local),
    ``uses_mirror_phase`` and ``forward_decay`` (per-step shrinkage of W that
    the rule asks for, Kolen–Pollack) are read by the engines.
    """

    name = "rule"
    transports_weights = False
    uses_mirror_phase = False
    forward_decay = 0.0

    def init_feedback(self, rng: np.random.Generator, W: Array) -> Array:
        """The initial feedback state for forward weights ``W``."""
        raise NotImplementedError

    def feedback_weights(self, W: Array, B: Array) -> Array:
        """The matrix that carries the error from layer l down to layer l-1."""
        return B

    def engaged_update(self, W: Array, B: Array, step_W: Array) -> Array | None:
        """Change of ``B`` during an engaged step, given the forward step.

        ``step_W`` is the optimiser's increment that is subtracted from ``W``
        (``W <- W - step_W``), shape of ``W``. ``None`` means B does not change.
        """
        return None
