"""Run configs/spiking_teacher_wm.toml (or another config) over seeds, variants in turn,
in ONE process, so that each variant's cpp_standalone build is reused across seeds
(``mirrorlab hypothesis`` does the same on Dask; this is its sequential fallback).

    python scripts/spiking_seeds.py CONFIG OUT_DIR VARIANT[:FIELD=VALUE,...] ... [--seeds N]

Writes OUT_DIR/VARIANT/seed<k>/ (results folders) and prints mean +- sd of the final
angles per layer and of the mean firing rates.
"""
import argparse
import ast
import json
from pathlib import Path

import numpy as np

from mirrorlab.sims import results
from mirrorlab.sims.cli import draw_figures
from mirrorlab.sims.config import load_config
from mirrorlab.sims.runs import run as run_config


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("out")
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    for variant in args.variants:
        name, _, fields = variant.partition(":")
        overrides = {k: ast.literal_eval(v) for k, v in
                     (f.split("=") for f in fields.split(",") if f)}
        finals = []
        for seed in range(args.seeds):
            folder = Path(args.out) / name / f"seed{seed}"
            if results.is_complete(folder):
                metrics = results.read_metrics(folder)
            else:
                config = load_config(args.config, **overrides, **{"experiment.seed": seed})
                metrics = run_config(config, folder, progress=False)
                draw_figures(folder)
            finals.append(metrics)
            print(name, seed, [round(a, 1) for a in metrics["final"]["weight_angle_deg"]],
                  metrics.get("mean_rate_hz"), flush=True)
        angles = np.array([m["final"]["weight_angle_deg"] for m in finals])
        print(f"{name}: final angles per layer {angles.mean(0).round(1)} +- "
              f"{angles.std(0, ddof=1).round(1)} (n = {len(finals)})", flush=True)


if __name__ == "__main__":
    main()
