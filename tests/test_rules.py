"""Each rule's update against theory, on the matrix engine."""
import numpy as np
import pytest

from mirrorlab.analysis.metrics import angle_deg
from mirrorlab.models.losses import get_loss
from mirrorlab.models.rules import RULES, KolenPollack, SignSymmetry, WeightMirror
from mirrorlab.models.transfer import get_transfer
from mirrorlab.sims.matrix_engine import MatrixEngine, init_network
from mirrorlab.models.schedule import draw_mirror_noise


def make_engine(rule, sizes=(8, 6, 4), hidden="linear", loss="mse", lr=0.05, seed=0, **kw):
    rng = np.random.default_rng(seed)
    net = init_network(list(sizes), rule, rng)
    return MatrixEngine(net, rule, get_transfer(hidden), get_transfer("linear"),
                        get_loss(loss, "linear"), lr=lr, **kw)


def test_weight_mirror_linear_layer_reaches_theory():
    """Linear layer, mirror phase alone: B -> c W^T with c = eta_B sigma^2 / lambda_B."""
    # B is an exponential average over ~2/decay = 400 batches of 200 noise samples;
    # its sampling jitter is ~1 degree here (3.5 degrees with decay = 0.05), and
    # 2000 steps shrink the initial B by (1 - decay)^2000 ~ 4e-5.
    sigma, lr, decay = 0.5, 0.002, 0.005
    rule = WeightMirror(lr=lr, decay=decay, noise="gaussian", sigma=sigma)
    engine = make_engine(rule, sizes=(30, 20, 10))
    rng = np.random.default_rng(1)
    for _ in range(2000):
        engine.mirror_step(draw_mirror_noise(rng, rule.mirror_noise, engine.net.sizes, batch=200))
    c = lr * sigma**2 / decay
    for W, B in zip(engine.net.W, engine.net.B):
        assert angle_deg(B, W.T) < 2.0
        fitted = np.sum(B * W.T) / np.sum(W * W)   # least-squares scale of B on W^T
        assert fitted == pytest.approx(c, rel=0.02)


def test_weight_mirror_uniform_noise_same_fixed_point():
    """Uniform noise of the same variance gives the same c (only sigma^2 matters)."""
    sigma, lr, decay = 1.0, 0.01, 0.02
    rule = WeightMirror(lr=lr, decay=decay, noise="uniform", sigma=sigma)
    engine = make_engine(rule, sizes=(20, 10))
    rng = np.random.default_rng(2)
    for _ in range(800):
        engine.mirror_step(draw_mirror_noise(rng, rule.mirror_noise, engine.net.sizes, batch=200))
    W, B = engine.net.W[0], engine.net.B[0]
    assert np.sum(B * W.T) / np.sum(W * W) == pytest.approx(lr * sigma**2 / decay, rel=0.05)


def test_weight_mirror_sigmoid_layer_matches_steins_lemma():
    """Nonlinear layer, gaussian noise: E[xi phi(W xi + b)^T] = sigma^2 W^T diag(E phi'),
    so B keeps W^T's signs and is column-wise rescaled."""
    sigma, lr, decay = 1.0, 0.002, 0.005
    rule = WeightMirror(lr=lr, decay=decay, noise="gaussian", sigma=sigma)
    engine = make_engine(rule, sizes=(30, 20, 10), hidden="sigmoid")
    rng = np.random.default_rng(3)
    for _ in range(2000):
        engine.mirror_step(draw_mirror_noise(rng, rule.mirror_noise, engine.net.sizes, batch=200))
    W, b, B = engine.net.W[0], engine.net.b[0], engine.net.B[0]
    xi = np.random.default_rng(9).normal(0, sigma, size=(100_000, 30))
    mean_slope = get_transfer("sigmoid").dphi(xi @ W.T + b).mean(axis=0)
    predicted = lr * sigma**2 / decay * W.T * mean_slope
    # The sigmoid's mean output (0.5) multiplies zero-mean noise and adds sampling
    # jitter of about 0.09 relative (~5 degrees) to an 80,000-sample average.
    assert angle_deg(B, predicted) < 6.0
    big = np.abs(W.T) > 0.05
    assert np.all(np.sign(B[big]) == np.sign(W.T[big]))


def test_weight_mirror_growth_control_sets_output_std():
    rule = WeightMirror(lr=0.5, decay=0.0, target_std=0.3)
    engine = make_engine(rule, sizes=(12, 7))
    engine.mirror_step(draw_mirror_noise(np.random.default_rng(0), rule.mirror_noise, [12, 7], 16))
    B = engine.net.B[0]
    assert np.linalg.norm(B) / np.sqrt(B.shape[0]) == pytest.approx(0.3)


def test_simultaneous_mirror_differs_from_alternating():
    """Same noise, two schemes: the upper layer's B differs (it sees noise from below)."""
    rule = WeightMirror(lr=0.05, decay=0.1)
    a = make_engine(rule, hidden="sigmoid", mirror_scheme="alternating")
    s = make_engine(rule, hidden="sigmoid", mirror_scheme="simultaneous")
    noise = draw_mirror_noise(np.random.default_rng(0), rule.mirror_noise, a.net.sizes, 32)
    a.mirror_step(noise)
    s.mirror_step(noise)
    np.testing.assert_allclose(a.net.B[0], s.net.B[0])    # bottom layer: same input
    assert not np.allclose(a.net.B[1], s.net.B[1])


def test_kolen_pollack_difference_shrinks_by_one_minus_lambda():
    """dW and dB^T are the same task step, so W - B^T -> (1 - lambda) (W - B^T) per step."""
    decay = 0.03
    engine = make_engine(KolenPollack(decay=decay), hidden="tanh", momentum=0.5)
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(16, 8)), rng.normal(size=(16, 4))
    before = [np.linalg.norm(W - B.T) for W, B in zip(engine.net.W, engine.net.B)]
    steps = 25
    for _ in range(steps):
        engine.engaged_step(x, y)
    for l, (W, B) in enumerate(zip(engine.net.W, engine.net.B)):
        assert np.linalg.norm(W - B.T) == pytest.approx(before[l] * (1 - decay) ** steps,
                                                        rel=1e-9)


def test_backprop_delta_equals_finite_difference_gradient():
    """BP's weight gradient delta_l x_{l-1}^T equals d loss / d W_l numerically."""
    engine = make_engine(RULES["bp"](), sizes=(5, 4, 3, 2), hidden="tanh",
                         loss="softmax_xent")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(7, 5))
    y = np.eye(2)[rng.integers(0, 2, size=7)]
    net_inputs, activities = engine.forward(x)
    deltas = engine.backward(net_inputs, y)
    eps = 1e-6
    for l, W in enumerate(engine.net.W):
        analytic = deltas[l].T @ activities[l] / len(x)
        numeric = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            W[idx] += eps
            up = engine.loss.value(engine.forward(x)[0][-1], y)
            W[idx] -= 2 * eps
            down = engine.loss.value(engine.forward(x)[0][-1], y)
            W[idx] += eps
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss", ["mse", "sigmoid_xent", "softmax_xent"])
def test_output_delta_is_loss_gradient(loss):
    l = get_loss(loss, "sigmoid" if loss == "mse" else "linear")
    rng = np.random.default_rng(6)
    a, y = rng.normal(size=(1, 4)), rng.uniform(size=(1, 4))
    if loss == "softmax_xent":
        y = y / y.sum()
    eps = 1e-6
    numeric = np.array([(l.value(a + eps * e, y) - l.value(a - eps * e, y)) / (2 * eps)
                        for e in np.eye(4)])
    np.testing.assert_allclose(l.delta(a, y)[0], numeric, rtol=1e-6, atol=1e-9)


def test_sign_symmetry_feedback_has_signs_of_forward():
    for magnitudes in ("uniform", "random"):
        rule = SignSymmetry(magnitudes=magnitudes)
        engine = make_engine(rule)
        for W, F in zip(engine.net.W, engine.feedback_matrices()):
            assert np.all(np.sign(F) == np.sign(W.T))
    with pytest.raises(ValueError, match="rule.ss.magnitudes"):
        SignSymmetry(magnitudes="gaussian")


def test_feedback_alignment_feedback_never_changes():
    engine = make_engine(RULES["fa"](), hidden="tanh")
    B0 = [B.copy() for B in engine.net.B]
    rng = np.random.default_rng(7)
    for _ in range(5):
        engine.engaged_step(rng.normal(size=(4, 8)), rng.normal(size=(4, 4)))
    for B, B_init in zip(engine.net.B, B0):
        np.testing.assert_array_equal(B, B_init)


@pytest.mark.parametrize("name", list(RULES))
def test_every_rule_learns_a_linear_teacher(name):
    """Shared behaviour: every rule lowers the loss of a small linear regression."""
    engine = make_engine(RULES[name](), sizes=(6, 12, 3), hidden="tanh", lr=0.05)
    rng = np.random.default_rng(8)
    teacher = rng.normal(size=(6, 3)) / np.sqrt(6)
    x = rng.normal(size=(256, 6))
    y = x @ teacher
    first = engine.engaged_step(x, y)
    noise = rng
    for _ in range(400):
        engine.engaged_step(x, y)
        if engine.rule.uses_mirror_phase:
            engine.mirror_step(draw_mirror_noise(noise, engine.rule.mirror_noise, engine.net.sizes, 64))
    assert engine.loss.value(engine.forward(x)[0][-1], y) < 0.3 * first


# --- recursive local representation alignment (rLRA) -----------------------------------

def _rlra_engine(beta, sizes=(5, 6, 4, 3), **kw):
    return make_engine(RULES["rlra"](beta=beta, **kw), sizes=sizes, hidden="tanh")


def test_rlra_error_is_feedback_alignment_error_times_beta_for_small_beta():
    """phi(a) - phi(a - beta c) = beta phi'(a) c + O(beta^2): for small beta each error
    neuron delivers feedback alignment's error of what reaches it through E, scaled by beta.
    With beta = 1e-5 the remainder is ~ beta |phi'' c / (2 phi')| ~ 1e-5 relative and the
    rounding of the difference ~ 1e-16 / 1e-10 (two layers down), so 1e-3 fails only on a
    real difference."""
    beta = 1e-5
    engine = _rlra_engine(beta)
    fa = make_engine(RULES["fa"](), sizes=(5, 6, 4, 3), hidden="tanh")
    fa.net.B[:] = [B.copy() for B in engine.net.B]
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(9, 5)), rng.normal(size=(9, 3))
    net_inputs, _ = engine.forward(x)
    errors, chain = engine.backward(net_inputs, y), fa.backward(net_inputs, y)
    np.testing.assert_allclose(errors[-1], chain[-1])                  # the output error
    np.testing.assert_allclose(errors[1] / beta, chain[1], rtol=1e-3)  # one layer down
    for l in (0, 1):                                                   # each layer's step
        carried = errors[l + 1] @ engine.net.B[l + 1].T
        np.testing.assert_allclose(errors[l], beta * engine.transfers[l].dphi(net_inputs[l])
                                   * carried, rtol=1e-3)


@pytest.mark.parametrize("layer", [0, 1])
def test_rlra_targets_lower_the_loss_when_error_synapses_mirror_the_forward_ones(layer):
    """With E_l = W_l^T the error reaching a hidden layer is (beta times) dloss/dx_l, so its
    target phi(a - beta E e) moves its activity downhill: feeding the target up instead of
    the activity lowers every sample's loss (first order: -beta phi' |dloss/dx|^2 < 0)."""
    engine = _rlra_engine(0.05)
    engine.net.B[:] = [W.T.copy() for W in engine.net.W]
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=(20, 5)), rng.normal(size=(20, 3))
    net_inputs, activities = engine.forward(x)
    errors = engine.backward(net_inputs, y)
    phi = engine.transfers[layer]
    target = phi.phi(net_inputs[layer] - 0.05 * errors[layer + 1] @ engine.net.B[layer + 1].T)
    np.testing.assert_allclose(activities[layer + 1] - target, errors[layer])

    def loss_from(l, h):
        for W, b, f in zip(engine.net.W[l + 1:], engine.net.b[l + 1:], engine.transfers[l + 1:]):
            h = f.phi(h @ W.T + b)
        return 0.5 * ((h - y) ** 2).sum(axis=1)

    assert np.all(loss_from(layer, target) < loss_from(layer, activities[layer + 1]))


def test_rlra_error_synapses_follow_the_transpose_of_the_forward_update():
    """dE_l = gamma dW_l^T in every engaged step (both from e_l and x_{l-1} at the synapse)."""
    gamma = 0.7
    engine = _rlra_engine(0.3, gamma=gamma)
    rng = np.random.default_rng(13)
    for _ in range(3):
        W0, B0 = [W.copy() for W in engine.net.W], [B.copy() for B in engine.net.B]
        engine.engaged_step(rng.normal(size=(8, 5)), rng.normal(size=(8, 3)))
        for W, W_before, B, B_before in zip(engine.net.W, W0, engine.net.B, B0):
            np.testing.assert_allclose(B - B_before, gamma * (W - W_before).T, atol=1e-14)
            assert np.abs(W - W_before).max() > 1e-4       # and something was learned


def test_rlra_with_gamma_zero_keeps_its_error_synapses_and_has_fixed_circuit_synapses():
    engine = _rlra_engine(0.3, gamma=0.0)
    B0 = [B.copy() for B in engine.net.B]
    rng = np.random.default_rng(14)
    for _ in range(3):
        engine.engaged_step(rng.normal(size=(8, 5)), rng.normal(size=(8, 3)))
    for B, B_before in zip(engine.net.B, B0):
        np.testing.assert_array_equal(B, B_before)
    assert not engine.rule.rate_plasticity(0.1).plastic
    with pytest.raises(ValueError, match="rule.rlra.beta"):
        RULES["rlra"](beta=0.0)
