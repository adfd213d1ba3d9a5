"""Feedback alignment: fixed random feedback weights."""
from __future__ import annotations

from dataclasses import dataclass

from ..params import parameter, positive
from .base import Rule, uniform_feedback


@dataclass(frozen=True)
class FeedbackAlignment(Rule):
    """Fixed random feedback; the forward weights come to align with it.

    Parameters
    ----------
    scale : float
        Size of B relative to the fan-in initialisation ``U(-1,1)/sqrt(n_l)``.

    Notes
    -----
    ``B_l ~ scale * U(-1, 1) / sqrt(n_l)``, never changed (in circuits too: the B
    synapse groups have no plasticity).

    References
    ----------
    Lillicrap, Cownden, Tweed & Akerman (2016), Nat. Commun. 7, 13276.
    """

    scale: float = parameter(1.0, positive)
    name = "fa"

    def init_feedback(self, rng, W):
        return uniform_feedback(rng, W, self.scale)
