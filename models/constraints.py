"""Biological constraints on the feedback synapses ``B`` (pure numpy).

Two constraints, each independent of the learning rule that sets ``B``:

- **Dale's principle in the feedback pathway**: every feedback neuron is either
  excitatory or inhibitory, so all of its outgoing feedback synapses share one
  sign. The feedback neuron j of layer l sends its error down through column j
  of ``B_l`` (shape ``(n_{l-1}, n_l)``), so each *column* gets a fixed sign.
  After every change of ``B`` an entry of the wrong sign is set to zero: a
  synapse can shrink to nothing but never flip (:func:`project_dale`).
- **Few weight levels**: the synapse keeps a continuous hidden state (what the
  rule learns), but the value it *delivers* takes only ``levels`` values
  (:func:`quantise`); ``levels = 3`` is ternary, ``{-s, 0, +s}``.

Shapes follow ``models/rules/base.py``: ``B_l`` is ``(n_{l-1}, n_l)``.

Examples
--------
>>> import numpy as np
>>> B = np.array([[0.3, -0.2], [-0.1, 0.4]])
>>> project_dale(B, np.array([1.0, -1.0]))      # column 0 excitatory, column 1 inhibitory
array([[ 0.3, -0.2],
       [ 0. ,  0. ]])
>>> quantise(np.array([0.05, -0.3, 0.55, -0.1]), 3)   # s = mean |B| = 0.25, zero below 0.125
array([ 0.  , -0.25,  0.25,  0.  ])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray

#: The values a ternary weight or bias may take.
TERNARY_VALUES = (-1, 0, 1)
#: Bits that hold one ternary value (three states need two bits).
BITS_PER_TERNARY = 2


def dale_signs(rng: np.random.Generator, n_neurons: int, excitatory_fraction: float) -> Array:
    """Fixed signs (+1 excitatory, -1 inhibitory) of ``n_neurons`` feedback neurons.

    Exactly ``round(excitatory_fraction * n_neurons)`` neurons are excitatory;
    which ones is one permutation drawn from ``rng``.
    """
    n_excitatory = int(round(excitatory_fraction * n_neurons))
    return np.where(rng.permutation(n_neurons) < n_excitatory, 1.0, -1.0)


def project_dale(B: Array, column_signs: Array) -> Array:
    """``B`` with every entry whose sign disagrees with its column's sign set to zero.

    ``column_signs`` has one entry (+1 or -1) per column of ``B``. Entries of
    the right sign are returned unchanged; no entry ever changes sign.
    """
    return np.where(B * column_signs[np.newaxis, :] < 0, 0.0, B)


def quantise(B: Array, levels: int) -> Array:
    """The ``levels``-valued feedback that a continuous state ``B`` delivers.

    Parameters
    ----------
    B : ndarray
        Continuous hidden state of one feedback matrix.
    levels : int
        Odd number >= 3 of allowed values, ``{-k q, ..., -q, 0, q, ..., k q}``
        with ``k = (levels - 1) / 2``.

    Notes
    -----
    The step is ``q = 2 mean|B| / (k + 1)`` (recomputed from the current state,
    so it follows B's overall scale) and each entry is rounded to the nearest
    level, saturating at ``±k q``: ``Q(B) = q clip(round(B / q), -k, k)``.
    For ternary synapses (``levels = 3``) this is ``s = q = mean|B|``: an
    entry with ``|B| < s/2`` delivers 0, every other entry ``sign(B) s``.
    For many levels the grid spans ``±2 mean|B|``, the whole range of a
    uniformly distributed B. An all-zero B delivers zeros.
    """
    if levels < 3 or levels % 2 == 0:
        raise ValueError(f"quantise: levels must be an odd number >= 3 (got {levels})")
    k = (levels - 1) // 2
    q = 2.0 * float(np.mean(np.abs(B))) / (k + 1)
    if q == 0.0:
        return np.zeros_like(B)
    return q * np.clip(np.round(B / q), -k, k) + 0.0   # + 0.0 turns -0.0 into 0.0


@dataclass(frozen=True)
class FeedbackConstraints:
    """What the feedback synapses are allowed to be.

    Parameters
    ----------
    dale : bool
        Dale's principle per feedback neuron (column of ``B_l``); see
        :func:`project_dale`.
    excitatory_fraction : float
        Fraction of feedback neurons per layer that are excitatory (``dale`` only).
    levels : int
        0 = continuous feedback; an odd number >= 3 = the number of values a
        feedback synapse delivers (:func:`quantise`; 3 = ternary).

    Notes
    -----
    An engine applies the constraints like this: at initialisation it draws
    the column signs (:meth:`draw_signs`, after W and B are drawn, so runs
    without constraints see the same random numbers) and projects B; after
    every update of B it projects again; the feedback it delivers (and that
    metrics measure) is :meth:`deliver` of B.
    """

    dale: bool = False
    excitatory_fraction: float = 0.5
    levels: int = 0

    def __post_init__(self):
        if not 0.0 <= self.excitatory_fraction <= 1.0:
            raise ValueError(f"FeedbackConstraints.excitatory_fraction: must be in [0, 1] "
                             f"(got {self.excitatory_fraction})")
        if self.levels != 0 and (self.levels < 3 or self.levels % 2 == 0):
            raise ValueError(f"FeedbackConstraints.levels: must be 0 (continuous) or an odd "
                             f"number >= 3 (got {self.levels})")

    def draw_signs(self, rng: np.random.Generator, B_list: list[Array]) -> list[Array] | None:
        """Column signs for each feedback matrix, layer by layer; None without ``dale``."""
        if not self.dale:
            return None
        return [dale_signs(rng, B.shape[1], self.excitatory_fraction) for B in B_list]

    def deliver(self, B: Array) -> Array:
        """What a feedback matrix with state ``B`` delivers (``B`` itself when continuous)."""
        return B if self.levels == 0 else quantise(B, self.levels)
