"""Plausibility checks: numbers read from a circuit run in, one verdict per check out.

Each check returns ``{"name", "status", "evidence"}`` with status ``pass``, ``fail`` or
``n/a``; ``evidence`` holds a one-sentence ``summary`` and the numbers behind it. The
thresholds are the config's ``[check]`` section. What the checks read (firing rates in Hz,
time constants, weight changes per presentation, the locality audit's findings) is
measured by the circuit (``mirrorlab.circuits.readout``) and gathered by
``mirrorlab.sims.check``, which runs the checks in the order of :data:`CHECKS`.
"""
from __future__ import annotations

import math

import numpy as np

Array = np.ndarray

PASS, FAIL, NA = "pass", "fail", "n/a"
CHECKS = ("no_weight_transport", "dale_principle", "rates_in_bounds", "rates_non_negative",
          "weights_finite", "weights_bounded", "time_scales", "alignment_reached",
          "task_performance")
#: Standard errors above the chance accuracy that ``min_accuracy = 0`` asks for.
CHANCE_MARGIN_SE = 2.0


def result(name: str, status: str, summary: str, **numbers) -> dict:
    """One check's result: ``{"name", "status", "evidence": {"summary", **numbers}}``."""
    if status not in (PASS, FAIL, NA):
        raise ValueError(f"status: must be {PASS}, {FAIL} or {NA} (got {status!r})")
    return {"name": name, "status": status, "evidence": {"summary": summary, **numbers}}


def _passes(ok: bool) -> str:
    return PASS if ok else FAIL


def check_no_weight_transport(violations: list[dict]) -> dict:
    """The locality audit's findings: ``{"synapses", "identifier", "reason"}`` per non-local
    signal a plastic synapse group uses (none: pass)."""
    if violations:
        summary = (f"{len(violations)} non-local signal(s) in the plasticity: "
                   + "; ".join(f"{v['synapses']}: {v['identifier']}: {v['reason']}"
                               for v in violations[:3]))
    else:
        summary = ("every plastic synapse group learns from its own, its pre- and "
                   "postsynaptic neurons' variables and broadcast scalars only")
    return result("no_weight_transport", _passes(not violations), summary,
                  violations=list(violations))


def mixed_sign_fraction(matrix: Array) -> float:
    """Fraction of presynaptic neurons (columns of a ``(n_post, n_pre)`` or, for B,
    ``(n_{l-1}, n_l)`` matrix) whose outgoing weights include both signs (zeros ignored)."""
    matrix = np.asarray(matrix, dtype=float)
    mixed = np.any(matrix > 0, axis=0) & np.any(matrix < 0, axis=0)
    return float(np.mean(mixed))


def _group_sign(effect: Array) -> str:
    positive, negative = bool(np.any(effect > 0)), bool(np.any(effect < 0))
    return ("mixed" if positive and negative else "excitatory" if positive
            else "inhibitory" if negative else "zero")


#: What each way of keeping Dale's principle means, for the summary.
DALE_MECHANISMS = {
    "off": "W and B carry signed weights",
    "enforced": "each feedback neuron keeps its sign (constraints.feedback_dale)",
    "initial weights only": "constraints.feedback_dale set the initial B only (not wired "
                            "in circuits)",
    "circuit.dale": "by construction: excitatory groups and inhibitory relays, each clipped at 0",
    "relay pairs": "by construction: every weight is an excitatory synapse and an inhibitory "
                   "one through a relay interneuron, each kept >= 0 (circuit.neuron = "
                   "'firing_rate')",
}


def check_dale_principle(effects: dict[str, Array], tolerance: float, mechanism: str) -> dict:
    """Dale's principle per synapse group: each presynaptic neuron excitatory or inhibitory.

    ``effects`` maps each synapse group to its ``(n_post, n_pre)`` weights read as their
    effect on the target (an inhibitory relay's weights, kept >= 0, negated). Per group,
    the fraction of presynaptic neurons (columns) whose outgoing weights have both signs
    must be at most ``tolerance``; each group's sign is reported. ``mechanism`` says how the
    circuit keeps the principle (:data:`DALE_MECHANISMS`).
    """
    fractions = {name: mixed_sign_fraction(m) for name, m in effects.items()}
    signs = {name: _group_sign(np.asarray(m)) for name, m in effects.items()}
    worst = max(fractions, key=fractions.get)
    breaking = [name for name, f in fractions.items() if f > tolerance]
    summary = (f"presynaptic neurons with mixed-sign outgoing weights: up to "
               f"{100 * fractions[worst]:.0f} % ({worst}); "
               + (f"above the tolerance of {100 * tolerance:.0f} % in " + ", ".join(breaking)
                  if breaking else f"within the tolerance of {100 * tolerance:.0f} %")
               + f"; {DALE_MECHANISMS[mechanism]}")
    return result("dale_principle", _passes(not breaking), summary,
                  mixed_sign_fraction=fractions, group_sign=signs, tolerance=tolerance,
                  feedback_dale=mechanism)


def rate_ranges(rates_hz: dict[str, Array], phases: dict[str, Array], low: float,
                high: float) -> dict:
    """Per population and phase: min, mean, max rate (Hz), share of samples out of bounds."""
    out = {}
    for population, rates in rates_hz.items():
        out[population] = {}
        for phase, mask in phases.items():
            values = rates[mask]
            if values.size:
                out[population][phase] = {
                    "min_hz": float(np.min(values)), "mean_hz": float(np.mean(values)),
                    "max_hz": float(np.max(values)),
                    "out_of_bounds_fraction": float(np.mean((values < low) | (values > high))),
                    "negative_fraction": float(np.mean(values < 0))}
    return out


def check_rates_in_bounds(ranges: dict, bounds_hz: list[float], rates_from: str) -> dict:
    """Every sampled rate (``rate_ranges``) within ``bounds_hz`` = [low, high] (Hz)."""
    low, high = bounds_hz
    outside = [f"{population} ({phase}: {r['min_hz']:.0f} to {r['max_hz']:.0f} Hz)"
               for population, by_phase in ranges.items() for phase, r in by_phase.items()
               if r["out_of_bounds_fraction"] > 0]
    summary = (f"rates outside [{low:g}, {high:g}] Hz in " + ", ".join(outside) if outside
               else f"every rate ({rates_from}) within [{low:g}, {high:g}] Hz")
    if not outside:
        means = [r["mean_hz"] for by_phase in ranges.values() for r in by_phase.values()]
        summary += f" (population means {min(means):.1f} to {max(means):.1f} Hz)"
    return result("rates_in_bounds", _passes(not outside), summary, bounds_hz=[low, high],
                  rates_from=rates_from, populations=ranges)


def check_rates_non_negative(ranges: dict, signed_errors: dict | None,
                             rates_from: str = "spike counts") -> dict:
    """No rate below 0 Hz. ``signed_errors``: range of the feedback populations' signed
    errors (reported only: an error signal is signed by nature); None where every
    population's rate is judged (``rates_from``: spike counts, or firing rates that are
    clipped at 0 Hz), which are non-negative by construction: the evidence says so."""
    negative = [f"{population} ({phase}, {100 * r['negative_fraction']:.0f} % of samples, "
                f"down to {r['min_hz']:.0f} Hz)"
                for population, by_phase in ranges.items() for phase, r in by_phase.items()
                if r["negative_fraction"] > 0]
    numbers = {}
    if signed_errors is None:
        lowest = min(r["min_hz"] for by_phase in ranges.values() for r in by_phase.values())
        summary = ("negative rates in " + ", ".join(negative) if negative else
                   f"by construction: rates ({rates_from}) cannot be negative (lowest "
                   f"{lowest:.1f} Hz); signed values ride on the baseline rate")
    else:
        summary = ("negative rates in " + ", ".join(negative) if negative
                   else "no forward rate below 0 Hz")
        summary += "; the feedback populations carry signed errors (reported, not judged)"
        numbers = {"feedback_errors": signed_errors}
    return result("rates_non_negative", _passes(not negative), summary,
                  populations={p: {phase: {k: r[k] for k in ("min_hz", "negative_fraction")}
                                   for phase, r in by_phase.items()}
                               for p, by_phase in ranges.items()},
                  **numbers)


def named_weights(W, b, B) -> dict[str, Array]:
    """``W_1, .., b_1, .., B_1, ..`` (layer 1 = input side)."""
    named = {f"W_{l}": w for l, w in enumerate(W, 1)}
    named |= {f"b_{l}": v for l, v in enumerate(b, 1)}
    return named | {f"B_{l}": m for l, m in enumerate(B, 1)}


def check_weights_finite(W, b, B) -> dict:
    """Every entry of every W_l, b_l and B_l finite (no NaN, no infinity)."""
    counts = {name: int(np.sum(~np.isfinite(w))) for name, w in named_weights(W, b, B).items()}
    bad = [f"{name} ({n})" for name, n in counts.items() if n]
    summary = ("non-finite entries in " + ", ".join(bad) if bad
               else "every weight and bias is finite")
    return result("weights_finite", _passes(not bad), summary, non_finite_entries=counts)


def check_weights_bounded(W, b, B, bound: float) -> dict:
    """Every ``|w| <= bound`` (dimensionless); a non-finite entry is unbounded."""
    largest = {}
    for name, w in named_weights(W, b, B).items():
        w = np.asarray(w, dtype=float)
        largest[name] = float(np.max(np.abs(w))) if np.all(np.isfinite(w)) else math.inf
    bad = [f"{name} ({value:.3g})" for name, value in largest.items() if not value <= bound]
    summary = (f"|w| above {bound:g} in " + ", ".join(bad) if bad
               else f"every |w| <= {bound:g} (largest {max(largest.values()):.3g})")
    return result("weights_bounded", _passes(not bad), summary, bound=bound, max_abs=largest)


def check_time_scales(judged_ms: dict[str, float], tau_range_ms: list[float],
                      settling_residual: float | None, settle_tolerance: float,
                      relative_updates: dict[str, float], max_relative_update: float,
                      **numbers) -> dict:
    """Time constants, settling within a presentation, and plasticity per presentation.

    ``judged_ms``: time constants (ms) that must lie within ``tau_range_ms``;
    ``settling_residual``: largest ``|r - r_inf|`` when a presentation ends (None: does not
    apply; ``numbers["settling"]`` says why), at most ``settle_tolerance``;
    ``relative_updates``: largest change of each weight matrix in one presentation relative
    to its norm, at most ``max_relative_update``. ``numbers`` go into the evidence.
    """
    low, high = tau_range_ms
    failures = [f"{name} = {value:g} ms outside [{low:g}, {high:g}] ms"
                for name, value in judged_ms.items() if not low <= value <= high]
    numbers |= {"tau_range_ms": list(tau_range_ms)}
    if settling_residual is not None:
        numbers |= {"settling_residual": settling_residual, "settle_tolerance": settle_tolerance}
        if not settling_residual <= settle_tolerance:
            failures.append(f"not settled when presentations end (|r - r_inf| up to "
                            f"{settling_residual:.3g})")
    numbers |= {"max_relative_update": relative_updates,
                "relative_update_bound": max_relative_update}
    fast = [f"{name} {value:.3g}" for name, value in relative_updates.items()
            if not value <= max_relative_update]
    if fast:
        failures.append("one presentation changes a matrix by more than "
                        f"{100 * max_relative_update:g} % of its norm: " + ", ".join(fast))
    if failures:
        summary = "; ".join(failures)
    else:
        taus = (", ".join(f"{name} = {value:g} ms" for name, value in judged_ms.items())
                + " in range" if judged_ms else "no neuron time constant (instantaneous neurons)")
        settled = ("settling n/a" if settling_residual is None
                   else f"settled to {settling_residual:.2g}")
        summary = (f"{taus}, {settled}, largest update per presentation "
                   f"{100 * max(relative_updates.values(), default=0):.2g} % of a matrix's norm")
    return result("time_scales", _passes(not failures), summary, **numbers)


def check_alignment_reached(rule_name: str, transports: bool, initial_deg: list[float],
                            final_deg: list[float], threshold_deg: float, steps: int) -> dict:
    """Every angle(B_l, W_l^T) below ``threshold_deg`` at the end of the run."""
    numbers = {"initial_angle_deg": initial_deg, "final_angle_deg": final_deg,
               "threshold_deg": threshold_deg, "engaged_presentations": steps}
    if transports:
        return result("alignment_reached", NA, f"rule {rule_name!r} sets B = W^T by "
                      "construction: there is no alignment to reach", **numbers)
    ok = all(angle < threshold_deg for angle in final_deg)   # False for NaN
    summary = ("angle(B, W^T) per layer " + ", ".join(f"{a:.1f}°" for a in final_deg)
               + f" after {steps} engaged presentations (from "
               + ", ".join(f"{a:.1f}°" for a in initial_deg) + "); "
               + ("all" if ok else "not all") + f" below {threshold_deg:g}°")
    return result("alignment_reached", _passes(ok), summary, **numbers)


def chance_accuracy(y_test: Array) -> tuple[float, float]:
    """Share of the most frequent test class, and its binomial standard error."""
    shares = np.bincount(np.argmax(y_test, axis=1)) / len(y_test)
    p = float(np.max(shares))
    return p, math.sqrt(p * (1 - p) / len(y_test))


def check_task_performance(y_test: Array | None, initial_accuracy, final_accuracy,
                           min_accuracy: float, task: str = "") -> dict:
    """Test accuracy of the final weights at least ``min_accuracy``, or above chance (the
    most frequent class of the one-hot ``y_test``); n/a for regression (``y_test`` None)."""
    if y_test is None:
        return result("task_performance", NA, f"{task!r} is a regression task: no "
                      "accuracy (the test loss is in the report)")
    chance, se = chance_accuracy(y_test)
    required = min_accuracy or chance + CHANCE_MARGIN_SE * se
    ok = final_accuracy is not None and final_accuracy >= required
    summary = (f"test accuracy {100 * (final_accuracy or 0):.1f} % (from "
               f"{100 * (initial_accuracy or 0):.1f} %), "
               + ("at least" if ok else "below") + f" the required {100 * required:.1f} %"
               + ("" if min_accuracy else f" (chance {100 * chance:.1f} % + "
                  f"{CHANCE_MARGIN_SE:g} standard errors)"))
    return result("task_performance", _passes(ok), summary, test_accuracy=final_accuracy,
                  initial_test_accuracy=initial_accuracy, required=required,
                  chance=chance, n_test=len(y_test))


# --- the report ------------------------------------------------------------------------

#: What each check means, for plausibility.md.
MEANINGS = {
    "no_weight_transport": "No synapse may read another synapse's weight: every plastic "
    "synapse group must learn from its own variables, its pre- and postsynaptic neurons' "
    "variables and broadcast scalars (phase gates, learning rates). The locality audit "
    "parses the Brian2 code of every plastic group and follows summed variables; a rule "
    "that copies W into B (backprop) fails.",
    "dale_principle": "A neuron releases one transmitter, so all its outgoing synapses share "
    "one sign. Per synapse group, the fraction of presynaptic neurons whose outgoing "
    "weights have both signs; a standard circuit's W and B mix signs freely. Spiking "
    "circuits: per Brian2 synapse group, weights read by their effect on the target "
    "(inhibitory relays' groups subtract).",
    "rates_in_bounds": "Firing rates (activity r times check.max_rate_hz; spiking "
    "circuits: spike counts per neuron and presentation, every spiking population) stay "
    "within physiological bounds, in engaged and in mirror presentations.",
    "rates_non_negative": "A firing rate cannot be negative. Signed activities (tanh units, "
    "a linear output, zero-mean mirror noise added to a rate) break this. The feedback "
    "populations carry signed errors; their range is reported, not judged. Spiking "
    "circuits carry signed values around a baseline rate: their spike-count rates are "
    "non-negative by construction, and the check reports the lowest.",
    "weights_finite": "No weight or bias is NaN or infinite after the run.",
    "weights_bounded": "No synaptic weight grows beyond check.weight_bound: a synapse of "
    "weight 10 alone moves its target's net input by 10 at full presynaptic rate.",
    "time_scales": "Rate neurons' time constant is physiological, every presentation is long "
    "enough for the circuit to settle, and no single presentation rewrites a large part of a "
    "weight matrix. Spiking circuits: synaptic and trace time constants in range, settling "
    "n/a, the change per presentation measured from weight snapshots.",
    "alignment_reached": "The feedback weights B came into alignment with W^T: every layer's "
    "angle is below check.angle_threshold_deg at the end of the run (a brief run is often "
    "too short; run with --steps 0 for the whole schedule).",
    "task_performance": "The circuit learned the task: test accuracy of the final weights at "
    "least check.min_accuracy, or above chance.",
}


def markdown(report: dict) -> str:
    """The report as a readable Markdown page."""
    run = report["brief_run"]
    lines = [f"# Plausibility: {report['name']}, rule {report['rule']}", "",
             f"Circuit {'-'.join(map(str, report['sizes']))}, {report['neuron']} neurons, "
             f"seed {report['seed']}, on Brian2 {report['device']} (the config's engine: "
             f"{report['config_engine']}, device: {report['config_device']}).", "",
             f"{'Whole' if run['engaged'] == run['config_engaged'] else 'Brief'} run: "
             f"{run['engaged']} engaged and {run['mirror']} mirror presentations "
             f"of {run['presentation_ms']:g} ms ({run['initial_mirror_events']} initial mirror "
             f"events of the config's {run['config_initial_mirror_events']}; the config trains "
             f"on {run['config_engaged']} engaged presentations): {run['run_time_s']:.1f} s to run, "
             f"{report['check_time_s']:.1f} s for the whole check.",
             ""]
    if "spikes" in run:
        lines += [f"Spiking: rates from {sum(run['spikes'].values()):,} recorded spikes of "
                  f"{', '.join(run['spikes'])} (pools of {run['neurons_per_unit']} neurons "
                  "per unit), weights snapshotted at every presentation boundary.", ""]
    if report["not_enforced_by_circuit"]:
        lines += ["Not enforced by the circuit (shaped the initial weights only): "
                  + ", ".join(report["not_enforced_by_circuit"]) + ".", ""]
    counts = report["counts"]
    lines += [f"{counts[PASS]} pass, {counts[FAIL]} fail, {counts[NA]} n/a.", "",
              "| check | status | evidence |", "|---|---|---|"]
    lines += [f"| `{c['name']}` | **{c['status']}** | "
              + c["evidence"]["summary"].replace("|", "\\|") + " |" for c in report["checks"]]
    lines += ["", "## What the checks mean", ""]
    lines += [f"- `{name}`: {MEANINGS[name]}" for name in CHECKS]
    lines += ["", "The numbers behind each line are in `plausibility.json`; the bounds are "
              "the config's `[check]` section (in `config.toml`).", ""]
    return "\n".join(lines)


def table(report: dict) -> str:
    """A short plain-text table: check, status, evidence summary."""
    width = max(len(name) for name in CHECKS)
    return "\n".join(f"{c['name']:<{width}}  {c['status']:<4}  {c['evidence']['summary']}"
                     for c in report["checks"])
