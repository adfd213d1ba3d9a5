"""The ``mirrorlab`` command line.

    mirrorlab run CONFIG.toml [--rule R] [--seed S] [--engine matrix|circuit]
                  [--device runtime|cpp|cuda] [--gpu-id N] [--out DIR] [--set FIELD=VALUE ...]
    mirrorlab compare CONFIG.toml --rules bp,fa,ss,wm,kp --seeds N --out DIR
    mirrorlab plot RESULTS_DIR
    mirrorlab sweep SWEEP.toml [--out DIR] [--workers N | --scheduler tcp://HOST:PORT]
    mirrorlab hypothesis HYPOTHESIS.toml [--out DIR] [--workers N | --scheduler tcp://HOST:PORT]
    mirrorlab check CONFIG.toml [--rule R] [--out DIR] [--steps N] [--strict]
                    [--set FIELD=VALUE ...]

Exit status: 0 done, 1 some runs of a sweep or hypothesis failed (recorded in
their failed.json; rerun to retry), 2 bad config or data (or Dask missing, or a
device that cannot run here: no GPU, nvcc or brian2cuda),
3 the run diverged, 130 interrupted (finished checkpoints stay on disk, marked
incomplete). `check` exits 0 whatever its checks find, or with --strict 1 if any
check fails.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import numpy as np

from ..analysis import figures, tables
from . import results
from .config import ConfigError, load_config
from .data import DataError
from .devices import DeviceError
from .runs import run as run_config
from .matrix_engine import DivergenceError
from .sweep import ClusterUnavailable


def _parse_assignment(text: str) -> tuple[str, object]:
    """``"training.lr=0.1"`` -> ``("training.lr", 0.1)``; values are TOML-like literals."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise ConfigError(f"--set {text!r}: expected FIELD=VALUE, e.g. training.lr=0.1")
    try:
        value = ast.literal_eval(raw.replace("true", "True").replace("false", "False"))
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def _config(args, **fixed):
    overrides = dict(_parse_assignment(s) for s in args.set)
    overrides.update({k: v for k, v in fixed.items() if v is not None})
    return load_config(args.config, **overrides)


def draw_figures(run_dir: Path, fmt: str = "png") -> list[Path]:
    """(Re)draw every figure of a results folder from its recordings."""
    run_dir = Path(run_dir)
    metrics = results.read_metrics(run_dir)
    written = figures.plot_run(metrics, run_dir / "figures", fmt=fmt)
    if (run_dir / "arrays.npz").exists():
        W, _, B = results.load_network_arrays(run_dir)
        written += figures.plot_weight_scatter(W, B, run_dir / "figures" / f"scatter.{fmt}",
                                             title=f"{metrics['rule']}: B against Wᵀ")
    if metrics.get("schedule"):
        written += figures.plot_schedule(metrics, run_dir / "figures", fmt=fmt)
    if (run_dir / "spikes.npz").exists():
        written.append(_draw_spikes(run_dir, metrics, fmt))
    if (run_dir / "activity.npz").exists():
        with np.load(run_dir / "activity.npz") as activity:
            written += figures.plot_activity(dict(activity), run_dir / "figures" / f"activity.{fmt}",
                                           title=f"{metrics['rule']} · seed {metrics['seed']}: "
                                                 "settled activity")
    return written


def _draw_spikes(run_dir: Path, metrics: dict, fmt: str) -> Path:
    """figures/spikes: rasters, population rates and angles over the spikes.npz window."""
    with np.load(run_dir / "spikes.npz") as saved:
        arrays = dict(saved)
    names = sorted({key.rsplit(".", 1)[0] for key in arrays if "." in key})
    spikes = {name: {field: arrays[f"{name}.{field}"] for field in ("i", "t_s", "n", "pool")}
              for name in names}
    phases = ["engaged" if e else "mirror" for e in arrays["engaged"]]
    history = metrics["history"]
    angles = (np.array([h["presentation"] for h in history]),
              np.array([h["weight_angle_deg"] for h in history]))
    return figures.plot_spiking_transition(
        spikes, phases, float(arrays["presentation_s"]), tuple(int(k) for k in arrays["window"]),
        angles, run_dir / "figures" / f"spikes.{fmt}",
        title=f"{metrics['rule']} · seed {metrics['seed']}: spikes around the first engaged "
              "presentation (grey: mirror)")


def run_one(config, out_dir: Path, progress: bool = True) -> dict:
    """Run one config into ``out_dir`` (results folder with figures); return its metrics."""
    metrics = run_config(config, out_dir, progress=progress)
    draw_figures(out_dir)
    return metrics


def cmd_run(args) -> int:
    config = _config(args, **{"rule.name": args.rule, "experiment.seed": args.seed,
                              "experiment.engine": args.engine, "device.name": args.device,
                              "device.gpu_id": args.gpu_id})
    out = Path(args.out or Path("results") / config.experiment.name /
               f"{config.rule.name}_seed{config.experiment.seed}")
    metrics = run_one(config, out, progress=not args.quiet)
    final = metrics["final"]
    accuracy = final["test_accuracy"]
    print(f"{config.rule.name} seed {config.experiment.seed}: "
          + (f"test accuracy {100 * accuracy:.2f} %, " if accuracy is not None else "")
          + "weight angles " + ", ".join(f"{a:.1f}°" for a in final["weight_angle_deg"]))
    print(f"results in {out}/ (figures in {out}/figures/)")
    return 0


def cmd_compare(args) -> int:
    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    out = Path(args.out)
    runs_by_rule: dict[str, list[dict]] = {}
    for rule in rules:
        for seed in range(args.seeds):
            config = _config(args, **{"rule.name": rule, "experiment.seed": seed})
            run_dir = out / rule / f"seed{seed}"
            if results.is_complete(run_dir):
                metrics = results.read_metrics(run_dir)   # resume: keep finished runs
            else:
                metrics = run_one(config, run_dir, progress=not args.quiet)
            runs_by_rule.setdefault(rule, []).append(metrics)
    summary = {rule: [m["final"] for m in runs] for rule, runs in runs_by_rule.items()}
    results.write_json(out / "summary.json", summary)
    written = figures.plot_compare(runs_by_rule, out / "figures")
    print(tables.summary_table(summary))
    print(f"summary in {out / 'summary.json'}; figures: " + ", ".join(str(f) for f in written))
    return 0


def cmd_plot(args) -> int:
    for path in draw_figures(Path(args.results_dir), fmt=args.format):
        print(path)
    return 0


def _cluster_options(args) -> dict:
    if args.scheduler and args.workers:
        raise ConfigError("--workers: sets the size of a local cluster; with --scheduler the "
                          "cluster's own workers run the tasks")
    return {"scheduler": args.scheduler, "workers": args.workers}


def _report_runs(outcomes) -> int:
    """Print how many runs ran, were skipped and failed; 1 if any failed."""
    from .sweep import describe_failures
    counts = {s: sum(o.status == s for o in outcomes) for s in ("complete", "skipped", "failed")}
    print(f"{len(outcomes)} runs: {counts['complete']} ran now, {counts['skipped']} had "
          f"finished before, {counts['failed']} failed")
    if counts["failed"]:
        print(describe_failures(outcomes), file=sys.stderr)
        print("rerun the same command to retry the failed runs", file=sys.stderr)
    return 1 if counts["failed"] else 0


def cmd_sweep(args) -> int:
    from . import sweep
    spec = sweep.load_sweep(args.file, **dict(_parse_assignment(s) for s in args.set))
    out = Path(args.out or Path("results") / Path(args.file).stem)
    with sweep.dask_client(**_cluster_options(args)) as client:
        outcomes, table = sweep.run_sweep(spec, out, client, progress=not args.quiet)
    status = _report_runs(outcomes)
    print(f"table of every run's final metrics: {table}")
    return status


def cmd_hypothesis(args) -> int:
    from . import hypothesis, sweep
    spec = hypothesis.load_hypothesis(args.file, **dict(_parse_assignment(s) for s in args.set))
    out = Path(args.out or Path("results") / "hypotheses" / Path(args.file).stem)
    with sweep.dask_client(**_cluster_options(args)) as client:
        report, outcomes = hypothesis.run_hypothesis(spec, out, client, progress=not args.quiet)
    status = _report_runs(outcomes)
    print(f"{report['title']}\nclaim: {report['claim']['text']}")
    for name, result in report["results"].items():
        group = report["groups"][name]
        print(f"  {name}: {result['verdict']} (n = {group['n']}, estimate "
              f"{result['estimate']:.3g} [{result['ci_low']:.3g}, {result['ci_high']:.3g}], "
              f"p = {result['p_value']:.3g}) - {result['reason']}")
    print(f"report: {out / 'hypothesis.md'}, {out / 'hypothesis.json'}, "
          f"{out / 'hypothesis.png'}")
    return status


def cmd_check(args) -> int:
    from ..analysis.plausibility import table
    from .check import check_plausibility
    config = _config(args, **{"rule.name": args.rule, "check.steps": args.steps})
    out = Path(args.out or Path("results") / config.experiment.name / f"{config.rule.name}_check")
    report = check_plausibility(config, out, progress=not args.quiet)
    counts = report["counts"]
    print(table(report))
    print(f"{counts['pass']} pass, {counts['fail']} fail, {counts['n/a']} n/a; report: "
          f"{out / 'plausibility.md'}, {out / 'plausibility.json'}")
    return 1 if args.strict and counts["fail"] else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mirrorlab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p):
        p.add_argument("config", help="TOML config file")
        p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="override a config field, e.g. --set training.epochs=5")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        return p

    run = with_config(sub.add_parser("run", help="train one network and record alignment"))
    run.add_argument("--rule", help="bp, fa, ss, wm or kp (default: the config's)")
    run.add_argument("--seed", type=int, help="random seed (default: the config's)")
    run.add_argument("--engine", choices=["matrix", "circuit"],
                     help="numpy matrix engine or Brian2 circuit (default: the config's)")
    run.add_argument("--device", choices=["runtime", "cpp", "cuda"],
                     help="Brian2 device of a circuit (default: the config's)")
    run.add_argument("--gpu-id", type=int, metavar="N",
                     help="the GPU of --device cuda (default: the config's device.gpu_id)")
    run.add_argument("--out", help="results folder (default results/NAME/RULE_seedS)")
    run.set_defaults(handler=cmd_run)

    compare = with_config(sub.add_parser("compare", help="several rules over several seeds"))
    compare.add_argument("--rules", default="bp,fa,ss,wm,kp", help="comma-separated rules")
    compare.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    compare.add_argument("--out", required=True, help="results folder")
    compare.set_defaults(handler=cmd_compare)

    plot = sub.add_parser("plot", help="redraw the figures of a results folder")
    plot.add_argument("results_dir")
    plot.add_argument("--format", default="png", choices=["png", "pdf", "svg"])
    plot.set_defaults(handler=cmd_plot)

    def with_cluster(p, default_out):
        p.add_argument("file", help="TOML file")
        p.add_argument("--out", help=f"results folder (default {default_out})")
        p.add_argument("--workers", type=int, help="local cluster workers (default: one per core)")
        p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run on this existing Dask cluster instead of a local one")
        p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="override a config field in every run")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        return p

    sweep = with_cluster(sub.add_parser(
        "sweep", help="a grid of fields x seeds on Dask; one CSV of every run's final metrics"),
        "results/FILE_STEM")
    sweep.set_defaults(handler=cmd_sweep)
    hypothesis = with_cluster(sub.add_parser(
        "hypothesis", help="baseline vs variants over seeds on Dask: statistics and a verdict"),
        "results/hypotheses/FILE_STEM")
    hypothesis.set_defaults(handler=cmd_hypothesis)

    check = with_config(sub.add_parser(
        "check", help="build a circuit, run it briefly, check its biological plausibility"))
    check.add_argument("--rule", help="fa, wm, kp or bp (default: the config's)")
    check.add_argument("--steps", type=int,
                       help="engaged presentations of the brief run (default check.steps; 0 = all)")
    check.add_argument("--out", help="report folder (default results/NAME/RULE_check)")
    check.add_argument("--strict", action="store_true", help="exit 1 if any check fails")
    check.set_defaults(handler=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ClusterUnavailable, DeviceError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except DivergenceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("\ninterrupted: finished checkpoints are on disk, marked incomplete",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
