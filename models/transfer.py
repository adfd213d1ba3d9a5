"""Transfer functions phi(a) and their derivatives.

Each transfer function is given twice: as numpy functions for the matrix engine
and as Brian2 expression strings (in the variable ``a``) for the circuits, so
that both engines compute the same neuron.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Transfer:
    """A rate neuron's transfer function r = phi(a).

    Attributes
    ----------
    name : str
    phi, dphi : callable
        numpy functions of the net input ``a`` (any shape, dimensionless).
        ``dphi`` is expressed in terms of ``a``.
    phi_expr, dphi_expr : str
        Brian2 expressions of ``a`` for the same functions.
    dphi_of_rate : callable or None
        ``phi'`` as a function of the rate ``r = phi(a)``, where that is cheaper than
        from ``a`` (sigmoid: ``r (1 - r)``; tanh: ``1 - r^2``); None: use ``dphi``.
    constant_slope : bool
        ``phi' = 1`` everywhere (linear): multiplying by it can be skipped.
    dphi_of_rate_expr : str or None
        Brian2 expression of ``phi'`` in terms of a rate ``r`` decoded from spikes, which
        may stray outside phi's range; the slope is kept in phi''s range of slopes
        (sigmoid: ``r (1 - r)`` with ``r`` clipped to [0, 1]). None: not available.
    """

    name: str
    phi: Callable[[Array], Array]
    dphi: Callable[[Array], Array]
    phi_expr: str
    dphi_expr: str
    dphi_of_rate: Callable[[Array], Array] | None = None
    constant_slope: bool = False
    dphi_of_rate_expr: str | None = None

    def slope(self, a: Array, r: Array) -> Array | None:
        """``phi'(a)`` given also ``r = phi(a)`` (the same numbers as ``dphi(a)``, computed the
        cheaper way); None where the slope is 1 everywhere."""
        if self.constant_slope:
            return None
        return self.dphi(a) if self.dphi_of_rate is None else self.dphi_of_rate(r)


def _sigmoid(a: Array) -> Array:
    """``1 / (1 + exp(-a))``, the Brian2 expression itself, in place on one new array (numpy's
    vectorised ``exp`` makes this 2-4 times faster than ``scipy.special.expit``). For
    ``a < -709`` ``exp`` overflows to inf and the result is 0, as it should be: that
    overflow is not reported."""
    a = np.asarray(a)
    e = np.negative(a, out=np.empty(a.shape, _floating(a)))
    with np.errstate(over="ignore"):
        np.exp(e, out=e)
    e += 1.0
    return np.divide(1.0, e, out=e)


def _floating(a: Array) -> np.dtype:
    """``a``'s own precision where it is floating point (float32 stays float32), else float64."""
    dtype = getattr(a, "dtype", None)
    return dtype if dtype is not None and dtype.kind == "f" else np.dtype(np.float64)


def _dsigmoid(a: Array) -> Array:
    return _sigmoid_slope(_sigmoid(a))


def _sigmoid_slope(s: Array) -> Array:
    return s * (1.0 - s)


def _tanh_slope(r: Array) -> Array:
    return 1.0 - r ** 2


#: The sigmoid's derivative is written as ``s (1 - s)`` in Brian2 too: finite for any ``a``.
TRANSFERS: dict[str, Transfer] = {
    "sigmoid": Transfer("sigmoid", _sigmoid, _dsigmoid, "1.0/(1.0 + exp(-a))",
                        "(1.0/(1.0 + exp(-a))) * (1.0 - 1.0/(1.0 + exp(-a)))", _sigmoid_slope,
                        dphi_of_rate_expr="clip(r, 0, 1) * (1.0 - clip(r, 0, 1))"),
    "tanh": Transfer("tanh", np.tanh, lambda a: _tanh_slope(np.tanh(a)), "tanh(a)",
                     "1.0 - tanh(a)**2", _tanh_slope,
                     dphi_of_rate_expr="1.0 - clip(r, -1, 1)**2"),
    "relu": Transfer("relu", lambda a: np.maximum(a, 0.0),
                     lambda a: np.greater(a, 0).astype(_floating(a)), "clip(a, 0, inf)", "int(a > 0)",
                     dphi_of_rate_expr="int(r > 0)"),
    "linear": Transfer("linear", lambda a: np.array(a, dtype=_floating(a)),
                       lambda a: np.ones_like(a, dtype=_floating(a)), "a", "1.0",
                       constant_slope=True, dphi_of_rate_expr="1.0"),
}


def get_transfer(name: str) -> Transfer:
    """Return the transfer function called ``name`` (one of :data:`TRANSFERS`)."""
    try:
        return TRANSFERS[name]
    except KeyError:
        raise ValueError(f"unknown transfer function {name!r}; "
                         f"allowed: {', '.join(TRANSFERS)}") from None
