"""Losses on the output layer, written in terms of its net input ``a_L``.

Every loss gives the output error ``delta_L = d loss / d a_L`` per sample, which
is what the feedback pathway carries down, and ``predict(a_L)``, the network's
output. ``delta_expr`` is the same output error as a Brian2 expression of one
unit's ``a`` and label ``y`` (None where a unit's error needs the other units'), and
``predict_expr`` the unit's output as an expression of its ``a``; ``error_of_prediction_expr``
the output error from a prediction ``r`` (a rate decoded from spikes) and ``y``. Shapes: ``a`` and ``y``
are ``(batch, n_out)``; losses are means over the batch of per-sample sums.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax

from .transfer import Transfer, get_transfer

Array = np.ndarray


@dataclass(frozen=True)
class MSE:
    """Squared error ``0.5 * ||phi_out(a) - y||^2`` with output transfer ``phi_out``."""

    output: Transfer

    name = "mse"

    def predict(self, a: Array) -> Array:
        return self.output.phi(a)

    def value(self, a: Array, y: Array) -> float:
        return float(0.5 * np.mean(np.sum((self.predict(a) - y) ** 2, axis=1)))

    def delta(self, a: Array, y: Array) -> Array:
        return (self.predict(a) - y) * self.output.dphi(a)

    def value_and_delta(self, a: Array, y: Array) -> tuple[float, Array]:
        """:meth:`value` and :meth:`delta` at once, sharing the work."""
        r = self.predict(a)
        error = r - y
        value = float(0.5 * np.vdot(error, error) / len(a))
        slope = self.output.slope(a, r)
        if slope is not None:
            error *= slope
        return value, error

    @property
    def delta_expr(self) -> str:
        return f"(({self.output.phi_expr}) - y) * ({self.output.dphi_expr})"

    @property
    def predict_expr(self) -> str:
        return self.output.phi_expr

    @property
    def error_of_prediction_expr(self) -> str:
        return f"(r - y) * ({self.output.dphi_of_rate_expr})"


@dataclass(frozen=True)
class SigmoidCrossEntropy:
    """Binary cross-entropy of independent sigmoid outputs; ``delta = sigmoid(a) - y``."""

    name = "sigmoid_xent"
    delta_expr = "1.0/(1.0 + exp(-a)) - y"
    predict_expr = "1.0/(1.0 + exp(-a))"
    error_of_prediction_expr = "r - y"

    def predict(self, a: Array) -> Array:
        return expit(a)

    def value(self, a: Array, y: Array) -> float:
        per_unit = -(y * log_expit(a) + (1.0 - y) * log_expit(-a))
        return float(np.mean(np.sum(per_unit, axis=1)))

    def delta(self, a: Array, y: Array) -> Array:
        return expit(a) - y

    def value_and_delta(self, a: Array, y: Array) -> tuple[float, Array]:
        """:meth:`value` and :meth:`delta` at once."""
        return self.value(a, y), self.delta(a, y)


@dataclass(frozen=True)
class SoftmaxCrossEntropy:
    """Categorical cross-entropy of a softmax output; ``delta = softmax(a) - y``."""

    name = "softmax_xent"
    delta_expr = None   # softmax couples the units: no per-unit expression
    predict_expr = None
    error_of_prediction_expr = None

    def predict(self, a: Array) -> Array:
        return softmax(a, axis=1)

    def value(self, a: Array, y: Array) -> float:
        return float(-np.mean(np.sum(y * log_softmax(a, axis=1), axis=1)))

    def delta(self, a: Array, y: Array) -> Array:
        return softmax(a, axis=1) - y

    def value_and_delta(self, a: Array, y: Array) -> tuple[float, Array]:
        """:meth:`value` and :meth:`delta` at once, from one shifted exponential:
        ``z = a - max a``, ``loss = -mean(y . (z - log sum e^z))``,
        ``delta = e^z / sum e^z - y``."""
        z = a - a.max(axis=1, keepdims=True)
        e = np.exp(z)
        total = e.sum(axis=1, keepdims=True)
        z -= np.log(total)                      # log softmax
        value = -float(np.vdot(y, z)) / len(a)
        e /= total
        e -= y
        return value, e


LOSSES = ("mse", "sigmoid_xent", "softmax_xent")


def get_loss(name: str, output_transfer: str = "linear"):
    """Return the loss called ``name``; ``output_transfer`` applies to ``mse`` only.

    The cross-entropy losses contain their own output nonlinearity, so their
    output layer is linear (``a_L`` are logits).
    """
    if name == "mse":
        return MSE(get_transfer(output_transfer))
    if name == "sigmoid_xent":
        return SigmoidCrossEntropy()
    if name == "softmax_xent":
        return SoftmaxCrossEntropy()
    raise ValueError(f"unknown loss {name!r}; allowed: {', '.join(LOSSES)}")
