"""Tests for mirrorlab.analysis.figures and .tables (figures from synthetic recordings)."""

import numpy as np
import pytest

from mirrorlab.analysis import figures as P
from mirrorlab.analysis import tables
from mirrorlab.analysis.figures import compare, run, style

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAGIC = {"png": PNG_MAGIC, "pdf": b"%PDF", "svg": b"<?xml"}


def fake_metrics(rule="wm", seed=0, n_steps=6, every=10, regression=False, **extra):
    """A metrics dict shaped like metrics.json, with angles falling over training."""
    rng = np.random.default_rng(seed)
    history = []
    for i in range(n_steps):
        frac = i / max(n_steps - 1, 1)
        history.append(
            {
                "step": i * every,
                "epoch": i * every / 50.0,
                "weight_angle_deg": [90.0 - 80.0 * frac + rng.normal(), 88.0 - 70.0 * frac],
                "delta_angle_deg": [85.0 - 60.0 * frac, 80.0 - 50.0 * frac],
                "sign_concordance": [0.5 + 0.4 * frac, 0.5 + 0.3 * frac],
                "norm_ratio": [1.0, 1.0 + frac],
                "train_loss": 1.2 - frac,
                "test_loss": 1.3 - frac,
                "test_accuracy": None if regression else 0.1 + 0.8 * frac,
            }
        )
    return {
        "rule": rule,
        "engine": "matrix",
        "seed": seed,
        "history": history,
        "final": {
            "test_accuracy": history[-1]["test_accuracy"],
            "weight_angle_deg": history[-1]["weight_angle_deg"],
        },
        "complete": True,
        **extra,
    }


def assert_written(paths, fmt="png"):
    assert paths, "no paths returned"
    for path in paths:
        assert path.exists() and path.stat().st_size > 0
        assert path.suffix == f".{fmt}"
        head = path.read_bytes()[:64]
        assert head.startswith(MAGIC[fmt]) or (fmt == "svg" and b"<svg" in path.read_bytes()[:400])


# ------------------------------------------------------------------ plot_run


def test_plot_run_writes_png_and_closes_figures(tmp_path):
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    metrics = fake_metrics(sizes=[64, 100, 10], mirror_intervals=[[0, 10], [30, 40]])
    paths = P.plot_run(metrics, tmp_path / "new" / "dir")
    assert paths == [tmp_path / "new" / "dir" / "alignment.png"]
    assert_written(paths)
    assert len(plt.get_fignums()) == before


@pytest.mark.parametrize("fmt, regression", [("pdf", True), ("svg", False)])
def test_plot_run_vector_formats_and_regression(tmp_path, fmt, regression):
    """pdf/svg output; the pdf case is a regression run (test_accuracy None: losses only)."""
    metrics = fake_metrics(regression=regression)
    assert P.plot_run(metrics, tmp_path, fmt=fmt) == [tmp_path / f"alignment.{fmt}"]
    assert_written([tmp_path / f"alignment.{fmt}"], fmt)


def test_plot_run_rejects_bad_format_and_empty_history(tmp_path):
    with pytest.raises(ValueError, match="fmt"):
        P.plot_run(fake_metrics(), tmp_path, fmt="jpg")
    with pytest.raises(ValueError, match="history"):
        P.plot_run({"rule": "wm", "history": []}, tmp_path)
    assert not list(tmp_path.iterdir())


def test_layer_labels_use_sizes_when_they_fit():
    assert style.layer_labels(2, [64, 100, 10]) == ["layer 1 (64→100)", "layer 2 (100→10)"]
    assert style.layer_labels(2, None) == ["W1", "W2"]
    assert style.layer_labels(2, [64, 10]) == ["W1", "W2"]


# ------------------------------------------------------------------ plot_weight_scatter


def test_plot_weight_scatter_png_without_suffix(tmp_path):
    rng = np.random.default_rng(0)
    W_list = [rng.normal(size=(120, 60)), rng.normal(size=(10, 120))]  # 7200 entries: subsampled
    B_list = [0.5 * W_list[0].T + 0.1 * rng.normal(size=(60, 120)), rng.normal(size=(120, 10))]
    paths = P.plot_weight_scatter(W_list, B_list, tmp_path / "scatter", title="after training")
    assert paths == [tmp_path / "scatter.png"]
    assert_written(paths)


def test_plot_weight_scatter_pdf_and_errors(tmp_path):
    W = np.arange(6.0).reshape(2, 3)
    assert_written(P.plot_weight_scatter([W], [W.T], tmp_path / "s.pdf"), "pdf")
    with pytest.raises(ValueError, match="fmt"):
        P.plot_weight_scatter([W], [W.T], tmp_path / "s.gif")
    with pytest.raises(ValueError, match="layer 0"):
        P.plot_weight_scatter([W], [W], tmp_path / "s.png")


def test_subsample_is_fixed_and_bounded():
    x = np.arange(20000.0)
    xs, ys = run._subsample(x, -x)
    assert xs.size == P.MAX_SCATTER_POINTS
    np.testing.assert_array_equal(ys, -xs)
    np.testing.assert_array_equal(run._subsample(x, x)[0], xs)


def test_least_squares_slope_through_origin():
    x = np.array([1.0, 2.0, -3.0])
    assert run._slope_through_origin(x, 2.5 * x) == pytest.approx(2.5)
    assert run._slope_through_origin(np.zeros(3), x) == 0.0


# ------------------------------------------------------------------ plot_compare


def runs_by_rule(regression=False):
    return {
        rule: [fake_metrics(rule, seed, n_steps=5 + seed, regression=regression) for seed in range(3)]
        for rule in ("bp", "fa", "wm", "kp", "custom")
    }


def test_plot_compare_writes_both_figures(tmp_path):
    paths = P.plot_compare(runs_by_rule(), tmp_path)
    assert [p.name for p in paths] == ["compare_weight_angle.png", "compare_accuracy.png"]
    assert_written(paths)


def test_plot_compare_regression_svg(tmp_path):
    assert_written(P.plot_compare(runs_by_rule(regression=True), tmp_path, fmt="svg"), "svg")


def test_plot_compare_rejects_bad_format(tmp_path):
    with pytest.raises(ValueError, match="fmt"):
        P.plot_compare(runs_by_rule(), tmp_path, fmt="eps")


def test_seed_curves_use_common_steps():
    runs = [fake_metrics(seed=0, n_steps=3), fake_metrics(seed=1, n_steps=5)]
    steps, curves = compare._seed_curves(runs, "test_accuracy", None)
    np.testing.assert_array_equal(steps, [0, 10, 20])
    assert curves.shape == (2, 3)


def test_rule_colors_fixed_and_distinct():
    colors = style.rule_colors(["bp", "fa", "ss", "wm", "kp", "x", "y"])
    assert colors["bp"] == "black" and colors["wm"] == "tab:blue" and colors["kp"] == "tab:green"
    assert colors["fa"] == "tab:red" and colors["ss"] == "tab:orange"
    assert len(set(colors.values())) == 7


# ------------------------------------------------------------------ summary_table


def test_summary_table_means_and_rules():
    summary = {
        "wm": [
            {"test_accuracy": 0.90, "weight_angle_deg": [10.0, 20.0]},
            {"test_accuracy": 0.80, "weight_angle_deg": [14.0, 30.0]},
        ],
        "fa": [{"test_accuracy": 0.70, "weight_angle_deg": [60.0, 70.0]}],
    }
    table = tables.summary_table(summary)
    lines = table.splitlines()
    assert "rule" in lines[0] and "W2 angle (deg)" in lines[0]
    wm_row = next(line for line in lines if line.startswith("| wm"))
    assert "85.00 ± 7.07" in wm_row  # mean of 90 % and 80 %, sample std
    assert "12.0 ± 2.8" in wm_row and "25.0 ± 7.1" in wm_row
    fa_row = next(line for line in lines if line.startswith("| fa"))
    assert "70.00 ± 0.00" in fa_row and "60.0 ± 0.0" in fa_row
    assert len({len(line) for line in lines}) == 1  # aligned columns


def test_summary_table_regression_shows_na():
    table = tables.summary_table({"kp": [{"test_accuracy": None, "weight_angle_deg": [5.0]}]})
    assert "n/a" in table and "kp" in table and "5.0 ± 0.0" in table


def test_plot_outcomes_draws_every_group_with_boundary(tmp_path):
    values = {"baseline": [3.0, 3.5, 3.2], "variant": [10.0, 11.0, 12.5], "failed": []}
    (path,) = P.plot_outcomes(values, tmp_path / "outcomes", ylabel="angle (deg)",
                              intervals={"baseline": (3.0, 3.4), "variant": (10.0, 12.0)},
                              boundary=8.0, verdicts={"variant": "not supported"},
                              title="a claim")
    assert path.suffix == ".png" and path.read_bytes().startswith(PNG_MAGIC)
    (svg,) = P.plot_outcomes({"only": [1.0]}, tmp_path / "one.svg", ylabel="x")
    assert svg.read_bytes().startswith(b"<?xml")


# ------------------------------------------------------------------ plausible circuit


def fake_check_report(populations=("forward_0", "noise_0", "feedback_inh_1")):
    rates = {name: {"engaged": {"min_hz": 30.0 + k, "mean_hz": 40.0, "max_hz": 55.0 + k},
                    "mirror": {"min_hz": 5.0, "mean_hz": 40.0, "max_hz": 75.0}}
             for k, name in enumerate(populations)}
    checks = [{"name": "rates_in_bounds", "status": "pass",
               "evidence": {"summary": "", "bounds_hz": [0.0, 200.0], "populations": rates}}]
    return {"name": "plausible", "seed": 0, "counts": {"pass": 9, "fail": 0, "n/a": 0},
            "checks": checks}


def test_plausible_circuit_figure_draws_every_population_beside_the_run(tmp_path):
    from mirrorlab.analysis.figures.plausible import (plausible_circuit_figure,
                                                      plot_plausible_circuit)
    report = fake_check_report()
    fig = plausible_circuit_figure(report, fake_metrics(sizes=[4, 3, 2]))
    rates_axis = fig.axes[0]
    assert [t.get_text() for t in rates_axis.get_yticklabels()] == list(
        report["checks"][0]["evidence"]["populations"])
    assert "9 checks pass" in fig._suptitle.get_text()
    assert_written(plot_plausible_circuit(report, fake_metrics(), tmp_path))
    assert (tmp_path / "plausibility.png").exists()
