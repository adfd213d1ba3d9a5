"""The ``mirrorlab`` command line: a thin layer over the Python API (:mod:`mirrorlab.sims.api`).

    mirrorlab run CONFIG.toml [--rule R] [--seed S] [--engine matrix|circuit]
                  [--device runtime|cpp|cuda] [--gpu-id N] [--out DIR] [--set FIELD=VALUE ...]
    mirrorlab compare CONFIG.toml --rules bp,fa,ss,wm,kp --seeds N --out DIR
    mirrorlab plot RESULTS_DIR
    mirrorlab sweep SWEEP.toml [--out DIR] [--workers N | --scheduler tcp://HOST:PORT]
    mirrorlab hypothesis HYPOTHESIS.toml [--out DIR] [--workers N | --scheduler tcp://HOST:PORT]
    mirrorlab check CONFIG.toml [--rule R] [--out DIR] [--steps N] [--strict]
                    [--set FIELD=VALUE ...]
    mirrorlab export RESULTS_DIR [--format nwb] [--output FILE.nwb]

Exit status: 0 done; 2 bad input (a config field, a data file, an argument, a results
folder in the way, Dask or a device missing), said in one line naming it, before any work;
3 the run diverged (the message names the step, layer and quantity); 130 interrupted
(Ctrl-C: finished checkpoints stay on disk, marked incomplete). Sweeps and hypothesis
tests exit 1 if some runs failed (recorded in their failed.json; rerun to retry); `check`
exits 0 whatever its checks find, or with --strict 1 if any check fails.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..models.rules import RULES
from . import api, results
from .config import ConfigError, load_config, parse_value
from .data import DataError
from .devices import DeviceError
from .figures import draw_figures
from .matrix_engine import DivergenceError
from .runs.matrix import method_name
from .sweep import ClusterUnavailable


def _parse_assignment(text: str) -> tuple[str, object]:
    """``"training.lr=0.1"`` -> ``("training.lr", 0.1)``; the value is read as TOML
    (``true``, ``"a string"``, ``[64, 10]``), or kept as text if it is not TOML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected FIELD=VALUE, e.g. training.lr=0.1")
    return key.strip(), parse_value(raw.strip())


def _overrides(args) -> dict:
    return dict(_parse_assignment(s) for s in args.set)


def _config(args, **fixed):
    overrides = _overrides(args)
    overrides.update({k: v for k, v in fixed.items() if v is not None})
    return load_config(args.config, **overrides)


def cmd_run(args) -> int:
    config = _config(args, **{"rule.name": args.rule, "experiment.seed": args.seed,
                              "experiment.engine": args.engine, "device.name": args.device,
                              "device.gpu_id": args.gpu_id})
    if config.experiment.engine != "circuit" and (args.device or args.gpu_id is not None):
        raise ConfigError(f"--device/--gpu-id: choose where a circuit runs, but this config "
                          f"trains on the {config.experiment.engine} engine (numpy); add "
                          "--engine circuit")
    method = method_name(config)
    out = results.check_folder(args.out or Path("results") / config.experiment.name /
                               f"{method}_seed{config.experiment.seed}")
    final = api.run(config, out, progress=not args.quiet).final
    accuracy, angles = final["test_accuracy"], final["weight_angle_deg"]
    parts = ([f"test accuracy {100 * accuracy:.2f} %"] if accuracy is not None else []) + (
        ["weight angles " + ", ".join(f"{a:.1f}°" for a in angles)] if angles else [])
    print(f"{method} seed {config.experiment.seed}: " + ", ".join(parts))
    print(f"results in {out}/ (figures in {out}/figures/)")
    return 0


def _rules(text: str) -> list[str]:
    """``--rules``: distinct registered rules, comma-separated."""
    rules = [r.strip() for r in text.split(",")]
    if not text.strip() or "" in rules:
        raise ConfigError(f"--rules: a comma-separated list of rules, e.g. bp,wm (got {text!r})")
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ConfigError(f"--rules: unknown rule {unknown[0]!r}; allowed: {', '.join(RULES)}")
    repeated = sorted({r for r in rules if rules.count(r) > 1})
    if repeated:
        raise ConfigError(f"--rules: {', '.join(repeated)} named twice (got {text!r})")
    return rules


def cmd_compare(args) -> int:
    rules = _rules(args.rules)
    if args.seeds < 1:
        raise ConfigError(f"--seeds: the number of seeds, at least 1 (got {args.seeds})")
    comparison = api.compare(_config(args), rules, args.seeds, out=args.out,
                             progress=not args.quiet)
    written = sorted((comparison.folder / "figures").glob("compare_*.png"))
    print(comparison.table())
    print(f"summary in {comparison.folder / 'summary.json'}; figures: "
          + ", ".join(str(f) for f in written))
    return 0


def cmd_plot(args) -> int:
    run_dir = Path(args.results_dir)
    if not run_dir.is_dir():
        raise results.FolderError(f"{run_dir}: no such results folder")
    try:
        metrics = results.read_metrics(run_dir)
    except (OSError, ValueError) as err:
        raise results.FolderError(f"{run_dir / 'metrics.json'}: not a mirrorlab metrics file "
                                  f"({err})") from None
    if not isinstance(metrics, dict) or not metrics.get("history"):
        raise results.FolderError(f"{run_dir / 'metrics.json'}: holds no history to plot")
    for path in draw_figures(run_dir, fmt=args.format):
        print(path)
    if args.check:
        from ..analysis.figures.plausible import plot_plausible_circuit
        report_path = Path(args.check) / "plausibility.json"
        try:
            report = json.loads(report_path.read_text())
        except (OSError, ValueError) as err:
            raise results.FolderError(f"{report_path}: not a mirrorlab check report ({err})") \
                from None
        for path in plot_plausible_circuit(report, metrics, run_dir / "figures", args.format):
            print(path)
    return 0


def _cluster_options(args) -> dict:
    if args.scheduler and args.workers is not None:
        raise ConfigError("--workers: sets the size of a local cluster; with --scheduler the "
                          "cluster's own workers run the tasks")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers: the number of local workers, at least 1 "
                          f"(got {args.workers})")
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
    out = args.out or Path("results") / Path(args.file).stem
    sweep.load_sweep(args.file, **_overrides(args))      # bad input: said before a cluster starts
    results.check_folder(out)
    with sweep.dask_client(**_cluster_options(args)) as client:
        _, outcomes = api.sweep(args.file, out, client=client, progress=not args.quiet,
                                overrides=_overrides(args))
    status = _report_runs(outcomes)
    print(f"table of every run's final metrics: {Path(out) / 'sweep.csv'}")
    return status


def cmd_hypothesis(args) -> int:
    from . import hypothesis, sweep
    hypothesis.load_hypothesis(args.file, **_overrides(args))   # said before a cluster starts
    out = results.check_folder(args.out or Path("results") / "hypotheses" / Path(args.file).stem)
    with sweep.dask_client(**_cluster_options(args)) as client:
        report = api.hypothesis(args.file, out, client=client, progress=not args.quiet,
                                overrides=_overrides(args))
    status = _report_runs(report["outcomes"])
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
    config = _config(args, **{"rule.name": args.rule, "check.steps": args.steps})
    out = results.check_folder(args.out or Path("results") / config.experiment.name /
                               f"{config.rule.name}_check")
    report = api.check(config, out, progress=not args.quiet)
    counts = report["counts"]
    print(table(report))
    print(f"{counts['pass']} pass, {counts['fail']} fail, {counts['n/a']} n/a; report: "
          f"{out / 'plausibility.md'}, {out / 'plausibility.json'}")
    return 1 if args.strict and counts["fail"] else 0


def cmd_export(args) -> int:
    path = api.export_nwb(args.results_dir, args.output)
    print(f"NWB file: {path}")
    return 0


EPILOG = """\
where to start:
  mirrorlab run configs/digits_mlp.toml --rule wm    the weight mirror on digits (numpy)
  mirrorlab run configs/digits_wm_circuit.toml       the same as a Brian2 circuit
  mirrorlab compare configs/digits_mlp.toml --seeds 3 --out results/compare
  mirrorlab check configs/digits_wm_circuit.toml     is that circuit plausible?
  mirrorlab hypothesis configs/hypotheses/dale_feedback.toml
  mirrorlab COMMAND --help                           the options of one command

exit status:
  0    done
  1    some runs of a sweep or hypothesis failed (see failed.json; rerun to retry),
       or `check --strict` found a failing check
  2    bad input: a config field, a data file, an argument, a results folder, a
       missing device or Dask (one line names it; nothing was run)
  3    the run diverged (the message names the step, layer and quantity)
  130  interrupted (Ctrl-C): what finished is on disk, marked incomplete
"""


class _Parser(argparse.ArgumentParser):
    """Argument errors are bad input like any other: one line, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mirrorlab", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Simulate neural circuits that learn without weight transport, and "
                    "measure how their feedback comes into alignment with the forward pathway.")
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
    plot.add_argument("--check", metavar="CHECK_DIR",
                      help="also draw figures/plausibility.FORMAT: the rates of every "
                           "population from this `mirrorlab check` report beside the run")
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

    export = sub.add_parser("export", help="write a circuit run's results folder as an NWB file")
    export.add_argument("results_dir")
    export.add_argument("--format", default="nwb", choices=["nwb"],
                        help="the file format (NWB, Neurodata Without Borders)")
    export.add_argument("--output", help="the file to write (default RESULTS_DIR/run.nwb)")
    export.set_defaults(handler=cmd_export)

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
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:      # --help, or a malformed command line (already said)
        return done.code if isinstance(done.code, int) else 2
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
    except KeyboardInterrupt as stop:
        print(f"\ninterrupted{': ' + str(stop) if str(stop) else ''}; what finished is on "
              "disk, marked incomplete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
