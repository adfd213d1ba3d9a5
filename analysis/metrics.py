"""Alignment and performance metrics for circuits that learn without weight transport.

All functions are pure numpy and read recordings only (arrays, lists of
arrays); they never touch a circuit or a simulator.

Conventions
-----------
Forward weights ``W_l`` have shape ``(n_l, n_{l-1})``; feedback weights
``B_l`` have shape ``(n_{l-1}, n_l)``, i.e. the shape of ``W_l.T``. Perfect
weight transport is ``B_l == W_l.T``. Lists of layers are ordered input side
first, so ``W_list[0]`` is the weight matrix out of the input layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "angle_deg",
    "weight_angles",
    "delta_angles",
    "sign_concordance",
    "sign_concordances",
    "norm_ratios",
    "accuracy",
    "mean_and_spread",
]

#: Angle returned when one of the two arrays has zero norm (degrees).
ZERO_NORM_ANGLE_DEG = 90.0


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two arrays treated as flat vectors.

    Parameters
    ----------
    a, b : array_like
        Arrays with the same number of entries (any shape); they are compared
        as ``vec(a)`` and ``vec(b)``.

    Returns
    -------
    float
        ``arccos(<a, b> / (|a| |b|))`` in degrees, in ``[0, 180]``. The cosine
        is clipped to ``[-1, 1]`` against rounding. If either array has zero
        norm the angle is undefined and ``90.0`` (no alignment) is returned.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` have different numbers of entries.
    """
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.size != b.size:
        raise ValueError(f"angle_deg needs equal sizes, got {a.size} and {b.size} entries")
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if norm_a == 0.0 or norm_b == 0.0:
        return ZERO_NORM_ANGLE_DEG
    cosine = np.clip(np.dot(a, b) / (norm_a * norm_b), -1.0, 1.0)
    return float(np.degrees(np.arccos(cosine)))


def _check_layer_pair(index: int, W: np.ndarray, B: np.ndarray) -> None:
    """Raise ValueError unless ``B`` has the shape of ``W.T``."""
    if W.ndim != 2 or B.shape != W.T.shape:
        raise ValueError(
            f"layer {index}: feedback B has shape {B.shape} but forward W has shape "
            f"{W.shape}; expected B.shape == W.T.shape"
        )


def _layer_pairs(
    W_list: Sequence[np.ndarray], B_list: Sequence[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validate and pair forward and feedback weights layer by layer."""
    if len(W_list) != len(B_list):
        raise ValueError(f"got {len(W_list)} forward and {len(B_list)} feedback matrices")
    pairs = []
    for index, (W, B) in enumerate(zip(W_list, B_list)):
        W, B = np.asarray(W, dtype=float), np.asarray(B, dtype=float)
        _check_layer_pair(index, W, B)
        pairs.append((W, B))
    return pairs


def weight_angles(W_list: Sequence[np.ndarray], B_list: Sequence[np.ndarray]) -> list[float]:
    """Angle between each feedback matrix and the transposed forward matrix.

    Parameters
    ----------
    W_list : sequence of ndarray, each (n_l, n_{l-1})
        Forward weights, input side first.
    B_list : sequence of ndarray, each (n_{l-1}, n_l)
        Feedback weights, same order.

    Returns
    -------
    list of float
        ``angle_deg(B_l, W_l.T)`` per layer, degrees. 0 means weight
        transport is perfectly mirrored; about 90 means unaligned.

    Raises
    ------
    ValueError
        If the lists differ in length or a ``B_l`` does not have the shape of
        ``W_l.T`` (the message names the layer index and both shapes).
    """
    return [angle_deg(B, W.T) for W, B in _layer_pairs(W_list, B_list)]


def best_ternary(target: np.ndarray) -> tuple[np.ndarray, float]:
    """The ternary array ``T`` (values -1, 0, 1; ``target``'s shape) and scale ``s`` that make
    ``s T`` the closest to ``target`` in angle and then in distance: ``sign`` on the ``m``
    largest ``|target|`` entries for the ``m`` that maximises ``sum of those |entries| /
    sqrt(m)``, and ``s`` their mean ``|entry|``."""
    v = np.abs(np.ravel(target).astype(float))
    order = np.argsort(v)[::-1]
    cosines = np.cumsum(v[order]) / np.sqrt(np.arange(1, v.size + 1))
    m = int(np.argmax(cosines)) + 1
    kept = np.zeros(v.size, dtype=bool)
    kept[order[:m]] = True
    T = (np.sign(np.ravel(target)) * kept).astype(np.int8).reshape(np.shape(target))
    return T, float(v[kept].mean())


def levels_floor_deg(target: np.ndarray, levels: int) -> float:
    """The smallest angle between ``target`` and any array of ``levels`` equally spaced values
    symmetric about 0 (``{-k q, ..., k q}``, ``k = (levels - 1) / 2``, any scale ``q > 0``):
    how close a synapse group that delivers only those values can come to ``target``.

    Parameters
    ----------
    target : ndarray
        What the synapse group should deliver (e.g. ``W_l.T``), compared as a flat vector.
    levels : int
        An odd number >= 3, or 0 (continuous: the floor is 0).

    Returns
    -------
    float
        Degrees. Ternary (``levels = 3``) is exact: the best ternary vector is ``sign`` on
        the ``m`` largest ``|target|`` entries for the ``m`` that maximises
        ``sum of those |entries| / (sqrt(m) |target|)`` (about 25.9 deg for gaussian
        entries, 19.5 deg for uniform ones, as n grows). More levels: the best rounding to
        the nearest level over 256 scales ``q`` (within ~0.1 deg of the floor).
    """
    if levels == 0:
        return 0.0
    if levels < 3 or levels % 2 == 0:
        raise ValueError(f"levels: must be 0 or an odd number >= 3 (got {levels})")
    v = np.abs(np.ravel(target).astype(float))
    norm = np.linalg.norm(v)
    if norm == 0:
        return 0.0
    if levels == 3:
        return angle_deg(best_ternary(target)[0], target)
    k = (levels - 1) // 2
    best = 0.0
    for q in v.max() / k * np.linspace(0.02, 1.0, 256):
        t = np.minimum(np.rint(v / q), k)
        size = np.linalg.norm(t)
        if size:
            best = max(best, float(t @ v) / (size * norm))
    return float(np.degrees(np.arccos(min(1.0, best))))


def delta_angles(
    deltas: Sequence[np.ndarray], deltas_bp: Sequence[np.ndarray]
) -> list[float]:
    """Angle between delivered errors and the errors backprop would deliver.

    Parameters
    ----------
    deltas : sequence of ndarray, each (batch, n_l)
        Error signal each layer actually received through feedback weights.
    deltas_bp : sequence of ndarray, each (batch, n_l)
        Backprop error for the same layers and batch.

    Returns
    -------
    list of float
        Angle in degrees per layer between the flattened arrays (the whole
        batch is one vector).

    Raises
    ------
    ValueError
        If the lists differ in length or a layer's shapes differ.
    """
    if len(deltas) != len(deltas_bp):
        raise ValueError(f"got {len(deltas)} delivered and {len(deltas_bp)} backprop errors")
    angles = []
    for index, (delta, delta_bp) in enumerate(zip(deltas, deltas_bp)):
        delta, delta_bp = np.asarray(delta), np.asarray(delta_bp)
        if delta.shape != delta_bp.shape:
            raise ValueError(
                f"layer {index}: delivered error has shape {delta.shape} but "
                f"backprop error has shape {delta_bp.shape}"
            )
        angles.append(angle_deg(delta, delta_bp))
    return angles


def sign_concordance(W: np.ndarray, B: np.ndarray) -> float:
    """Fraction of feedback weights whose sign matches the transposed forward weight.

    Parameters
    ----------
    W : ndarray, (n_l, n_{l-1})
        Forward weights.
    B : ndarray, (n_{l-1}, n_l)
        Feedback weights.

    Returns
    -------
    float
        Fraction in ``[0, 1]`` of entries with ``sign(B) == sign(W.T)``. A
        zero entry agrees only with a zero entry: a zero facing a nonzero
        weight counts as disagreement.

    Raises
    ------
    ValueError
        If ``B`` does not have the shape of ``W.T``.
    """
    ((W, B),) = _layer_pairs([W], [B])
    return _concordance(W, B)


def _concordance(W: np.ndarray, B: np.ndarray) -> float:
    """Sign agreement of already validated ``B`` with ``W.T``."""
    return float(np.mean(np.sign(B) == np.sign(W.T)))


def sign_concordances(
    W_list: Sequence[np.ndarray], B_list: Sequence[np.ndarray]
) -> list[float]:
    """:func:`sign_concordance` per layer (input side first); fractions in [0, 1].

    Raises
    ------
    ValueError
        On mismatched list lengths or shapes (names the layer index).
    """
    return [_concordance(W, B) for W, B in _layer_pairs(W_list, B_list)]


def norm_ratios(W_list: Sequence[np.ndarray], B_list: Sequence[np.ndarray]) -> list[float]:
    """Frobenius-norm ratio ``||B_l||_F / ||W_l||_F`` per layer (dimensionless).

    Returns ``inf`` for a layer whose ``W_l`` is all zero but ``B_l`` is not,
    and ``nan`` when both are zero.

    Raises
    ------
    ValueError
        On mismatched list lengths or shapes (names the layer index).
    """
    ratios = []
    for W, B in _layer_pairs(W_list, B_list):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios.append(float(np.linalg.norm(B) / np.linalg.norm(W)))
    return ratios


def accuracy(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Classification accuracy by argmax agreement.

    Parameters
    ----------
    outputs : ndarray, (n, n_out)
        Network outputs (scores, rates or probabilities).
    targets : ndarray, (n, n_out)
        One-hot (or score) targets.

    Returns
    -------
    float
        Fraction in ``[0, 1]`` of samples whose argmax over outputs equals the
        argmax over targets.

    Raises
    ------
    ValueError
        If the arrays are not 2-D with the same shape, or are empty.
    """
    outputs, targets = np.asarray(outputs), np.asarray(targets)
    if outputs.ndim != 2 or outputs.shape != targets.shape:
        raise ValueError(
            f"outputs {outputs.shape} and targets {targets.shape} must both be (n, n_out)"
        )
    if outputs.shape[0] == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return float(np.mean(outputs.argmax(axis=1) == targets.argmax(axis=1)))


def mean_and_spread(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean curve across seeds and its min-max envelope.

    Parameters
    ----------
    curves : array_like, (n_seeds, n_points)
        One learning curve per seed, sampled at the same points.

    Returns
    -------
    mean, low, high : ndarray, each (n_points,)
        Mean across seeds, and the spread as the minimum and maximum across
        seeds (not a standard deviation; with few seeds the envelope shows
        every run). Units are those of ``curves``.

    Raises
    ------
    ValueError
        If ``curves`` is not 2-D or has no seeds.
    """
    curves = np.asarray(curves, dtype=float)
    if curves.ndim != 2 or curves.shape[0] == 0:
        raise ValueError(f"curves must be (n_seeds >= 1, n_points), got shape {curves.shape}")
    return curves.mean(axis=0), curves.min(axis=0), curves.max(axis=0)
