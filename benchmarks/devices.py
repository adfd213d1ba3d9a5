"""Brian2 devices on a dense plastic rate layer, and one training epoch on the GPU.

    python benchmarks/devices.py [layer] [--widths 100,300,1000,2000,4000]
                                 [--devices runtime,cpp,cuda] [--duration 0.05]
                                 [--threads 0] [--runtime-max-width 1000] [--gpu-id 0]
                                 [--no-profile] [--out results/benchmarks/devices]
    python benchmarks/devices.py bandwidth [--gpu-id 0]
    python benchmarks/devices.py epoch [--config configs/gpu_wm_784.toml] [--device cuda]
                                       [--n-train N] [--set FIELD=VALUE ...]
                                       [--out results/benchmarks/gpu_epoch] [--run-dir DIR]

``layer`` (the default): N rate neurons driven by Ornstein-Uhlenbeck noise feed N
rate neurons through an N x N Synapses group whose every synapse carries a fixed
forward weight ``w`` (summed into the target, ``y = tanh(W x)``, low-pass filtered)
and a plastic mirror weight ``m`` learning on every time step, as the weight mirror
does from noise: ``dm/dt = eta x_pre y_post - lam m`` (clock-driven). Widths
100 ... 4000 are 10^4 ... 1.6x10^7 plastic synapses. Per device (Brian2 runtime with
cython, single-threaded and only up to ``--runtime-max-width``; cpp_standalone with
``--threads`` OpenMP threads, 0 = every core; cuda_standalone through brian2cuda) it
records the build time (code generation and compilation), the binary's set-up (e.g.
creating the synapses), and the network run time, as seconds per simulated second
and plastic-synapse updates per second (N^2 per time step). Runtime has no build
step: its first, one-step run (code generation and the cython compile, cached on
disk) is reported as the build.

For cuda_standalone a second, profiled build (``device.build`` with Brian2's
``profile=True``: brian2cuda synchronises after each kernel and sums the host time)
times the plasticity kernel alone; its effective bandwidth is 24 bytes per synapse
update (read and write ``m``: 2 x 8 B float64; read the int32 pre and post indices:
2 x 4 B; ``x_pre`` and ``y_post`` are N-element vectors that stay in cache and are
not counted) times updates per second. That is compared with the GPU's
device-to-device copy bandwidth, measured by ``bandwidth``: a 30-line CUDA program
compiled with nvcc into a temporary folder copies 1 GiB buffers with
``cudaMemcpy(DeviceToDevice)`` 20 times, timed with CUDA events, counting read plus
write bytes (2 x 1 GiB per copy) as the kernel's count does. No nvidia-smi needed.

Writes ``devices.csv`` and ``devices.md`` (a table, the host, and the issue's targets:
at >= 10^6 plastic synapses cuda_standalone >= 30x cpp_standalone on the same host,
and >= 50 % of the copy bandwidth) under ``--out``. Without a GPU (or nvcc or
brian2cuda) the cuda rows are skipped with the reason.

``epoch``: one epoch of a config's circuit (default ``configs/gpu_wm_784.toml``, a
784-1000-1000-10 weight-mirror rate circuit on synthetic teacher data) through
``mirrorlab``'s circuit runner on ``--device``, into a results folder; then the matrix
engine (numpy, batch 1, this host's CPU) over the same events. Prints and writes
(``epoch.md``, ``epoch.json``) the time per presentation of both.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DT_MS = 0.1
BYTES_PER_UPDATE = 24        # m read + write (2 x 8 B), pre and post index (2 x 4 B)
COPY_BYTES = 1 << 30         # per buffer of the bandwidth test
TARGET_SPEEDUP, TARGET_FRACTION, TARGET_SYNAPSES = 30.0, 0.5, 10**6


# --- the model ---------------------------------------------------------------------------

def layer_network(width: int):
    """The input group, the driven group and the plastic Synapses between them."""
    import brian2 as b2

    b2.defaultclock.dt = DT_MS * b2.ms
    ns = {"tau": 1 * b2.ms, "sigma": 1.0, "eta": 1.0 / b2.second, "lam": 0.1 / b2.second}
    x = b2.NeuronGroup(width, "dr/dt = -r / tau + sigma * sqrt(2 / tau) * xi : 1",
                       method="euler", namespace=ns, name="noise_input")
    y = b2.NeuronGroup(width, "dr/dt = (tanh(I_ff) - r) / tau : 1\nI_ff : 1",
                       method="euler", namespace=ns, name="driven")
    S = b2.Synapses(x, y, """w : 1 (constant)
                             dm/dt = eta * r_pre * r_post - lam * m : 1 (clock-driven)
                             I_ff_post = w * r_pre : 1 (summed)""",
                    method="euler", namespace=ns, name="plastic")
    S.connect()
    S.w = "(2 * rand() - 1) * sqrt(3.0 / N_pre)"
    return x, y, S


def simulate(width: int, duration_s: float, profile: bool = False) -> None:
    """Create the layer and run it (what a standalone device records for its build)."""
    import brian2 as b2

    net = b2.Network(*layer_network(width))
    net.run(duration_s * b2.second, namespace={}, profile=profile)


def time_runtime(width: int, duration_s: float) -> dict:
    """Brian2 runtime (cython): a one-step run builds the code, the next run is timed."""
    import brian2 as b2
    from mirrorlab.sims import devices

    devices.activate(devices.Device("runtime", target="cython"))
    b2.defaultclock.dt = DT_MS * b2.ms
    net = b2.Network(*layer_network(width))
    started = time.perf_counter()
    net.run(DT_MS * b2.ms, namespace={})
    build = time.perf_counter() - started
    started = time.perf_counter()
    net.run(duration_s * b2.second, namespace={})
    run = time.perf_counter() - started
    return {"build_s": build, "init_s": 0.0, "run_s": run}


def time_standalone(name: str, width: int, duration_s: float, build_dir: Path, *, threads=0,
                    gpu_id=0, profile=False) -> dict:
    """One standalone build and run; times of the build, the binary's set-up and the run."""
    from brian2 import device as current
    from mirrorlab.sims import devices

    device = devices.Device(name, build_dir=build_dir, threads=threads, gpu_id=gpu_id)
    devices.activate(device)
    simulate(width, duration_s, profile=profile)
    started = time.perf_counter()
    devices.build(device)
    total = time.perf_counter() - started
    binary = float(current.timers["run_binary"] or 0.0)
    run = float(current._last_run_time)
    result = {"build_s": total - binary, "init_s": binary - run, "run_s": run}
    if profile:
        info = dict(line.split("\t") for line in
                    (build_dir / "results" / "profiling_info.txt").read_text().splitlines()
                    if "\t" in line)
        result["plasticity_kernel_s"] = float(info["plastic_stateupdater_codeobject"])
        result["summed_kernel_s"] = float(info["plastic_summed_variable_I_ff_post_codeobject"])
    devices.restore_runtime()
    return result


# --- the GPU's copy bandwidth -------------------------------------------------------------

BANDWIDTH_CU = r"""
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>
#define CHECK(call) do { cudaError_t e = (call); if (e != cudaSuccess) { \
    fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(e)); return 1; } } while (0)
int main(int argc, char **argv) {
    int gpu = argc > 1 ? atoi(argv[1]) : 0;
    size_t bytes = argc > 2 ? strtoull(argv[2], 0, 10) : ((size_t)1 << 30);
    int reps = 20;
    CHECK(cudaSetDevice(gpu));
    cudaDeviceProp prop; CHECK(cudaGetDeviceProperties(&prop, gpu));
    void *a, *b; CHECK(cudaMalloc(&a, bytes)); CHECK(cudaMalloc(&b, bytes));
    CHECK(cudaMemset(a, 1, bytes)); CHECK(cudaMemset(b, 0, bytes));
    CHECK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));   /* warm-up */
    cudaEvent_t start, stop; CHECK(cudaEventCreate(&start)); CHECK(cudaEventCreate(&stop));
    CHECK(cudaEventRecord(start));
    for (int r = 0; r < reps; ++r) CHECK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));
    CHECK(cudaEventRecord(stop)); CHECK(cudaEventSynchronize(stop));
    float ms; CHECK(cudaEventElapsedTime(&ms, start, stop));
    /* read + write bytes per second */
    printf("%s\t%.3f\n", prop.name, 2.0 * bytes * reps / (ms * 1e-3) / 1e9);
    return 0;
}
"""


def copy_bandwidth(gpu_id: int = 0) -> tuple[str, float]:
    """(GPU name, device-to-device copy bandwidth in GB/s, read + write bytes)."""
    from mirrorlab.sims import devices

    nvcc = devices.nvcc_path()
    if nvcc is None:
        raise RuntimeError("no nvcc: cannot build the bandwidth test")
    with tempfile.TemporaryDirectory(prefix="mirrorlab_bw_") as folder:
        source, binary = Path(folder) / "bandwidth.cu", Path(folder) / "bandwidth"
        source.write_text(BANDWIDTH_CU)
        subprocess.run([str(nvcc), "-O2", "-o", str(binary), str(source)], check=True,
                       capture_output=True, text=True)
        done = subprocess.run([str(binary), str(gpu_id), str(COPY_BYTES)], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise RuntimeError(f"bandwidth test failed: {done.stderr.strip()}")
        name, gbps = done.stdout.strip().split("\t")
        return name, float(gbps)


def cuda_unavailable(gpu_id: int) -> str | None:
    """Why cuda_standalone cannot run here, or None."""
    from mirrorlab.sims import devices

    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        return "brian2cuda is not installed (pip install 'mirrorlab[gpu]')"
    if devices.nvcc_path() is None:
        return "no nvcc (CUDA toolkit)"
    try:
        devices.check_gpu(gpu_id)
    except devices.DeviceError as err:
        return str(err)
    return None


# --- the layer benchmark -------------------------------------------------------------------

def cmd_layer(args) -> int:
    widths = [int(w) for w in args.widths.split(",")]
    wanted = [d.strip() for d in args.devices.split(",")]
    threads = args.threads or os.cpu_count()
    steps = round(args.duration / (DT_MS * 1e-3))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    notes, rows = [], []
    gpu_name, copy_gbps = None, None
    if "cuda" in wanted:
        reason = cuda_unavailable(args.gpu_id)
        if reason:
            print(f"cuda_standalone skipped: {reason}", flush=True)
            notes.append(f"cuda_standalone skipped: {reason}")
            wanted.remove("cuda")
        elif not args.no_profile:
            gpu_name, copy_gbps = copy_bandwidth(args.gpu_id)
            print(f"{gpu_name}: device-to-device copy {copy_gbps:.0f} GB/s (read + write)",
                  flush=True)
    print(f"{'device':<24}{'width':>6}{'synapses':>11}{'build s':>9}{'init s':>8}"
          f"{'run s':>9}{'s/sim s':>9}{'updates/s':>11}{'GB/s':>8}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mirrorlab_devices_") as scratch:
        for width in widths:
            for name in wanted:
                if name == "runtime" and width > args.runtime_max_width:
                    continue
                label = {"runtime": "runtime (cython)",
                         "cpp": f"cpp_standalone ({threads} thread{'s' if threads > 1 else ''})",
                         "cuda": "cuda_standalone"}[name]
                folder = Path(scratch) / f"{name}_{width}"
                try:
                    if name == "runtime":
                        timing = time_runtime(width, args.duration)
                    else:
                        timing = time_standalone(name, width, args.duration, folder,
                                                 threads=threads, gpu_id=args.gpu_id)
                        if name == "cuda" and not args.no_profile:
                            profiled = time_standalone(name, width, args.duration,
                                                       Path(scratch) / f"cuda_profiled_{width}",
                                                       gpu_id=args.gpu_id, profile=True)
                            timing.update({k: v for k, v in profiled.items() if "kernel" in k})
                except Exception as err:  # a failed device is a row of the report
                    print(f"{label:<24}{width:>6}  failed: {type(err).__name__}: {err}",
                          flush=True)
                    notes.append(f"{label} at width {width} failed: {type(err).__name__}: "
                                 f"{str(err).splitlines()[0] if str(err) else ''}")
                    continue
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
                row = {"device": label, "width": width, "synapses": width * width,
                       "steps": steps, **timing}
                row["s_per_sim_s"] = row["run_s"] / args.duration
                row["updates_per_s"] = width * width * steps / row["run_s"]
                if "plasticity_kernel_s" in row:
                    gbps = BYTES_PER_UPDATE * width * width * steps / row["plasticity_kernel_s"] / 1e9
                    row["plasticity_GBps"] = gbps
                    row["copy_GBps"] = copy_gbps
                    row["bandwidth_fraction"] = gbps / copy_gbps
                rows.append(row)
                print(f"{label:<24}{width:>6}{width * width:>11.1e}{row['build_s']:>9.1f}"
                      f"{row['init_s']:>8.2f}{row['run_s']:>9.3f}{row['s_per_sim_s']:>9.2f}"
                      f"{row['updates_per_s']:>11.2e}"
                      f"{row.get('plasticity_GBps', float('nan')):>8.0f}", flush=True)
    for row in rows:  # cuda and runtime against cpp_standalone at the same width
        cpp = next((r for r in rows if r["width"] == row["width"]
                    and r["device"].startswith("cpp")), None)
        row["vs_cpp"] = cpp["run_s"] / row["run_s"] if cpp else None
    write_report(out, rows, notes, args, threads, gpu_name)
    print(f"written: {out / 'devices.csv'}, {out / 'devices.md'}")
    return 0


COLUMNS = ["device", "width", "synapses", "steps", "build_s", "init_s", "run_s", "s_per_sim_s",
           "updates_per_s", "vs_cpp", "plasticity_kernel_s", "summed_kernel_s",
           "plasticity_GBps", "copy_GBps", "bandwidth_fraction"]


def write_report(out: Path, rows: list[dict], notes: list[str], args, threads: int,
                 gpu_name: str | None) -> None:
    with open(out / "devices.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    def fmt(value, spec):
        return "–" if value is None else format(value, spec)

    lines = ["# Brian2 devices: dense plastic rate layer", "",
             f"`python benchmarks/devices.py {' '.join(sys.argv[1:])}`", "",
             f"Host: {platform.node()}, {os.cpu_count()} cores ({platform.processor() or platform.machine()}); "
             f"cpp_standalone with {threads} OpenMP threads; GPU: {gpu_name or 'none'}; "
             f"dt = {DT_MS} ms, {args.duration} s simulated per run "
             f"({round(args.duration / (DT_MS * 1e-3))} steps).", "",
             "| device | width | plastic synapses | build (s) | set-up (s) | run (s) | "
             "s per simulated s | synapse updates/s | speed vs cpp | plasticity kernel GB/s | "
             "of copy bandwidth |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['device']} | {r['width']} | {r['synapses']:.1e} | {r['build_s']:.1f} | "
            f"{r['init_s']:.2f} | {r['run_s']:.3f} | {r['s_per_sim_s']:.2f} | "
            f"{r['updates_per_s']:.2e} | {fmt(r.get('vs_cpp'), '.2f')}× | "
            f"{fmt(r.get('plasticity_GBps'), '.0f')} | "
            f"{fmt(r.get('bandwidth_fraction') and 100 * r['bandwidth_fraction'], '.0f')}"
            f"{' %' if r.get('bandwidth_fraction') else ''} |")
    lines += ["", "Targets (rows with >= 1e6 plastic synapses): cuda_standalone >= "
              f"{TARGET_SPEEDUP:.0f}x cpp_standalone, plasticity kernel >= "
              f"{100 * TARGET_FRACTION:.0f} % of the copy bandwidth."]
    for r in rows:
        if r["device"].startswith("cuda") and r["synapses"] >= TARGET_SYNAPSES:
            speed = r.get("vs_cpp")
            frac = r.get("bandwidth_fraction")
            lines.append(
                f"- width {r['width']}: speed-up "
                + (f"{speed:.1f}x ({'met' if speed >= TARGET_SPEEDUP else 'NOT met'})"
                   if speed else "– (no cpp row)")
                + ", bandwidth "
                + (f"{100 * frac:.0f} % ({'met' if frac >= TARGET_FRACTION else 'NOT met'})"
                   if frac else "– (not profiled)"))
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    lines += ["", "Speed vs cpp: cpp_standalone's run time over this row's, same width. "
              f"Bytes per synapse update: {BYTES_PER_UPDATE} (m read and written as "
              "float64, int32 pre and post index read); copy bandwidth counts read + write."]
    (out / "devices.md").write_text("\n".join(lines) + "\n")


def cmd_bandwidth(args) -> int:
    reason = cuda_unavailable(args.gpu_id)
    if reason and "nvidia-smi" not in reason:
        print(f"skipped: {reason}")
        return 0
    try:
        name, gbps = copy_bandwidth(args.gpu_id)
    except RuntimeError as err:
        print(f"skipped: {err}")
        return 0
    print(f"{name}: device-to-device copy {gbps:.0f} GB/s (read + write)")
    return 0


# --- one epoch on the GPU ----------------------------------------------------------------

def matrix_time_per_presentation(config, data) -> tuple[float, int]:
    """Seconds per presentation of the matrix engine (numpy, batch 1) over the config's
    events, presentations counted as the circuit counts them (a mirror event of the
    alternating scheme is one presentation per layer)."""
    from mirrorlab.circuits.phases import presentations
    from mirrorlab.sims.runs.circuit import plan_from_config
    from mirrorlab.models.schedule import MIRROR, draw_mirror_noise
    from mirrorlab.sims.runs.common import Streams
    from mirrorlab.sims.runs.matrix import build_engine

    plan = plan_from_config(config, data)
    engine = build_engine(config, Streams.from_seed(config.experiment.seed).init)
    rng = np.random.default_rng(config.experiment.seed)
    noise = plan.noise or [draw_mirror_noise(rng, plan.spec.rule.noise, list(plan.spec.sizes), 1)
                           for e in plan.events if e.phase == MIRROR]
    table = presentations(plan.spec.sizes, plan.events, data.x_train, data.y_train,
                          noise if plan.spec.rule.uses_mirror_phase else None,
                          plan.spec.mirror_scheme)
    started = time.perf_counter()
    engine.replay(plan.events, data.x_train, data.y_train, noise)
    return (time.perf_counter() - started) / len(table), len(table)


def cmd_epoch(args) -> int:
    from mirrorlab.sims.runs.circuit import run_circuit_experiment
    from mirrorlab.sims.cli import _parse_assignment
    from mirrorlab.sims.config import load_config
    from mirrorlab.sims.runs.common import load_config_data

    overrides = {"device.name": args.device, "device.gpu_id": args.gpu_id,
                 "training.epochs": 1}
    if args.n_train:
        overrides["data.n_train"] = args.n_train
    if args.device == "cpp":
        overrides["device.threads"] = args.threads or os.cpu_count()
    overrides.update(_parse_assignment(text) for text in args.set)
    if args.device == "cuda":
        reason = cuda_unavailable(args.gpu_id)
        if reason:
            print(f"skipped: {reason}")
            return 0
    config = load_config(args.config, **overrides)
    data = load_config_data(config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{args.config}: {config.network.sizes}, rule {config.rule.name}, "
          f"{config.circuit.neuron} neurons, {len(data.x_train)} training samples, "
          f"device {args.device}", flush=True)
    started = time.perf_counter()
    run_dir = Path(args.run_dir) if args.run_dir else out / "run"
    metrics = run_circuit_experiment(config, run_dir, progress=True, data=data)
    wall = time.perf_counter() - started
    n = metrics["schedule"]["presentations"]
    circuit_per = (metrics["wall_time_s"] - metrics["build_time_s"]) / n
    matrix_per, _ = matrix_time_per_presentation(config, data)
    final = metrics["final"]
    summary = {"config": args.config, "sizes": config.network.sizes, "rule": config.rule.name,
               "n_train": len(data.x_train), "presentations": n, "device": metrics["device"],
               "build_s": metrics["build_time_s"], "circuit_run_s": n * circuit_per,
               "wall_s": wall, "circuit_s_per_presentation": circuit_per,
               "matrix_s_per_presentation": matrix_per,
               "circuit_vs_matrix": matrix_per / circuit_per,
               "final_weight_angle_deg": final["weight_angle_deg"],
               "final_test_loss": final.get("test_loss"), "complete": metrics["complete"]}
    (out / "epoch.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [f"# One epoch: {config.network.sizes} {config.rule.name} rate circuit", "",
             f"`python benchmarks/devices.py {' '.join(sys.argv[1:])}` — {len(data.x_train)} "
             f"samples, {n} presentations ({metrics['schedule']['engaged']} engaged, "
             f"{metrics['schedule']['mirror']} mirror); host {platform.node()}, "
             f"{os.cpu_count()} cores.", "",
             "| engine | build (s) | run (s) | ms per presentation | vs matrix |",
             "|---|---|---|---|---|",
             f"| circuit, {metrics['device']} | {metrics['build_time_s']:.1f} | "
             f"{n * circuit_per:.1f} | {1e3 * circuit_per:.3f} | {matrix_per / circuit_per:.2f}× |",
             f"| matrix engine (numpy, batch 1, CPU) | – | {n * matrix_per:.1f} | "
             f"{1e3 * matrix_per:.3f} | 1.00× |", "",
             "Final weight angles: " + ", ".join(f"{a:.1f}°" for a in final["weight_angle_deg"])]
    (out / "epoch.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("layer", "bandwidth", "epoch", "-h", "--help"):
        argv.insert(0, "layer")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    layer = sub.add_parser("layer", help="dense plastic rate layer on each device")
    layer.add_argument("--widths", default="100,300,1000,2000,4000")
    layer.add_argument("--devices", default="runtime,cpp,cuda")
    layer.add_argument("--duration", type=float, default=0.05, help="simulated seconds per run")
    layer.add_argument("--threads", type=int, default=0, help="cpp threads (0 = every core)")
    layer.add_argument("--runtime-max-width", type=int, default=1000)
    layer.add_argument("--gpu-id", type=int, default=0)
    layer.add_argument("--no-profile", action="store_true",
                       help="skip the profiled cuda build and the bandwidth test")
    layer.add_argument("--out", default=str(ROOT / "results" / "benchmarks" / "devices"))
    layer.set_defaults(handler=cmd_layer)
    bandwidth = sub.add_parser("bandwidth", help="the GPU's device-to-device copy bandwidth")
    bandwidth.add_argument("--gpu-id", type=int, default=0)
    bandwidth.set_defaults(handler=cmd_bandwidth)
    epoch = sub.add_parser("epoch", help="one training epoch of a circuit config")
    epoch.add_argument("--config", default=str(ROOT / "configs" / "gpu_wm_784.toml"))
    epoch.add_argument("--device", default="cuda", choices=["runtime", "cpp", "cuda"])
    epoch.add_argument("--gpu-id", type=int, default=0)
    epoch.add_argument("--threads", type=int, default=0, help="cpp threads (0 = every core)")
    epoch.add_argument("--n-train", type=int, default=0, help="training samples (0: config's)")
    epoch.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="override a config field, e.g. --set schedule.initial_mirror_batches=0")
    epoch.add_argument("--out", default=str(ROOT / "results" / "benchmarks" / "gpu_epoch"),
                       help="folder of epoch.md and epoch.json")
    epoch.add_argument("--run-dir", help="the run's results folder (default OUT/run)")
    epoch.set_defaults(handler=cmd_epoch)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
