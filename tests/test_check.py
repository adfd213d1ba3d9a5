"""mirrorlab check: the plausibility checks find what each circuit breaks."""
import json
from pathlib import Path

import numpy as np
import pytest

from mirrorlab.models.transfer import get_transfer
from mirrorlab.analysis.plausibility import (CHECKS, check_weights_bounded,
                                             check_weights_finite, mixed_sign_fraction)
from mirrorlab.sims.check import brief_run, check_plausibility, run_checks
from mirrorlab.sims.cli import main
from mirrorlab.sims.config import ConfigError, from_dict, load_config
from mirrorlab.sims.runs.common import load_config_data

ROOT = Path(__file__).resolve().parents[1]

# A tiny digits circuit: 64-8-10 instantaneous neurons, 40 training samples, one epoch
# (the brief run is then the whole schedule), a short initial mirror phase.
CONFIG = f"""
base = "{ROOT}/configs/digits_mlp.toml"
[data]
n_train = 40
n_test = 60
[network]
sizes = [64, 8, 10]
loss = "sigmoid_xent"
[training]
epochs = 1
batch_size = 1
lr = 0.1
[schedule]
initial_mirror_batches = 10
mirror_batch_size = 1
"""

pytestmark = pytest.mark.usefixtures("fresh_brian2")


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(CONFIG)
    return path


def statuses(report: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


def evidence(report: dict, name: str) -> dict:
    return next(c["evidence"] for c in report["checks"] if c["name"] == name)


@pytest.mark.parametrize("rule, expected", [("wm", "pass"), ("bp", "fail")])
def test_weight_transport_fails_bp_and_passes_the_weight_mirror(config_file, rule, expected):
    report = check_plausibility(load_config(config_file, **{"rule.name": rule}), progress=False)
    assert [c["name"] for c in report["checks"]] == list(CHECKS)
    assert statuses(report)["no_weight_transport"] == expected
    violations = evidence(report, "no_weight_transport")["violations"]
    if rule == "bp":   # B_l starts as a copy of W_l^T: one violation per layer
        assert {v["synapses"] for v in violations} == {"B_1", "B_2"}
        assert statuses(report)["alignment_reached"] == "n/a"
    else:
        assert violations == []
        assert statuses(report)["alignment_reached"] in ("pass", "fail")


@pytest.mark.parametrize("rule, expected", [("wm", "pass"), ("bp", "fail")])
def test_check_command_writes_the_report(config_file, tmp_path, capsys, rule, expected):
    out = tmp_path / rule
    assert main(["check", str(config_file), "--rule", rule, "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "plausibility.json").read_text())
    assert report["rule"] == rule and report["engine"] == "circuit"
    for check in report["checks"]:
        assert set(check) == {"name", "status", "evidence"}
        assert check["status"] in ("pass", "fail", "n/a")
        assert check["evidence"]["summary"]
    assert statuses(report)["no_weight_transport"] == expected
    markdown = (out / "plausibility.md").read_text()
    assert f"| `no_weight_transport` | **{expected}** |" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| `")]
    assert len(rows) == len(CHECKS)
    assert all(row.replace("\\|", "").count("|") == 4 for row in rows)   # |w| is escaped
    assert "[check]" in (out / "config.toml").read_text()
    printed = capsys.readouterr().out
    assert f"no_weight_transport  {expected}" in printed
    # --strict turns a failed check into exit status 1 (every tiny circuit fails Dale's W)
    assert main(["check", str(config_file), "--rule", rule, "--out", str(out), "--quiet",
                 "--strict"]) == 1


def test_check_command_names_a_bad_field(config_file, tmp_path, capsys):
    assert main(["check", str(config_file), "--steps", "-1", "--out", str(tmp_path),
                 "--quiet"]) == 2
    assert "check.steps" in capsys.readouterr().err
    assert main(["check", str(config_file), "--set", "training.batch_size=4", "--out",
                 str(tmp_path), "--quiet"]) == 2
    assert "training.batch_size" in capsys.readouterr().err


@pytest.mark.parametrize("tree, field", [
    ({"check": {"rate_bounds_hz": [-10.0, 200.0]}}, "check.rate_bounds_hz"),
    ({"check": {"tau_range_ms": [5.0]}}, "check.tau_range_ms"),
    ({"check": {"max_rate_hz": 0}}, "check.max_rate_hz"),
    ({"check": {"dale_tolerance": 1.5}}, "check.dale_tolerance"),
    ({"check": {"typo": 1}}, "check.typo"),
])
def test_bad_check_fields_are_named(tree, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        from_dict(tree)


@pytest.mark.parametrize("transfer, expected", [("sigmoid", "pass"), ("tanh", "fail")])
def test_tanh_rates_go_negative_sigmoid_rates_do_not(config_file, transfer, expected):
    # mse with a sigmoid output and Kolen-Pollack (no mirror noise): only the hidden
    # layer's transfer function can make a rate negative.
    config = load_config(config_file, **{"rule.name": "kp", "network.loss": "mse",
                                         "network.output_transfer": "sigmoid",
                                         "network.transfer": transfer})
    report = check_plausibility(config, progress=False)
    assert statuses(report)["rates_non_negative"] == expected
    hidden = evidence(report, "rates_non_negative")["populations"]["forward_1"]["engaged"]
    assert (hidden["min_hz"] < 0) == (transfer == "tanh")
    assert statuses(report)["rates_in_bounds"] == expected   # sigmoid: 0 to 100 Hz


def test_rates_are_the_settled_values_that_plasticity_reads(config_file):
    """One engaged presentation: the sampled rate of forward_1 is phi(W x + b) of the
    shown sample with the initial weights, and the update bound of each W is the exact
    relative change (a single outer product, no decay)."""
    config = load_config(config_file, **{"rule.name": "kp", "rule.kp.decay": 0.0})
    run = brief_run(config, load_config_data(config), steps=1)
    assert len(run.engaged) == 1 and run.engaged[0]
    (W1, _), (b1, _) = run.initial[0], run.initial[1]
    x = run.circuit.presentations.stimulus[0]
    expected = get_transfer("sigmoid").phi(W1 @ x + b1)
    np.testing.assert_allclose(run.activity["forward_1"]["r"][0], expected, rtol=1e-12)
    updates = run.readout.relative_updates
    for l, (before, after) in enumerate(zip(run.initial[0], run.final[0]), 1):
        change = np.linalg.norm(after - before)
        norm = min(np.linalg.norm(before), np.linalg.norm(after))
        assert updates[f"W_{l}"] == pytest.approx(change / norm, rel=1e-9)


def test_weights_made_nan_or_huge_fail():
    W = [np.zeros((3, 2)), np.ones((1, 3))]
    b = [np.zeros(3), np.zeros(1)]
    B = [w.T.copy() for w in W]
    assert check_weights_finite(W, b, B)["status"] == "pass"
    assert check_weights_bounded(W, b, B, bound=10.0)["status"] == "pass"
    W[1][0, 2] = np.nan
    finite = check_weights_finite(W, b, B)
    assert finite["status"] == "fail" and finite["evidence"]["non_finite_entries"]["W_2"] == 1
    assert check_weights_bounded(W, b, B, bound=10.0)["status"] == "fail"
    W[1][0, 2], B[0][1, 1] = 0.0, -1e6
    assert check_weights_finite(W, b, B)["status"] == "pass"
    bounded = check_weights_bounded(W, b, B, bound=10.0)
    assert bounded["status"] == "fail" and bounded["evidence"]["max_abs"]["B_1"] == 1e6


@pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")
def test_circuits_with_diverging_or_huge_weights_fail(config_file):
    # A linear output trained by mse with a huge learning rate diverges to inf/NaN.
    diverging = load_config(config_file, **{"rule.name": "kp", "network.loss": "mse",
                                            "training.lr": 1e6})
    report = check_plausibility(diverging, progress=False)
    assert statuses(report)["weights_finite"] == "fail"
    assert statuses(report)["weights_bounded"] == "fail"
    # Initial weights of gain 1000 (up to 1000/sqrt(64) = 125) stay finite but huge.
    huge = load_config(config_file, **{"rule.name": "fa", "network.init_gain": 1000.0})
    report = check_plausibility(huge, progress=False)
    assert statuses(report)["weights_finite"] == "pass"
    assert statuses(report)["weights_bounded"] == "fail"
    assert evidence(report, "weights_bounded")["max_abs"]["W_1"] > 10


def test_mixed_sign_fraction_counts_presynaptic_columns():
    matrix = np.array([[1.0, -1.0, 0.0, 2.0],
                       [2.0, -3.0, -1.0, -2.0]])   # columns: +, -, - (and a zero), mixed
    assert mixed_sign_fraction(matrix) == 0.25


@pytest.mark.parametrize("dale", [True, False])
def test_dale_feedback_constraint_leaves_no_mixed_feedback_neuron(config_file, dale):
    config = load_config(config_file, **{"rule.name": "fa", "constraints.feedback_dale": dale})
    report = check_plausibility(config, progress=False)
    fractions = evidence(report, "dale_principle")["mixed_sign_fraction"]
    assert (evidence(report, "dale_principle")["feedback_dale"] == "off") == (not dale)
    for name in ("B_1", "B_2"):
        assert (fractions[name] == 0) == dale
    assert fractions["W_1"] > 0 and fractions["W_2"] > 0   # forward weights mix signs
    assert statuses(report)["dale_principle"] == "fail"


# --- spiking circuits ----------------------------------------------------------------------

# A tiny spiking weight-mirror circuit: 4-6-3 Poisson units (pools of 20 neurons) on the
# linear teacher task, presentations of 20 ms (40 steps of 0.5 ms). Two engaged
# presentations keep ceil(4 * 2 / 10) = 1 initial mirror event: 8 presentations, ~9 s
# on runtime numpy. noise_drive = 0: forward_0 is at exactly its baseline in mirror
# presentations (its drive is off and it carries no noise), so its rate there is pure
# Poisson (Bernoulli per step) spiking at 30 Hz.
SPIKING = f"""
base = "{ROOT}/configs/spiking_teacher_wm.toml"
[data]
teacher_sizes = [4, 6, 3]
n_train = 10
n_test = 20
[network]
sizes = [4, 6, 3]
[training]
epochs = 1
[schedule]
initial_mirror_batches = 4
mirror_batches = 1
[circuit]
presentation_ms = 20.0
noise_drive = 0.0
baseline_hz = 30.0
gain_hz = 15.0
neurons_per_unit = 20
"""


def spiking_run(tmp_path, steps=2, **overrides):
    path = tmp_path / "spiking.toml"
    path.write_text(SPIKING)
    config = load_config(path, **overrides)
    data = load_config_data(config)
    return config, data, brief_run(config, data, steps=steps)


def by_name(checks: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in checks}


def test_spiking_weight_mirror_rates_come_from_spikes(tmp_path):
    config, data, run = spiking_run(tmp_path)
    assert run.spiking and run.activity == {}
    assert int(run.engaged.sum()) == 2 and len(run.engaged) == 8
    checks = by_name(run_checks(config, data, run))
    assert list(checks) == list(CHECKS)
    assert checks["no_weight_transport"]["status"] == "pass"
    assert checks["rates_non_negative"]["status"] == "pass"
    assert checks["rates_in_bounds"]["status"] == "pass"            # default [0, 200] Hz
    # without circuit.dale, W and B carry signed weights: Dale's principle fails
    dale = checks["dale_principle"]
    assert dale["status"] == "fail" and dale["evidence"]["group_sign"]["W_1"] == "mixed"
    assert set(dale["evidence"]["mixed_sign_fraction"]) == {"W_1", "W_2", "B_1", "B_2"}
    # rates: every spike counted once, per neuron (pool) and presentation time
    rates, T_s = run.readout.rates_hz, 0.020
    assert set(rates) == {"forward_0", "forward_1", "forward_2", "feedback_1", "feedback_2",
                          "target"}
    for name, spikes in run.spikes.items():
        assert rates[name].shape == (8, spikes["n"])
        assert rates[name].sum() * 20 * T_s == pytest.approx(len(spikes["i"]))
    # forward_0 in mirror presentations fires at the 30 Hz baseline: the mean of N pooled
    # counts of 20 neurons over 20 ms has a Poisson standard error sqrt(30 / (20 T N)) Hz
    # (the Bernoulli-per-step count varies less); allow 4 of them (~1.5 Hz each here)
    silent = rates["forward_0"][run.mirror]
    se = np.sqrt(30.0 / (20 * T_s * silent.size))
    assert abs(silent.mean() - 30.0) < 4 * se
    # every population carries small signed values around the baseline: its mean rate is
    # within half a unit of value (gain/2 = 7.5 Hz) of 30 Hz
    for name, r in rates.items():
        assert abs(r.mean() - 30.0) < 7.5, name
    # the same run with an upper bound below the baseline fails rates_in_bounds
    low = by_name(run_checks(config.replace(**{"check.rate_bounds_hz": [0.0, 10.0]}), data,
                             run))
    assert low["rates_in_bounds"]["status"] == "fail"
    assert low["rates_non_negative"]["status"] == "pass"
    # time scales: settling is n/a and said why; updates measured from weight snapshots
    times = checks["time_scales"]["evidence"]
    assert times["settling"].startswith("n/a") and times["tau_syn_ms"] == 10.0
    assert set(times["max_relative_update"]) == {"W_1", "W_2", "B_1", "B_2"}
    for name, initial in zip(("W_1", "W_2"), run.initial[0]):
        np.testing.assert_allclose(run.weight_history[name][0], initial, atol=1e-12)
    for name, final in zip(("B_1", "B_2"), run.final[2]):
        np.testing.assert_allclose(run.weight_history[name][-1], final)
    assert run.weight_history["W_1"].shape == (9, 6, 4)


def test_spiking_dale_circuit_keeps_one_sign_per_synapse_group(tmp_path):
    # one engaged presentation (5 in all): the relays double the objects to run
    config, data, run = spiking_run(tmp_path, steps=1, **{"circuit.dale": True})
    checks = by_name(run_checks(config, data, run))
    assert checks["no_weight_transport"]["status"] == "pass"
    dale = checks["dale_principle"]
    assert dale["status"] == "pass"
    assert dale["evidence"]["group_sign"] == {
        "W_1": "excitatory", "W_2": "excitatory", "W_inh_1": "inhibitory",
        "W_inh_2": "inhibitory", "B_1": "excitatory", "B_2": "excitatory",
        "B_inh_1": "inhibitory", "B_inh_2": "inhibitory"}
    # the relays' rates are judged too
    assert {"forward_inh_0", "forward_inh_1", "feedback_inh_1", "feedback_inh_2"} <= set(
        checks["rates_in_bounds"]["evidence"]["populations"])
    assert checks["rates_non_negative"]["status"] == "pass"
    # signed history = excitatory - inhibitory: starts at the initial weights
    for name, initial in zip(("B_1", "B_2"), run.initial[2]):
        np.testing.assert_allclose(run.weight_history[name][0], initial, atol=1e-12)
