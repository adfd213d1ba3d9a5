"""Circuit runs through the CLI write the same results folder as the matrix engine."""
import json

import numpy as np
import pytest

from mirrorlab.sims import results
from mirrorlab.sims.cli import main
from mirrorlab.sims.config import load_config
from mirrorlab.circuits import presentations
from mirrorlab.sims.runs.circuit import plan_from_config
from mirrorlab.sims.runs.common import load_config_data
from mirrorlab.sims.runs.matrix import run_matrix

CONFIG = """
base = "{root}/configs/digits_mlp.toml"
[data]
n_train = 60
n_test = 60
[network]
loss = "sigmoid_xent"
[training]
epochs = 1
batch_size = 1
lr = 0.1
checkpoint_every = 20
[schedule]
initial_mirror_batches = 10
mirror_batch_size = 1
"""


@pytest.fixture
def config_file(tmp_path):
    from pathlib import Path
    path = tmp_path / "circuit.toml"
    path.write_text(CONFIG.format(root=Path(__file__).resolve().parents[1]))
    return path


pytestmark = pytest.mark.usefixtures("fresh_brian2")


@pytest.mark.parametrize("rule", ["wm", "kp"])
def test_circuit_run_matches_matrix_run_of_the_same_config(config_file, tmp_path, rule):
    out = tmp_path / "circuit"
    assert main(["run", str(config_file), "--engine", "circuit", "--rule", rule,
                 "--set", "training.checkpoint_every=4", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["engine"], metrics["device"], metrics["complete"]) == (
        "circuit", "runtime (numpy)", True)
    matrix = run_matrix(load_config(config_file, **{"rule.name": rule}), progress=False)
    # Instantaneous neurons replaying the matrix engine's samples and noise: the circuit's
    # weights equal the matrix engine's to ~1e-15 (tests/test_circuit_equivalence.py).
    assert metrics["final"]["weight_angle_deg"] == pytest.approx(
        matrix["final"]["weight_angle_deg"], abs=1e-6)
    assert metrics["final"]["test_accuracy"] == matrix["final"]["test_accuracy"]
    W, b, B = results.load_network_arrays(out)
    assert [w.shape for w in W] == [(100, 64), (10, 100)]
    steps = [h["step"] for h in metrics["history"]]
    assert steps[0] == 0 and steps[-1] == 60 and steps == sorted(steps)
    schedule = metrics["schedule"]
    phases = schedule["phases"]
    assert schedule["presentations"] == schedule["engaged"] + schedule["mirror"]
    if rule == "wm":
        assert schedule["window_start"] == 20 - 15           # 10 initial mirror events x 2 layers
        assert phases[:2] == ["mirror B2", "mirror B1"]        # presentations 5 and 6
        assert phases[15:19] == ["engaged", "mirror B1", "mirror B2", "engaged"]
    else:
        assert set(phases) == {"engaged"}
    assert (out / "figures" / "alignment.png").exists()
    assert (out / "figures" / "schedule.png").exists()
    assert (out / "figures" / "activity.png").exists()
    assert_activity_is_the_settled_state(out, load_config(config_file, **{"rule.name": rule}))


def assert_activity_is_the_settled_state(out, config):
    """activity.npz row k is presentation ``presentation[k]``: forward_0 shows its sample
    (engaged) or its noise (mirror of B1), and feedback_2 carries sigmoid(a_2) - y."""
    config = config.replace(**{"experiment.engine": "circuit"})
    data = load_config_data(config)
    plan = plan_from_config(config, data)
    table = presentations(plan.spec.sizes, plan.events, data.x_train, data.y_train, plan.noise,
                          plan.spec.mirror_scheme)
    with np.load(out / "activity.npz") as activity:
        shown, engaged = activity["presentation"], activity["engaged"].astype(bool)
        assert len(shown) > 10 and engaged.any()
        np.testing.assert_array_equal(engaged, table.engaged[shown] == 1)
        x0 = np.where(table.drive[shown, :1] == 1, table.stimulus[shown], 0.0)
        if table.noise is not None:
            x0 = x0 + table.noise_on[shown, :1] * table.noise[0][shown]
        np.testing.assert_allclose(activity["forward_0"], x0, atol=1e-12)
        assert (config.network.loss, config.network.output_transfer) == ("sigmoid_xent", "linear")
        error = 1 / (1 + np.exp(-activity["forward_2"])) - table.labels[shown]
        np.testing.assert_allclose(activity["feedback_2"][engaged], error[engaged], atol=1e-12)
        assert activity["forward_1"].shape == (len(shown), 100)


def test_circuit_rejects_what_it_cannot_do(config_file, tmp_path, capsys):
    assert main(["run", str(config_file), "--engine", "circuit", "--set",
                 "network.loss='softmax_xent'", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert "sigmoid_xent" in capsys.readouterr().err
    assert main(["run", str(config_file), "--engine", "circuit", "--set",
                 "training.batch_size=4", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert "training.batch_size" in capsys.readouterr().err


@pytest.mark.parametrize("neuron", ["poisson", "lif"])
def test_spiking_run_writes_its_spikes(neuron, tmp_path):
    """A spiking circuit's results folder holds the spikes of the schedule window, with
    unit indices in range and rates near the 30 Hz baseline (pooled trains / pool; LIF
    units: their member neurons' spikes)."""
    from pathlib import Path
    config = Path(__file__).resolve().parents[1] / "configs" / "spiking_teacher_wm.toml"
    out = tmp_path / "spiking"
    assert main(["run", str(config), "--device", "runtime", "--out", str(out), "--quiet",
                 "--set", "data.n_train=4", "--set", "schedule.initial_mirror_batches=2",
                 "--set", "circuit.presentation_ms=20.0", "--set", "training.epochs=1",
                 "--set", f"circuit.neuron={neuron}"]) == 0
    with np.load(out / "spikes.npz") as saved:
        first, stop = saved["window"]
        seconds = (stop - first) * float(saved["presentation_s"])
        for name in ("forward_0", "forward_1", "feedback_1", "target"):
            units, pool = int(saved[f"{name}.n"]), int(saved[f"{name}.pool"])
            i = saved[f"{name}.i"]
            assert i.min() >= 0 and i.max() < units
            rate = len(i) / (seconds * units * pool)      # Hz per neuron
            assert 15 < rate < 60, (name, rate)
    assert (out / "figures" / "spikes.png").exists()
