"""Circuits on cuda_standalone (brian2cuda).

Without a GPU (default suite): a full two-hidden-layer weight-mirror circuit, monitors
included, generates its CUDA sources and makefile (C++17 flags, a code object for
every synapse group and monitor), and ``mirrorlab run --device cuda`` exits 2 naming
what is missing. With a GPU (``-m cuda``; skipped cleanly without one): cuda_standalone
reproduces cpp_standalone's final weights, and the CLI writes a results folder.
"""
import builtins
import json
import re
import shutil

import numpy as np
import pytest

from mirrorlab.sims import devices
from mirrorlab.sims.runs.compiled import generate_circuit, run_circuit
from mirrorlab.sims.runs.circuit import plan_from_config
from mirrorlab.sims.cli import main
from mirrorlab.sims.config import Config
from mirrorlab.sims.data import load_dataset
from mirrorlab.sims.devices import Device

pytestmark = pytest.mark.usefixtures("fresh_brian2")

#: cuda vs cpp, float64. Both run the same arithmetic on the same replayed noise and data;
#: they differ only in rounding (nvcc's FMA contraction under -use_fast_math, the order of
#: atomic additions in summed variables), ~1e-16 per operation, which 200 presentations of
#: a contracting learning dynamics keep many orders below 1e-5.
CUDA_TOLERANCE = 1e-5

NETWORKS = {
    "wm": {"network.transfer": "tanh", "network.loss": "mse", "network.output_transfer": "tanh",
           "schedule.mirror_every": 2},
    "kp": {"network.transfer": "sigmoid", "network.loss": "sigmoid_xent",
           "network.output_transfer": "linear"},
}


def config(rule: str, **overrides) -> Config:
    """The [6, 5, 4, 3] teacher network of tests/test_circuit_equivalence.py."""
    settings = {"data.name": "teacher", "data.teacher_sizes": [6, 8, 3], "data.n_train": 50,
                "data.n_test": 10, "network.sizes": [6, 5, 4, 3], "training.epochs": 4,
                "training.batch_size": 1, "training.lr": 0.05, "rule.name": rule,
                "rule.wm.lr": 0.05, "rule.wm.decay": 0.1, "rule.kp.decay": 0.01,
                **NETWORKS[rule], **overrides}
    return Config().replace(**settings)


@pytest.fixture(scope="module")
def data():
    return load_dataset("teacher", seed=0, n_train=50, n_test=10, teacher_sizes=(6, 8, 3))


def nvcc_flags(makefile: str) -> str:
    return next(line for line in makefile.splitlines() if line.startswith("NVCCFLAGS"))


# --- without a GPU ---------------------------------------------------------------------

def test_full_circuit_generates_cuda_sources_without_a_gpu(data, tmp_path):
    pytest.importorskip("brian2cuda")
    plan = plan_from_config(config("wm", **{"training.epochs": 1}), data)
    folder = generate_circuit(plan.spec, data, plan.events, plan.noise, plan.initial,
                              device=Device("cuda", build_dir=tmp_path / "cuda", compile=False),
                              record_every=25)
    assert not (folder / "main").exists()  # generated, not compiled

    flags = nvcc_flags((folder / "makefile").read_text())
    device_flags, host_flags = flags.split("-Xcompiler")
    # nvcc takes the last -std; brian2cuda's own -std=c++11 comes first.
    assert device_flags.rstrip().split("-std=")[-1].startswith("c++17")
    assert "-std=c++17" in host_flags and "-std=c++11" not in host_flags
    assert "-arch=sm_90" in flags

    objects = {p.name.split("_codeobject")[0] for p in (folder / "code_objects").iterdir()
               if "_codeobject" in p.name}
    main_cu = (folder / "main.cu").read_text()
    L = 3
    wanted = []
    for l in range(1, L + 1):
        for group in (f"W_{l}", f"B_{l}"):
            wanted += [f"{group}_synapses_create", f"{group}_summed_variable", f"{group}_learn",
                       f"{group}_weights"]                            # its monitor
        wanted += [f"forward_{l}_biases", f"feedback_to_forward_{l}_synapses_create",
                   f"feedback_to_forward_{l}_summed_variable"]
    for l in range(L + 1):
        wanted += [f"forward_to_feedback_{l}_synapses_create",
                   f"forward_to_feedback_{l}_summed_variable",
                   f"forward_{l}_activity", f"feedback_{l}_activity"]
    wanted += ["target_to_feedback_synapses_create", "target_to_feedback_summed_variable",
               "forward_0_present", "target_present"]
    missing = [name for name in wanted if not any(o.startswith(name) for o in objects)]
    assert not missing, f"no generated code for {missing}"
    not_run = [name for name in wanted if f"_run_{name}" not in main_cu]
    assert not not_run, f"generated but never called from main.cu: {not_run}"


SPIKING_VARIANTS = {
    "poisson": {"circuit.delay_forward_ms": 5.0, "circuit.delay_feedback_ms": 5.0},
    "lif": {"circuit.neuron": "lif", "circuit.lif_synapses": "conductance"},
}


@pytest.mark.slow  # ~20 s each: Brian2 derives the exact integrator of every spiking group
@pytest.mark.parametrize("neuron", sorted(SPIKING_VARIANTS))
def test_spiking_circuit_generates_cuda_sources_without_a_gpu(neuron, tmp_path):
    """A spiking wm circuit with Dale's relays (Poisson units with delays, or LIF units
    with conductance synapses): every synapse group's spike propagation and learning, every
    population's thresholder and spike monitor, and the LIF members' membranes and pooling."""
    pytest.importorskip("brian2cuda")
    from pathlib import Path
    from mirrorlab.sims.config import load_config
    from mirrorlab.sims.runs.common import load_config_data
    root = Path(__file__).resolve().parents[1]
    spiking = load_config(root / "configs" / "spiking_teacher_wm.toml", **{
        "data.teacher_sizes": [4, 5, 3], "network.sizes": [4, 6, 3], "data.n_train": 3,
        "data.n_test": 3, "training.epochs": 1, "schedule.initial_mirror_batches": 2,
        "circuit.presentation_ms": 10.0, "circuit.dale": True, **SPIKING_VARIANTS[neuron]})
    spiking_data = load_config_data(spiking)
    plan = plan_from_config(spiking, spiking_data)
    folder = generate_circuit(plan.spec, spiking_data, plan.events, plan.noise, plan.initial,
                              device=Device("cuda", build_dir=tmp_path / "cuda", compile=False),
                              record_every=5, seed=0)
    assert "-std=c++17" in nvcc_flags((folder / "makefile").read_text())
    objects = {p.name.split("_codeobject")[0] for p in (folder / "code_objects").iterdir()
               if "_codeobject" in p.name}
    wanted = [f"{group}_{part}" for l in (1, 2) for group in (f"W_{l}", f"W_inh_{l}", f"B_{l}",
                                                              f"B_inh_{l}")
              for part in ("pre", "learn", "synapses_create")]
    populations = ("forward_0", "forward_1", "forward_2", "feedback_1", "feedback_2",
                   "forward_inh_0", "forward_inh_1", "feedback_inh_1", "feedback_inh_2", "target")
    wanted += [f"{population}_{part}" for population in populations
               for part in ("spike_thresholder", "spikes")]
    if neuron == "lif":
        wanted += [f"{population}_{part}" for population in populations
                   for part in ("lif_stateupdater", "lif_spike_thresholder", "lif_spike_resetter",
                                "lif_spikes_pre", "to_lif_summed_variable", "count")]
    missing = [name for name in wanted if not any(o.startswith(name) for o in objects)]
    assert not missing, f"no generated code for {missing}"


def test_run_circuit_refuses_a_device_that_does_not_compile(data, tmp_path):
    plan = plan_from_config(config("kp"), data)
    with pytest.raises(ValueError, match="generate_circuit"):
        run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial,
                    device=Device("cuda", build_dir=tmp_path, compile=False))


def write_config(path, rule: str = "kp") -> str:
    """A small circuit config as a TOML file (the CLI reads files)."""
    lines = ["[experiment]", 'name = "gpu_test"', 'engine = "circuit"', "[data]",
             'name = "teacher"', "teacher_sizes = [6, 8, 3]", "n_train = 20", "n_test = 10",
             "[network]", "sizes = [6, 5, 4, 3]", 'transfer = "sigmoid"', 'loss = "mse"',
             'output_transfer = "linear"', "[training]", "epochs = 1", "batch_size = 1",
             "lr = 0.05", "[rule]", f'name = "{rule}"', "[device]", 'name = "cpp"']
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def no_brian2cuda(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "brian2cuda":
            raise ImportError("No module named 'brian2cuda'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def no_nvcc(monkeypatch):
    pytest.importorskip("brian2cuda")
    monkeypatch.setattr(devices, "nvcc_path", lambda: None)


def no_gpu(monkeypatch):
    pytest.importorskip("brian2cuda")
    if devices.nvcc_path() is None:
        pytest.skip("no nvcc: the nvcc error comes first")
    real_which = shutil.which
    monkeypatch.setattr(devices.shutil, "which",
                        lambda name, *a, **k: None if name == "nvidia-smi" else real_which(name))


@pytest.mark.parametrize("missing, message", [
    (no_brian2cuda, r"brian2cuda.*pip install 'mirrorlab\[gpu\]'"),
    (no_nvcc, r"nvcc.*install the CUDA toolkit or set CUDA_PATH"),
    (no_gpu, r"needs an NVIDIA GPU.*nvidia-smi was not found"),
], ids=["no-brian2cuda", "no-nvcc", "no-gpu"])
def test_cli_device_cuda_names_what_is_missing(missing, message, monkeypatch, tmp_path, capsys):
    missing(monkeypatch)
    status = main(["run", write_config(tmp_path / "small.toml"), "--device", "cuda",
                   "--gpu-id", "0", "--out", str(tmp_path / "out"), "--quiet"])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --device cuda needs")
    assert re.search(message, err), err


def test_gpu_id_reaches_the_device_config(tmp_path, monkeypatch):
    seen = {}

    def fake_run(config, out_dir, progress=True, figures=False):
        seen["device"] = config.device
        raise KeyboardInterrupt

    monkeypatch.setattr("mirrorlab.sims.api._run", fake_run)   # what the CLI runs through
    assert main(["run", write_config(tmp_path / "small.toml"), "--device", "cuda",
                 "--gpu-id", "3", "--quiet"]) == 130
    assert (seen["device"].name, seen["device"].gpu_id) == ("cuda", 3)


# --- on a GPU --------------------------------------------------------------------------

@pytest.fixture
def gpu():
    """Skip unless brian2cuda, nvcc and an NVIDIA GPU are all here."""
    pytest.importorskip("brian2cuda")
    if shutil.which("nvidia-smi") is None:
        pytest.skip("no NVIDIA GPU (nvidia-smi not found)")
    if devices.nvcc_path() is None:
        pytest.skip("no nvcc (CUDA toolkit)")
    devices.check_gpu(0)


def relative_errors(a, b) -> dict[str, float]:
    return {f"{name}{l + 1}": float(np.linalg.norm(x - y) / np.linalg.norm(y))
            for name, xs, ys in (("W", a.W, b.W), ("b", a.b, b.b), ("B", a.B, b.B))
            for l, (x, y) in enumerate(zip(xs, ys))}


@pytest.mark.cuda
@pytest.mark.standalone
@pytest.mark.parametrize("rule", ["wm", "kp"])
def test_cuda_reproduces_cpp_standalone(rule, gpu, data, tmp_path):
    """Noise and data replayed as TimedArrays: the same final W, b, B on both devices."""
    plan = plan_from_config(config(rule), data)
    args = (plan.spec, data, plan.events, plan.noise, plan.initial)
    cpp = run_circuit(*args, device=Device("cpp", build_dir=tmp_path / "cpp"), reuse=False)
    cuda = run_circuit(*args, device=Device("cuda", build_dir=tmp_path / "cuda"), reuse=False,
                       record_every=100)
    assert cuda.device == "cuda_standalone (GPU 0)"
    errors = relative_errors(cuda, cpp)
    assert max(errors.values()) < CUDA_TOLERANCE, errors
    moved = [np.linalg.norm(w - w0) / np.linalg.norm(w0) for w, w0 in zip(cpp.W, plan.initial[0])]
    assert min(moved) > 0.1  # and the run learned: far beyond the tolerance
    np.testing.assert_array_equal(cuda.recording.W[0][-1], cuda.W[0])


@pytest.mark.cuda
@pytest.mark.standalone
def test_cli_runs_a_circuit_on_cuda(gpu, tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["run", write_config(tmp_path / "small.toml", rule="wm"), "--device", "cuda",
                   "--gpu-id", "0", "--out", str(out), "--quiet"])
    assert status == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["device"] == "cuda_standalone (GPU 0)" and metrics["complete"]
    assert (out / "arrays.npz").is_file()
    assert np.isfinite(metrics["final"]["weight_angle_deg"]).all()
