"""Where a Brian2 circuit runs: ``runtime``, ``cpp`` (cpp_standalone) or ``cuda``
(cuda_standalone through brian2cuda).

:func:`activate` resets Brian2 and selects a device with mirrorlab's
preferences; :func:`build` compiles (and runs) a standalone project. For CUDA
toolkits from 13 on, whose Thrust and libcu++ need C++17 while brian2cuda 1.0b1
and Brian2 2.10.1 pass ``-std=c++11``, the C++17 flags are set through
preferences at run time — installed packages are never edited. Errors say which
part is missing and how to install it.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEVICE_NAMES = ("runtime", "cpp", "cuda")
RUNTIME_TARGETS = ("numpy", "cython")
STANDALONE_NAMES = {"cpp": "cpp_standalone", "cuda": "cuda_standalone"}
GPU_INSTALL_HINT = "install the gpu extra: pip install 'mirrorlab[gpu]'"


class DeviceError(RuntimeError):
    """The chosen device cannot run here; the message says what is missing."""


@dataclass(frozen=True)
class Device:
    """A Brian2 device choice.

    Parameters
    ----------
    name : {"runtime", "cpp", "cuda"}
    build_dir : str or Path, optional
        Standalone project folder (one per device: a cpp and a cuda build must never
        share a folder). :func:`activate` needs one for cpp and cuda;
        :func:`mirrorlab.sims.runs.compiled.run_circuit` makes a temporary one if it is None.
    threads : int
        OpenMP threads for cpp_standalone (0 = Brian2's default, one thread).
    gpu_id : int
        The CUDA device for cuda_standalone.
    target : {"numpy", "cython"}
        Code generation target of the runtime device.
    compile : bool
        False: standalone devices only write the sources and the makefile
        (how CUDA code generation is tested on machines without a GPU).
    compute_capability : float
        Target when no GPU can be queried (``compile`` False, or no driver on
        this machine: the binary is built but not run). Default 9.0 (Hopper).
    """

    name: str = "runtime"
    build_dir: str | Path | None = None
    threads: int = 0
    gpu_id: int = 0
    target: str = "numpy"
    compile: bool = True
    compute_capability: float = 9.0

    def __post_init__(self):
        if self.name not in DEVICE_NAMES:
            raise DeviceError(f"device: must be one of {', '.join(DEVICE_NAMES)} "
                              f"(got {self.name!r})")
        if self.target not in RUNTIME_TARGETS:
            raise DeviceError(f"device target: must be one of {', '.join(RUNTIME_TARGETS)} "
                              f"(got {self.target!r})")

    @property
    def standalone(self) -> bool:
        return self.name in STANDALONE_NAMES

    def describe(self) -> str:
        """What ``metrics.json`` records as the device."""
        if self.name == "runtime":
            return f"runtime ({self.target})"
        if self.name == "cpp":
            return f"cpp_standalone ({self.threads or 1} thread{'s' if self.threads > 1 else ''})"
        return f"cuda_standalone (GPU {self.gpu_id})"


def device_from_config(section) -> Device:
    """The :class:`Device` of a config's ``[device]`` section (runtime with numpy code; an
    empty ``build_dir`` means a temporary folder, shared by later runs of the circuit)."""
    return Device(section.name, build_dir=section.build_dir or None, threads=section.threads,
                  gpu_id=section.gpu_id)


#: How many times :func:`activate` has reset Brian2's devices in this process.
_activations = 0


def activations() -> int:
    """A count that changes whenever :func:`activate` resets Brian2's devices: a
    standalone build made before the last change can no longer be run again."""
    return _activations


def activate(device: Device) -> None:
    """Reset Brian2's devices, then select ``device`` and set the preferences it needs.

    Every device is reinitialised, so that a standalone project left from an earlier
    build (see :func:`restore_runtime`) never mixes with the next one. Other
    preferences (compiler flags, say) are left as the user set them.
    """
    import brian2
    from brian2.devices import reinit_devices

    global _activations
    if device.standalone and device.build_dir is None:
        raise DeviceError(f"device {device.name!r} needs a build_dir")
    reinit_devices()
    _activations += 1
    if device.name == "runtime":
        brian2.set_device("runtime")
        brian2.prefs.codegen.target = device.target
        return
    if device.name == "cuda":
        _import_brian2cuda()
    brian2.set_device(STANDALONE_NAMES[device.name], build_on_run=False,
                      directory=str(device.build_dir))
    if device.name == "cpp":
        brian2.prefs.devices.cpp_standalone.openmp_threads = device.threads
    else:
        _set_cuda_preferences(device)


def restore_runtime() -> None:
    """Make the runtime device current again, keeping a standalone device's project and
    results (its variables stay readable, and :func:`rerun` can run it again)."""
    import brian2

    brian2.set_device("runtime")


def rerun(device: Device, run_args: dict, with_output: bool = False) -> None:
    """Run the binary of the last standalone build of ``device`` again with new values
    (``with_output``: show what the binary prints, its progress reports)."""
    from brian2.devices.device import all_devices

    from brian2 import TimedArray

    if device.name == "cuda":
        check_gpu(device.gpu_id)
    standalone = all_devices[STANDALONE_NAMES[device.name]]
    # A TimedArray that no generated code reads is not in the binary (and changes nothing).
    run_args = {key: value for key, value in run_args.items()
                if not isinstance(key, TimedArray) or key in standalone.timed_arrays}
    with stopped_binary_is_interrupt(device):
        standalone.run(directory=str(device.build_dir), run_args=run_args,
                       with_output=with_output)


#: Environment variable from which a cpp_standalone binary built by mirrorlab seeds its
#: random number generators when it starts (:func:`seed_at_run_time`).
SEED_VARIABLE = "MIRRORLAB_SEED"


def seed_at_run_time(device: Device) -> bool:
    """Make the standalone project being built seed its random generators from
    ``$MIRRORLAB_SEED`` just before the network runs, as Brian2's ``seed(s)`` would
    (generator i gets ``s + i``), so one build runs with any seed (:func:`set_seed`).

    Call after the circuit is built and before its ``run()``. cpp_standalone only
    (brian2cuda seeds cuRAND its own way): returns False for other devices.
    """
    import brian2

    if device.name != "cpp":
        return False
    generators = max(brian2.prefs.devices.cpp_standalone.openmp_threads, 1)
    brian2.device.insert_code("main", f"""
    if (const char* _seed = std::getenv("{SEED_VARIABLE}"))
        for (int _i = 0; _i < {generators}; _i++)
            brian::_random_generators[_i].seed(std::stoul(_seed) + _i);""")
    return True


def set_seed(device: Device, seed: int | None) -> None:
    """The seed that the next run of a :func:`seed_at_run_time` build starts from
    (None: Brian2's default, a random seed)."""
    from brian2.devices.device import all_devices

    variables = all_devices[STANDALONE_NAMES[device.name]].run_environment_variables
    if seed is None:
        variables.pop(SEED_VARIABLE, None)
    else:
        variables[SEED_VARIABLE] = str(int(seed))


def binary_run_time(device: Device) -> float:
    """Seconds the last standalone build spent running its binary (0 if it did not run)."""
    from brian2.devices.device import all_devices

    return float(all_devices[STANDALONE_NAMES[device.name]].timers.get("run_binary") or 0.0)


def build(device: Device, run: bool = True, run_args: dict | None = None,
          with_output: bool = False) -> None:
    """Compile (if ``device.compile``) and run a standalone project after its ``run()``
    calls (``with_output``: show what the binary prints, its progress reports)."""
    import brian2

    if device.name == "cuda" and device.compile and run:
        check_gpu(device.gpu_id)
    with stopped_binary_is_interrupt(device):
        brian2.device.build(directory=str(device.build_dir), compile=device.compile,
                            run=run and device.compile, run_args=run_args,
                            with_output=with_output)


@contextlib.contextmanager
def stopped_binary_is_interrupt(device: Device):
    """A standalone binary that dies before the end of its run (killed by a signal, out of
    memory) becomes a KeyboardInterrupt naming its project: the run was interrupted."""
    try:
        yield
    except RuntimeError as err:
        if "Project run failed" not in str(err):
            raise
        raise KeyboardInterrupt(f"the compiled circuit stopped before the end of its run "
                                f"(killed?); its project: {device.build_dir}") from None


class InterruptWatch:
    """A context in which a Ctrl-C makes Brian2 stop the run cleanly at the end of a time
    step (its own SIGINT handler, on runtime and in a standalone binary) instead of
    raising; afterwards ``interrupted`` says whether one arrived (also one that reached
    only this Python process while a standalone binary ran to its end)."""

    def __enter__(self) -> "InterruptWatch":
        from brian2 import Network

        Network._globally_stopped = False
        self.interrupted = False
        return self

    def __exit__(self, *exc) -> None:
        from brian2 import Network

        self.interrupted = bool(Network._globally_stopped)
        Network._globally_stopped = False


def completed_fraction(device: Device) -> float:
    """The fraction of its simulated time that the last run on ``device`` completed (1: the
    whole run; less when Ctrl-C stopped it, which Brian2 turns into a clean stop)."""
    import brian2
    from brian2.devices.device import all_devices

    brian_device = (all_devices[STANDALONE_NAMES[device.name]] if device.standalone
                    else brian2.get_device())
    return float(getattr(brian_device, "_last_run_completed_fraction", 1.0))


# --- CUDA --------------------------------------------------------------------------------

def _import_brian2cuda():
    try:
        import brian2cuda  # noqa: F401  (registers the cuda_standalone device)
    except ImportError as err:
        raise DeviceError(f"--device cuda needs brian2cuda, which is not installed: "
                          f"{GPU_INSTALL_HINT}") from err


def nvcc_path() -> Path | None:
    """nvcc as brian2cuda looks for it: $CUDA_PATH/bin, then PATH, then /usr/local/cuda."""
    candidates = []
    if os.environ.get("CUDA_PATH"):
        candidates.append(Path(os.environ["CUDA_PATH"]) / "bin" / "nvcc")
    if shutil.which("nvcc"):
        candidates.append(Path(shutil.which("nvcc")))
    candidates.append(Path("/usr/local/cuda/bin/nvcc"))
    return next((c for c in candidates if c.is_file()), None)


def cuda_version(nvcc: Path) -> tuple[int, int]:
    """The toolkit version that ``nvcc --version`` reports, e.g. (13, 0)."""
    text = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True).stdout
    found = re.search(r"release (\d+)\.(\d+)", text)
    if not found:
        raise DeviceError(f"could not read the CUDA version from {nvcc} --version")
    return int(found.group(1)), int(found.group(2))


def needs_cxx17(version: tuple[int, int] | None) -> bool:
    """CUDA >= 13 (Thrust/libcu++ of CCCL 3) rejects C++11; unknown: assume a new toolkit."""
    return version is None or version >= (13, 0)


def curand_dirs(build_dir: str | Path | None = None) -> tuple[list[str], list[str]]:
    """Include and library folders for cuRAND when the toolkit lacks it but the
    ``nvidia-curand`` wheel is installed (``nvidia/cu*/include`` and ``lib``).

    The wheel ships only ``libcurand.so.N``; brian2cuda links with ``-lcurand``,
    so a ``libcurand.so`` link to it is made in ``build_dir/_curand``.
    """
    try:
        import nvidia
    except ImportError:
        return [], []
    includes, libs = [], []
    for root in map(Path, nvidia.__path__):
        for header in sorted(root.glob("cu*/include/curand.h")):
            includes.append(str(header.parent))
            lib_dir = header.parent.parent / "lib"
            libs.append(str(lib_dir))
            versioned = sorted(lib_dir.glob("libcurand.so.*"))
            if build_dir is not None and versioned and not (lib_dir / "libcurand.so").exists():
                link_dir = Path(build_dir) / "_curand"
                link_dir.mkdir(parents=True, exist_ok=True)
                link = link_dir / "libcurand.so"
                link.unlink(missing_ok=True)
                link.symlink_to(versioned[0])
                libs.insert(0, str(link_dir))
    return includes, libs


def _set_cuda_preferences(device: Device) -> None:
    import brian2

    backend = brian2.prefs.devices.cuda_standalone.cuda_backend
    nvcc = nvcc_path()
    if nvcc is None and device.compile:
        raise DeviceError("--device cuda needs the CUDA toolkit's nvcc, which was not found "
                          "(looked in $CUDA_PATH/bin, PATH, /usr/local/cuda/bin): install the "
                          "CUDA toolkit or set CUDA_PATH")
    version = cuda_version(nvcc) if nvcc is not None else None
    backend.gpu_id = device.gpu_id
    if not device.compile:
        backend.detect_cuda = False
    if not device.compile or shutil.which("nvidia-smi") is None:
        # No GPU to query: build for `compute_capability`; running is refused by build().
        backend.detect_gpus = False
        backend.compute_capability = device.compute_capability
    if needs_cxx17(version):
        backend.extra_compile_args_nvcc = [a for a in backend.extra_compile_args_nvcc
                                           if not a.startswith("-std=")] + ["-std=c++17"]
        gcc = brian2.prefs.codegen.cpp
        gcc.extra_compile_args_gcc = [a for a in gcc.extra_compile_args_gcc
                                      if not a.startswith("-std=")] + ["-std=c++17"]
    includes, libs = curand_dirs(device.build_dir)
    cpp = brian2.prefs.codegen.cpp
    cpp.include_dirs = _with(cpp.include_dirs, includes)
    cpp.library_dirs = _with(cpp.library_dirs, libs)
    cpp.runtime_library_dirs = _with(cpp.runtime_library_dirs, libs)


def _with(values, extra: list[str]) -> list[str]:
    """``values`` followed by those of ``extra`` it lacks (activating twice adds nothing)."""
    return list(values) + [v for v in extra if v not in values]


def check_gpu(gpu_id: int) -> None:
    """Raise :class:`DeviceError` unless an NVIDIA GPU with index ``gpu_id`` is visible."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        raise DeviceError("--device cuda needs an NVIDIA GPU, but nvidia-smi was not found "
                          "(no driver on this machine); use --device cpp here")
    listed = subprocess.run([smi, "-L"], capture_output=True, text=True).stdout
    gpus = [line for line in listed.splitlines() if line.startswith("GPU ")]
    if gpu_id >= len(gpus):
        raise DeviceError(f"--gpu-id {gpu_id}: this machine has {len(gpus)} GPU(s)"
                          + (": " + "; ".join(gpus) if gpus else ""))
