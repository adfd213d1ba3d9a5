"""Sweeps and hypothesis tests: files, resume, failures, and runs on a 2-worker Dask cluster."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mirrorlab.sims import results
from mirrorlab.sims.cli import main
from mirrorlab.sims.config import Config, ConfigError
from mirrorlab.sims.hypothesis import Measure, load_hypothesis
from mirrorlab.sims.sweep import is_finished, load_sweep, run_sweep, run_tasks

TINY = '[data]\nn_train = 100\nn_test = 60\n[training]\nepochs = 1\nbatch_size = 20\n'

HYPOTHESIS = '''title = "tiny"
config = "tiny.toml"
seeds = 3
[baseline]
rule.name = "wm"
[variants.dale]
constraints.feedback_dale = true
[outcome]
measure = "weight_angle"
layer = -1
[claim]
against = "baseline"
relation = "<"
bound = 90.0
'''

SWEEP = '''config = "tiny.toml"
seeds = 2
[grid]
rule.name = ["fa", "kp"]
'''


@pytest.fixture
def files(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY)
    (tmp_path / "hyp.toml").write_text(HYPOTHESIS)
    (tmp_path / "sweep.toml").write_text(SWEEP)
    return tmp_path


def edited(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


# --- files, without a cluster ---------------------------------------------------------------

def test_hypothesis_file_builds_every_group(files):
    spec = load_hypothesis(files / "hyp.toml")
    assert list(spec.configs) == ["baseline", "dale"] and spec.seeds == [0, 1, 2]
    assert spec.configs["dale"].constraints.feedback_dale and spec.baseline.rule.name == "wm"
    tasks = spec.tasks(files / "out")
    assert len(tasks) == 6 and tasks[4].run_dir == files / "out" / "runs" / "dale" / "seed1"
    assert tasks[4].config.experiment.seed == 1


def test_a_report_of_runs_made_with_overrides_says_them_in_its_reproduce_command(files):
    from mirrorlab.sims import api
    out = files / "report"
    report = api.hypothesis(files / "hyp.toml", out, overrides={"training.epochs": 2},
                            progress=False)
    assert report["overrides"] == {"training.epochs": 2}
    run = results.read_metrics(out / "runs" / "dale" / "seed0")
    assert run["history"][-1]["epoch"] == 2
    assert "--set training.epochs=2 --out" in (out / "hypothesis.md").read_text()


@pytest.mark.parametrize("old, new, message", [
    ('seeds = 3', 'seeds = 3\nsedes = 3', r"sedes: unknown key"),
    ('measure = "weight_angle"', 'measure = "angle"', r"outcome\.measure: must be one of"),
    ('layer = -1', 'layer = -1\nlayr = 2', r"outcome\.layr: unknown key"),
    ('layer = -1', 'layer = 3', r"outcome\.layer: baseline has 2 layers"),
    ('relation = "<"', 'relation = "<="', r"claim\.relation: must be one of"),
    ('bound = 90.0', 'bund = 90.0', r"claim\.bund: unknown key"),
    ('constraints.feedback_dale = true', 'constraints.feedback_dail = true',
     r"\[variants\.dale\]: constraints\.feedback_dail: unknown field"),
    ('constraints.feedback_dale = true', 'training.lr = -1.0',
     r"\[variants\.dale\]: training\.lr: must be > 0"),
    ('[variants.dale]', '[variants."my dale"]', r"variants\.my dale\]: a variant's name"),
    ('rule.name = "wm"', 'rule.name = "bp"', r"\[variants\.dale\]: constraints\.feedback_dale"),
    ('seeds = 3', 'seeds = 0', r"seeds: must be >= 1"),
])
def test_bad_hypothesis_file_names_the_key(files, old, new, message):
    with pytest.raises(ConfigError, match=message):
        load_hypothesis(edited(files / "hyp.toml", old, new))


def test_further_claims_are_tested_on_the_same_runs(files):
    """Each [[more_claims]] table is tested, reported and drawn like the first claim, from
    the same runs (here in this process: no Dask client)."""
    from mirrorlab.sims.hypothesis import run_hypothesis
    text = (HYPOTHESIS + '[[more_claims]]\nmeasure = "test_accuracy"\nagainst = "threshold"\n'
            'relation = ">"\nbound = 1.0\n[[more_claims]]\nmeasure = "test_accuracy"\n'
            'against = "threshold"\nrelation = "<"\nbound = 1.0\n')
    (files / "more.toml").write_text(text)
    spec = load_hypothesis(files / "more.toml")
    assert [c.measure.name for c in spec.claims] == ["weight_angle", "test_accuracy",
                                                     "test_accuracy"]
    report, outcomes = run_hypothesis(spec, files / "more", None, progress=False)
    assert len(outcomes) == 6                                  # the runs, once
    above, below = report["more_claims"]
    assert above["groups"]["dale"]["values"] == below["groups"]["dale"]["values"]
    assert above["groups"]["dale"]["mean"] > 5.0              # ~13 % after one tiny epoch
    assert above["results"]["dale"]["verdict"] == "supported"
    assert below["results"]["dale"]["verdict"] == "not supported"
    page = (files / "more" / "hypothesis.md").read_text()
    assert "## Claim 3" in page and "hypothesis_3.png" in page
    assert (files / "more" / "hypothesis_2.png").read_bytes().startswith(b"\x89PNG")
    (files / "bad.toml").write_text(text.replace("bound = 1.0\n", "bund = 1.0\n", 1))
    with pytest.raises(ConfigError, match=r"more_claims\[1\]\.bund: unknown key"):
        load_hypothesis(files / "bad.toml")


def test_bad_sweep_file_names_the_key(files):
    spec = load_sweep(files / "sweep.toml")
    assert list(spec.points) == ["rule.name=fa", "rule.name=kp"] and spec.seeds == [0, 1]
    for old, new, message in [
            ('["fa", "kp"]', '"fa"', r"grid\.rule\.name: must be a non-empty list"),
            ('"fa"', '"hebb"', r"\[grid\] rule\.name=hebb: rule\.name: must be one of"),
            ("[grid]", "[grids]", r"grids: unknown key"),
            ("seeds = 2", "seeds = [1, 1]", r"seeds: must be a number of seeds or a list")]:
        (files / "sweep.toml").write_text(SWEEP)
        with pytest.raises(ConfigError, match=message):
            load_sweep(edited(files / "sweep.toml", old, new))


def test_shipped_hypotheses_and_sweeps_load():
    root = Path(__file__).parents[1] / "configs"
    hypotheses = sorted(root.glob("hypotheses/*.toml"))
    assert len(hypotheses) >= 4
    for path in hypotheses:
        spec = load_hypothesis(path)
        assert len(spec.seeds) >= 3 and spec.variants
    for path in sorted(root.glob("sweeps/*.toml")):
        assert load_sweep(path).points


def test_outcome_measures_read_a_run():
    history = [{"epoch": e, "weight_angle_deg": [80.0 - 10 * e, 60.0 - 20 * e]} for e in range(4)]
    metrics = {"sizes": [4, 3, 2], "history": history,
               "final": {"test_accuracy": 0.875, "weight_angle_deg": [50.0, 0.0]}}
    assert Measure("weight_angle", layer=-1).value(metrics) == (0.0, False)
    assert Measure("weight_angle", layer=1).value(metrics) == (50.0, False)
    assert Measure("test_accuracy").value(metrics) == (87.5, False)        # percent
    assert Measure("time_to_angle", layer=2, angle=25.0).value(metrics) == (2.0, False)
    assert Measure("time_to_angle", layer=1, angle=20.0).value(metrics) == (3.0, True)  # censored
    assert Measure("time_to_angle", layer=2, angle=25.0).label(2) == "epochs until angle(B₂, W₂ᵀ) ≤ 25°"


def test_delivered_error_angle_and_time_to_accuracy_read_a_run():
    accuracy = [0.1, 0.6, 0.84, 0.83, 0.9]           # 95 % of the final 0.9 is 0.855
    history = [{"epoch": e, "test_accuracy": a} for e, a in enumerate(accuracy)]
    metrics = {"sizes": [4, 3, 2], "history": history,
               "final": {"test_accuracy": 0.9, "delta_angle_deg": [31.5, 0.0]}}
    assert Measure("delta_angle", layer=1).value(metrics) == (31.5, False)
    assert Measure("delta_angle", layer=-1).value(metrics) == (0.0, False)
    assert Measure("time_to_accuracy").value(metrics) == (4.0, False)
    assert Measure("time_to_accuracy", fraction=0.9).value(metrics) == (2.0, False)
    assert Measure("time_to_accuracy").label(2) == "epochs until 95 % of the final test accuracy"
    assert Measure("delta_angle", layer=1).label(2) == "final angle(δ₁, δ₁ of backprop) (deg)"
    metrics["final"].update(weight_angle_deg=[50.0, 21.0], weight_angle_floor_deg=[19.5, 19.75])
    assert Measure("angle_above_floor", layer=2).value(metrics) == (1.25, False)
    assert Measure("angle_above_floor", layer=2).label(2) == "final angle(B₂, W₂ᵀ) above its floor (deg)"


@pytest.mark.parametrize("outcome, message", [
    ({"measure": "weight_angle", "fraction": 0.9}, "fraction: applies to"),
    ({"measure": "time_to_accuracy", "fraction": 1.5}, r"fraction: must be in \(0, 1\]"),
])
def test_bad_outcome_fraction_is_named(outcome, message):
    tree = {"config": Config(), "seeds": 3, "variants": {"a": {"training.lr": 0.1}},
            "outcome": outcome, "claim": {"relation": "<", "bound": 1.0}}
    with pytest.raises(ConfigError, match=message):
        load_hypothesis(tree)


def test_cli_imports_dask_only_when_needed():
    code = ("import sys, mirrorlab.sims.cli, mirrorlab.sims.sweep, mirrorlab.sims.hypothesis; "
            "print(any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_matrix_runs_do_not_import_brian2():
    """Sweeps run matrix runs in Dask worker threads, where importing Brian2 fails (it sets
    a signal handler): the matrix engine and its trainers must not import it."""
    code = ("import sys, mirrorlab.sims.runs.matrix, mirrorlab.sims.conntra, "
            "mirrorlab.sims.dtrp; print('brian2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_dask_says_how_to_install(files, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)       # import now fails
    assert main(["sweep", str(files / "sweep.toml"), "--out", str(files / "out")]) == 2
    assert "pip install mirrorlab[cluster]" in capsys.readouterr().err


def test_workers_and_scheduler_exclude_each_other(files, capsys):
    assert main(["sweep", str(files / "sweep.toml"), "--workers", "2",
                 "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--workers" in capsys.readouterr().err


# --- on a 2-worker local cluster --------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def fails_once(marker_dir, victim, how="raise"):
    """A runner that fails on purpose the first time it runs ``victim`` (a run folder name
    like "rule.name=kp/seed1"): raising, or killing its worker process outright."""
    def runner(config, run_dir, progress=False):
        from mirrorlab.sims.runs import run
        marker = Path(marker_dir) / f"{how}-done"
        if str(run_dir).endswith(victim) and not marker.exists():
            marker.touch()
            if how == "kill":
                os._exit(1)
            raise RuntimeError("stopped on purpose")
        return run(config, run_dir, progress=progress)
    return runner


def attempts(run_dir):
    return [json.loads(line)["event"] for line in (run_dir / "attempts.jsonl").read_text().splitlines()]


def test_sweep_survives_a_failure_and_resume_finishes_every_run_once(cluster, files):
    spec, out = load_sweep(files / "sweep.toml"), files / "out"
    victim = out / "runs" / "rule.name=kp" / "seed1"
    outcomes, table = run_sweep(spec, out, cluster, progress=False,
                                runner=fails_once(files, "rule.name=kp/seed1"))
    assert [o.status for o in outcomes] == ["complete", "complete", "complete", "failed"]
    failure = json.loads((victim / "failed.json").read_text())
    assert "stopped on purpose" in failure["error"] and "Traceback" in failure["traceback"]
    rows = list(csv.DictReader(table.open()))
    assert [r["status"] for r in rows] == ["complete"] * 3 + ["failed"]
    assert float(rows[0]["weight_angle_deg_2"]) > 0 and rows[3]["weight_angle_deg_2"] == ""

    outcomes, table = run_sweep(spec, out, cluster, progress=False)          # resume
    assert [o.status for o in outcomes] == ["skipped"] * 3 + ["complete"]
    assert not (victim / "failed.json").exists()
    assert [r["status"] for r in csv.DictReader(table.open())] == ["complete"] * 4

    outcomes, _ = run_sweep(spec, out, cluster, progress=False)              # nothing left
    assert {o.status for o in outcomes} == {"skipped"}
    run_dirs = sorted(p.parent for p in out.glob("runs/*/seed*/metrics.json"))
    assert len(run_dirs) == 4 and all(results.is_complete(d) for d in run_dirs)
    for run_dir in run_dirs:                 # exactly one finished execution per run
        events = attempts(run_dir)
        assert events.count("complete") == 1
        assert events == (["start", "failed", "start", "complete"] if run_dir == victim
                          else ["start", "complete"])


def test_a_killed_worker_is_replaced_and_its_run_redone(cluster, files):
    spec, out = load_sweep(files / "sweep.toml"), files / "out"
    outcomes, _ = run_sweep(spec, out, cluster, progress=False,
                            runner=fails_once(files, "rule.name=fa/seed0", how="kill"))
    assert {o.status for o in outcomes} == {"complete"}
    killed = attempts(out / "runs" / "rule.name=fa" / "seed0")
    assert killed == ["start", "start", "complete"]      # the first attempt died with its worker


def test_a_finished_folder_of_another_config_is_not_reused(cluster, files):
    spec, out = load_sweep(files / "sweep.toml"), files / "out"
    tasks = spec.tasks(out)[:1]
    run_tasks(tasks, cluster, progress=False)
    assert is_finished(tasks[0])
    changed = load_sweep(files / "sweep.toml", **{"training.lr": 0.2}).tasks(out)[:1]
    with pytest.raises(ConfigError, match=r"another config \(differs in training\.lr\)"):
        run_tasks(changed, cluster, progress=False)


def test_hypothesis_command_on_an_existing_scheduler(cluster, files, capsys):
    out = files / "report"
    args = ["hypothesis", str(files / "hyp.toml"), "--out", str(out), "--quiet",
            "--scheduler", cluster.scheduler.address]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "6 runs: 6 ran now" in printed and "dale: supported" in printed
    report = json.loads((out / "hypothesis.json").read_text())
    assert report["groups"]["dale"]["n"] == 3 and len(report["groups"]["baseline"]["values"]) == 3
    assert report["results"]["dale"]["test"].startswith("Welch t-test")
    assert "**supported**" in (out / "hypothesis.md").read_text()
    assert (out / "hypothesis.png").read_bytes().startswith(b"\x89PNG")
    assert main(args) == 0 and "0 ran now, 6 had finished before" in capsys.readouterr().out


CIRCUIT = '''base = "tiny.toml"
[experiment]
engine = "circuit"
[data]
n_train = 20
[network]
loss = "sigmoid_xent"
[training]
batch_size = 1
[schedule]
initial_mirror_batches = 5
mirror_batch_size = 1
'''


def test_circuit_runs_on_dask_workers(cluster, files, capsys):
    """Brian2's first import sets a SIGINT handler, which only a main thread may; Dask
    tasks run in an executor thread, so the workers import Brian2 when they start."""
    (files / "circuit.toml").write_text(CIRCUIT)
    (files / "circuit_sweep.toml").write_text('config = "circuit.toml"\nseeds = 2\n'
                                              '[grid]\nrule.name = ["wm"]\n')
    out = files / "circuit_out"
    assert main(["sweep", str(files / "circuit_sweep.toml"), "--out", str(out), "--quiet",
                 "--scheduler", cluster.scheduler.address]) == 0, capsys.readouterr()
    for seed in (0, 1):
        metrics = results.read_metrics(out / "runs" / "rule.name=wm" / f"seed{seed}")
        assert metrics["engine"] == "circuit" and metrics["complete"]
