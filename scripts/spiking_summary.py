"""Summarise the spiking weight-mirror runs of a hypothesis (or scripts/spiking_seeds.py)
folder: a markdown table per group (mean +- sd over seeds of both final angles, the test
loss, the mean firing rates, and b/a: how strongly B mirrors negative against positive
weights, see :func:`negative_ratio`) and a figure of angle(B_l, W_l^T) over presentations.

    python scripts/spiking_summary.py RUNS_DIR [OUT.png]

RUNS_DIR holds GROUP/seed<k>/ results folders (``results/hypotheses/spiking_wm/runs``).
Rates are spike counts per neuron and second over the spikes.npz window (60
presentations around the first engaged one), per population; the table gives the lowest
and the highest population mean.
"""
import json
import re
import sys
from pathlib import Path

import numpy as np


def window_rates(folder: Path) -> dict[str, float]:
    """Mean rate per neuron (Hz) of every spiking population over the spikes.npz window."""
    path = folder / "spikes.npz"
    if not path.exists():
        return {}
    with np.load(path) as saved:
        first, stop = (int(k) for k in saved["window"])
        seconds = (stop - first) * float(saved["presentation_s"])
        names = sorted({key.rsplit(".", 1)[0] for key in saved.files if "." in key})
        return {name: len(saved[f"{name}.t_s"]) / (seconds * int(saved[f"{name}.n"])
                                                   * int(saved[f"{name}.pool"]))
                for name in names}


def negative_ratio(folder: Path) -> list[float]:
    """Per layer, ``b / a`` of the least-squares fit ``B = a [W^T]_+ - b [-W^T]_+`` of the final
    weights: 1 when positive and negative weights are mirrored alike (Dale's relays: < 1)."""
    with np.load(folder / "arrays.npz") as arrays:
        ratios = []
        for l in range(1, 100):
            if f"W{l}" not in arrays.files:
                break
            Wt, B = arrays[f"W{l}"].T, arrays[f"B{l}"]
            parts = np.stack([np.maximum(Wt, 0).ravel(), -np.maximum(-Wt, 0).ravel()], axis=1)
            (a, b), *_ = np.linalg.lstsq(parts, B.ravel(), rcond=None)
            ratios.append(float(b / a))
        return ratios


def group_rows(runs: Path) -> dict[str, list[dict]]:
    groups = {}
    for group in sorted(p for p in runs.iterdir() if p.is_dir()):
        rows = []
        for seed_dir in sorted(group.glob("seed*"), key=lambda p: int(p.name[4:])):
            metrics_path = seed_dir / "metrics.json"
            if not metrics_path.exists():
                continue
            metrics = json.loads(metrics_path.read_text())
            if not metrics.get("complete", True):
                continue
            rates = window_rates(seed_dir)
            config = (seed_dir / "config.toml").read_text() if (seed_dir / "config.toml").exists() else ""
            rows.append({"seed": int(seed_dir.name[4:]), "metrics": metrics,
                         "dale": re.search(r"^dale = true", config, re.M) is not None,
                         "angles": metrics["final"]["weight_angle_deg"],
                         "test_loss": metrics["final"]["test_loss"],
                         "neg_ratio": negative_ratio(seed_dir),
                         "rate_min": min(rates.values()) if rates else np.nan,
                         "rate_max": max(rates.values()) if rates else np.nan,
                         "rate_mean": np.mean(list(rates.values())) if rates else np.nan,
                         "wall_s": metrics.get("wall_time_s", np.nan),
                         "build_s": metrics.get("build_time_s", np.nan)})
        if rows:
            groups[group.name] = rows
    return groups


def pm(values, digits=1) -> str:
    values = np.asarray(values, dtype=float)
    sd = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {sd:.{digits}f}"


def table(groups: dict[str, list[dict]]) -> str:
    lines = ["| variant | seeds | angle(B₁,W₁ᵀ) ° | angle(B₂,W₂ᵀ) ° | max angle, worst seed ° "
             "| test loss | rates, lowest / highest population (Hz) | b/a per layer | run wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, rows in groups.items():
        angles = np.array([r["angles"] for r in rows])
        lines.append(
            f"| {name} | {', '.join(str(r['seed']) for r in rows)} | {pm(angles[:, 0])} "
            f"| {pm(angles[:, 1])} | {angles.max():.1f} "
            f"| {pm([r['test_loss'] for r in rows], 3)} "
            f"| {pm([r['rate_min'] for r in rows])} / {pm([r['rate_max'] for r in rows])} "
            f"| {' / '.join(f'{v:.2f}' for v in np.mean([r['neg_ratio'] for r in rows], 0))} "
            f"| {np.nanmedian([r['wall_s'] - r['build_s'] for r in rows]):.0f} |")
    return "\n".join(lines)


def figure(groups: dict[str, list[dict]], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = len(next(iter(groups.values()))[0]["angles"])
    fig, axes = plt.subplots(1, layers, figsize=(4.2 * layers, 3.2), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for color, (name, rows) in zip(colors, groups.items()):
        for k, ax in enumerate(np.atleast_1d(axes)):
            for n, row in enumerate(rows):
                history = row["metrics"]["history"]
                x = [h["presentation"] for h in history]
                y = [h["weight_angle_deg"][k] for h in history]
                # With Dale's law the weight monitors see the excitatory groups only: the
                # snapshots are angle(B_exc, W_exc^T); only the final point is signed.
                dale = row["dale"]
                label = (f"{name} (dashed: excitatory parts; ×: signed)" if dale else name)
                ax.plot(x[:-1] if dale else x, y[:-1] if dale else y, color=color, lw=1,
                        alpha=0.8, ls="--" if dale else "-", label=label if n == 0 else None)
                ax.plot(x[-1], y[-1], "x" if dale else ".", color=color, ms=5)
    for k, ax in enumerate(np.atleast_1d(axes)):
        ax.axhline(20, color="k", ls=":", lw=1)
        ax.set_title(f"angle(B{k + 1}, W{k + 1}ᵀ)")
        ax.set_xlabel("presentation (100 ms each)")
        ax.set_ylim(0, 95)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("degrees")
    np.atleast_1d(axes)[0].legend(frameon=False, fontsize=8)
    fig.suptitle("spiking weight mirror, linear teacher 20-50-10: one line per seed", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    runs = Path(sys.argv[1])
    groups = group_rows(runs)
    print(table(groups))
    for name, rows in groups.items():
        for r in rows:
            print(name, r["seed"], [round(a, 1) for a in r["angles"]], round(r["test_loss"], 3),
                  round(r["rate_min"], 1), round(r["rate_max"], 1))
    if len(sys.argv) > 2:
        figure(groups, Path(sys.argv[2]))
        print(sys.argv[2])


if __name__ == "__main__":
    main()
