"""Presentations per second of the Brian2 circuit against the matrix engine.

    python benchmarks/circuit_engine.py [--config configs/digits_wm_circuit.toml]
                                        [--short 100] [--long 600]

The config's network and rule (digits, 64-100-10, weight mirror) run as a
circuit on Brian2 runtime (cython) and cpp_standalone, and in the matrix engine at
batch size 1, all over the same presentations. Each circuit device is timed on a
short and a long run (a fresh build each, so both include compilation): the
difference gives the cost per presentation, the rest is build time. Prints
ratios measured in this one run.
"""
import argparse
import tempfile
import time
from pathlib import Path

from mirrorlab.circuits.phases import presentations
from mirrorlab.sims.runs.circuit import plan_from_config
from mirrorlab.sims.runs.compiled import run_circuit
from mirrorlab.sims.config import load_config
from mirrorlab.sims.devices import Device
from mirrorlab.sims.runs.common import Streams, load_config_data
from mirrorlab.sims.runs.matrix import build_engine

ROOT = Path(__file__).resolve().parents[1]


def circuit_time(config, data, device, target, n_train):
    config = config.replace(**{"data.n_train": n_train})
    data = load_config_data(config)
    plan = plan_from_config(config, data)
    table = presentations(plan.spec.sizes, plan.events, data.x_train, data.y_train, plan.noise,
                          plan.spec.mirror_scheme)
    with tempfile.TemporaryDirectory() as build_dir:
        started = time.perf_counter()
        run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial, reuse=False,
                    device=Device(device, build_dir=Path(build_dir) / "b", target=target))
        return time.perf_counter() - started, len(table)


def matrix_rate(config, n_train):
    """Presentations per second of the matrix engine on the same events (batch size 1)."""
    config = config.replace(**{"data.n_train": n_train, "experiment.engine": "matrix"})
    data = load_config_data(config)
    plan = plan_from_config(config, data)
    engine = build_engine(config, Streams.from_seed(0).init)
    started = time.perf_counter()
    engine.replay(plan.events, data.x_train, data.y_train, plan.noise)
    elapsed = time.perf_counter() - started
    table = presentations(plan.spec.sizes, plan.events, data.x_train, data.y_train, plan.noise,
                          plan.spec.mirror_scheme)
    return len(table) / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "digits_wm_circuit.toml"))
    parser.add_argument("--short", type=int, default=100, help="training samples, short run")
    parser.add_argument("--long", type=int, default=600, help="training samples, long run")
    args = parser.parse_args()
    config = load_config(args.config, **{"training.epochs": 1,
                                         "schedule.initial_mirror_batches": 0})
    data = load_config_data(config)
    matrix = matrix_rate(config, args.long)
    print(f"{args.config}: {config.network.sizes}, rule {config.rule.name}, "
          f"{config.circuit.neuron} neurons")
    print(f"{'engine':<22}{'build s':>9}{'pres./s':>10}{'vs matrix':>11}")
    print(f"{'matrix (numpy)':<22}{'-':>9}{matrix:>10.0f}{1:>10.2f}x")
    for device, target in (("runtime", "cython"), ("cpp", "numpy")):
        if device == "runtime":
            circuit_time(config, data, device, target, args.short)   # fills the cython cache
        t_short, p_short = circuit_time(config, data, device, target, args.short)
        t_long, p_long = circuit_time(config, data, device, target, args.long)
        per = (t_long - t_short) / (p_long - p_short)
        build = max(t_short - p_short * per, 0.0)
        name = "runtime (cython)" if device == "runtime" else "cpp_standalone"
        print(f"{name:<22}{build:>9.1f}{1 / per:>10.0f}{(1 / per) / matrix:>10.3f}x")


if __name__ == "__main__":
    main()
