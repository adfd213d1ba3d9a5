"""Brian2 circuits against the matrix engine: same weights, samples and noise -> same weights.

A [6, 5, 4, 3] network (two hidden layers) on a teacher task, one sample per
presentation, 200 engaged presentations with mirror phases in between. The
matrix engine is driven through the very same events and noise draws here.
"""
import dataclasses
import functools

import numpy as np
import pytest
from brian2 import prefs

from mirrorlab.analysis.metrics import norm_ratios, weight_angles
from mirrorlab.sims.runs.circuit import plan_from_config
from mirrorlab.sims.runs.compiled import run_circuit
from mirrorlab.sims.devices import Device
from mirrorlab.sims.config import Config
from mirrorlab.sims.data import load_dataset
from mirrorlab.models.schedule import ENGAGED, MIRROR, Event

from circuit_reference import matrix_run, relative_errors

TOLERANCE = 1e-6  # relative error of every W, b and B after the run

#: Each rule on other transfer functions and losses, so every Brian2 expression is used
#: (sigmoid_xent on a sigmoid teacher: it needs targets in [0, 1]).
RULE_NETWORKS = {
    "fa": {"network.transfer": "sigmoid", "network.loss": "mse",
           "network.output_transfer": "linear"},
    "wm": {"network.transfer": "tanh", "network.loss": "mse", "network.output_transfer": "tanh",
           "schedule.mirror_every": 2},
    "kp": {"network.transfer": "sigmoid", "network.loss": "sigmoid_xent",
           "network.output_transfer": "linear", "data.teacher_transfer": "sigmoid"},
    "bp": {"network.transfer": "relu", "network.loss": "mse", "network.output_transfer": "linear"},
    "ss": {"network.transfer": "tanh", "network.loss": "sigmoid_xent",
           "network.output_transfer": "linear", "rule.ss.magnitudes": "random",
           "data.teacher_transfer": "sigmoid"},
    "rlra": {"network.transfer": "sigmoid", "network.loss": "mse",
             "network.output_transfer": "tanh", "rule.rlra.beta": 0.5, "rule.rlra.gamma": 0.5,
             "training.lr": 0.5},
}


pytestmark = pytest.mark.usefixtures("fresh_brian2")


@pytest.fixture
def quick_compile():
    """cpp_standalone without optimisation: the builds dominate these tests' time."""
    prefs["codegen.cpp.extra_compile_args_gcc"] = ["-w", "-O0", "-std=c++11"]


@functools.cache
def teacher(rule: str):
    """The teacher data set ``config(rule)`` describes."""
    transfer = RULE_NETWORKS[rule].get("data.teacher_transfer", "tanh")
    return load_dataset("teacher", seed=0, n_train=50, n_test=10, teacher_sizes=(6, 8, 3),
                        teacher_transfer=transfer)


def config(rule: str, **overrides) -> Config:
    settings = {"data.name": "teacher", "data.teacher_sizes": [6, 8, 3], "data.n_train": 50,
                "network.sizes": [6, 5, 4, 3], "training.epochs": 4, "training.batch_size": 1,
                "training.lr": 0.05, "rule.name": rule, "rule.wm.lr": 0.05, "rule.wm.decay": 0.1,
                "rule.kp.decay": 0.01, **RULE_NETWORKS[rule], **overrides}
    return Config().replace(**settings)


def assert_equivalent(circuit_run, expected, plan):
    errors = relative_errors(circuit_run, expected)
    assert max(errors.values()) < TOLERANCE, errors
    # and the run did something: the weights moved far beyond the tolerance
    moved = [np.linalg.norm(e - w0) / np.linalg.norm(w0)
             for e, w0 in zip(expected[0], plan.initial[0])]
    assert min(moved) > 0.1


@pytest.mark.parametrize("rule", list(RULE_NETWORKS))
def test_circuit_reproduces_matrix_engine_on_runtime(rule):
    data = teacher(rule)
    plan = plan_from_config(config(rule), data)
    assert sum(e.phase == ENGAGED for e in plan.events) == 200
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial)
    assert_equivalent(run, matrix_run(plan, data), plan)


@pytest.mark.parametrize("rule", ["wm", "kp"])
def test_dale_feedback_reproduces_matrix_engine(rule):
    """Each feedback neuron keeps one sign: entries that would flip are held at zero,
    in the circuit (a local projection after each update) as in the matrix engine."""
    data = teacher(rule)
    plan = plan_from_config(config(rule, **{"constraints.feedback_dale": True,
                                            "training.lr": 0.15}), data)
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial,
                      feedback_signs=plan.feedback_signs)
    assert_equivalent(run, matrix_run(plan, data), plan)
    for B, signs in zip(run.B, plan.feedback_signs):
        assert np.all(B * signs[np.newaxis, :] >= 0)
    # The projection acted during learning (not only on the initial B): without it the
    # matrix engine ends elsewhere.
    unprojected = matrix_run(dataclasses.replace(plan, feedback_signs=None), data)
    assert max(relative_errors(run, unprojected).values()) > 1e-3


@pytest.mark.standalone
@pytest.mark.parametrize("rule", ["fa", "wm", "kp"])
def test_circuit_reproduces_matrix_engine_on_cpp_standalone(rule, tmp_path, quick_compile):
    data = teacher(rule)
    plan = plan_from_config(config(rule), data)
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial,
                      device=Device("cpp", build_dir=tmp_path / "build"), record_every=100)
    assert_equivalent(run, matrix_run(plan, data), plan)
    assert (tmp_path / "build" / "main").exists()
    np.testing.assert_array_equal(run.recording.W[0][-1], run.W[0])
    np.testing.assert_array_equal(run.recording.b[-1][-1], run.b[-1])
    np.testing.assert_array_equal(run.recording.B[1][-1], run.B[1])


@pytest.mark.slow  # two or three cpp builds
@pytest.mark.standalone
def test_a_standalone_build_is_reused_for_another_seed_and_rates(tmp_path, quick_compile):
    """Seed (initial weights, sample order, noise) and numeric parameters travel to the
    compiled binary as run_args: no new build, and still the matrix engine's weights."""
    data = teacher("kp")
    device = Device("cpp", build_dir=tmp_path / "build")
    first = plan_from_config(config("kp"), data)
    run_circuit(first.spec, data, first.events, first.noise, first.initial, device=device)
    binary = tmp_path / "build" / "main"
    built = binary.stat().st_mtime_ns
    other = plan_from_config(config("kp", **{"experiment.seed": 3, "training.lr": 0.02,
                                            "rule.kp.decay": 0.05}), data)
    run = run_circuit(other.spec, data, other.events, other.noise, other.initial, device=device,
                      record_every=0)
    assert run.build_time_s == 0 and binary.stat().st_mtime_ns == built
    assert_equivalent(run, matrix_run(other, data), other)
    # A runtime run in between resets Brian2's devices: the next cpp run builds anew.
    run_circuit(other.spec, data, other.events, other.noise, other.initial)
    run = run_circuit(first.spec, data, first.events, first.noise, first.initial, device=device)
    assert run.build_time_s > 0
    assert_equivalent(run, matrix_run(first, data), first)


def test_simultaneous_mirror_scheme_reproduces_matrix_engine():
    data = teacher("wm")
    plan = plan_from_config(config("wm", **{"schedule.mirror_scheme": "simultaneous",
                                            "schedule.mirror_every": 1}), data)
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial)
    assert_equivalent(run, matrix_run(plan, data), plan)


def test_one_step_per_presentation_is_too_few_to_settle():
    """Two steps are needed (see circuits.build); with one, the test above would fail."""
    data = teacher("kp")
    plan = plan_from_config(config("kp", **{"circuit.settle_steps": 1}), data)
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial)
    assert max(relative_errors(run, matrix_run(plan, data)).values()) > 0.1


def test_rate_neurons_settle_close_to_the_matrix_engine():
    data = teacher("wm")
    plan = plan_from_config(config("wm", **{"circuit.neuron": "rate"}), data)
    mirror_events = [i for i, e in enumerate(plan.events) if e.phase == MIRROR]
    cut = mirror_events[4] + 1  # ten engaged and five mirror events
    short = type(plan)(plan.spec, plan.events[:cut], plan.noise[:5], plan.initial)
    run = run_circuit(short.spec, data, short.events, short.noise, short.initial)
    errors = relative_errors(run, matrix_run(short, data))
    assert 0 < max(errors.values()) < 1e-4, errors


def test_recording_holds_weights_every_few_presentations():
    data = teacher("wm")
    plan = plan_from_config(config("wm"), data)
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial, record_every=100)
    rec = run.recording
    n_presentations = 200 + 3 * 100  # engaged + three layers per mirror event
    np.testing.assert_array_equal(rec.presentations, np.arange(0, n_presentations + 1, 100))
    assert rec.engaged_steps[0] == 0 and rec.engaged_steps[-1] == 200
    assert np.all(np.diff(rec.engaged_steps) > 0)
    for l in range(3):
        np.testing.assert_array_equal(rec.W[l][0], plan.initial[0][l])
        np.testing.assert_array_equal(rec.B[l][0], plan.initial[2][l])
        np.testing.assert_array_equal(rec.W[l][-1], run.W[l])
        np.testing.assert_array_equal(rec.B[l][-1], run.B[l])


@pytest.mark.parametrize("distribution", ["gaussian", "uniform"])
def test_noise_drawn_in_brian2_mirrors_a_linear_network(distribution):
    """Mirror phases alone, noise from Brian2's generator, linear layers: B relaxes to
    (eta_B sigma^2 / lambda_B) W^T = W^T, so its direction and its size test the noise."""
    data = teacher("wm")
    plan = plan_from_config(config("wm", **{
        "circuit.noise_source": "brian", "rule.wm.noise": distribution, "rule.wm.lr": 0.02,
        "rule.wm.decay": 0.02, "network.transfer": "linear", "network.output_transfer": "linear"}),
        data)
    events = [Event(MIRROR, None, 0, 0)] * 300
    W0, _, B0 = plan.initial
    run = run_circuit(plan.spec, data, events, None, plan.initial, seed=1)
    assert min(weight_angles(W0, B0)) > 60
    assert max(weight_angles(run.W, run.B)) < 25
    assert all(0.75 < ratio < 1.3 for ratio in norm_ratios(run.W, run.B))
    for W, W_start in zip(run.W, W0):
        np.testing.assert_array_equal(W, W_start)  # only B learns in mirror phases


@pytest.mark.slow  # two or three cpp builds
@pytest.mark.standalone
def test_a_cpp_build_takes_the_seed_of_brian2_noise_at_run_time(tmp_path, quick_compile):
    """One build, three runs: the seed given at run time decides the noise Brian2 draws."""
    data = teacher("wm")
    plan = plan_from_config(config("wm", **{"circuit.noise_source": "brian"}), data)
    events = [Event(MIRROR, None, 0, 0)] * 20
    device = Device("cpp", build_dir=tmp_path / "build")

    def final_B(seed):
        run = run_circuit(plan.spec, data, events, None, plan.initial, device=device, seed=seed)
        return run.B, run.build_time_s

    (B_1, built), (B_2, rebuilt), (B_1_again, _) = final_B(1), final_B(2), final_B(1)
    assert built > 0 and rebuilt == 0
    assert all(np.array_equal(a, b) for a, b in zip(B_1, B_1_again))
    assert not any(np.allclose(a, b) for a, b in zip(B_1, B_2))
