"""Hypothesis tests over seeds: a baseline, variants, an outcome measure and a claim.

A hypothesis file (``mirrorlab hypothesis HYPOTHESIS.toml``)::

    title = "Weight mirror with Dale's law in the feedback path"
    question = "Free text for the report: what is asked, and why."   # optional
    config = "../digits_mlp.toml"    # the base config, relative to this file
    seeds = 5                        # seeds 0..4 for every group (or a list)
    alpha = 0.05                     # optional

    [baseline]                       # overrides that make the baseline (optional)
    rule.name = "wm"

    [variants.dale]                  # one table of overrides per variant
    constraints.feedback_dale = true

    [outcome]
    measure = "weight_angle"         # weight_angle | test_accuracy | time_to_angle |
                                     # delta_angle | time_to_accuracy | angle_above_floor
    layer = 2                        # 1 = input->hidden ...; -1 = the last layer
    # angle = 20.0                   # time_to_angle: the angle to reach (degrees)
    # fraction = 0.95                # time_to_accuracy: the share of the final accuracy

    [claim]
    against = "threshold"            # threshold: mean(variant) REL bound
                                     # baseline:  mean(variant) - mean(baseline) REL bound
    relation = "<"                   # "<" or ">"
    bound = 20.0                     # in the outcome's units
    statement = "..."                # optional wording for the report

    [[more_claims]]                  # optional: further claims on the same runs, each
    measure = "test_accuracy"        # an outcome's keys and a claim's keys in one table
    relation = ">"
    bound = 90.0

Each further claim is tested on the same runs and gets its own verdict, reported and drawn
like the first (``hypothesis_2.png``, ...).

Outcomes, one value per run, from ``metrics.json``:

- ``weight_angle``: the final angle between ``B_l`` and ``W_l^T`` (degrees);
- ``test_accuracy``: the final test accuracy in percent, so that a bound on a
  difference is in points;
- ``time_to_angle``: the epoch of the first checkpoint at which
  ``angle(B_l, W_l^T) <= angle``; a run that never gets there counts as its
  last checkpoint's epoch (censored: a lower bound of its true time, so
  conservative for ">" claims and lenient for "<" claims; the report names
  such runs). Resolution: one checkpoint (``training.checkpoint_every``).
- ``delta_angle``: the final angle between the error delivered to layer l's units and
  the error backpropagation would deliver there (degrees; 0 at the output);
- ``time_to_accuracy``: the epoch of the first checkpoint whose test accuracy reaches
  ``fraction`` of the run's final test accuracy (how soon a rule converges; same
  resolution);
- ``angle_above_floor``: the final ``angle(B_l, W_l^T)`` minus the least angle that
  synapses delivering only ``constraints.feedback_levels`` values could reach (the angle
  of the best such approximation of ``W_l^T``; 0 for continuous synapses), degrees.

The statistics and the verdict rules are those of
:mod:`mirrorlab.analysis.stats`. Variants are the baseline plus their own
overrides; every config is built (and so validated) when the file is read.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..analysis import figures, tables
from ..analysis import stats as S
from . import results
from .config import Config, ConfigError
from .sweep import (FAILED, Outcome, Task, apply_overrides, base_config, check_keys,
                    flatten_overrides, group_tasks, run_tasks, seed_list, spec_source)

HYPOTHESIS_KEYS = ("title", "question", "config", "seeds", "alpha", "baseline", "variants",
                   "outcome", "claim", "more_claims")
OUTCOME_KEYS = ("measure", "layer", "angle", "fraction")
CLAIM_KEYS = ("against", "relation", "bound", "statement")
MEASURES = ("weight_angle", "test_accuracy", "time_to_angle", "delta_angle",
            "time_to_accuracy", "angle_above_floor")
BASELINE = "baseline"
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class Measure:
    """Which number of a finished run is the outcome (see the module docstring).

    ``layer`` counts from 1 on the input side; negative values count from the
    output side (-1 = the last layer).
    """

    name: str
    layer: int = -1
    angle: float = 20.0
    fraction: float = 0.95

    def layer_index(self, n_layers: int) -> int:
        return self.layer - 1 if self.layer > 0 else n_layers + self.layer

    def label(self, n_layers: int) -> str:
        """What the outcome is, with its unit, for tables and axes."""
        l = str(self.layer_index(n_layers) + 1).translate(_SUBSCRIPTS)
        angle = f"angle(B{l}, W{l}ᵀ)"
        return {"weight_angle": f"final {angle} (deg)",
                "test_accuracy": "final test accuracy (%)",
                "time_to_angle": f"epochs until {angle} ≤ {self.angle:g}°",
                "delta_angle": f"final angle(δ{l}, δ{l} of backprop) (deg)",
                "time_to_accuracy": f"epochs until {100 * self.fraction:g} % of the final "
                                    "test accuracy",
                "angle_above_floor": f"final {angle} above its floor (deg)"}[self.name]

    @property
    def unit(self) -> str:
        return {"weight_angle": "°", "test_accuracy": " points", "time_to_angle": " epochs",
                "delta_angle": "°", "time_to_accuracy": " epochs", "angle_above_floor": "°"}[
            self.name]

    def value(self, metrics: dict) -> tuple[float, bool]:
        """``(value, censored)`` of one run's metrics."""
        n_layers = len(metrics["sizes"]) - 1
        if self.name == "test_accuracy":
            return 100.0 * metrics["final"]["test_accuracy"], False
        if self.name == "time_to_accuracy":
            goal = self.fraction * metrics["final"]["test_accuracy"]
            return next(float(entry["epoch"]) for entry in metrics["history"]
                        if entry["test_accuracy"] >= goal), False
        layer = self.layer_index(n_layers)
        final = metrics["final"]
        if self.name in ("weight_angle", "delta_angle"):
            return float(final[f"{self.name}_deg"][layer]), False
        if self.name == "angle_above_floor":
            return float(final["weight_angle_deg"][layer]
                         - final["weight_angle_floor_deg"][layer]), False
        for entry in metrics["history"]:
            if entry["weight_angle_deg"][layer] <= self.angle:
                return float(entry["epoch"]), False
        return float(metrics["history"][-1]["epoch"]), True


@dataclass(frozen=True)
class HypothesisSpec:
    """A validated hypothesis file: the groups' configs, seeds, outcome and claim."""

    path: Path
    title: str
    question: str
    config_path: Path | None
    baseline: Config
    baseline_overrides: dict[str, Any]
    variants: dict[str, dict[str, Any]]
    variant_configs: dict[str, Config]
    seeds: list[int]
    alpha: float
    measure: Measure
    claim: S.Claim
    statement: str
    more_claims: tuple = ()
    overrides: tuple = ()      # (field, value) pairs given with --set, applied to every group

    @property
    def claims(self) -> list["HypothesisSpec"]:
        """This spec once per claim (the first, then :attr:`more_claims`), each with one
        measure and one claim."""
        return [self] + [dataclasses.replace(self, measure=m, claim=c, statement=t,
                                             more_claims=())
                         for m, c, t in self.more_claims]

    @property
    def configs(self) -> dict[str, Config]:
        return {BASELINE: self.baseline, **self.variant_configs}

    def tasks(self, out_dir: str | Path) -> list[Task]:
        return group_tasks(self.configs, self.seeds, out_dir)


def _string(tree: dict, key: str, where: str, default: str | None = None) -> str:
    value = tree.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}{key}: must be a string (got {value!r})")
    return value


def _number(tree: dict, key: str, where: str, default: float | None = None) -> float:
    value = tree.get(key, default)
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or not math.isfinite(value)):
        raise ConfigError(f"{where}{key}: must be a finite number (got {value!r})")
    return float(value)


def _measure(table: Any, where: str, configs: dict[str, Config]) -> Measure:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table with measure = ... (got {table!r})")
    check_keys(table, OUTCOME_KEYS, f"{where}.")
    name = _string(table, "measure", f"{where}.")
    if name not in MEASURES:
        raise ConfigError(f"{where}.measure: must be one of {', '.join(MEASURES)} (got {name!r})")
    layer = table.get("layer", -1)
    if not isinstance(layer, int) or isinstance(layer, bool) or layer == 0:
        raise ConfigError(f"{where}.layer: must be a non-zero integer (got {layer!r})")
    angle = _number(table, "angle", f"{where}.", 20.0)
    if name != "time_to_angle" and "angle" in table:
        raise ConfigError(f"{where}.angle: applies to measure = \"time_to_angle\" only")
    if not 0 < angle < 180:
        raise ConfigError(f"{where}.angle: must be in (0, 180) degrees (got {angle})")
    fraction = _number(table, "fraction", f"{where}.", 0.95)
    if name != "time_to_accuracy" and "fraction" in table:
        raise ConfigError(f"{where}.fraction: applies to measure = \"time_to_accuracy\" only")
    if not 0 < fraction <= 1:
        raise ConfigError(f"{where}.fraction: must be in (0, 1] (got {fraction})")
    accuracy = name in ("test_accuracy", "time_to_accuracy")
    for group, config in configs.items():
        n_layers = len(config.network.sizes) - 1
        if not accuracy and not -n_layers <= layer <= n_layers:
            raise ConfigError(f"{where}.layer: {group} has {n_layers} layers (got {layer})")
        if accuracy and config.data.name == "teacher":
            raise ConfigError(f"{where}.measure: {group} is a regression (data.name = "
                              "'teacher') and has no test accuracy")
    return Measure(name, layer, angle, fraction)


def _claim(table: Any, where: str) -> tuple[S.Claim, str]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table (got {table!r})")
    check_keys(table, CLAIM_KEYS, f"{where}.")
    against = _string(table, "against", f"{where}.", "threshold")
    relation = _string(table, "relation", f"{where}.")
    bound = _number(table, "bound", f"{where}.")
    try:
        claim = S.Claim(relation, bound, against)
    except ValueError as err:
        raise ConfigError(f"{where}.{str(err).removeprefix('claim.')}") from None
    return claim, _string(table, "statement", f"{where}.", "")


def load_hypothesis(source: str | Path | dict, **overrides: Any) -> HypothesisSpec:
    """Read and validate a hypothesis file, or the dict it would hold (its ``config`` may
    then be a :class:`Config`); ``overrides`` (dotted fields) apply to every group.

    Unknown keys and bad values raise :class:`ConfigError` naming the key; every
    variant's config is built here, so a bad override names the variant and field.
    """
    tree, path, at = spec_source(source)
    check_keys(tree, HYPOTHESIS_KEYS, at)
    for key in ("config", "variants", "outcome", "claim"):
        if key not in tree:
            raise ConfigError(f"{at}{key}: missing")
    base = base_config(tree, path, at)
    config_path = (Path(os.path.normpath(path.parent / tree["config"]))
                   if isinstance(tree["config"], str) else None)
    baseline_overrides = flatten_overrides(tree.get("baseline", {}), f"{at}[baseline]")
    baseline = apply_overrides(base, baseline_overrides, f"{at}[baseline]")
    baseline = apply_overrides(baseline, overrides, "--set")
    if not isinstance(tree["variants"], dict) or not tree["variants"]:
        raise ConfigError(f"{at}variants: needs at least one [variants.NAME] table")
    variants, variant_configs = {}, {}
    for name, table in tree["variants"].items():
        where = f"{at}[variants.{name}]"
        if name == BASELINE or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ConfigError(f"{where}: a variant's name must be letters, digits, '_', '.', "
                              f"'-' and not {BASELINE!r} (it names a folder)")
        variants[name] = flatten_overrides(table, where)
        variant_configs[name] = apply_overrides(baseline, variants[name], where)
    alpha = _number(tree, "alpha", at, 0.05)
    if not 0 < alpha < 1:
        raise ConfigError(f"{at}alpha: must be in (0, 1) (got {alpha})")
    configs = {BASELINE: baseline, **variant_configs}
    measure = _measure(tree["outcome"], f"{at}outcome", configs)
    claim, statement = _claim(tree["claim"], f"{at}claim")
    _check_bound(measure, claim, f"{at}claim")
    more = tree.get("more_claims", [])
    if not isinstance(more, list) or not all(isinstance(t, dict) for t in more):
        raise ConfigError(f"{at}more_claims: must be [[more_claims]] tables (got {more!r})")
    more_claims = []
    for k, table in enumerate(more, 1):
        where = f"{at}more_claims[{k}]"
        check_keys(table, OUTCOME_KEYS + CLAIM_KEYS, f"{where}.")
        extra_measure = _measure({key: table[key] for key in OUTCOME_KEYS if key in table},
                                 where, configs)
        extra_claim, extra_statement = _claim({key: table[key] for key in CLAIM_KEYS
                                               if key in table}, where)
        _check_bound(extra_measure, extra_claim, where)
        more_claims.append((extra_measure, extra_claim, extra_statement))
    return HypothesisSpec(path, _string(tree, "title", at, path.stem.strip("<>")),
                          _string(tree, "question", at, ""), config_path, baseline,
                          baseline_overrides, variants, variant_configs,
                          seed_list(tree.get("seeds", 5), f"{at}seeds"), alpha, measure, claim,
                          statement, tuple(more_claims), tuple(overrides.items()))


def _check_bound(measure: Measure, claim: S.Claim, where: str) -> None:
    if claim.against == "threshold" and measure.name == "test_accuracy" and not 0 <= claim.bound <= 100:
        raise ConfigError(f"{where}.bound: test accuracy is in percent, 0..100 "
                          f"(got {claim.bound})")


# --- from finished runs to a report ---------------------------------------------------------

def collect(spec: HypothesisSpec, outcomes: list[Outcome]) -> dict[str, dict]:
    """Per group: the outcome of every finished run, and the runs that are missing."""
    groups = {name: {"seeds": [], "values": [], "censored": 0, "missing": []}
              for name in spec.configs}
    for outcome in outcomes:
        task, group = outcome.task, groups[outcome.task.group]
        if outcome.status == FAILED or not results.is_complete(task.run_dir):
            group["missing"].append({"seed": task.seed, "run_dir": str(task.run_dir),
                                     "error": outcome.error})
            continue
        value, censored = spec.measure.value(results.read_metrics(task.run_dir))
        group["seeds"].append(task.seed)
        group["values"].append(value)
        group["censored"] += censored
    return groups


def analyse(spec: HypothesisSpec, outcomes: list[Outcome]) -> dict:
    """The report as a dict (what ``hypothesis.json`` holds): the first claim's, with
    ``more_claims`` holding the report of each further claim on the same runs."""
    first, *more = [_analyse_claim(one, outcomes) for one in spec.claims]
    if more:
        first["more_claims"] = more
    return first


def _analyse_claim(spec: HypothesisSpec, outcomes: list[Outcome]) -> dict:
    """The report of ``spec``'s (first) claim."""
    n_layers = len(spec.baseline.network.sizes) - 1
    quantity = spec.measure.label(n_layers)
    groups = collect(spec, outcomes)
    for name, group in groups.items():
        summary = S.describe(group["values"])
        group.update(overrides=(spec.baseline_overrides if name == BASELINE
                                else spec.variants[name]),
                     n=summary.n, mean=summary.mean, sd=summary.sd,
                     ci=[summary.ci_low, summary.ci_high])
    baseline_values = groups[BASELINE]["values"]
    evaluations = {}
    for name in spec.variants:
        result = S.evaluate(spec.claim, groups[name]["values"],
                            baseline_values if spec.claim.against == "baseline" else None,
                            alpha=spec.alpha)
        evaluations[name] = result.as_dict()
        censored = groups[name]["censored"] + (groups[BASELINE]["censored"]
                                               if spec.claim.against == "baseline" else 0)
        if censored:
            evaluations[name]["reason"] += (f"; {censored} run(s) never reached the angle and "
                                            "count as their last epoch (a lower bound)")
    return {
        "title": spec.title, "question": spec.question, "file": str(spec.path),
        "overrides": dict(spec.overrides),
        "config": str(spec.config_path) if spec.config_path else "(a Config object)",
        "seeds": spec.seeds, "alpha": spec.alpha,
        "confidence": 0.95, "min_seeds": S.MIN_SEEDS,
        "outcome": {"measure": spec.measure.name, "layer": spec.measure.layer,
                    "angle": spec.measure.angle if spec.measure.name == "time_to_angle" else None,
                    "label": quantity, "unit": spec.measure.unit},
        "claim": {"against": spec.claim.against, "relation": spec.claim.relation,
                  "bound": spec.claim.bound, "statement": spec.statement,
                  "text": spec.claim.text(quantity, spec.measure.unit)},
        "groups": groups, "results": evaluations, "versions": results.versions(),
    }


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}g}"


def _p(p: float) -> str:
    return "n/a" if math.isnan(p) else ("< 1e-4" if p < 1e-4 else f"{p:.3g}")


def _overrides_text(overrides: dict) -> str:
    return ", ".join(f"`{k} = {json.dumps(v)}`" for k, v in overrides.items()) or "—"


def markdown(report: dict, figure: str | None = "hypothesis.png") -> str:
    """``hypothesis.md``: each claim, one table row per group, the reasons, the figures."""
    lines = [f"# {report['title']}", ""]
    if report["question"]:
        lines += [report["question"].strip(), ""]
    more = report.get("more_claims", [])
    for k, one in enumerate([report] + more, 1):
        if more:
            lines += [f"## Claim {k}", ""]
        lines += _claim_lines(one, (figure if k == 1 else _figure_name(k)) if figure else None)
    missing = [(n, m) for n, g in report["groups"].items() for m in g["missing"]]
    if missing:
        lines += ["Runs left out (failed or unfinished; rerun the command to retry them):", ""]
        lines += [f"- {n} seed {m['seed']}: {m['error'] or 'unfinished'} ({m['run_dir']})"
                  for n, m in missing]
        lines.append("")
    lines += [f"Base config `{report['config']}`; every run's folder is "
              "`runs/<group>/seed<N>/`. Reproduce (finished runs are reused): "
              f"`mirrorlab hypothesis {report['file']}{_set_options(report)} "
              f"--out {report.get('out', 'DIR')}`.", ""]
    return "\n".join(lines)


def _set_options(report: dict) -> str:
    """`` --set FIELD=VALUE`` for each override the report's runs were made with."""
    return "".join(f" --set {field}={json.dumps(value, separators=(',', ':'))}"
                   for field, value in report.get("overrides", {}).items())


def _claim_lines(report: dict, figure: str | None) -> list[str]:
    """One claim's part of ``hypothesis.md``: statement, table, reasons, figure."""
    claim, outcome = report["claim"], report["outcome"]
    lines = []
    if claim["statement"]:
        lines += [f"**Claim.** {claim['statement']}", ""]
    test = next(iter(report["results"].values()))["test"] if report["results"] else ""
    lines += [f"Tested as {claim['text']} for each variant: {test}, α = {report['alpha']:g}, "
              f"bootstrap {100 * report['confidence']:g}% CI, seeds "
              f"{', '.join(map(str, report['seeds']))}. Outcome: {outcome['label']}.", ""]
    estimate = "mean" if claim["against"] == "threshold" else "variant − baseline"
    rows = [["group", "changes", "n", "mean ± sd", "95% CI of mean", f"{estimate} [95% CI]",
             "p", "effect size", "verdict"]]
    for name, group in report["groups"].items():
        row = [name, _overrides_text(group["overrides"]), str(group["n"]), f"{_fmt(group['mean'])} ± {_fmt(group['sd'], 2)}",
               f"[{_fmt(group['ci'][0])}, {_fmt(group['ci'][1])}]"]
        result = report["results"].get(name)
        if result is None:
            row += ["", "", "", "reference"]
        else:
            row += [f"{_fmt(result['estimate'])} [{_fmt(result['ci_low'])}, "
                    f"{_fmt(result['ci_high'])}]", _p(result["p_value"]),
                    f"{result['effect_size_name']} = {_fmt(result['effect_size'], 2)}",
                    f"**{result['verdict']}**"]
        rows.append(row)
    lines += [tables.markdown_table(rows), ""]
    for name, result in report["results"].items():
        lines.append(f"- **{name}: {result['verdict']}** — {result['reason']}.")
    lines.append("")
    censored = {n: g["censored"] for n, g in report["groups"].items() if g["censored"]}
    if censored:
        lines += ["Runs that never reached the angle (counted as their last epoch): "
                  + ", ".join(f"{n}: {c}" for n, c in censored.items()) + ".", ""]
    if figure:
        lines += [f"![{outcome['label']} per group]({figure})", ""]
    return lines


def boundary(report: dict) -> tuple[float, str]:
    """Where the claim's boundary lies on the outcome axis, and its legend text."""
    claim, unit = report["claim"], report["outcome"]["unit"]
    if claim["against"] == "threshold":
        return claim["bound"], f"claim: {claim['relation']} {claim['bound']:g}{unit}"
    base = report["groups"][BASELINE]["mean"]
    margin = f" {claim['bound']:+g}{unit}" if claim["bound"] else ""
    return base + claim["bound"], f"claim: {claim['relation']} baseline mean{margin}"


def _figure_name(k: int) -> str:
    return "hypothesis.png" if k == 1 else f"hypothesis_{k}.png"


def write_report(report: dict, out_dir: str | Path) -> list[Path]:
    """``hypothesis.json``, ``hypothesis.md`` and ``hypothesis.png`` (``hypothesis_K.png``
    for each further claim K) in ``out_dir``."""
    out_dir = Path(out_dir)
    figures_written = []
    for k, one in enumerate([report] + report.get("more_claims", []), 1):
        figures_written += _draw(one, out_dir / _figure_name(k), report["title"])
    results.write_json(out_dir / "hypothesis.json", report)
    results.write_text(out_dir / "hypothesis.md", markdown(report))
    return [out_dir / "hypothesis.json", out_dir / "hypothesis.md", *figures_written]


def _draw(report: dict, path: Path, title: str) -> list[Path]:
    """The outcome per group of one claim's report, with the claim's boundary."""
    groups = report["groups"]
    line, line_label = boundary(report)
    return figures.plot_outcomes(
        {n: g["values"] for n, g in groups.items()}, path,
        ylabel=report["outcome"]["label"], intervals={n: g["ci"] for n, g in groups.items()},
        boundary=line if math.isfinite(line) else None, boundary_label=line_label,
        verdicts={n: r["verdict"] for n, r in report["results"].items()}, title=title)


def run_hypothesis(spec: HypothesisSpec, out_dir: str | Path, client, *, progress: bool = True,
                   runner: Callable | None = None) -> tuple[dict, list[Outcome]]:
    """Run every (group, seed) not finished yet, then analyse and write the report."""
    outcomes = run_tasks(spec.tasks(out_dir), client, progress=progress, runner=runner)
    report = {**analyse(spec, outcomes), "out": str(out_dir)}
    write_report(report, out_dir)
    return report, outcomes
