"""Statistics of a claim about an outcome measured over seeds.

Pure functions on arrays of outcomes (one value per seed); nothing here knows
what a run is. A :class:`Claim` is ``estimate <relation> bound`` where the
estimate is either

- ``mean(variant)`` (``against = "threshold"``), e.g. "the variant's final
  angle is below 20 degrees": ``Claim("<", 20.0)``; or
- ``mean(variant) - mean(baseline)`` (``against = "baseline"``), e.g. "the
  variant's accuracy is not worse than the baseline's by more than 2 points":
  ``Claim(">", -2.0, against="baseline")``.

:func:`evaluate` gives the estimate, its bootstrap confidence interval, a
one-sided test in the claimed direction with an effect size, and a verdict.

Verdict rules
-------------
With ``alpha`` (default 0.05) and a ``confidence`` (default 0.95) interval:

1. **inconclusive** if a group has fewer than ``min_seeds`` (default 3) values:
   neither the test nor the interval means much with two seeds.
2. **supported** if the whole interval lies on the claimed side of the bound
   (``high < bound`` for ``<``, ``low > bound`` for ``>``) *and* the test
   rejects "the claim is false" at ``p < alpha``.
3. **not supported** if the whole interval lies on the other side of the bound
   or touches it from there (``low >= bound`` for ``<``, ``high <= bound``
   for ``>``): the data point against the claim.
4. **inconclusive** otherwise: the interval straddles the bound, or it lies
   on the claimed side while ``p >= alpha`` (the bootstrap and the t-test
   disagree, as they can with few seeds). The reason says which.

Requiring both the two-sided 95 % interval and the one-sided test is
deliberately conservative: a claim is called supported only when two
different procedures agree.

Tests
-----
- against a threshold: one-sample t-test of ``H0: mean = bound`` against the
  claimed one-sided alternative (``scipy.stats.ttest_1samp``); effect size
  Cohen's ``d = (mean - bound) / sd`` (sd with ``ddof = 1``): how many
  standard deviations across seeds the mean lies from the bound.
- against the baseline: Welch's t-test (``scipy.stats.ttest_ind`` with
  ``equal_var=False``) of ``variant - bound`` against ``baseline``, one-sided
  in the claimed direction, i.e. ``H0: mean(v) - mean(b) = bound``; effect size
  Hedges' ``g`` of the raw difference ``mean(v) - mean(b)`` (pooled sd, small
  sample correction ``J = 1 - 3 / (4 (n_v + n_b) - 9)``). Seeds are shared
  between the groups in mirrorlab, so a paired test would be more powerful;
  Welch's test ignores the pairing and is the conservative choice.

Without any spread across seeds the t statistic is infinite and ``p`` is 0
(or 1) when the mean differs from the bound; the interval is then the point
itself.

The bootstrap interval is ``scipy.stats.bootstrap`` (BCa, 9999 resamples,
seeded so the report is reproducible; resampling each group on its own in the
two-group case); where BCa is undefined it falls back to the percentile
interval.

Examples
--------
>>> import numpy as np
>>> result = evaluate(Claim("<", 20.0), np.array([8.1, 7.9, 8.4, 8.0, 8.2]))
>>> result.verdict
'supported'
>>> evaluate(Claim("<", 20.0), np.array([8.1, 7.9])).verdict
'inconclusive'
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

__all__ = ["Claim", "Summary", "Evaluation", "describe", "bootstrap_ci", "hedges_g",
           "evaluate", "RELATIONS", "AGAINST", "VERDICTS"]

RELATIONS = ("<", ">")
AGAINST = ("threshold", "baseline")
VERDICTS = ("supported", "not supported", "inconclusive")

#: Fewest values per group for a verdict other than inconclusive.
MIN_SEEDS = 3
N_RESAMPLES = 9999


@dataclass(frozen=True)
class Claim:
    """``estimate relation bound``; see the module docstring.

    ``bound`` is in the outcome's units (degrees, accuracy points, epochs).
    """

    relation: str
    bound: float
    against: str = "threshold"

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"claim.relation: must be one of {', '.join(RELATIONS)} "
                             f"(got {self.relation!r})")
        if self.against not in AGAINST:
            raise ValueError(f"claim.against: must be one of {', '.join(AGAINST)} "
                             f"(got {self.against!r})")
        if not math.isfinite(self.bound):
            raise ValueError(f"claim.bound: must be finite (got {self.bound!r})")

    @property
    def alternative(self) -> str:
        """The scipy ``alternative`` of the one-sided test of this claim."""
        return "less" if self.relation == "<" else "greater"

    def holds(self, value: float) -> bool:
        return value < self.bound if self.relation == "<" else value > self.bound

    def text(self, quantity: str = "outcome", unit: str = "") -> str:
        """The claim in words, e.g. ``mean(variant) - mean(baseline) of angle > -2 points``."""
        estimate = ("mean(variant)" if self.against == "threshold"
                    else "mean(variant) − mean(baseline)")
        return f"{estimate} of {quantity} {self.relation} {self.bound:g}{unit}"


@dataclass(frozen=True)
class Summary:
    """One group's values: ``n``, ``mean``, ``sd`` (ddof 1; 0 for one value) and
    the bootstrap interval ``[ci_low, ci_high]`` of the mean."""

    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Evaluation:
    """The claim's estimate, interval, test and verdict (see the module docstring)."""

    estimate: float
    ci_low: float
    ci_high: float
    test: str
    statistic: float
    df: float
    p_value: float
    effect_size_name: str
    effect_size: float
    verdict: str
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def _values(x) -> np.ndarray:
    x = np.asarray(x, dtype=float).ravel()
    if not np.all(np.isfinite(x)):
        raise ValueError(f"outcomes must be finite (got {x.tolist()})")
    return x


def bootstrap_ci(variant, baseline=None, *, confidence: float = 0.95,
                 n_resamples: int = N_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of ``mean(variant)`` or of ``mean(variant) - mean(baseline)``.

    BCa (``scipy.stats.bootstrap``), percentile where BCa is undefined; a
    point interval when no resample can differ (no spread in any group).
    NaNs for a group of fewer than 2 values.
    """
    groups = [_values(variant)] + ([] if baseline is None else [_values(baseline)])
    if min(len(g) for g in groups) < 2:
        return math.nan, math.nan
    if all(np.ptp(g) == 0 for g in groups):
        point = groups[0][0] - (groups[1][0] if len(groups) == 2 else 0.0)
        return float(point), float(point)

    def statistic(*samples, axis):
        value = np.mean(samples[0], axis=axis)
        return value - np.mean(samples[1], axis=axis) if len(samples) == 2 else value

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # BCa warns where it is undefined; checked below
            interval = stats.bootstrap(tuple(groups), statistic, n_resamples=n_resamples,
                                       confidence_level=confidence, method=method,
                                       vectorized=True, rng=np.random.default_rng(seed)
                                       ).confidence_interval
        if np.isfinite(interval.low) and np.isfinite(interval.high):
            break
    return float(interval.low), float(interval.high)


def describe(values, *, confidence: float = 0.95, n_resamples: int = N_RESAMPLES) -> Summary:
    """Mean, sd and bootstrap interval of the mean of one group (NaN where undefined)."""
    x = _values(values)
    if x.size == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    low, high = bootstrap_ci(x, confidence=confidence, n_resamples=n_resamples)
    sd = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    return Summary(int(x.size), float(np.mean(x)), sd, low, high)


def hedges_g(variant, baseline) -> float:
    """Hedges' g of ``mean(variant) - mean(baseline)``: Cohen's d with the pooled sd,
    times ``J = 1 - 3 / (4 (n1 + n2) - 9)``. ±inf (or nan) without spread."""
    v, b = _values(variant), _values(baseline)
    n1, n2 = len(v), len(b)
    pooled = math.sqrt(((n1 - 1) * np.var(v, ddof=1) + (n2 - 1) * np.var(b, ddof=1))
                       / (n1 + n2 - 2))
    diff = float(np.mean(v) - np.mean(b))
    d = diff / pooled if pooled > 0 else math.copysign(math.inf, diff) if diff else math.nan
    return d * (1.0 - 3.0 / (4.0 * (n1 + n2) - 9.0))


def _cohens_d(x: np.ndarray, bound: float) -> float:
    sd, diff = float(np.std(x, ddof=1)), float(np.mean(x) - bound)
    return diff / sd if sd > 0 else math.copysign(math.inf, diff) if diff else math.nan


def evaluate(claim: Claim, variant, baseline=None, *, alpha: float = 0.05,
             confidence: float = 0.95, min_seeds: int = MIN_SEEDS,
             n_resamples: int = N_RESAMPLES) -> Evaluation:
    """Test ``claim`` on the variant's values (and the baseline's, if the claim is
    against the baseline); the verdict follows the rules in the module docstring."""
    v = _values(variant)
    if claim.against == "baseline":
        if baseline is None:
            raise ValueError("a claim against the baseline needs the baseline's values")
        b = _values(baseline)
        groups = {"variant": v, "baseline": b}
    else:
        b, groups = None, {"variant": v}

    too_few = [f"{name} has {len(x)}" for name, x in groups.items() if len(x) < min_seeds]
    if min(len(x) for x in groups.values()) < 2:     # no spread to test against
        estimate = math.nan
        if all(len(x) for x in groups.values()):
            estimate = float(np.mean(v) - (np.mean(b) if b is not None else 0.0))
        return Evaluation(estimate, math.nan, math.nan, _test_name(claim), math.nan, math.nan,
                          math.nan, _effect_name(claim), math.nan, "inconclusive",
                          f"too few seeds: {', '.join(too_few)} (need >= {min_seeds})")

    low, high = bootstrap_ci(v, b, confidence=confidence, n_resamples=n_resamples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # no spread: scipy warns, returns t = ±inf, p = 0 or 1
        if b is None:
            result = stats.ttest_1samp(v, popmean=claim.bound, alternative=claim.alternative)
            estimate, effect = float(np.mean(v)), _cohens_d(v, claim.bound)
        else:
            result = stats.ttest_ind(v - claim.bound, b, equal_var=False,
                                     alternative=claim.alternative)
            estimate, effect = float(np.mean(v) - np.mean(b)), hedges_g(v, b)
    p = float(result.pvalue)
    verdict, reason = _verdict(claim, estimate, low, high, p, alpha, confidence, too_few,
                               min_seeds)
    return Evaluation(estimate, low, high, _test_name(claim), float(result.statistic),
                      float(result.df), p, _effect_name(claim), float(effect), verdict, reason)


def _test_name(claim: Claim) -> str:
    side = f"one-sided ({claim.alternative})"
    return (f"one-sample t-test, {side}" if claim.against == "threshold"
            else f"Welch t-test, {side}")


def _effect_name(claim: Claim) -> str:
    return "Cohen's d vs bound" if claim.against == "threshold" else "Hedges' g"


def _verdict(claim, estimate, low, high, p, alpha, confidence, too_few, min_seeds):
    interval = f"the {100 * confidence:g}% CI [{low:.3g}, {high:.3g}]"
    if too_few:
        return "inconclusive", f"too few seeds: {', '.join(too_few)} (need >= {min_seeds})"
    if math.isnan(p) or math.isnan(low):
        return "inconclusive", "the test or the interval is undefined for these values"
    bound = f"{claim.bound:g}"
    claimed_side = high < claim.bound if claim.relation == "<" else low > claim.bound
    other_side = low >= claim.bound if claim.relation == "<" else high <= claim.bound
    if claimed_side and p < alpha:
        return "supported", (f"{interval} lies {'below' if claim.relation == '<' else 'above'} "
                             f"{bound} and p = {p:.3g} < {alpha:g}")
    if other_side:
        return "not supported", (f"{interval} lies on the other side of {bound} "
                                 f"(estimate {estimate:.3g}, p = {p:.3g})")
    if claimed_side:
        return "inconclusive", (f"{interval} lies on the claimed side of {bound} but "
                                f"p = {p:.3g} >= {alpha:g}")
    return "inconclusive", f"{interval} contains the bound {bound} (p = {p:.3g})"
