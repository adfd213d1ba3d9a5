"""The Python API (mirrorlab.sims.api, re-exported by ``import mirrorlab``): what the
command line does, from a script or a notebook, with results as objects and DataFrames."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mirrorlab as ml
from mirrorlab.sims import results

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "configs" / "digits_mlp.toml"
SMALL = {"data.n_train": 120, "data.n_test": 60, "training.epochs": 2,
         "training.batch_size": 20}


def small(**more):
    return ml.load_config(DIGITS, {**SMALL, **more})


def test_configs_come_from_files_dicts_and_configs_with_dotted_overrides():
    from_file = ml.load_config(DIGITS, {"rule.name": "kp", "training.lr": 0.1})
    assert (from_file.rule.name, from_file.training.lr) == ("kp", 0.1)
    from_dict = ml.load_config({"network": {"sizes": [64, 30, 10]}}, {"rule.name": "fa"})
    assert from_dict.network.sizes == [64, 30, 10] and from_dict.rule.name == "fa"
    assert ml.load_config(from_file, {"experiment.seed": 4}).experiment.seed == 4
    with pytest.raises(ml.ConfigError, match="training.speed"):
        ml.load_config(DIGITS, {"training.speed": 1})
    with pytest.raises(ml.ConfigError, match=r"\[networks\]: unknown section"):
        ml.load_config({"networks": {}})


def test_import_mirrorlab_is_light_and_names_the_api():
    code = ("import sys, mirrorlab; heavy = [m for m in ('brian2', 'pandas', 'matplotlib') "
            "if m in sys.modules]; print(heavy, 'run' in dir(mirrorlab))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[] True"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        ml.nothing


def test_a_run_in_memory_is_the_run_on_disk(tmp_path):
    config = small(**{"rule.name": "wm"})
    in_memory = ml.run(config, progress=False)
    on_disk = ml.run(config, tmp_path / "run", progress=False)
    assert in_memory.folder is None and on_disk.folder == tmp_path / "run"
    assert (tmp_path / "run" / "figures" / "alignment.png").exists()   # as the CLI draws
    assert results.is_complete(tmp_path / "run")
    for a, b in zip(in_memory.W + in_memory.B, on_disk.W + on_disk.B):
        np.testing.assert_array_equal(a, b)
    assert in_memory.final == on_disk.final
    loaded = ml.Result.load(tmp_path / "run")
    assert loaded.config == config and loaded.metrics == on_disk.metrics
    assert [w.shape for w in loaded.W] == [(100, 64), (10, 100)]
    assert loaded.activity is None and loaded.spikes is None     # matrix runs have neither


def test_history_is_one_row_per_checkpoint_and_layer():
    result = ml.run(small(**{"rule.name": "fa"}), progress=False)
    history, entries = result.history, result.metrics["history"]
    assert len(history) == 2 * len(entries) and list(history.layer[:2]) == [1, 2]
    for row in history.itertuples():
        entry = entries[row.Index // 2]
        assert row.step == entry["step"] and row.test_loss == entry["test_loss"]
        assert row.weight_angle_deg == entry["weight_angle_deg"][row.layer - 1]
        assert row.sign_concordance == entry["sign_concordance"][row.layer - 1]
    last = history[history.step == history.step.max()]
    assert list(last.weight_angle_deg) == result.final["weight_angle_deg"]
    figure = result.plot()
    assert len(figure.axes) >= 4


def test_a_result_folder_must_hold_a_finished_run(tmp_path):
    with pytest.raises(results.FolderError, match="no finished run"):
        ml.Result.load(tmp_path)


@pytest.mark.usefixtures("fresh_brian2")
def test_a_built_circuit_runs_with_the_users_own_monitor(tmp_path):
    """Build the circuit, add a StateMonitor of one's own to its network, run it through
    mirrorlab: the monitor records the whole run, and the run is the same run as without
    it (the same weights to the last bit: instantaneous neurons replay the same samples)."""
    from brian2 import StateMonitor

    config = small(**{"experiment.engine": "circuit", "training.batch_size": 1,
                      "schedule.mirror_batch_size": 1, "training.epochs": 1,
                      "data.n_train": 20, "network.sizes": [64, 12, 10],
                      "network.loss": "sigmoid_xent", "training.lr": 0.1})
    built = ml.build_circuit(config)
    hidden = built.circuit.forward[1]
    monitor = StateMonitor(hidden, "r", record=[0, 3], dt=built.circuit.spec.dt)
    built.circuit.network.add(monitor)
    with_monitor = built.run(tmp_path / "built", progress=False)
    plain = ml.run(config, progress=False)
    for a, b in zip(with_monitor.W + with_monitor.B, plain.W + plain.B):
        np.testing.assert_array_equal(a, b)
    steps = int(round(float(built.circuit.duration / built.circuit.spec.dt)))
    assert monitor.r.shape == (2, steps)
    rates = np.asarray(monitor.r)
    assert np.all(np.isfinite(rates)) and np.ptp(rates) > 0.1   # it saw activity change
    # the settled rates it saw are those mirrorlab recorded in activity.npz
    activity, every = with_monitor.activity, built.circuit.spec.presentation_steps
    shown = activity["presentation"]
    seen = rates[:, (shown + 1) * every - 1].T
    np.testing.assert_allclose(seen, activity["forward_1"][:, [0, 3]], rtol=0, atol=1e-12)


def test_compare_in_this_process_and_on_dask_agree(tmp_path, cluster):
    config = small()
    here = ml.compare(config, ["fa", "kp"], 2, out=tmp_path / "here", progress=False)
    there = ml.compare(config, ["fa", "kp"], 2, out=tmp_path / "dask", client=cluster,
                       progress=False)
    assert list(here.runs) == ["fa", "kp"] and [len(r) for r in here.runs.values()] == [2, 2]
    for rule in ("fa", "kp"):
        for a, b in zip(here.runs[rule], there.runs[rule]):
            for x, y in zip(a.W + a.B, b.W + b.B):
                np.testing.assert_array_equal(x, y)
    summary = here.summary
    assert list(summary.rule) == ["fa", "fa", "kp", "kp"] and list(summary.seed) == [0, 1, 0, 1]
    assert summary.weight_angle_deg_2.iloc[2] == here.runs["kp"][0].final["weight_angle_deg"][1]
    assert set(here.history.rule) == {"fa", "kp"}
    assert (tmp_path / "here" / "summary.json").exists()
    assert (tmp_path / "here" / "figures" / "compare_weight_angle.png").exists()
    assert "| fa" in here.table() and "| kp" in here.table()
    # a second call keeps the finished runs
    stamp = (tmp_path / "here" / "fa" / "seed0" / "metrics.json").stat().st_mtime_ns
    ml.compare(config, ["fa", "kp"], 2, out=tmp_path / "here", progress=False)
    assert (tmp_path / "here" / "fa" / "seed0" / "metrics.json").stat().st_mtime_ns == stamp


def test_compare_refuses_unknown_rules_and_no_seeds(tmp_path):
    with pytest.raises(ml.ConfigError, match="rules"):
        ml.compare(small(), ["wm", "xx"], 2, out=tmp_path)
    with pytest.raises(ml.ConfigError, match="seeds"):
        ml.compare(small(), ["wm"], 0, out=tmp_path)


def test_sweeps_and_hypotheses_take_dicts_and_run_here_or_on_dask(tmp_path, cluster):
    base = small()
    table, outcomes = ml.sweep({"config": base, "seeds": 2, "grid": {"rule.name": ["fa", "wm"]}},
                               tmp_path / "sweep", progress=False)
    assert len(table) == 4 and set(table.status) == {"complete"}
    assert sorted(set(table.point)) == ["rule.name=fa", "rule.name=wm"]
    report = ml.hypothesis({"title": "mirror vs fa", "config": base, "seeds": 3,
                            "baseline": {"rule.name": "fa"},
                            "variants": {"wm": {"rule.name": "wm"}},
                            "outcome": {"measure": "weight_angle", "layer": 2},
                            "claim": {"against": "baseline", "relation": "<", "bound": 0.0}},
                           tmp_path / "hypothesis", client=cluster, progress=False)
    assert report["results"]["wm"]["verdict"] in ("supported", "not supported", "inconclusive")
    assert len(report["outcomes"]) == 6
    assert (tmp_path / "hypothesis" / "hypothesis.md").exists()
    with pytest.raises(ml.ConfigError, match="<dict>: config"):
        ml.sweep({"seeds": 2}, tmp_path / "bad", progress=False)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client
