"""A ternary network (weights and biases in {-1, 0, 1}, one scale per layer) run forward as a
Brian2 circuit gives the numpy reference's net inputs and predictions (circuits/ternary.py).

Tolerance of the circuit-vs-reference comparisons: both compute in float64 the same sums of
at most 6 terms ``w * r`` with ``w`` in {-1, 0, 1} (exact products), possibly in another
order, then one product by the scale and tanh; each layer adds a rounding error of a few
ulp (~1e-15 for values of order 1) and passes the error below on amplified at most by
fan-in times scale (<= 6 * 1.5 = 9, tanh' <= 1). Three layers: below ~1e-12. 1e-9 leaves a
wide margin and still fails on any wiring error (a wrong, transposed or missing synapse or
bias changes a net input by at least min(scale) * tanh-scale values, ~1e-2 here).
"""
import numpy as np
import pytest

from mirrorlab.circuits.ternary import (TernaryNetwork, build_ternary_circuit,
                                        run_ternary_circuit)

pytestmark = pytest.mark.usefixtures("fresh_brian2")

SIZES = (6, 5, 4, 3)
ATOL = 1e-9  # see the module docstring


def random_network(seed: int = 0, transfer: str = "tanh", sizes=SIZES) -> TernaryNetwork:
    rng = np.random.default_rng(seed)
    weights = [rng.integers(-1, 2, size=(n, m)) for m, n in zip(sizes[:-1], sizes[1:])]
    biases = [rng.integers(-1, 2, size=n) for n in sizes[1:]]
    scales = list(rng.uniform(0.3, 1.5, size=len(sizes) - 1))
    return TernaryNetwork(weights, biases, scales, transfer, "linear")


def samples(n: int = 20, seed: int = 1, width: int = SIZES[0]) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, width))


def by_hand(network: TernaryNetwork, x: np.ndarray) -> np.ndarray:
    """a_L written out sample by sample, independently of ``net_inputs``."""
    phi = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0.0)}[network.transfer]
    out = []
    for sample in x:
        r = sample
        for l, (T, t, s) in enumerate(zip(network.weights, network.biases, network.scales)):
            a = s * np.array([sum(int(T[i, j]) * r[j] for j in range(T.shape[1])) + int(t[i])
                              for i in range(T.shape[0])])
            r = phi(a) if l < network.n_layers - 1 else a
        out.append(a)
    return np.array(out)


def test_reference_follows_the_math():
    network, x = random_network(), samples()
    np.testing.assert_allclose(network.net_inputs(x), by_hand(network, x), rtol=0, atol=ATOL)
    np.testing.assert_array_equal(network.predict(x), np.argmax(by_hand(network, x), axis=1))


@pytest.mark.parametrize("transfer", ["tanh", "relu"])
def test_circuit_gives_the_reference_net_inputs_and_predictions(transfer):
    network, x = random_network(transfer=transfer), samples()
    reference = network.net_inputs(x)
    # the comparison is not vacuous: outputs differ between samples and units
    assert reference.std(axis=0).min() > 0.05
    circuit = run_ternary_circuit(network, x)
    assert circuit.shape == (20, SIZES[-1])
    np.testing.assert_allclose(circuit, reference, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(np.argmax(circuit, axis=1), network.predict(x))


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_every_presentation_length_settles_to_the_same_values(steps):
    """One step carries a sample up all three layers (populations ordered along the path);
    longer presentations recompute the same values. A lag of one step would show the
    previous sample's values in deeper layers."""
    network, x = random_network(seed=3), samples(8, seed=4)
    np.testing.assert_allclose(run_ternary_circuit(network, x, steps_per_sample=steps),
                               network.net_inputs(x), rtol=0, atol=ATOL)


def test_repeated_runs_do_not_collide():
    first, second = random_network(seed=5), random_network(seed=6)
    x = samples(5, seed=7)
    a = run_ternary_circuit(first, x)
    b = run_ternary_circuit(second, x)
    np.testing.assert_allclose(a, first.net_inputs(x), rtol=0, atol=ATOL)
    np.testing.assert_allclose(b, second.net_inputs(x), rtol=0, atol=ATOL)
    assert np.abs(a - b).max() > 1e-3  # two different networks: the check can tell them apart


def test_the_synapses_hold_the_ternary_weights():
    network = random_network(seed=2)
    circuit = build_ternary_circuit(network, samples(3))
    assert [S.name for S in circuit.synapses] == ["T_1", "T_2", "T_3"]
    assert [G.name for G in [circuit.input, *circuit.layers]] == [
        "input", "layer_1", "layer_2", "layer_3"]
    for l, (S, T) in enumerate(zip(circuit.synapses, network.weights), 1):
        assert np.dtype(S.variables["w"].dtype).kind == "i", f"T_{l}: w is not an integer variable"
        values = np.asarray(S.w[:])
        assert set(np.unique(values)) <= {-1, 0, 1}
        assert len(values) == T.size  # dense
        # every value occurs in a random matrix of this size (not a vacuous subset check)
        assert set(np.unique(values)) == {-1, 0, 1}
    for read, T in zip(circuit.ternary_weights(), network.weights):
        np.testing.assert_array_equal(read, T)  # layout: row = post, column = pre
    for read, t in zip(circuit.ternary_biases(), network.biases):
        np.testing.assert_array_equal(read, t)
    assert circuit.scales() == pytest.approx(network.scales, rel=0, abs=0)


def test_the_network_stores_read_only_int8():
    network = random_network()
    assert all(w.dtype == np.int8 and b.dtype == np.int8
               for w, b in zip(network.weights, network.biases))
    assert network.sizes == SIZES
    with pytest.raises(ValueError):
        network.weights[0][0, 0] = 1


def test_parameter_count_and_bits():
    network = random_network()
    count = 6 * 5 + 5 * 4 + 4 * 3 + 5 + 4 + 3  # weights and biases
    assert network.parameter_count == count == 74
    assert network.memory_bits == 2 * count


def _fields(**changes):
    rng = np.random.default_rng(0)
    fields = dict(weights=[rng.integers(-1, 2, size=(n, m)) for m, n in zip(SIZES[:-1], SIZES[1:])],
                  biases=[rng.integers(-1, 2, size=n) for n in SIZES[1:]],
                  scales=[0.5, 1.0, 0.8], transfer="tanh", output_transfer="linear")
    for name, change in changes.items():
        fields[name] = change(fields[name])
    return fields


def _set(index, value):
    def change(items):
        items = list(items)
        items[index] = value
        return items
    return change


def _with_entry(index, position, value):
    def change(items):
        items = [np.array(item) for item in items]
        items[index][position] = value
        return items
    return change


@pytest.mark.parametrize("changes, field", [
    (dict(weights=_with_entry(1, (0, 0), 2)), "weights[1]"),
    (dict(weights=_with_entry(0, (2, 3), -3)), "weights[0]"),
    (dict(weights=lambda w: [np.array(w[0]) * 0.5] + w[1:]), "weights[0]"),
    (dict(weights=_set(1, np.zeros((4, 6), dtype=int))), "weights[1]"),
    (dict(weights=_set(2, np.zeros(3, dtype=int))), "weights[2]"),
    (dict(biases=_set(0, np.zeros(4, dtype=int))), "biases[0]"),
    (dict(biases=_with_entry(2, 1, 2)), "biases[2]"),
    (dict(biases=lambda b: b[:2]), "biases"),
    (dict(scales=_set(2, 0.0)), "scales[2]"),
    (dict(scales=_set(0, -1.0)), "scales[0]"),
    (dict(scales=_set(1, float("nan"))), "scales[1]"),
    (dict(scales=lambda s: s[:2]), "scales"),
    (dict(weights=lambda w: []), "weights"),
    (dict(transfer=lambda t: "softsign"), "transfer"),
    (dict(output_transfer=lambda t: "nope"), "output_transfer"),
])
def test_bad_networks_name_the_field(changes, field):
    TernaryNetwork(**_fields())  # the unchanged fields are fine
    with pytest.raises(ValueError, match=rf"^{field.replace('[', r'\[').replace(']', r'\]')}:"):
        TernaryNetwork(**_fields(**changes))


@pytest.mark.parametrize("x", [np.zeros((3, 5)), np.zeros((3, 7)), np.zeros(6),
                               np.zeros((0, 6)), np.full((2, 6), np.nan)])
def test_bad_inputs_name_x(x):
    network = random_network()
    with pytest.raises(ValueError, match="^x:"):
        network.net_inputs(x)
    with pytest.raises(ValueError, match="^x:"):
        run_ternary_circuit(network, x)


@pytest.mark.parametrize("steps", [0, -1, 1.5, True])
def test_bad_steps_per_sample(steps):
    with pytest.raises(ValueError, match="^steps_per_sample:"):
        run_ternary_circuit(random_network(), samples(2), steps_per_sample=steps)
