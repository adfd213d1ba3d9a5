"""Training runs, results folders and the command line, end to end on small data."""
import json

import numpy as np
import pytest

from mirrorlab.sims import results
from mirrorlab.sims.cli import main
from mirrorlab.sims.config import Config
from mirrorlab.sims.matrix_engine import DivergenceError, MatrixEngine
from mirrorlab.models.schedule import ENGAGED, MIRROR, phase_plan
from mirrorlab.sims.runs.matrix import run_matrix

SMALL = {"data.n_train": 120, "data.n_test": 60, "training.epochs": 2,
         "training.batch_size": 20, "training.checkpoint_every": 2}


def small_config(**overrides):
    return Config().replace(**{**SMALL, **overrides})


def write_config(tmp_path, text=""):
    path = tmp_path / "small.toml"
    path.write_text('[data]\nn_train = 120\nn_test = 60\n[training]\nepochs = 2\n'
                    'batch_size = 20\ncheckpoint_every = 3\n' + text)
    return path


def test_phase_plan_orders_mirror_and_engaged_batches():
    events = list(phase_plan(10, 2, 4, np.random.default_rng(0), mirror=True,
                             initial_mirror_batches=3, mirror_every=2, mirror_batches=2))
    phases = [e.phase for e in events]
    assert phases[:3] == [MIRROR] * 3
    engaged = [e for e in events if e.phase == ENGAGED]
    assert len(engaged) == 6                          # 3 batches (4, 4, 2) per epoch
    for epoch in (0, 1):
        seen = np.concatenate([e.samples for e in engaged if e.epoch == epoch])
        assert sorted(seen) == list(range(10))        # each epoch visits every sample once
    assert phases.count(MIRROR) == 3 + 2 * 3          # after engaged steps 2, 4, 6
    assert phases[3:7] == [ENGAGED, ENGAGED, MIRROR, MIRROR]


def test_run_is_deterministic_given_seed():
    a = run_matrix(small_config(**{"rule.name": "wm"}), progress=False)
    b = run_matrix(small_config(**{"rule.name": "wm"}), progress=False)
    c = run_matrix(small_config(**{"rule.name": "wm", "experiment.seed": 1}), progress=False)
    # the same computation twice: equal up to BLAS rounding (1e-12 relative is ~1e4 ulp;
    # another seed differs by degrees)
    assert [h["step"] for h in a["history"]] == [h["step"] for h in b["history"]]
    for ha, hb in zip(a["history"], b["history"]):
        for key in ("weight_angle_deg", "delta_angle_deg", "sign_concordance", "norm_ratio"):
            assert ha[key] == pytest.approx(hb[key], rel=1e-12)
        assert ha["test_loss"] == pytest.approx(hb["test_loss"], rel=1e-12)
    assert a["final"]["weight_angle_deg"] != c["final"]["weight_angle_deg"]


def test_run_writes_a_complete_results_folder(tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(write_config(tmp_path)), "--rule", "kp", "--seed", "2",
                 "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("rule", "engine", "device", "seed", "versions", "history", "final"):
        assert key in metrics
    assert (metrics["rule"], metrics["engine"], metrics["seed"]) == ("kp", "matrix", 2)
    assert metrics["complete"] is True
    final = metrics["final"]
    assert 0.0 <= final["test_accuracy"] <= 1.0
    assert len(final["weight_angle_deg"]) == len(final["delta_angle_deg"]) == 2
    assert [h["step"] for h in metrics["history"]] == [0, 3, 6, 9, 12]
    assert "numpy" in metrics["versions"] and "mirrorlab" in metrics["versions"]
    assert "seed = 2" in (out / "config.toml").read_text()
    W, b, B = results.load_network_arrays(out)
    assert [w.shape for w in W] == [(100, 64), (10, 100)]
    assert [x.shape for x in B] == [(64, 100), (100, 10)]
    from mirrorlab.analysis.metrics import weight_angles
    assert weight_angles(W, B) == pytest.approx(final["weight_angle_deg"], abs=1e-9)
    assert (out / "figures" / "alignment.png").stat().st_size > 0
    assert (out / "figures" / "scatter.png").stat().st_size > 0


def test_compare_writes_summary_and_resumes(tmp_path, capsys):
    config = write_config(tmp_path)
    out = tmp_path / "cmp"
    assert main(["compare", str(config), "--rules", "fa,wm", "--seeds", "2",
                 "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"fa", "wm"} and all(len(v) == 2 for v in summary.values())
    assert "test_accuracy" in summary["wm"][0]
    assert (out / "figures" / "compare_weight_angle.png").exists()
    assert "| wm" in capsys.readouterr().out
    stamp = (out / "wm" / "seed1" / "metrics.json").stat().st_mtime_ns
    assert main(["compare", str(config), "--rules", "fa,wm", "--seeds", "2",
                 "--out", str(out), "--quiet"]) == 0
    assert (out / "wm" / "seed1" / "metrics.json").stat().st_mtime_ns == stamp


def test_interrupt_leaves_finished_checkpoints_marked_incomplete(tmp_path, monkeypatch):
    original, calls = MatrixEngine.engaged_step, []

    def interrupted(self, x, y):
        calls.append(1)
        if len(calls) == 8:
            raise KeyboardInterrupt
        return original(self, x, y)

    monkeypatch.setattr(MatrixEngine, "engaged_step", interrupted)
    out = tmp_path / "run"
    code = main(["run", str(write_config(tmp_path)), "--out", str(out), "--quiet"])
    assert code == 130
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["complete"] is False and "KeyboardInterrupt" in metrics["stopped"]
    assert [h["step"] for h in metrics["history"]] == [0, 3, 6]
    assert not results.is_complete(out)


def test_divergence_names_step_and_layer(tmp_path, capsys):
    config = small_config(**{"rule.name": "bp", "training.lr": 1e6,
                             "network.transfer": "linear", "network.loss": "mse"})
    # caught when a norm outgrows training.divergence_factor, long before NaN ...
    with pytest.raises(DivergenceError, match=r"step \d+: W in layer \d has norm \S+, more "
                                              r"than 1000 times its reference"):
        run_matrix(config, tmp_path / "run", progress=False)
    # ... and as NaN/inf where the factor is set out of reach
    with pytest.raises(DivergenceError, match=r"step \d+: non-finite \w+ in layer \d"):
        run_matrix(config.replace(**{"training.divergence_factor": 1e300}), tmp_path / "nan",
                   progress=False)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["complete"] is False
    path = write_config(tmp_path, '[network]\ntransfer = "linear"\nloss = "mse"\n[rule]\nname = "bp"\n')
    assert main(["run", str(path), "--set", "training.lr=1e6", "--out",
                 str(tmp_path / "cli"), "--quiet"]) == 3
    assert "diverged at step" in capsys.readouterr().err


def test_bad_config_fails_before_work(tmp_path, capsys):
    path = write_config(tmp_path, '[network]\nsizes = [64, 0, 10]\n')
    assert main(["run", str(path), "--out", str(tmp_path / "never")]) == 2
    assert "network.sizes" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
    assert main(["run", str(write_config(tmp_path)), "--set", "training.lr",
                 "--out", str(tmp_path / "never")]) == 2
    assert main(["run", str(write_config(tmp_path)), "--set", "network.sizes=[5, 10]",
                 "--out", str(tmp_path / "never")]) == 2
    assert "64 inputs" in capsys.readouterr().err


def test_plot_redraws_from_results_folder(tmp_path, capsys):
    out = tmp_path / "run"
    run_matrix(small_config(), out, progress=False)
    assert not (out / "figures").exists()
    assert main(["plot", str(out), "--format", "svg"]) == 0
    assert (out / "figures" / "alignment.svg").exists()
    assert (out / "figures" / "scatter.svg").exists()


def test_teacher_regression_records_no_accuracy():
    config = Config().replace(**{"data.name": "teacher", "data.teacher_sizes": [20, 30, 10],
                                 "network.sizes": [20, 30, 10], "network.loss": "mse",
                                 "network.transfer": "tanh", "training.epochs": 2,
                                 "data.n_train": 100, "data.n_test": 50, "rule.name": "kp"})
    metrics = run_matrix(config, progress=False)
    assert metrics["final"]["test_accuracy"] is None
    assert metrics["history"][-1]["test_loss"] < metrics["history"][0]["test_loss"]
