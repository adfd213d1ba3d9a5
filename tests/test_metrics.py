"""Tests for mirrorlab.analysis.metrics (pure numpy alignment metrics)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mirrorlab.analysis import metrics as M


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def layers(rng):
    """Forward weights for a 5-4-3 network and exactly mirrored feedback."""
    W_list = [rng.normal(size=(4, 5)), rng.normal(size=(3, 4))]
    return W_list, [W.T.copy() for W in W_list]


# ------------------------------------------------------------------ angle_deg


def test_angle_of_matrix_with_itself_is_zero(rng):
    W = rng.normal(size=(7, 3))
    assert M.angle_deg(W, W) == pytest.approx(0.0, abs=1e-5)


def test_angle_with_negation_is_180(rng):
    W = rng.normal(size=(7, 3))
    assert M.angle_deg(W, -W) == pytest.approx(180.0, abs=1e-5)


def test_angle_of_orthogonal_vectors_is_90():
    assert M.angle_deg([1.0, 0.0], [0.0, 3.0]) == pytest.approx(90.0)
    assert M.angle_deg(np.eye(2), np.array([[0.0, 1.0], [1.0, 0.0]])) == pytest.approx(90.0)


def test_angle_of_known_pair_is_45():
    assert M.angle_deg([1.0, 0.0], [1.0, 1.0]) == pytest.approx(45.0)


def test_random_matrices_in_high_dimension_are_nearly_orthogonal(rng):
    a, b = rng.normal(size=(200, 200)), rng.normal(size=(200, 200))
    assert M.angle_deg(a, b) == pytest.approx(90.0, abs=1.0)


def test_angle_with_zero_norm_is_90(rng):
    assert M.angle_deg(np.zeros((2, 2)), rng.normal(size=(2, 2))) == 90.0
    assert M.angle_deg(np.zeros(3), np.zeros(3)) == 90.0


def test_angle_compares_flattened_arrays():
    assert M.angle_deg(np.arange(6.0).reshape(2, 3), np.arange(6.0)) == pytest.approx(0.0, abs=1e-5)


def test_angle_rejects_different_sizes():
    with pytest.raises(ValueError, match="equal sizes"):
        M.angle_deg(np.ones(3), np.ones(4))


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    a=arrays(np.float64, 6, elements=finite),
    b=arrays(np.float64, 6, elements=finite),
    s=st.floats(1e-3, 1e3),
    t=st.floats(1e-3, 1e3),
)
def test_angle_symmetric_and_invariant_to_positive_scaling(a, b, s, t):
    angle = M.angle_deg(a, b)
    assert 0.0 <= angle <= 180.0
    assert M.angle_deg(b, a) == pytest.approx(angle, abs=1e-9)
    if np.linalg.norm(a) > 1e-3 and np.linalg.norm(b) > 1e-3:
        assert M.angle_deg(s * a, t * b) == pytest.approx(angle, abs=1e-4)


# ------------------------------------------------------------------ per-layer angles


def test_weight_angles_zero_for_mirrored_feedback(layers):
    W_list, B_list = layers
    assert M.weight_angles(W_list, B_list) == pytest.approx([0.0, 0.0], abs=1e-5)


def test_weight_angles_180_for_negated_feedback(layers):
    W_list, B_list = layers
    assert M.weight_angles(W_list, [-B for B in B_list]) == pytest.approx([180.0, 180.0], abs=1e-5)


def test_weight_angles_invariant_to_feedback_scale(layers, rng):
    W_list, _ = layers
    B_list = [rng.normal(size=W.T.shape) for W in W_list]
    scaled = [3.7 * B for B in B_list]
    assert M.weight_angles(W_list, scaled) == pytest.approx(M.weight_angles(W_list, B_list))


def test_weight_angles_shape_error_names_layer_and_shapes(layers):
    W_list, B_list = layers
    with pytest.raises(ValueError, match=r"layer 1.*\(3, 4\).*\(3, 4\)"):
        M.weight_angles(W_list, [B_list[0], W_list[1]])


def test_weight_angles_length_mismatch(layers):
    W_list, B_list = layers
    with pytest.raises(ValueError, match="2 forward and 1 feedback"):
        M.weight_angles(W_list, B_list[:1])


def test_delta_angles(rng):
    d1, d2 = rng.normal(size=(8, 4)), rng.normal(size=(8, 3))
    assert M.delta_angles([d1, d2], [2.0 * d1, -d2]) == pytest.approx([0.0, 180.0], abs=1e-5)


def test_delta_angles_shape_error(rng):
    with pytest.raises(ValueError, match=r"layer 0.*\(8, 4\).*\(8, 3\)"):
        M.delta_angles([rng.normal(size=(8, 4))], [rng.normal(size=(8, 3))])
    with pytest.raises(ValueError, match="1 delivered and 2 backprop"):
        M.delta_angles([np.ones((2, 2))], [np.ones((2, 2))] * 2)


# ------------------------------------------------------------------ sign concordance, norms


def test_sign_concordance_of_mirror_is_one_and_of_negation_zero(rng):
    W = rng.normal(size=(4, 6))
    assert M.sign_concordance(W, W.T) == 1.0
    assert M.sign_concordance(W, -W.T) == 0.0


def test_sign_concordance_zeros_agree_only_with_zeros():
    W = np.array([[0.0, 1.0], [2.0, -1.0]])
    B = np.array([[0.0, 0.0], [3.0, 1.0]])  # W.T = [[0, 2], [1, -1]]
    # entries: (0,0) both zero -> agree; (0,1) 0 vs 2 -> no; (1,0) 3 vs 1 -> yes; (1,1) 1 vs -1 -> no
    assert M.sign_concordance(W, B) == pytest.approx(0.5)


def test_sign_concordance_shape_error(rng):
    W = rng.normal(size=(3, 4))
    with pytest.raises(ValueError, match=r"layer 0.*\(3, 4\)"):
        M.sign_concordance(W, W)


def test_sign_concordances_and_norm_ratios(layers):
    W_list, B_list = layers
    assert M.sign_concordances(W_list, B_list) == [1.0, 1.0]
    assert M.norm_ratios(W_list, [0.5 * B_list[0], 2.0 * B_list[1]]) == pytest.approx([0.5, 2.0])
    with pytest.raises(ValueError, match="layer 0"):
        M.norm_ratios(W_list, W_list)


# ------------------------------------------------------------------ accuracy, spread


def test_accuracy_counts_argmax_agreement():
    targets = np.eye(3)[[0, 1, 2, 1]]
    outputs = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.0, 0.3, 0.2]])
    assert M.accuracy(outputs, targets) == pytest.approx(0.75)


def test_accuracy_rejects_bad_shapes():
    with pytest.raises(ValueError, match="must both be"):
        M.accuracy(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="must both be"):
        M.accuracy(np.ones(4), np.ones(4))


def test_mean_and_spread():
    curves = np.array([[0.0, 1.0, 2.0], [2.0, 3.0, 10.0]])
    mean, low, high = M.mean_and_spread(curves)
    np.testing.assert_allclose(mean, [1.0, 2.0, 6.0])
    np.testing.assert_allclose(low, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(high, [2.0, 3.0, 10.0])


def test_mean_and_spread_single_seed_and_bad_shape():
    mean, low, high = M.mean_and_spread([[1.0, 2.0]])
    np.testing.assert_allclose(mean, low)
    np.testing.assert_allclose(mean, high)
    with pytest.raises(ValueError, match="n_seeds"):
        M.mean_and_spread([1.0, 2.0])


# --- the floor of synapses with few levels ----------------------------------------------

def _brute_force_floor(v, levels):
    """The least angle to v over every vector of `levels` integer levels (small n only)."""
    import itertools
    k = (levels - 1) // 2
    best = 180.0
    for t in itertools.product(range(-k, k + 1), repeat=v.size):
        if any(t):
            best = min(best, M.angle_deg(np.array(t, float), v))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_ternary_floor_is_the_best_ternary_vector(seed):
    v = np.random.default_rng(seed).normal(size=7)
    assert M.levels_floor_deg(v, 3) == pytest.approx(_brute_force_floor(v, 3), abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_five_level_floor_is_within_its_scan_resolution_of_the_best(seed):
    """The 256-scale scan can only miss the best scale, never beat the true floor."""
    v = np.random.default_rng(seed).normal(size=4)
    best = _brute_force_floor(v, 5)
    assert best - 1e-9 <= M.levels_floor_deg(v, 5) <= best + 0.5


def test_ternary_floor_of_large_gaussian_and_uniform_targets_meets_theory():
    """Keeping the fraction p of largest entries: uniform cos = sqrt(3p)(1 - p/2), best at
    p = 2/3, 19.47 deg; gaussian, 25.9 deg. n = 1e5 puts the sampling error below 0.1 deg."""
    rng = np.random.default_rng(0)
    assert M.levels_floor_deg(rng.uniform(-1, 1, 100_000), 3) == pytest.approx(19.47, abs=0.1)
    assert M.levels_floor_deg(rng.normal(size=100_000), 3) == pytest.approx(25.9, abs=0.15)
    assert M.levels_floor_deg(rng.normal(size=(30, 40)), 0) == 0.0
    assert M.levels_floor_deg(np.sign(rng.normal(size=50)), 3) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="levels"):
        M.levels_floor_deg(rng.normal(size=5), 4)


def test_best_ternary_is_the_floor_and_its_scale_is_the_least_squares_one():
    target = np.random.default_rng(3).normal(size=(6, 5))
    T, s = M.best_ternary(target)
    assert T.shape == target.shape and set(np.unique(T)) <= {-1, 0, 1}
    assert M.angle_deg(T, target) == pytest.approx(M.levels_floor_deg(target, 3), abs=1e-12)
    # for fixed T the distance |s T - target| is least at s = <T, target> / |T|^2
    assert s == pytest.approx(np.sum(T * target) / np.sum(T * T))
