"""NWB export of circuit runs: read back with pynwb, the file holds exactly the run's own
spikes, activity, weight snapshots and schedule, and nwbinspector finds nothing critical."""
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import pynwb
from nwbinspector import inspect_nwbfile

import mirrorlab as ml
from mirrorlab.sims.cli import main
from mirrorlab.sims.nwb import ExportError, phase_intervals

ROOT = Path(__file__).resolve().parents[1]
SPIKING = {"device.name": "runtime", "data.n_train": 8, "data.n_test": 20,
           "training.epochs": 1, "schedule.initial_mirror_batches": 4,
           "schedule.mirror_batches": 2, "network.sizes": [20, 8, 10]}


@pytest.fixture(scope="module")
def spiking_run(tmp_path_factory):
    """A short Poisson circuit (spikes, activity, snapshots), exported once. ~20 s."""
    from brian2 import set_device
    from brian2.devices import reinit_devices

    folder = tmp_path_factory.mktemp("nwb") / "run"
    config = ml.load_config(ROOT / "configs" / "spiking_teacher_wm.toml", SPIKING)
    ml.run(config, folder, progress=False, figures=False)
    reinit_devices()
    set_device("runtime")
    path = ml.export_nwb(folder)
    return folder, path


def test_spikes_come_back_exactly_per_population_and_unit(spiking_run):
    folder, path = spiking_run
    with np.load(folder / "spikes.npz") as saved, pynwb.NWBHDF5IO(str(path), "r") as io:
        units = io.read().units.to_dataframe()
        names = sorted({key.rsplit(".", 1)[0] for key in saved.files if "." in key})
        assert sorted(set(units.population)) == names
        window = saved["window"] * float(saved["presentation_s"])
        total = 0
        for name in names:
            rows = units[units.population == name]
            assert len(rows) == int(saved[f"{name}.n"])
            for row in rows.itertuples():
                expected = saved[f"{name}.t_s"][saved[f"{name}.i"] == row.unit_index]
                np.testing.assert_array_equal(row.spike_times, expected)
                np.testing.assert_array_equal(row.obs_intervals, [window])
                assert row.neurons_pooled == int(saved[f"{name}.pool"])
                total += len(expected)
        assert total > 100     # the window holds real spiking


def test_activity_weights_and_alignment_come_back_exactly(spiking_run):
    folder, path = spiking_run
    metrics = json.loads((folder / "metrics.json").read_text())
    with np.load(folder / "activity.npz") as activity, \
            np.load(folder / "snapshots.npz") as snapshots, \
            np.load(folder / "schedule.npz") as schedule, \
            pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        presentation_s = float(schedule["presentation_s"])
        for name in ("forward_0", "forward_1", "feedback_2"):
            series = nwbfile.acquisition[name]
            np.testing.assert_array_equal(series.data[:], activity[name])
            np.testing.assert_allclose(series.get_timestamps(),
                                       (activity["presentation"] + 1) * presentation_s)
        weights = nwbfile.processing["weights"]
        for name in ("W1", "W2", "b1", "B1", "B2"):
            np.testing.assert_array_equal(weights[name].data[:], snapshots[name])
            np.testing.assert_allclose(weights[name].get_timestamps(),
                                       snapshots["presentation"] * presentation_s)
        # the last snapshot is the run's final weights
        final = ml.Result.load(folder)
        np.testing.assert_array_equal(weights["W2"].data[-1], final.W[1])
        np.testing.assert_array_equal(weights["b1"].data[-1], final.b[0])
        np.testing.assert_array_equal(weights["B1"].data[-1], final.B[0])
        angles = nwbfile.processing["alignment"]["weight_angle_deg"].data[:]
        np.testing.assert_array_equal(angles, [h["weight_angle_deg"] for h in metrics["history"]])
        assert tomllib.loads(nwbfile.notes.split("config (TOML):\n", 1)[1]) == \
            tomllib.loads((folder / "config.toml").read_text())
        assert json.loads(nwbfile.notes.split("\n")[0][len("versions: "):]) == metrics["versions"]


def test_the_epochs_are_the_phase_schedule(spiking_run):
    folder, path = spiking_run
    with np.load(folder / "schedule.npz") as schedule, pynwb.NWBHDF5IO(str(path), "r") as io:
        epochs = io.read().epochs.to_dataframe()
        presentation_s = float(schedule["presentation_s"])
        engaged, mirror = schedule["engaged"], schedule["mirror"]
    n = len(engaged)
    assert epochs.start_time.iloc[0] == 0 and epochs.stop_time.iloc[-1] == pytest.approx(
        n * presentation_s)
    np.testing.assert_allclose(epochs.start_time.iloc[1:], epochs.stop_time.iloc[:-1])
    for row in epochs.itertuples():
        first = int(round(row.start_time / presentation_s))
        stop = int(round(row.stop_time / presentation_s))
        if row.phase == "engaged":
            assert engaged[first:stop].all()
        else:
            layer = int(row.phase.split("B")[1])
            assert not engaged[first:stop].any() and mirror[first:stop, layer].all()
    assert set(epochs.phase) == {"engaged", "mirror B1", "mirror B2"}


def test_phase_intervals_merge_runs_of_one_phase():
    engaged = np.array([0, 0, 1, 1, 0, 0, 1])
    mirror = np.array([[0, 1, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1],
                       [0, 0, 0]])
    assert phase_intervals(engaged, mirror) == [(0, 2, "mirror B1"), (2, 4, "engaged"),
                                                (4, 5, "mirror B1"), (5, 6, "mirror B2"),
                                                (6, 7, "engaged")]


def test_nwbinspector_finds_no_critical_issue(spiking_run):
    _, path = spiking_run
    messages = list(inspect_nwbfile(nwbfile_path=str(path)))
    critical = [f"{m.check_function_name}: {m.message}" for m in messages
                if m.importance.name in ("CRITICAL", "PYNWB_VALIDATION", "ERROR")]
    assert not critical, critical


def test_the_cli_exports_and_refuses_matrix_runs(spiking_run, tmp_path, capsys):
    folder, _ = spiking_run
    out = tmp_path / "copy.nwb"
    assert main(["export", str(folder), "--format", "nwb", "--output", str(out)]) == 0
    assert f"NWB file: {out}" in capsys.readouterr().out
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        assert len(io.read().units) > 0
    matrix = tmp_path / "matrix"
    ml.run(ml.load_config(ROOT / "configs" / "digits_mlp.toml",
                          {"data.n_train": 60, "data.n_test": 30, "training.epochs": 1}),
           matrix, progress=False, figures=False)
    assert main(["export", str(matrix)]) == 2
    assert "matrix-engine run" in capsys.readouterr().err
    with pytest.raises(ExportError, match="no finished run"):
        ml.export_nwb(tmp_path / "nowhere")
