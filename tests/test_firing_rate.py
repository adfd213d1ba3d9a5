"""Firing-rate circuits (``circuit.neuron = "firing_rate"``): what makes them plausible
(non-negative rates, Dale's principle, neural noise, tau >= 10 ms) and that they still
compute what the matrix engine computes once settled.

The teacher task of ``test_circuit_equivalence`` with a sigmoid hidden layer and the
``sigmoid_xent`` loss (the output fires sigmoid(a)); 20 tau per presentation. Its inputs
reach -3.1, so the baseline is 100 Hz at 20 Hz per unit: no rate is clipped at 0 Hz.
"""
import numpy as np
import pytest
from brian2 import StateMonitor, ms

from mirrorlab.analysis import plausibility as P
from mirrorlab.circuits import FiringRateCircuit, build, presentations
from mirrorlab.circuits.firing_rate_equations import excitatory_inhibitory
from mirrorlab.models.schedule import MIRROR
from mirrorlab.sims.check import check_plausibility
from mirrorlab.sims.config import Config, ConfigError
from mirrorlab.sims.data import load_dataset
from mirrorlab.sims.runs.circuit import plan_from_config, spec_from_config
from mirrorlab.sims.runs.compiled import run_circuit

from circuit_reference import matrix_run, relative_errors

pytestmark = pytest.mark.usefixtures("fresh_brian2")

#: Relative error of every W, b, B after the run. Leaky stages leave a settling residual
#: at the end of each presentation (measured: 2.6e-4 absolute on digits at 20 tau) that
#: the plasticity reads, so it adds up over the run (measured here: 1e-5).
TOLERANCE = 1e-4


def teacher_data():
    return load_dataset("teacher", seed=0, n_train=30, n_test=10, teacher_sizes=(6, 8, 3),
                        teacher_transfer="sigmoid")


def config(**overrides) -> Config:
    settings = {"data.name": "teacher", "data.teacher_sizes": [6, 8, 3], "data.n_train": 30,
                "data.teacher_transfer": "sigmoid", "network.sizes": [6, 5, 3],
                "network.transfer": "sigmoid", "network.loss": "sigmoid_xent",
                "network.output_transfer": "linear", "training.epochs": 1,
                "training.batch_size": 1, "training.lr": 0.3, "rule.name": "wm",
                "rule.wm.lr": 0.05, "rule.wm.decay": 0.1, "rule.wm.noise": "uniform",
                "schedule.mirror_every": 2, "schedule.initial_mirror_batches": 4,
                "circuit.neuron": "firing_rate", "circuit.tau_ms": 10.0, "circuit.dt_ms": 2.0,
                "circuit.baseline_hz": 100.0, "circuit.gain_hz": 20.0, **overrides}
    return Config().replace(**settings)


@pytest.mark.parametrize("rule", ["wm", "kp", "fa", "rlra"])
def test_settled_firing_rate_circuit_computes_what_the_matrix_engine_computes(rule):
    data = teacher_data()
    plan = plan_from_config(config(**{"rule.name": rule}), data)
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial)
    expected = matrix_run(plan, data)
    errors = relative_errors(run, expected)
    assert max(errors.values()) < TOLERANCE, errors
    moved = [np.linalg.norm(e - w0) / np.linalg.norm(w0)
             for e, w0 in zip(expected[0], plan.initial[0])]
    assert min(moved) > 10 * TOLERANCE   # the run learned far beyond the tolerance


def test_too_short_presentations_do_not_settle():
    """The tolerance above is a settling residual: with 2 tau per presentation the same
    run ends far from the matrix engine."""
    data = teacher_data()
    plan = plan_from_config(config(**{"circuit.settle_steps": 10}), data)
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial)
    assert max(relative_errors(run, matrix_run(plan, data)).values()) > 10 * TOLERANCE


def test_rates_clipped_at_zero_lose_the_values_below_the_baseline():
    """At a 40 Hz baseline the inputs below -2 fire 0 Hz: the circuit is still plausible but
    no longer computes the matrix engine's network (why the baseline must cover the data)."""
    data = teacher_data()
    assert np.min(data.x_train) < -40.0 / 20.0
    plan = plan_from_config(config(**{"circuit.baseline_hz": 40.0}), data)
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial)
    assert max(relative_errors(run, matrix_run(plan, data)).values()) > 10 * TOLERANCE


def short_circuit(cfg: Config, events: int = 6):
    """A circuit run of the first ``events`` events of ``cfg`` (mirror ones included),
    monitored at every step: feedback_0's error and its excitatory input, forward_2's rate."""
    data = teacher_data()
    plan = plan_from_config(cfg, data)
    events = plan.events[:events]
    n_mirror = sum(e.phase == MIRROR for e in events)
    table = presentations(plan.spec.sizes, events, data.x_train, data.y_train,
                          plan.noise[:n_mirror], plan.spec.mirror_scheme)
    circuit = build(plan.spec, table)
    circuit.set_weights(*plan.initial)
    error = StateMonitor(circuit.network["feedback_0"], ["delta", "I_fb_exc"], record=True)
    output = StateMonitor(circuit.network["forward_2"], "r", record=True)
    circuit.network.add(error, output)
    circuit.network.run(circuit.duration, namespace={})
    return circuit, error, output


def test_resting_weight_cancels_at_every_moment_not_only_when_settled():
    """The excitatory drive x_syn lags like the inhibitory relay (the relay is updated
    before its partner, so both filter the same samples), so the resting parts c of a
    weight's two synapses cancel throughout each presentation: the trajectories do not
    depend on c (to rounding), although each route's current grows with c."""
    _, error_low, output_low = short_circuit(config(**{"circuit.resting_weight": 1.0}))
    _, error_high, output_high = short_circuit(config(**{"circuit.resting_weight": 4.0}))
    np.testing.assert_allclose(error_high.delta, error_low.delta, atol=1e-9)
    np.testing.assert_allclose(output_high.r, output_low.r, atol=1e-9)
    assert np.max(np.abs(error_high.I_fb_exc)) > 2 * np.max(np.abs(error_low.I_fb_exc))
    assert np.ptp(np.asarray(error_low.delta)) > 1e-3      # the errors did move


def test_populations_fire_non_negative_bounded_rates_and_keep_dale():
    circuit, _, _ = short_circuit(config(), events=12)
    assert isinstance(circuit, FiringRateCircuit)
    names = {G.name for G in circuit.populations}
    assert {"forward_inh_0", "feedback_inh_2", "noise_0", "noise_1", "target"} <= names
    for G in circuit.populations:
        rho = np.asarray(G.rho[:])
        assert np.all(rho >= 0) and np.all(rho < 200), G.name
    for _, S, sign in circuit.plastic_groups():
        assert np.all(np.asarray(S.w[:]) >= 0), S.name   # each synapse keeps its sign
    W, _, B = circuit.weights()
    assert all(np.any(w < 0) for w in W + B)               # the signed weights mix signs


def test_excitatory_inhibitory_form_of_a_plasticity():
    code = excitatory_inhibitory("w += g(t) * (eta * delta_pre * r_fwd_post - decay * w)",
                                 -1, "B_inh_1")
    assert "(-1 * 2 * (w - w_rest))" in code and "w += -1 * 0.5 * (" in code
    assert "delta_pre" not in code and "rho_pre" in code      # read from the rate
    assert code.endswith("w = clip(w, 0, inf)")
    with pytest.raises(ValueError, match="B_1: .* not of the form 'w \\+= ...'"):
        excitatory_inhibitory("w = w * 0.5", 1, "B_1")


@pytest.mark.parametrize("overrides, message", [
    ({"circuit.resting_weight": 0.01}, "circuit.resting_weight: 0.01 is too small for W_1"),
    ({"constraints.feedback_dale": True}, "constraints.feedback_dale: is built into "
                                          "firing_rate circuits"),
])
def test_firing_rate_circuits_refuse_what_they_cannot_be(overrides, message):
    with pytest.raises((ValueError, ConfigError), match=message):
        short_circuit(config(**overrides), events=1)


def test_the_spec_carries_the_config_rates():
    spec = spec_from_config(config(**{"circuit.baseline_hz": 30.0, "circuit.gain_hz": 10.0}))
    assert float(spec.firing.baseline) == 30.0 and float(spec.firing.gain) == 10.0
    assert spec.presentation_time == 2 * (2 + 4 * 2) * 10 * ms   # 2 tau per leaky stage


def test_the_check_passes_the_plausibility_checks_a_firing_rate_circuit_is_built_for():
    digits = config(**{"data.name": "digits", "network.sizes": [64, 8, 10],
                       "circuit.baseline_hz": 40.0, "training.lr": 0.03, "rule.wm.lr": 0.0002,
                       "rule.wm.decay": 0.0002})
    report = check_plausibility(digits, steps=10, progress=False)
    status = {c["name"]: c for c in report["checks"]}
    for name in ("no_weight_transport", "dale_principle", "rates_in_bounds",
                 "rates_non_negative", "weights_finite", "weights_bounded", "time_scales"):
        assert status[name]["status"] == P.PASS, status[name]["evidence"]["summary"]
    assert "by construction" in status["rates_non_negative"]["evidence"]["summary"]
    rates = status["rates_in_bounds"]["evidence"]["populations"]
    assert {"noise_0", "forward_inh_1", "feedback_inh_1", "target"} <= set(rates)
    assert report["device"] == "runtime (numpy)"
