"""Transfer functions phi(a) and their derivatives.

Each transfer function is given twice: as numpy functions for the matrix engine
and as Brian2 expression strings (in the variable ``a``) for the circuits, so
that both engines compute the same neuron.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit

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
    """

    name: str
    phi: Callable[[Array], Array]
    dphi: Callable[[Array], Array]
    phi_expr: str
    dphi_expr: str


def _dsigmoid(a: Array) -> Array:
    s = expit(a)
    return s * (1.0 - s)


#: The sigmoid's derivative is written as ``s (1 - s)`` in Brian2 too: finite for any ``a``.
TRANSFERS: dict[str, Transfer] = {
    "sigmoid": Transfer("sigmoid", expit, _dsigmoid, "1.0/(1.0 + exp(-a))",
                        "(1.0/(1.0 + exp(-a))) * (1.0 - 1.0/(1.0 + exp(-a)))"),
    "tanh": Transfer("tanh", np.tanh, lambda a: 1.0 - np.tanh(a) ** 2, "tanh(a)",
                     "1.0 - tanh(a)**2"),
    "relu": Transfer("relu", lambda a: np.maximum(a, 0.0),
                     lambda a: (a > 0).astype(float), "clip(a, 0, inf)", "int(a > 0)"),
    "linear": Transfer("linear", lambda a: np.asarray(a, dtype=float).copy(),
                       lambda a: np.ones_like(a, dtype=float), "a", "1.0"),
}


def get_transfer(name: str) -> Transfer:
    """Return the transfer function called ``name`` (one of :data:`TRANSFERS`)."""
    try:
        return TRANSFERS[name]
    except KeyError:
        raise ValueError(f"unknown transfer function {name!r}; "
                         f"allowed: {', '.join(TRANSFERS)}") from None
