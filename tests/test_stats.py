"""The statistics of a claim, on synthetic outcomes whose answer is known."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mirrorlab.analysis.stats import Claim, bootstrap_ci, describe, evaluate, hedges_g

FAST = {"n_resamples": 999}     # the verdicts below do not depend on the resample count


def draw(mean, sd, n, seed):
    return np.random.default_rng(seed).normal(mean, sd, size=n)


# --- a true difference is found -----------------------------------------------------------

def test_a_mean_far_below_the_threshold_is_supported():
    result = evaluate(Claim("<", 20.0), draw(8.0, 0.5, 5, 0))
    assert result.verdict == "supported", result.reason
    assert result.ci_high < 20.0 and result.p_value < 1e-5
    assert result.test.startswith("one-sample t-test") and result.effect_size < -10


def test_a_true_improvement_over_the_baseline_is_supported():
    result = evaluate(Claim(">", 0.0, against="baseline"), draw(3.0, 1.0, 8, 1),
                      draw(0.0, 1.0, 8, 2))
    assert result.verdict == "supported", result.reason
    assert result.test.startswith("Welch t-test") and result.effect_size > 1.5
    assert result.ci_low > 0 and result.estimate == pytest.approx(3.0, abs=1.0)


def test_non_inferiority_within_the_margin_is_supported():
    """'not worse than the baseline by more than 2 points': mean(v) - mean(b) > -2."""
    baseline = draw(96.0, 0.3, 5, 3)
    variant = draw(95.5, 0.3, 5, 4)
    result = evaluate(Claim(">", -2.0, against="baseline"), variant, baseline)
    assert result.verdict == "supported", result.reason
    worse = evaluate(Claim(">", -2.0, against="baseline"), variant - 5.0, baseline)
    assert worse.verdict == "not supported", worse.reason


def test_the_opposite_effect_is_not_supported():
    result = evaluate(Claim("<", 20.0), draw(30.0, 1.0, 5, 5))
    assert result.verdict == "not supported" and "other side" in result.reason
    assert result.p_value > 0.99


# --- a null is not found --------------------------------------------------------------------

@pytest.mark.parametrize("claim", [Claim(">", 0.0, against="baseline"), Claim("<", 0.0)],
                         ids=["vs baseline", "vs threshold"])
def test_a_null_effect_is_rarely_called_supported(claim):
    """Under the null (no difference, or a mean exactly at the bound) the rate of
    'supported' verdicts stays at or below alpha = 0.05; the allowance is two binomial
    standard errors of 200 draws (0.031)."""
    rng = np.random.default_rng(7)
    supported = sum(
        evaluate(claim, rng.normal(size=5), rng.normal(size=5), **FAST).verdict == "supported"
        for _ in range(200))
    assert supported / 200 <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 200)


def test_a_mean_at_the_bound_is_inconclusive_and_says_why():
    values = np.array([19.0, 21.0, 20.5, 19.5, 20.0])
    result = evaluate(Claim("<", 20.0), values)
    assert result.verdict == "inconclusive" and "contains the bound 20" in result.reason


# --- too few seeds ------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_seeds_are_inconclusive_however_clear_the_data(n):
    variant = np.full(n, 5.0) + np.arange(n) * 0.01
    result = evaluate(Claim("<", 20.0), variant)
    assert result.verdict == "inconclusive" and "too few seeds" in result.reason


def test_too_few_baseline_seeds_are_inconclusive():
    result = evaluate(Claim(">", 0.0, against="baseline"), draw(10.0, 1.0, 5, 0),
                      np.array([0.0, 0.1]))
    assert result.verdict == "inconclusive" and "baseline has 2" in result.reason


# --- edge cases and building blocks ---------------------------------------------------------

def test_no_spread_across_seeds():
    assert evaluate(Claim("<", 20.0), [5.0, 5.0, 5.0]).verdict == "supported"
    assert evaluate(Claim("<", 20.0), [25.0, 25.0, 25.0]).verdict == "not supported"
    assert bootstrap_ci([5.0, 5.0, 5.0]) == (5.0, 5.0)


def test_hedges_g_known_value():
    # difference 1, pooled sd 1, J = 1 - 3 / (4 * 6 - 9) = 0.8
    assert hedges_g([1.0, 2.0, 3.0], [0.0, 1.0, 2.0]) == pytest.approx(0.8)


def test_describe_and_bootstrap_interval():
    x = draw(10.0, 2.0, 50, 11)
    summary = describe(x)
    assert summary.n == 50 and summary.mean == pytest.approx(np.mean(x))
    assert summary.ci_low < summary.mean < summary.ci_high
    # for 50 normal values the bootstrap interval is close to the t interval
    half_width = 1.96 * np.std(x, ddof=1) / np.sqrt(50)
    assert summary.ci_high - summary.ci_low == pytest.approx(2 * half_width, rel=0.2)
    assert bootstrap_ci(x) == bootstrap_ci(x)          # seeded: reproducible reports


def test_bad_claims_are_rejected():
    with pytest.raises(ValueError, match="claim.relation"):
        Claim("<=", 1.0)
    with pytest.raises(ValueError, match="claim.against"):
        Claim("<", 1.0, against="prior")
    with pytest.raises(ValueError, match="needs the baseline"):
        evaluate(Claim("<", 1.0, against="baseline"), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        evaluate(Claim("<", 1.0), [1.0, math.nan, 3.0])


# --- the verdict always agrees with its own numbers -------------------------------------------

finite = st.floats(-100, 100, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(st.lists(finite, min_size=0, max_size=7), st.lists(finite, min_size=0, max_size=7),
       st.sampled_from(["<", ">"]), st.floats(-50, 50), st.sampled_from(["threshold", "baseline"]))
def test_verdict_is_consistent_with_interval_and_p(variant, baseline, relation, bound, against):
    claim = Claim(relation, bound, against=against)
    result = evaluate(claim, variant, baseline if against == "baseline" else None, **FAST)
    groups = [variant] + ([baseline] if against == "baseline" else [])
    if min(len(g) for g in groups) < 3:
        assert result.verdict == "inconclusive"
    elif result.verdict == "supported":
        assert result.p_value < 0.05
        assert all(claim.holds(x) for x in (result.ci_low, result.ci_high))
    elif result.verdict == "not supported":
        assert not claim.holds(result.ci_low) and not claim.holds(result.ci_high)
