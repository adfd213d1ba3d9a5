"""Circuit specs, expressions, presentations, wiring and the locality audit (no long runs)."""
import dataclasses

import numpy as np
import pytest
from brian2 import Equations, Network, NeuronGroup, Synapses, ms

from mirrorlab.circuits import CircuitSpec, build, locality_audit, presentations
from mirrorlab.circuits import equations as E
from mirrorlab.models.losses import get_loss
from mirrorlab.circuits.spiking_spec import SpikingSpec
from mirrorlab.models.rules import RecursiveLRA, SignSymmetry, WeightMirror
from mirrorlab.models.transfer import TRANSFERS, get_transfer
from mirrorlab.sims import results
from mirrorlab.sims.runs.circuit import plan_from_config, spec_from_config
from mirrorlab.sims.config import Config, ConfigError
from mirrorlab.sims.data import load_dataset
from mirrorlab.sims.matrix_engine import MatrixEngine
from mirrorlab.models.schedule import ENGAGED, MIRROR, Event
from mirrorlab.sims.runs.matrix import build_engine, run_matrix


pytestmark = pytest.mark.usefixtures("fresh_brian2")


@pytest.fixture(scope="module")
def data():
    return load_dataset("teacher", seed=0, n_train=6, n_test=4, teacher_sizes=(6, 8, 3))


def config(**overrides) -> Config:
    settings = {"data.name": "teacher", "data.teacher_sizes": [6, 8, 3], "data.n_train": 6,
                "data.n_test": 4, "network.sizes": [6, 5, 4, 3], "network.loss": "mse",
                "training.epochs": 1, "training.batch_size": 1, "rule.name": "wm", **overrides}
    return Config().replace(**settings)


def spec(**fields) -> CircuitSpec:
    defaults = dict(sizes=(6, 5, 3), transfer=get_transfer("tanh"),
                    output_transfer=get_transfer("linear"), loss=get_loss("mse"),
                    rule=WeightMirror(), lr=0.1)
    return CircuitSpec(**{**defaults, **fields})


def built(rule: str, data):
    plan = plan_from_config(config(**{"rule.name": rule}), data)
    table = presentations(plan.spec.sizes, plan.events, data.x_train, data.y_train, plan.noise,
                          plan.spec.mirror_scheme)
    return build(plan.spec, table), plan


# --- specs --------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    ({"training.batch_size": 4}, "training.batch_size: must be 1"),
    ({"training.momentum": 0.9}, "training.momentum: must be 0"),
    ({"training.weight_decay": 1e-4}, "training.weight_decay: must be 0"),
    ({"schedule.mirror_batch_size": 16}, "schedule.mirror_batch_size: must be 0 or 1"),
    ({"constraints.feedback_levels": 3}, "constraints.feedback_levels: not in circuits"),
    ({"rule.name": "ss", "constraints.feedback_dale": True}, "constraints.feedback_dale"),
    ({"training.trainer": "conntra"}, "training.trainer: a circuit learns by its rule's"),
    ({"training.modules": 2}, "training.modules: a circuit learns by its rule's"),
])
def test_config_a_circuit_cannot_run_is_rejected_naming_the_field(overrides, message):
    with pytest.raises(ConfigError, match=message):
        spec_from_config(config(**overrides))


@pytest.mark.parametrize("fields, message", [
    ({"loss": get_loss("softmax_xent")}, "use sigmoid_xent or mse for circuits"),
    ({"rule": SignSymmetry(), "feedback_dale": True}, "CircuitSpec.feedback_dale"),
    ({"rule": WeightMirror(target_std=1.0)}, "CircuitSpec.rule.target_std"),
    ({"neuron": "spiking"}, "CircuitSpec.neuron: must be one of instantaneous, rate"),
    ({"noise_source": "file"}, "CircuitSpec.noise_source"),
    ({"sizes": (6,)}, "CircuitSpec.sizes"),
    ({"rule": RecursiveLRA(), "neuron": "poisson", "spiking": SpikingSpec()},
     "rule 'rlra' has no spiking circuit form"),
])
def test_spec_rejects_what_circuits_do_not_support(fields, message):
    with pytest.raises(ValueError, match=message):
        spec(**fields)


def test_spec_from_config_carries_every_setting():
    s = spec_from_config(config(**{"circuit.neuron": "rate", "circuit.tau_ms": 2.0,
                                   "circuit.noise_source": "brian", "training.lr": 0.3,
                                   "schedule.mirror_scheme": "simultaneous"}))
    assert s.sizes == (6, 5, 4, 3) and s.lr == 0.3 and s.neuron == "rate"
    assert s.tau == 2 * ms and s.noise_source == "brian" and s.mirror_scheme == "simultaneous"
    assert isinstance(s.rule, WeightMirror)


def test_presentation_steps_settle_each_neuron_kind():
    assert spec().presentation_steps == 2  # instantaneous, any depth
    assert spec(sizes=(6, 5, 4, 3, 2)).presentation_steps == 2
    assert spec(neuron="rate").presentation_steps == 2 + 4 * 4 * 10  # 2L stages of 4 tau
    assert spec(settle_steps=7).presentation_steps == 7
    assert spec(settle_steps=7).presentation_time == 0.7 * ms


# --- the Brian2 expressions are the models' functions -------------------------------------

@pytest.mark.parametrize("name", sorted(TRANSFERS))
def test_brian2_transfer_expressions_match_numpy(name):
    transfer, a = get_transfer(name), np.linspace(-4, 4, 41) + 0.05
    model = Equations("a : 1\nphi = transfer_phi : 1\ndphi = transfer_dphi : 1",
                      **E.transfer_terms(transfer, "a"))
    group = NeuronGroup(len(a), model, namespace={})
    group.a = a
    np.testing.assert_allclose(group.phi[:], transfer.phi(a), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(group.dphi[:], transfer.dphi(a), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(TRANSFERS))
@pytest.mark.parametrize("rule", [WeightMirror(), RecursiveLRA(beta=0.7)])
def test_brian2_hidden_error_is_the_rules_hidden_error(name, rule):
    """A feedback neuron computes the rule's hidden error (the chain of derivatives, or
    rLRA's activity minus target's) from its partner's net input and the carried error."""
    transfer, rng = get_transfer(name), np.random.default_rng(1)
    a, carried = rng.normal(0, 2, 30), rng.normal(0, 1, 30)
    model = Equations(E.code("a_fwd : 1", E.ERROR_INPUT, E.hidden_error(rule, transfer)))
    group = NeuronGroup(len(a), model, namespace={})
    group.a_fwd, group.I_fb = a, carried
    for parameter, value in rule.error_form().parameters.items():
        setattr(group, parameter, value)
    expected = rule.hidden_error(transfer, a, transfer.phi(a), carried)
    np.testing.assert_allclose(group.delta_inf[:], expected, rtol=1e-12, atol=1e-14)


def test_transfer_calls_are_expanded_inside_nested_parentheses():
    tanh = get_transfer("tanh")
    assert E.expand_transfer("phi(a - b * (c + d)) * dphi(a)", tanh) == \
        "(tanh((a - b * (c + d)))) * (1.0 - tanh((a))**2)"
    assert E.expand_transfer("a * carried", tanh) == "a * carried"
    with pytest.raises(ValueError, match="unbalanced"):
        E.expand_transfer("phi(a - (b)", tanh)


@pytest.mark.parametrize("loss, output", [("mse", name) for name in sorted(TRANSFERS)]
                         + [("sigmoid_xent", "linear")])
def test_brian2_output_error_matches_the_loss(loss, output):
    loss_fn, rng = get_loss(loss, output), np.random.default_rng(0)
    a, y = rng.normal(0, 2, 30), rng.uniform(0, 1, 30)
    model = Equations(E.code("a_fwd : 1", E.LABEL_INPUT, E.output_error(loss_fn)))
    group = NeuronGroup(len(a), model, namespace={})
    group.a_fwd, group.y = a, y
    expected = loss_fn.delta(a[None, :], y[None, :])[0]
    np.testing.assert_allclose(group.delta_inf[:], expected, rtol=1e-12, atol=1e-15)


# --- the plan and the presentations -------------------------------------------------------

def test_plan_draws_weights_samples_and_noise_as_run_matrix_does(data, tmp_path):
    """Driving the matrix engine by the circuit plan ends where run_matrix ends."""
    cfg = config(**{"schedule.initial_mirror_batches": 3})
    run_matrix(cfg, tmp_path / "run", progress=False, data=data)
    W_ref, b_ref, B_ref = results.load_network_arrays(tmp_path / "run")
    plan = plan_from_config(cfg, data)
    engine = build_engine(cfg, np.random.default_rng(99))  # weights replaced below
    engine.net.W, engine.net.b, engine.net.B = (list(map(np.copy, x)) for x in plan.initial)
    engine.replay(plan.events, data.x_train, data.y_train, plan.noise)
    # the same updates on the same data: equal but for BLAS rounding (memory alignment)
    for got, expected in zip((engine.net.W, engine.net.b, engine.feedback_matrices()),
                             (W_ref, b_ref, B_ref)):
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)
    assert isinstance(engine, MatrixEngine)


def test_alternating_mirror_event_is_one_presentation_per_layer():
    sizes = [2, 3, 2]
    noise = [[np.array([[1.0, 2.0]]), np.array([[3.0, 4.0, 5.0]])]]
    events = [Event(ENGAGED, np.array([1]), 0, 0), Event(MIRROR, None, 0, 1)]
    x, y = np.arange(6.0).reshape(3, 2), -np.arange(6.0).reshape(3, 2)
    table = presentations(sizes, events, x, y, noise, "alternating")
    assert len(table) == 3
    np.testing.assert_array_equal(table.stimulus[0], x[1])
    np.testing.assert_array_equal(table.labels[0], y[1])
    np.testing.assert_array_equal(table.engaged, [1, 0, 0])
    np.testing.assert_array_equal(table.drive, [[1, 1, 1], [0, 1, 1], [1, 0, 1]])
    np.testing.assert_array_equal(table.noise_on, [[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(table.mirror, [[0, 0, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(table.noise[0][1], [1, 2])
    np.testing.assert_array_equal(table.noise[1][2], [3, 4, 5])
    np.testing.assert_array_equal(table.engaged_steps, [0, 1, 1, 1])
    simultaneous = presentations(sizes, events, x, y, noise, "simultaneous")
    np.testing.assert_array_equal(simultaneous.mirror[1], [0, 1, 1])
    np.testing.assert_array_equal(simultaneous.noise_on[1], [1, 1, 0])
    with pytest.raises(ValueError, match="fewer draws"):
        presentations(sizes, events + events[1:], x, y, noise, "alternating")
    with pytest.raises(ValueError, match="one sample at a time"):
        presentations(sizes, [Event(ENGAGED, np.array([0, 1]), 0, 0)], x, y, None, "alternating")


# --- wiring -------------------------------------------------------------------------------

def test_circuit_has_named_populations_and_synapses_in_matrix_layout(data):
    circuit, plan = built("kp", data)
    names = {obj.name for obj in circuit.network.objects}
    for l in range(4):
        assert {f"forward_{l}", f"feedback_{l}", f"forward_to_feedback_{l}"} <= names
    for l in range(1, 4):
        assert {f"W_{l}", f"B_{l}", f"feedback_to_forward_{l}"} <= names
        assert circuit.W[l - 1].source is circuit.forward[l - 1]
        assert circuit.B[l - 1].source is circuit.feedback[l]
    assert {"target", "target_to_feedback"} <= names
    circuit.set_weights(*plan.initial)
    for got, expected in zip(circuit.weights(), plan.initial):
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)
    W, b, B = plan.initial
    with pytest.raises(ValueError, match="W_1: weights must have shape"):
        circuit.set_weights([W[0].T] + W[1:], b, B)


# --- locality audit -----------------------------------------------------------------------

@pytest.mark.parametrize("rule", ["fa", "wm", "kp", "rlra"])
def test_local_rules_pass_the_locality_audit(rule, data):
    circuit, _ = built(rule, data)
    assert locality_audit(circuit) == []


@pytest.mark.parametrize("rule", ["bp", "ss"])
def test_transporting_circuits_are_reported_for_weight_transport(rule, data):
    circuit, _ = built(rule, data)
    violations = locality_audit(circuit)
    assert [v.synapses for v in violations] == ["B_1", "B_2", "B_3"]
    assert all("transports weights" in v.reason for v in violations)


def test_audit_catches_plasticity_reading_a_signal_its_neurons_lack(data, monkeypatch):
    broken = dataclasses.replace(
        WeightMirror().rate_plasticity(0.1),
        update="w += was_mirror(t, layer) * (eta * I_ff_post * r_drive_pre - decay * w)")
    monkeypatch.setattr(WeightMirror, "rate_plasticity", lambda self, lr: broken)
    circuit, _ = built("wm", data)
    assert {(v.synapses, v.identifier) for v in locality_audit(circuit)} == {
        ("B_1", "I_ff_post"), ("B_2", "I_ff_post"), ("B_3", "I_ff_post")}


def test_audit_catches_feedback_plasticity_that_reads_forward_weights():
    """A circuit broken on purpose: W hands its weights to its postsynaptic neurons as a
    summed variable, a link copies them to the feedback side, and B learns from them."""
    forward_0 = NeuronGroup(3, "r : 1", name="forward_0")
    forward_1 = NeuronGroup(3, "r : 1\nI_ff : 1\nw_seen : 1", name="forward_1")
    feedback_0 = NeuronGroup(3, "delta : 1\nw_copy : 1", name="feedback_0")
    feedback_1 = NeuronGroup(3, "delta : 1", name="feedback_1")
    W = Synapses(forward_0, forward_1,
                 "w : 1\nI_ff_post = w * r_pre : 1 (summed)\nw_seen_post = w : 1 (summed)",
                 name="W_1")
    copy = Synapses(forward_1, feedback_0, "w_copy_post = w_seen_pre : 1 (summed)",
                    name="copy")
    B = Synapses(feedback_1, feedback_0, "w : 1", name="B_1")
    for synapses in (W, copy, B):
        synapses.connect(j="i")
    B.run_regularly("w += 0.1 * (w_copy_post - w)", dt=1 * ms)
    network = Network(forward_0, forward_1, feedback_0, feedback_1, W, copy, B)
    violations = locality_audit(network)
    assert [(v.synapses, v.identifier) for v in violations] == [("B_1", "w_copy_post")]
    assert "weights of W_1" in violations[0].reason


def test_audit_passes_an_ordinary_weighted_input():
    """Reading a neuron's summed input w * r_pre is local: no false alarm."""
    pre = NeuronGroup(2, "r : 1", name="pre")
    post = NeuronGroup(2, "I : 1", name="post")
    W = Synapses(pre, post, "w : 1\nI_post = w * r_pre : 1 (summed)", name="W")
    W.connect()
    W.run_regularly("w += 0.01 * I_post * r_pre", dt=1 * ms)
    assert locality_audit(Network(pre, post, W)) == []
