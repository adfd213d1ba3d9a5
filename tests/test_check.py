"""mirrorlab check: the plausibility checks find what each circuit breaks."""
import json
from pathlib import Path

import numpy as np
import pytest

from mirrorlab.models.transfer import get_transfer
from mirrorlab.sims.check import (CHECKS, brief_run, check_plausibility, check_weights_bounded,
                                  check_weights_finite, mixed_sign_fraction, relative_updates)
from mirrorlab.sims.cli import main
from mirrorlab.sims.config import ConfigError, from_dict, load_config
from mirrorlab.sims.train import load_config_data

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
    updates = relative_updates(run)
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
