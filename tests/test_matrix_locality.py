"""The matrix engine transports no weights it does not declare: for every rule and every
option, B's update from fixed local signals does not change when W does (the matrix
engine's counterpart of the circuits' locality audit)."""
import itertools

import numpy as np
import pytest

from mirrorlab.models.rules import RULES
from mirrorlab.sims.config import Config
from mirrorlab.sims.runs.common import Streams
from mirrorlab.sims.runs.matrix import build_engine

SIZES = [7, 6, 5, 4]

#: Options that change how B learns or what it delivers.
OPTIONS = [dict(zip(("training.momentum", "training.weight_decay", "constraints.feedback_dale",
                     "constraints.feedback_levels", "schedule.mirror_scheme"), values))
           for values in itertools.product((0.0, 0.9), (0.0, 0.01), (False, True), (0, 3),
                                           ("alternating", "simultaneous"))]


def engines(rule: str, options: dict):
    """Two engines in the same state (a few steps in, so momentum is under way), the
    second with every W and b perturbed."""
    config = Config().replace(**{"data.name": "teacher", "data.teacher_sizes": [7, 4],
                                 "network.sizes": SIZES, "network.loss": "mse",
                                 "rule.name": rule, "rule.kp.decay": 0.01, **options})
    pair = [build_engine(config, Streams.from_seed(0).init) for _ in range(2)]
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 7)), rng.normal(size=(8, 4))
    for engine in pair:
        for _ in range(3):
            engine.engaged_step(x, y)
    for W, b in zip(pair[1].net.W, pair[1].net.b):
        W += rng.normal(size=W.shape)
        b += rng.normal(size=b.shape)
    return pair


def transports(rule: str) -> bool:
    return RULES[rule].transports_weights


def applicable(rule: str, options: dict) -> bool:
    constrained = options["constraints.feedback_dale"] or options["constraints.feedback_levels"]
    return not (transports(rule) and constrained)


CASES = [(rule, options) for rule in RULES for options in OPTIONS if applicable(rule, options)]


@pytest.mark.parametrize("rule, options", CASES,
                         ids=[f"{r}-{i}" for i, (r, _) in enumerate(CASES)])
def test_feedback_learns_from_local_signals_only(rule, options):
    local, perturbed = engines(rule, options)
    rng = np.random.default_rng(2)
    for l, B in enumerate(local.net.B):
        hebbian = rng.normal(size=B.shape)            # x_{l-1}^T delta_l / batch
        pre, post = rng.normal(size=(5, B.shape[0])), rng.normal(size=(5, B.shape[1]))
        for engine in (local, perturbed):
            engine.learn_feedback(l, hebbian)
            if engine.rule.uses_mirror_phase:
                engine.mirror_learn(l, pre, post)
        np.testing.assert_array_equal(local.net.B[l], perturbed.net.B[l])
    # what B delivers depends on W exactly for the rules that declare weight transport
    delivered = [np.array_equal(a, b) for a, b in zip(local.feedback_matrices(),
                                                       perturbed.feedback_matrices())]
    assert all(delivered) != transports(rule)


def test_kolen_pollack_with_weight_decay_has_no_w_term():
    """With a zero input the first layer's Hebbian signal is 0: its B may only decay by
    its own value (it used to get -lr * weight_decay * W^T, weight transport)."""
    local, perturbed = engines("kp", {"training.weight_decay": 0.01})
    for engine in (local, perturbed):
        engine.net.velocity_B = [np.zeros_like(B) for B in engine.net.B]
    before = local.net.B[0].copy()
    x, y = np.zeros((4, 7)), np.zeros((4, 4))
    for engine in (local, perturbed):
        engine.engaged_step(x, y)
    shrink = 1 - local.lr * 0.01 - 0.01           # weight decay, then the kp decay
    np.testing.assert_allclose(local.net.B[0], shrink * before, rtol=1e-12)
    np.testing.assert_array_equal(local.net.B[0], perturbed.net.B[0])
