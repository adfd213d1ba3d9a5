"""Spike raster, population rates and weight angle of a spiking circuit around its
first mirror -> engaged transition; prints each population's mean rate per neuron.

    python scripts/spiking_figures.py CONFIG OUT.png [--mirror N] [--samples K] [--set F=V ...]

Runs the config's circuit on Brian2 runtime (numpy) for ``N`` initial mirror draws and
``K`` training samples only (short: the figure shows the transition, not the whole run).
"""
import argparse
import ast

import numpy as np
from brian2 import StateMonitor, prefs

from mirrorlab.analysis.metrics import weight_angles
from mirrorlab.analysis.figures import plot_spiking_transition
from mirrorlab.circuits import build, presentations
from mirrorlab.sims.runs.circuit import plan_from_config
from mirrorlab.sims.config import load_config
from mirrorlab.sims.runs.common import load_config_data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("out")
    parser.add_argument("--mirror", type=int, default=10)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    overrides = {k: ast.literal_eval(v) for k, v in (s.split("=", 1) for s in args.set)}
    config = load_config(args.config, **{"schedule.initial_mirror_batches": args.mirror,
                                         "data.n_train": args.samples, "training.epochs": 1,
                                         "device.name": "runtime", **overrides})
    data = load_config_data(config)
    plan = plan_from_config(config, data)
    table = presentations(plan.spec.sizes, plan.events, data.x_train, data.y_train, plan.noise,
                          plan.spec.mirror_scheme)
    prefs.codegen.target = "numpy"
    circuit = build(plan.spec, table)
    circuit.set_weights(*plan.initial)
    T = circuit.spec.presentation_time
    monitors = [StateMonitor(S, "w", record=True, dt=T, when="end") for S in circuit.W + circuit.B]
    circuit.network.add(*monitors)
    circuit.network.run(circuit.duration, namespace={})
    n = len(circuit.W)
    snapshots = []
    for k in range(monitors[0].w.shape[1]):
        mats = []
        for S, mon in zip(circuit.W + circuit.B, monitors):
            m = np.zeros((len(S.target), len(S.source)))
            m[S.j[:], S.i[:]] = mon.w[:, k]
            mats.append(m)
        snapshots.append(weight_angles(mats[:n], mats[n:]))
    phases = ["engaged" if e else "mirror" for e in table.engaged]
    engaged = np.flatnonzero(table.engaged)
    first = max(0, int(engaged[0]) - 12)
    stop = min(len(table), int(engaged[0]) + 12)
    activity = circuit.activity()
    duration = float(circuit.duration)
    for name, pop in activity.items():
        print(f"{name}: mean rate {len(pop['t_s']) / (duration * pop['n'] * pop['pool']):.1f} Hz "
              f"per neuron")
    at = np.arange(len(snapshots))
    keep = (at >= first) & (at < stop)
    dale = " with Dale's law" if circuit.spec.spiking.dale else ""
    plot_spiking_transition(activity, phases, float(T), (first, stop),
                            (at[keep] + 1, np.array(snapshots)[keep]), args.out,
                            title=f"spiking weight mirror{dale}: mirror → engaged "
                                  "(grey: mirror presentations)")
    print(args.out)


if __name__ == "__main__":
    main()
