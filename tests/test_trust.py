"""A results folder means exactly what it says: complete only when every file is there and
the run finished; interrupted, diverged and killed runs say so and exit 130 or 3; finished
runs are reused only for the very same config."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mirrorlab.sims import results, sweep
from mirrorlab.sims.cli import main
from mirrorlab.sims.config import Config
from mirrorlab.sims.runs import common
from mirrorlab.sims.runs.matrix import build_engine, run_matrix

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "configs" / "digits_mlp.toml")


def small(**overrides) -> Config:
    return Config().replace(**{"data.n_train": 120, "data.n_test": 60, "training.epochs": 2,
                               "training.batch_size": 20, **overrides})


def metrics_of(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


# --- complete means complete ----------------------------------------------------------------

def test_complete_is_written_after_every_file_it_vouches_for(tmp_path, monkeypatch):
    """A kill while the figures are drawn leaves the folder incomplete (with its arrays);
    the next run removes the stale temporary files a killed write left behind."""
    def killed(folder):
        (Path(folder) / "figures").mkdir(exist_ok=True)
        (Path(folder) / "figures" / ".alignment.png.x1y2.tmp").write_bytes(b"half a png")
        raise KeyboardInterrupt

    monkeypatch.setattr(common, "draw_figures", killed)
    monkeypatch.setattr("mirrorlab.sims.runs.matrix.draw_figures", killed)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_matrix(small(), out, progress=False, figures=True)
    assert metrics_of(out)["complete"] is False
    assert (out / "arrays.npz").exists() and not results.is_complete(out)
    (out / ".arrays.npz.k3j4.tmp").write_bytes(b"half an npz")
    monkeypatch.undo()
    run_matrix(small(), out, progress=False, figures=True)
    assert results.is_complete(out) and (out / "figures" / "alignment.png").exists()
    assert not list(out.glob(".*.tmp")) and not list((out / "figures").glob(".*.tmp"))


def test_a_finished_run_records_its_config_digest(tmp_path):
    out = tmp_path / "run"
    config = small()
    run_matrix(config, out, progress=False)
    stored = (out / "config.toml").read_text()
    assert metrics_of(out)["config_sha256"] == results.config_digest(stored)
    assert results.finished(out, stored)


def test_compare_reruns_nothing_of_another_config(tmp_path, capsys):
    """Resuming with another --set is refused, naming the field, before any run."""
    args = ["compare", DIGITS, "--rules", "fa", "--seeds", "1", "--set", "training.epochs=1",
            "--out", str(tmp_path / "cmp"), "--quiet"]
    assert main(args) == 0
    stamp = (tmp_path / "cmp" / "fa" / "seed0" / "metrics.json").stat().st_mtime_ns
    assert main(args + ["--set", "training.lr=0.05"]) == 2
    assert "differs in training.lr" in capsys.readouterr().err
    assert (tmp_path / "cmp" / "fa" / "seed0" / "metrics.json").stat().st_mtime_ns == stamp
    assert main(args) == 0     # the same config: reused
    assert (tmp_path / "cmp" / "fa" / "seed0" / "metrics.json").stat().st_mtime_ns == stamp


def test_an_interrupted_dask_task_is_recorded_not_complete(tmp_path):
    """A run that a Ctrl-C stops inside a worker raises KeyboardInterrupt there; the task
    records the failure and the folder stays incomplete (rerun retries it)."""
    def interrupted(config, run_dir, progress):
        results.begin(Path(run_dir), "", {"history": []})
        raise KeyboardInterrupt("Ctrl-C when 12 % of the run was simulated")

    answer = sweep.execute(tmp_path / "run", small(), runner=interrupted)
    assert answer["status"] == sweep.FAILED and "KeyboardInterrupt" in answer["error"]
    assert not results.is_complete(tmp_path / "run")
    assert "Ctrl-C" in json.loads((tmp_path / "run" / "failed.json").read_text())["error"]


# --- divergence ----------------------------------------------------------------------------

def test_a_blow_up_exits_3_naming_step_layer_and_quantity(tmp_path, capsys):
    """--set training.lr=1e4 on the digits config ran to chance accuracy and exit 0."""
    out = tmp_path / "run"
    assert main(["run", DIGITS, "--set", "training.lr=1e4", "--out", str(out), "--quiet"]) == 3
    message = capsys.readouterr().err
    assert "diverged at step" in message and "layer" in message and "norm" in message
    assert metrics_of(out)["complete"] is False and "DivergenceError" in metrics_of(out)["stopped"]


def test_the_divergence_factor_is_a_config_field(tmp_path):
    """The same run goes on (to chance accuracy) with the factor out of reach."""
    config = small(**{"training.lr": 1e4, "training.divergence_factor": 1e300})
    assert run_matrix(config, tmp_path / "run", progress=False)["complete"] is True
    with pytest.raises(Exception, match="training.divergence_factor: must be > 1"):
        small(**{"training.divergence_factor": 0.5})


# --- the ragged last batch -------------------------------------------------------------------

def test_a_smaller_last_batch_takes_a_proportionally_smaller_step():
    """Every sample weighs lr / batch_size: the last batch of an epoch, k < batch_size
    samples, moves W by lr * (sum of their gradients) / batch_size, not by the mean of
    their gradients at the full rate (which made single runs' accuracy dip)."""
    config = small(**{"rule.name": "bp", "training.batch_size": 32})
    engine = build_engine(config, np.random.default_rng(1))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(3, 64)), np.eye(10)[rng.integers(0, 10, 3)]
    net_inputs, activities = engine.forward(x)
    deltas = engine.backward(net_inputs, y)
    W, b = [w.copy() for w in engine.net.W], [v.copy() for v in engine.net.b]
    engine.engaged_step(x, y)
    for l in range(2):
        # W - W_new loses the last bits of W (~0.1, ulp ~1e-17) to cancellation: atol 1e-15
        # (the steps are ~1e-5; the mean at full rate would be 32/3 times larger)
        np.testing.assert_allclose(W[l] - engine.net.W[l],
                                   config.training.lr * deltas[l].T @ activities[l] / 32,
                                   rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(b[l] - engine.net.b[l],
                                   config.training.lr * deltas[l].sum(axis=0) / 32,
                                   rtol=1e-9, atol=1e-15)


# --- Ctrl-C during a circuit run ----------------------------------------------------------------

CIRCUIT = f"""
base = "{ROOT}/configs/digits_wm_circuit.toml"
[data]
n_train = 100
[training]
epochs = 20
[schedule]
initial_mirror_batches = 200
[device]
name = "{{device}}"
"""


def interrupt_run(tmp_path: Path, device: str, seen: str, kill_binary: bool = False):
    """Start ``mirrorlab run`` of a circuit, wait until it prints ``seen``, then send
    SIGINT to mirrorlab (or SIGKILL to its compiled binary); return (exit status, stdout,
    stderr, results folder)."""
    config = tmp_path / "circuit.toml"
    config.write_text(CIRCUIT.format(device=device))
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "mirrorlab.sims", "run", str(config),
                                "--out", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, bufsize=1)
    stream = process.stderr if device == "runtime" else process.stdout
    printed, deadline = "", time.time() + 300
    while seen not in printed and time.time() < deadline and process.poll() is None:
        printed += stream.read(1)
    if kill_binary:
        children = [int(p) for p in subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()]
        for child in children:
            os.kill(child, signal.SIGKILL)
    else:
        process.send_signal(signal.SIGINT)
    out_text, err_text = process.communicate(timeout=120)
    return process.returncode, printed + out_text, err_text, out


def test_ctrl_c_during_a_runtime_circuit_run_keeps_the_snapshots(tmp_path):
    """Brian2 turns the first Ctrl-C into a clean stop; mirrorlab then exits 130 with the
    snapshots taken so far, marked incomplete (it used to exit 0, complete)."""
    code, _, err, out = interrupt_run(tmp_path, "runtime", "[00:03")   # 3 s into the run
    assert code == 130 and "interrupted" in err
    metrics = metrics_of(out)
    assert metrics["complete"] is False and "KeyboardInterrupt" in metrics["stopped"]
    assert metrics["completed_fraction"] < 1
    presentations = [h["presentation"] for h in metrics["history"]]
    assert presentations == sorted(presentations) and presentations[-1] < 10400
    assert (out / "arrays.npz").exists() and not (out / "figures").exists()


@pytest.mark.slow   # compiles the circuit (~40 s)
@pytest.mark.parametrize("kill_binary", [False, True], ids=["sigint", "binary-killed"])
def test_ctrl_c_or_a_killed_binary_during_cpp_standalone(tmp_path, kill_binary):
    code, printed, err, out = interrupt_run(tmp_path, "cpp", "Starting simulation",
                                            kill_binary=kill_binary)
    assert code == 130
    assert "Starting simulation" in printed       # the binary reports its progress
    metrics = metrics_of(out)
    assert metrics["complete"] is False and "KeyboardInterrupt" in metrics["stopped"]
    if kill_binary:
        assert "stopped before the end of its run" in err
