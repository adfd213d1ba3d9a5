"""Device selection, the CUDA 13 / C++17 fix, and the errors that say what is missing."""
import builtins

import pytest

from mirrorlab.sims import devices
from mirrorlab.sims.devices import Device, DeviceError

brian2 = pytest.importorskip("brian2")


pytestmark = pytest.mark.usefixtures("fresh_brian2")


def tiny_network():
    group = brian2.NeuronGroup(4, "dv/dt = -v / (10*ms) : 1\nI : 1", namespace={},
                               name="forward_1")
    synapses = brian2.Synapses(group, group, "w : 1\nI_post = w * v_pre : 1 (summed)",
                               namespace={}, name="B_1")
    synapses.connect()
    brian2.run(0.5 * brian2.ms, namespace={})


def test_bad_choices_are_named():
    with pytest.raises(DeviceError, match="one of runtime, cpp, cuda"):
        Device("gpu")
    with pytest.raises(DeviceError, match="needs a build_dir"):
        devices.activate(Device("cpp"))
    assert Device("cpp", build_dir="x", threads=4).describe() == "cpp_standalone (4 threads)"


@pytest.mark.parametrize("version, needed", [((12, 4), False), ((13, 0), True),
                                             ((13, 1), True), (None, True)])
def test_cxx17_only_where_the_toolkit_needs_it(version, needed):
    assert devices.needs_cxx17(version) is needed


def test_missing_brian2cuda_says_how_to_install(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_brian2cuda(name, *args, **kwargs):
        if name == "brian2cuda":
            raise ImportError("No module named 'brian2cuda'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_brian2cuda)
    with pytest.raises(DeviceError, match=r"pip install 'mirrorlab\[gpu\]'"):
        devices.activate(Device("cuda", build_dir=tmp_path))


def test_missing_nvcc_and_gpu_are_named(monkeypatch, tmp_path):
    pytest.importorskip("brian2cuda")
    monkeypatch.setattr(devices, "nvcc_path", lambda: None)
    with pytest.raises(DeviceError, match="nvcc"):
        devices.activate(Device("cuda", build_dir=tmp_path))
    monkeypatch.setattr(devices.shutil, "which", lambda name: None)
    with pytest.raises(DeviceError, match="nvidia-smi was not found"):
        devices.check_gpu(0)


def test_cuda_sources_generate_with_cxx17_without_a_gpu(tmp_path):
    pytest.importorskip("brian2cuda")
    device = Device("cuda", build_dir=tmp_path / "cuda", compile=False)
    devices.activate(device)
    tiny_network()
    devices.build(device)
    makefile = (tmp_path / "cuda" / "makefile").read_text()
    nvcc_flags = next(line for line in makefile.splitlines() if line.startswith("NVCCFLAGS"))
    # nvcc takes the last -std; brian2cuda's own -std=c++11 comes first.
    assert nvcc_flags.split("-Xcompiler")[0].rstrip().split("-std=")[-1].startswith("c++17")
    assert "-std=c++17" in nvcc_flags.split("-Xcompiler")[1]
    assert "-std=c++11" not in nvcc_flags.split("-Xcompiler")[1]
    assert "-arch=sm_90" in nvcc_flags
    sources = {p.name for p in (tmp_path / "cuda" / "code_objects").iterdir()}
    assert any(name.startswith("B_1_summed_variable") for name in sources)


@pytest.mark.slow
def test_cuda_build_compiles_with_cuda13(tmp_path):
    """The real compile and link with nvcc (no GPU needed to build). Skips without nvcc
    or cuRAND headers (pip install nvidia-curand provides them)."""
    pytest.importorskip("brian2cuda")
    nvcc = devices.nvcc_path()
    if nvcc is None:
        pytest.skip("no nvcc")
    toolkit_include = nvcc.parent.parent / "include" / "curand.h"
    if not toolkit_include.exists() and not devices.curand_dirs()[0]:
        pytest.skip("no cuRAND headers (toolkit without cuRAND; pip install nvidia-curand)")
    device = Device("cuda", build_dir=tmp_path / "cuda")
    devices.activate(device)
    tiny_network()
    devices.build(device, run=False)
    assert (tmp_path / "cuda" / "main").is_file()


@pytest.mark.standalone
def test_cpp_standalone_builds_and_runs(tmp_path):
    device = Device("cpp", build_dir=tmp_path / "cpp")
    devices.activate(device)
    group = brian2.NeuronGroup(3, "dv/dt = (1 - v) / (10*ms) : 1", namespace={})
    brian2.run(10 * brian2.ms, namespace={})
    devices.build(device)
    assert group.v[:] == pytest.approx(1 - 2.718281828 ** -1, rel=1e-3)
