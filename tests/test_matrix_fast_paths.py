"""The matrix engine's fast step is the textbook step, and float32 is float64 rounded.

``engaged_step`` and ``mirror_step`` fuse and reorder the updates for speed (the learning
rate folded into the error, in-place updates, Kolen-Pollack's shared product, the mirror's
inline Hebbian product). Each is checked here against the same step written out from the
engine's documented pieces (``forward``, ``backward``, ``learn_feedback``,
``learn_forward``, ``mirror_learn``) for every rule and optimiser option, to 1e-12
relative: the two differ only in the order of floating-point operations (~1e-16 per
operation, a few operations per weight).
"""
import copy
import warnings

import numpy as np
import pytest

from mirrorlab.models.losses import get_loss
from mirrorlab.models.schedule import draw_mirror_noise
from mirrorlab.models.transfer import TRANSFERS
from mirrorlab.sims.config import Config, ConfigError
from mirrorlab.sims.runs.circuit import spec_from_config
from mirrorlab.sims.runs.matrix import build_engine, run_matrix

RULES = ("bp", "fa", "ss", "wm", "kp")
OPTIONS = {"plain": {}, "momentum": {"training.momentum": 0.9},
           "weight decay": {"training.weight_decay": 1e-2},
           "both": {"training.momentum": 0.9, "training.weight_decay": 1e-2},
           "dale": {"constraints.feedback_dale": True},
           "levels": {"constraints.feedback_levels": 3}}


def engine_pair(rule, options, sizes=(12, 9, 7, 4)):
    config = Config().replace(**{"rule.name": rule, "network.sizes": list(sizes),
                                 "training.batch_size": 5, "training.lr": 0.3, **options})
    engine = build_engine(config, np.random.default_rng(3))
    return engine, copy.deepcopy(engine)


def textbook_engaged_step(engine, x, y):
    net_inputs, activities = engine.forward(x)
    deltas = engine.backward(net_inputs, y)
    batch = engine.batch_size or len(x)
    for l, (delta, pre) in enumerate(zip(deltas, activities)):
        hebbian = delta.T @ pre / batch
        engine.learn_feedback(l, hebbian.T)
        engine.learn_forward(l, hebbian, delta.sum(axis=0) / batch)
    return engine.loss.value(net_inputs[-1], y)


def assert_same_network(got, expected, tolerance=1e-12):
    for kind in ("W", "b", "B", "velocity_W", "velocity_B"):
        for l, (g, e) in enumerate(zip(getattr(got.net, kind), getattr(expected.net, kind))):
            scale = max(np.linalg.norm(e), 1e-300)
            assert np.linalg.norm(g - e) <= tolerance * scale, f"{kind}[{l}]"


#: Dale's principle and levels constrain feedback synapses of a rule's own (not bp's, ss's)
COMBINATIONS = [(rule, option) for rule in RULES for option in OPTIONS
                if option not in ("dale", "levels") or rule in ("fa", "wm", "kp")]


@pytest.mark.parametrize("rule, option", COMBINATIONS)
def test_the_fast_engaged_step_is_the_textbook_step(rule, option):
    fast, slow = engine_pair(rule, OPTIONS[option])
    rng = np.random.default_rng(0)
    start = [w.copy() for w in fast.net.W]
    for _ in range(4):      # several steps: momentum carries state from one to the next
        x, y = rng.uniform(size=(5, 12)), np.eye(4)[rng.integers(0, 4, 5)]
        assert fast.engaged_step(x, y) == pytest.approx(textbook_engaged_step(slow, x, y),
                                                        rel=1e-12)
    assert_same_network(fast, slow)
    assert all(np.linalg.norm(w - s) > 1e-3 * np.linalg.norm(s)
               for w, s in zip(fast.net.W, start))


@pytest.mark.parametrize("scheme", ["alternating", "simultaneous"])
@pytest.mark.parametrize("option", ["plain", "dale"])
def test_the_inline_mirror_step_is_mirror_learn(scheme, option):
    fast, slow = engine_pair("wm", {**OPTIONS[option], "schedule.mirror_scheme": scheme,
                                    "rule.wm.target_std": 0.5})
    rng = np.random.default_rng(1)
    start = [b.copy() for b in fast.net.B]
    for _ in range(3):
        noise = draw_mirror_noise(rng, fast.rule.mirror_noise, fast.net.sizes, 6)
        fast.mirror_step(noise)
        pre = noise[0]
        for l, (W, b, phi) in enumerate(zip(slow.net.W, slow.net.b, slow.transfers)):
            pre = noise[l] if scheme == "alternating" else pre
            post = phi.phi(pre @ W.T + b)
            slow.mirror_learn(l, pre, post)
            if l + 1 < len(noise):
                pre = post + noise[l + 1]
    assert_same_network(fast, slow)
    assert all(np.linalg.norm(b - s) > 1e-3 * np.linalg.norm(s)
               for b, s in zip(fast.net.B, start))


@pytest.mark.parametrize("name", sorted(TRANSFERS))
def test_the_cheap_slope_is_the_derivative(name):
    transfer = TRANSFERS[name]
    a = np.linspace(-30, 30, 600).reshape(3, -1)
    slope = transfer.slope(a, transfer.phi(a))
    expected = transfer.dphi(a)
    assert np.allclose(expected if slope is None else slope, expected, rtol=1e-12, atol=1e-15)
    if slope is None:
        assert np.all(expected == 1.0)


@pytest.mark.parametrize("name", sorted(TRANSFERS))
def test_transfers_keep_float32_and_make_integers_float64(name):
    transfer = TRANSFERS[name]
    for given, kept in ((np.float32, np.float32), (np.float64, np.float64),
                        (np.int64, np.float64)):
        a = np.array([[-3, 0, 2]], dtype=given)
        assert transfer.phi(a).dtype == kept and transfer.dphi(a).dtype == kept


def test_the_sigmoid_saturates_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = TRANSFERS["sigmoid"].phi(np.array([-1e4, -800.0, 0.0, 800.0]))
    assert out.tolist() == [0.0, 0.0, 0.5, 1.0]


@pytest.mark.parametrize("loss_name, output", [("mse", "linear"), ("mse", "sigmoid"),
                                               ("sigmoid_xent", "linear"),
                                               ("softmax_xent", "linear")])
def test_value_and_delta_are_value_and_delta(loss_name, output):
    loss = get_loss(loss_name, output)
    rng = np.random.default_rng(4)
    a, y = rng.normal(scale=5, size=(7, 4)), np.eye(4)[rng.integers(0, 4, 7)]
    value, delta = loss.value_and_delta(a.copy(), y)
    assert value == pytest.approx(loss.value(a, y), rel=1e-12)
    assert np.allclose(delta, loss.delta(a, y), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("rule", RULES)
def test_float32_is_float64_rounded(rule):
    """30 steps in float32 stay float32 and end within 1e-4 of float64: each operation
    rounds to ~6e-8 relative; over 30 steps of a few dozen operations the difference
    grows to ~1e-6 (measured 4e-7 to 2e-6); 1e-4 still catches any real change of the
    arithmetic, which moves the weights by a step's size (~1e-2)."""
    config = Config().replace(**{"rule.name": rule, "data.name": "teacher", "data.n_train": 150,
                                 "data.n_test": 30, "data.teacher_sizes": [20, 30, 10],
                                 "network.sizes": [20, 16, 10], "network.loss": "mse", "training.epochs": 4,
                                 "training.batch_size": 20})
    single = run_matrix(config.replace(**{"training.dtype": "float32"}), progress=False)
    double = run_matrix(config, progress=False)
    engine = build_engine(config.replace(**{"training.dtype": "float32"}),
                          np.random.default_rng(0))
    engine.engaged_step(np.ones((2, 20)), np.zeros((2, 10)))
    if engine.rule.uses_mirror_phase:
        engine.mirror_step(draw_mirror_noise(np.random.default_rng(0),
                                             engine.rule.mirror_noise, engine.net.sizes, 2))
    assert all(w.dtype == np.float32 for w in engine.net.W + engine.net.B + engine.net.b)
    for s, d in zip(single["history"], double["history"]):
        assert s["test_loss"] == pytest.approx(d["test_loss"], rel=1e-4)
        assert np.allclose(s["weight_angle_deg"], d["weight_angle_deg"], atol=1e-2)


def test_circuits_and_bad_dtypes_are_refused():
    with pytest.raises(ConfigError, match="training.dtype: must be one of float64, float32"):
        Config().replace(**{"training.dtype": "float16"})
    config = Config().replace(**{"training.dtype": "float32", "training.batch_size": 1})
    with pytest.raises(ConfigError, match="training.dtype: must be float64 for circuits"):
        spec_from_config(config)
