"""Trainers that are not feedback rules: CoNNTrA's ternary search and DTRP's decoupled
modules, against their definitions, the matrix engine and a Brian2 circuit."""
import itertools

import numpy as np
import pytest

from mirrorlab.circuits.ternary import run_ternary_circuit
from mirrorlab.models.losses import get_loss
from mirrorlab.models.rules import Backprop
from mirrorlab.models.transfer import get_transfer
from mirrorlab.sims.config import Config, ConfigError
from mirrorlab.sims.conntra import ConntraEngine, ternary_network
from mirrorlab.sims.data import load_dataset
from mirrorlab.sims.dtrp import DecoupledEngine, module_layers
from mirrorlab.sims.matrix_engine import MatrixEngine, init_network
from mirrorlab.sims.runs.matrix import run_matrix


def conntra_engine(sizes=(4, 5, 3), seed=0):
    rng = np.random.default_rng(seed)
    return ConntraEngine(*ternary_network(list(sizes), rng), get_transfer("tanh"),
                         get_transfer("linear"), get_loss("softmax_xent"), rng=rng)


def data(seed=1, n=30, sizes=(4, 3)):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, sizes[0])), np.eye(sizes[1])[rng.integers(0, sizes[1], n)]


# --- CoNNTrA ----------------------------------------------------------------------------

def test_a_sweep_leaves_every_parameter_at_a_best_ternary_value():
    """Coordinate descent's fixed point: after sweeps that change nothing, no single
    parameter can be set to another value of {-1, 0, 1} and lower the loss (checked by
    brute force over every parameter and value)."""
    engine, (x, y) = conntra_engine(), data()
    for _ in range(20):
        before = [T.copy() for T in engine.ternary_weights + engine.ternary_biases]
        loss = engine.engaged_step(x, y)
        if all(np.array_equal(a, b) for a, b in
               zip(before, engine.ternary_weights + engine.ternary_biases)):
            break
    else:
        pytest.fail("20 sweeps did not reach a fixed point")
    for params in engine.ternary_weights + engine.ternary_biases:
        assert set(np.unique(params)) <= {-1, 0, 1} and params.dtype == np.int8
    for l, (T, t) in enumerate(zip(engine.ternary_weights, engine.ternary_biases)):
        for params, index in itertools.chain(((T, i) for i in np.ndindex(T.shape)),
                                             ((t, i) for i in np.ndindex(t.shape))):
            kept = params[index]
            for value in (-1, 0, 1):
                params[index] = value
                engine.net.W[l][...], engine.net.b[l][...] = T, t
                assert engine.loss.value(engine.forward(x)[0][-1], y) >= loss - 1e-12
            params[index] = kept
            engine.net.W[l][...], engine.net.b[l][...] = T, t


def test_the_engines_float_weights_are_its_ternary_ones_and_the_loss_falls():
    engine, (x, y) = conntra_engine(seed=3), data(seed=4)
    first = engine.loss.value(engine.forward(x)[0][-1], y)
    last = [engine.engaged_step(x, y) for _ in range(3)][-1]
    assert last < first
    for W, b, T, t, B in zip(engine.net.W, engine.net.b, engine.ternary_weights,
                             engine.ternary_biases, engine.net.B):
        np.testing.assert_array_equal(W, T)
        np.testing.assert_array_equal(b, t)
        np.testing.assert_array_equal(B, T.T)
    assert engine.parameter_count == 4 * 5 + 5 + 5 * 3 + 3 and engine.parameter_bits == 2


def test_a_trained_ternary_network_predicts_the_same_as_a_brian2_circuit():
    """The circuit's synapses hold the trained integers; its output net inputs equal the
    engine's up to float64 rounding of sums of at most 11 terms."""
    iris = load_dataset("iris")
    engine = conntra_engine(sizes=(4, 10, 3), seed=2)
    for _ in range(3):
        engine.engaged_step(iris.x_train, iris.y_train)
    network = engine.ternary_network()
    circuit = run_ternary_circuit(network, iris.x_test)
    expected = engine.forward(iris.x_test)[0][-1]
    np.testing.assert_allclose(circuit, expected, rtol=1e-12, atol=1e-12)
    assert np.array_equal(circuit.argmax(axis=1), expected.argmax(axis=1))
    assert (expected.argmax(axis=1) == iris.y_test.argmax(axis=1)).mean() > 0.8


def test_conntra_runs_from_a_config_and_records_its_memory_and_no_alignment(tmp_path):
    config = Config().replace(**{"data.name": "iris", "network.sizes": [4, 6, 3],
                                 "network.transfer": "tanh", "training.trainer": "conntra",
                                 "training.epochs": 3, "training.batch_size": 112,
                                 "rule.name": "bp"})
    metrics = run_matrix(config, tmp_path / "run", progress=False)
    assert metrics["rule"] == "conntra" and metrics["final"]["weight_angle_deg"] is None
    assert metrics["parameter_memory"] == {"parameters": 51, "bits_per_parameter": 2,
                                           "bytes": 12.75}
    assert metrics["final"]["test_accuracy"] > 0.6
    float_run = run_matrix(config.replace(**{"training.trainer": "gradient"}), None,
                           progress=False)
    assert float_run["parameter_memory"]["bits_per_parameter"] == 64


@pytest.mark.parametrize("overrides, message", [
    ({"rule.name": "wm"}, r"rule.name: trainer = \"conntra\" .* set rule.name = \"bp\""),
    ({"training.modules": 2}, "training.modules: must be 1 with trainer"),
    ({"training.momentum": 0.9}, "training.momentum, training.weight_decay"),
    ({"experiment.engine": "circuit"}, "experiment.engine: .* the matrix engine only"),
])
def test_conntra_refuses_what_it_cannot_be_combined_with(overrides, message, tmp_path):
    config = Config().replace(**{"data.name": "iris", "network.sizes": [4, 6, 3],
                                 "training.trainer": "conntra", "rule.name": "bp",
                                 **overrides})
    with pytest.raises(ConfigError, match=message):
        run_matrix(config, tmp_path / "run", progress=False)


# --- DTRP -------------------------------------------------------------------------------

def dtrp_engine(modules, prediction=True, momentum=0.0, sizes=(5, 6, 6, 4, 3)):
    net = init_network(list(sizes), Backprop(), np.random.default_rng(0))
    return DecoupledEngine(net, get_transfer("tanh"), get_transfer("linear"), get_loss("mse"),
                           modules=modules, weight_prediction=prediction, lr=0.1,
                           momentum=momentum)


def plain_engine(sizes=(5, 6, 6, 4, 3), momentum=0.0):
    net = init_network(list(sizes), Backprop(), np.random.default_rng(0))
    return MatrixEngine(net, Backprop(), get_transfer("tanh"), get_transfer("linear"),
                        get_loss("mse"), lr=0.1, momentum=momentum)


def test_modules_split_the_layers_evenly_upper_ones_taking_the_rest():
    assert module_layers(5, 2) == [range(0, 2), range(2, 5)]
    assert module_layers(5, 3) == [range(0, 1), range(1, 3), range(3, 5)]
    assert module_layers(4, 4) == [range(0, 1), range(1, 2), range(2, 3), range(3, 4)]
    with pytest.raises(ValueError, match="training.modules: must be 1 .. 4"):
        module_layers(4, 5)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_one_module_is_backprop(momentum):
    rng = np.random.default_rng(5)
    decoupled, plain = dtrp_engine(1, momentum=momentum), plain_engine(momentum=momentum)
    for _ in range(5):
        x, y = rng.normal(size=(8, 5)), rng.normal(size=(8, 3))
        assert decoupled.engaged_step(x, y) == pytest.approx(plain.engaged_step(x, y), rel=1e-12)
    for a, b in zip(decoupled.net.W + decoupled.net.b, plain.net.W + plain.net.b):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def _forward(engine, layers, W, b, x):
    net_inputs, activities = [], [x]
    for l in layers:
        net_inputs.append(activities[-1] @ W[l].T + b[l])
        activities.append(engine.transfers[l].phi(net_inputs[-1]))
    return net_inputs, activities


def test_the_lower_module_learns_a_step_late_from_the_error_sent_then_recomputing_its_pass():
    """K = 2, no prediction, the upper module held fixed (its update undone after each
    step): at step t the lower module takes exactly a backprop step for batch t - 1 whose
    error at the module boundary was computed at step t - 1 (through the lower weights of
    then), and whose own forward pass is recomputed with its weights of now."""
    engine = dtrp_engine(2, prediction=False)
    lower, upper = engine.modules
    W, b = engine.net.W, engine.net.b
    rng = np.random.default_rng(6)
    batches = [(rng.normal(size=(8, 5)), rng.normal(size=(8, 3))) for _ in range(4)]
    history = []
    for t, (x, y) in enumerate(batches):
        held = [W[l].copy() for l in upper], [b[l].copy() for l in upper]
        history.append(([w.copy() for w in W], [v.copy() for v in b]))
        engine.engaged_step(x, y)
        for l, w, v in zip(upper, *held):
            W[l][...], b[l][...] = w, v
        if t == 0:       # no error has reached the lower module yet
            for l in lower:
                np.testing.assert_array_equal(W[l], history[0][0][l])
            continue
        (W_then, b_then), (W_now, b_now) = history[t - 1], history[t]
        x_old, y_old = batches[t - 1]
        h = _forward(engine, lower, W_then, b_then, x_old)[1][-1]
        a_up, x_up = _forward(engine, upper, W_then, b_then, h)
        delta = engine.loss.delta(a_up[-1], y_old)
        for i in reversed(range(1, len(upper))):
            delta = engine.transfers[upper[i - 1]].dphi(a_up[i - 1]) * (delta @ W_then[upper[i]])
        sent = delta @ W_then[upper[0]]
        a_low, x_low = _forward(engine, lower, W_now, b_now, x_old)
        delta = engine.transfers[lower[-1]].dphi(a_low[-1]) * sent
        for i in reversed(range(len(lower))):
            expected = W_now[lower[i]] - 0.1 * delta.T @ x_low[i] / 8
            np.testing.assert_allclose(W[lower[i]], expected, rtol=1e-12, atol=1e-15)
            if i:
                delta = engine.transfers[lower[i - 1]].dphi(a_low[i - 1]) * \
                    (delta @ W_now[lower[i]])


def test_weight_prediction_extrapolates_the_last_step_by_the_delay():
    engine = dtrp_engine(3, prediction=True)
    rng = np.random.default_rng(7)
    for _ in range(4):
        engine.engaged_step(rng.normal(size=(8, 5)), rng.normal(size=(8, 3)))
    x = rng.normal(size=(8, 5))
    layers, delay = engine.modules[0], engine.delays[0]
    assert delay == 2 and np.abs(engine.last_W[layers[0]]).max() > 0
    net_inputs, _ = engine._module_forward(layers, x, delay)
    predicted = engine.net.W[layers[0]] + 2 * engine.last_W[layers[0]]
    np.testing.assert_allclose(net_inputs[0], x @ predicted.T + engine.net.b[layers[0]]
                               + 2 * engine.last_b[layers[0]])


def test_memory_of_batches_in_flight_is_their_inputs_with_recomputation():
    engine = dtrp_engine(2)
    rows = engine.memory(batch=8)
    assert [r["delay_steps"] for r in rows] == [1, 0]
    assert rows[0]["recomputation_bytes"] == 2 * 8 * 5 * 8           # 2 batches of 5 inputs
    assert rows[0]["stored_activities_bytes"] == 2 * 8 * (5 + 2 * (6 + 6)) * 8


def test_decoupled_modules_run_from_a_config_and_record_their_memory(tmp_path):
    config = Config().replace(**{"data.name": "iris", "network.sizes": [4, 6, 6, 3],
                                 "network.transfer": "tanh", "rule.name": "bp",
                                 "training.modules": 3, "training.epochs": 2,
                                 "training.batch_size": 16})
    metrics = run_matrix(config, tmp_path / "run", progress=False)
    assert metrics["rule"] == "dtrp-k3"
    assert [m["delay_steps"] for m in metrics["modules"]] == [2, 1, 0]
    assert metrics["modules"][0]["recomputation_bytes"] == 3 * 16 * 4 * 8
    for overrides, message in [({"rule.name": "fa"}, "rule.name: modules > 1 backpropagates"),
                               ({"training.modules": 4}, r"training.modules: must be 1 .. 3")]:
        with pytest.raises(ConfigError, match=message):
            run_matrix(config.replace(**overrides), None, progress=False)
