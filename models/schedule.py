"""The phase schedule as data: which batches are engaged and which are mirror.

Both engines consume the same plan, so a circuit and the matrix engine given
the same seed see the same samples in the same order and the same noise.
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np

from .noise import NoiseSource
from .params import one_of

ENGAGED = "engaged"
MIRROR = "mirror"
#: How the mirror phase injects noise: one layer at a time, or into every layer at once.
MIRROR_SCHEMES = ("alternating", "simultaneous")
#: The one check of a mirror scheme, wherever one is given.
MIRROR_SCHEME = one_of(*MIRROR_SCHEMES)


class Event(NamedTuple):
    """One batch of the run.

    ``phase`` is ``"engaged"`` (task learning on ``samples``, indices into the
    training set) or ``"mirror"`` (feedback learning from noise, ``samples`` is
    None). ``step`` counts engaged batches done before this event. An engaged event of
    :func:`phase_plan` also carries its epoch's permutation ``order``, of which
    ``samples`` is ``order[start:start + len(samples)]`` (so a run can gather an epoch's
    data once and take each batch as a slice).
    """

    phase: str
    samples: np.ndarray | None
    epoch: int
    step: int
    order: np.ndarray | None = None
    start: int = 0


def phase_plan(n_train: int, epochs: int, batch_size: int, rng: np.random.Generator, *,
               mirror: bool = False, initial_mirror_batches: int = 0, mirror_every: int = 1,
               mirror_batches: int = 1) -> Iterator[Event]:
    """Yield the run's events in order.

    Parameters
    ----------
    n_train : int
        Training set size; each epoch visits a fresh permutation from ``rng``
        in batches of ``batch_size`` (the last batch may be smaller).
    mirror : bool
        Whether the rule has a mirror phase. If so: ``initial_mirror_batches``
        mirror events first, then ``mirror_batches`` mirror events after every
        ``mirror_every``-th engaged batch.
    """
    step = 0
    if mirror:
        for _ in range(initial_mirror_batches):
            yield Event(MIRROR, None, 0, step)
    for epoch in range(epochs):
        order = rng.permutation(n_train)
        for start in range(0, n_train, batch_size):
            yield Event(ENGAGED, order[start:start + batch_size], epoch, step, order, start)
            step += 1
            if mirror and step % mirror_every == 0:
                for _ in range(mirror_batches):
                    yield Event(MIRROR, None, epoch, step)


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    return -(-n_train // batch_size)


def draw_mirror_noise(rng: np.random.Generator, noise: NoiseSource, sizes: list[int],
                      batch: int) -> list[np.ndarray]:
    """Noise for one mirror batch: one ``(batch, n_{l-1})`` array per weight layer l = 1..L.

    Drawn in layer order from ``rng`` (in one call: the same numbers as one draw per
    layer); this order is the contract that lets a circuit replay the matrix engine's
    noise exactly.
    """
    flat = noise.sample(rng, batch * sum(sizes[:-1]))
    draws, start = [], 0
    for n in sizes[:-1]:
        draws.append(flat[start:start + batch * n].reshape(batch, n))
        start += batch * n
    return draws
