"""The run as data: one row per presentation, what each population sees and what learns.

A circuit runs a whole training run as ONE Brian2 ``run()``: a sequence of
presentations, each ``spec.presentation_steps`` time steps long. The arrays
here become TimedArrays (time step = one presentation) that the circuit loads
at the start of every presentation. Columns of the per-layer gates are indexed
by layer number ``l = 0 .. L``.

Presentation kinds, translated from the events of :func:`sims.schedule.phase_plan`:

- engaged: forward_0 shows a training sample, the target its label; W, b and
  (Kolen-Pollack, bp) B learn.
- mirror of layer l (alternating scheme, one per weight layer of a mirror
  event): forward_{l-1} carries noise only, forward_l is driven by W_l only,
  only B_l learns.
- mirror, simultaneous scheme: forward_0 carries noise, every hidden layer
  adds its noise to its driven rate, every B_l learns.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models.schedule import ENGAGED, MIRROR, MIRROR_SCHEME

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class Presentations:
    """Per-presentation inputs and gates of one run (P presentations, L weight layers).

    Attributes
    ----------
    stimulus : (P, n_0) array
        Sample shown by forward_0 (zeros in mirror presentations).
    labels : (P, n_L) array
        Label carried by the target population.
    drive : (P, L + 1) array
        1 where forward_l's rate carries its normal input (data, or phi(a)); 0 where it
        carries noise only. Column L is unused (the output layer is always driven).
    noise_on : (P, L + 1) array
        1 where noise is added to forward_l's rate. Column L is always 0.
    engaged : (P,) array
        1 where W, b (and B of Kolen-Pollack and bp) learn.
    mirror : (P, L + 1) array
        1 where B_l learns by the weight-mirror rule. Column 0 is always 0 (there is no B_0).
    noise : list of L arrays (P, n_l) or None
        Noise of forward_0 .. forward_{L-1}, replayed exactly; None when the circuit
        draws its own noise.
    """

    stimulus: Array
    labels: Array
    drive: Array
    noise_on: Array
    engaged: Array
    mirror: Array
    noise: list[Array] | None

    def __len__(self) -> int:
        return len(self.engaged)

    @property
    def engaged_steps(self) -> Array:
        """(P + 1,) engaged presentations completed before presentation p (p = 0 .. P)."""
        return np.concatenate([[0], np.cumsum(self.engaged)]).astype(int)


def presentation_arrays(plan: Presentations, replayed_noise: bool) -> dict[str, Array]:
    """The per-presentation TimedArray contents every circuit loads, one row per
    presentation: ``stimulus``, ``labels``, ``drive_gate``, ``noise_gate`` and, with
    ``replayed_noise``, ``noise_values_l`` of forward_0 .. forward_{L-1}."""
    arrays = {"stimulus": plan.stimulus, "labels": plan.labels, "drive_gate": plan.drive,
              "noise_gate": plan.noise_on}
    if replayed_noise and plan.noise is not None:
        arrays.update({f"noise_values_{l}": values for l, values in enumerate(plan.noise)})
    return arrays


def presentations(sizes, events, x_train: Array, y_train: Array,
                  mirror_noise: list[list[Array]] | None, mirror_scheme: str) -> Presentations:
    """The presentations of a run of ``events`` (from ``phase_plan`` with batch size 1).

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes ``n_0 .. n_L``.
    events : iterable of Event
    x_train, y_train : arrays (n_train, n_0), (n_train, n_L)
    mirror_noise : list or None
        One entry per mirror event, in order: the L arrays ``(1, n_{l})`` of
        ``draw_mirror_noise`` for that event. None: the circuit draws its noise.
    mirror_scheme : {"alternating", "simultaneous"}
    """
    L = len(sizes) - 1
    MIRROR_SCHEME.check("mirror_scheme", mirror_scheme)
    mirror_rows = MIRROR_ROWS[mirror_scheme]
    rows, draws = [], iter(mirror_noise) if mirror_noise is not None else None
    for event in events:
        if event.phase == ENGAGED:
            if len(event.samples) != 1:
                raise ValueError(f"circuits present one sample at a time; event {event} has "
                                 f"{len(event.samples)} (use batch_size=1)")
            k = event.samples[0]
            rows.append(_engaged_row(sizes, x_train[k], y_train[k]))
        elif event.phase == MIRROR:
            rows.extend(mirror_rows(sizes, _next_draw(draws, sizes)))
        else:
            raise ValueError(f"unknown event phase {event.phase!r}")
    if draws is not None and next(draws, None) is not None:
        raise ValueError("mirror_noise has more draws than the events have mirror events")
    if not rows:
        raise ValueError("no events to present")
    return _stack(rows, L, replay=mirror_noise is not None)


def _next_draw(draws, sizes) -> list[Array]:
    if draws is None:
        return [np.zeros(n) for n in sizes[:-1]]
    try:
        noise = next(draws)
    except StopIteration:
        raise ValueError("mirror_noise has fewer draws than the events have mirror "
                         "events") from None
    return [np.asarray(xi, dtype=float).reshape(n) for xi, n in zip(noise, sizes[:-1])]


def _row(sizes, **values) -> dict:
    """A presentation that shows nothing and learns nothing, with ``values`` set."""
    L = len(sizes) - 1
    row = {"stimulus": np.zeros(sizes[0]), "labels": np.zeros(sizes[-1]),
           "drive": np.ones(L + 1), "noise_on": np.zeros(L + 1), "engaged": 0.0,
           "mirror": np.zeros(L + 1), "noise": [np.zeros(n) for n in sizes[:-1]]}
    row.update(values)
    return row


def _engaged_row(sizes, x: Array, y: Array) -> dict:
    return _row(sizes, stimulus=np.asarray(x, float), labels=np.asarray(y, float), engaged=1.0)


def _mirror_layer_rows(sizes, noise: list[Array]) -> list[dict]:
    """Alternating scheme: one presentation per weight layer l = 1 .. L."""
    return [_mirror_layer_row(sizes, l, noise) for l in range(1, len(sizes))]


def _mirror_layer_row(sizes, l: int, noise: list[Array]) -> dict:
    """Alternating scheme: forward_{l-1} carries noise[l-1] only; B_l learns."""
    row = _row(sizes)
    row["drive"][l - 1] = 0.0
    row["noise_on"][l - 1] = 1.0
    row["mirror"][l] = 1.0
    row["noise"][l - 1] = noise[l - 1]
    return row


def _mirror_all_row(sizes, noise: list[Array]) -> dict:
    """Simultaneous scheme: noise into forward_0 .. forward_{L-1}; every B_l learns."""
    L = len(sizes) - 1
    row = _row(sizes, noise=list(noise))
    row["drive"][0] = 0.0
    row["noise_on"][:L] = 1.0
    row["mirror"][1:] = 1.0
    return row


#: The presentations of one mirror event, per mirror scheme.
MIRROR_ROWS = {"alternating": _mirror_layer_rows,
               "simultaneous": lambda sizes, noise: [_mirror_all_row(sizes, noise)]}


def _stack(rows: list[dict], L: int, replay: bool) -> Presentations:
    column = {key: np.array([row[key] for row in rows], dtype=float)
              for key in ("stimulus", "labels", "drive", "noise_on", "engaged", "mirror")}
    noise = ([np.array([row["noise"][l] for row in rows]) for l in range(L)] if replay
             else None)
    return Presentations(noise=noise, **column)
