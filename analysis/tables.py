"""Tables of results: rules compared over seeds as Markdown (:func:`summary_table`), the
table writer the reports share (:func:`markdown_table`), and a run's history as a pandas
DataFrame (:func:`history_frame`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def mean_std(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> str:
    """'mean ± std' of the non-None values (sample std, 0 for one value); 'n/a' if none."""
    data = np.array([v for v in values if v is not None], dtype=float) * scale
    if data.size == 0:
        return "n/a"
    std = data.std(ddof=1) if data.size > 1 else 0.0
    return f"{data.mean():.{digits}f} ± {std:.{digits}f}"


def _layer_angle(final: Mapping, layer: int) -> float | None:
    angles = final.get("weight_angle_deg") or []
    return angles[layer] if layer < len(angles) else None


def markdown_table(rows: list[list[str]]) -> str:
    """Markdown table with padded columns; the first row is the header."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def summary_table(summary: Mapping[str, Sequence[Mapping]]) -> str:
    """Markdown table of final results per rule.

    Parameters
    ----------
    summary : dict of str to list of dict
        Rule name -> ``final`` dicts (one per seed), each with
        ``test_accuracy`` (fraction in [0, 1], or None for regression) and
        ``weight_angle_deg`` (list, degrees, input side first).

    Returns
    -------
    str
        Columns: rule, seeds, test accuracy (%) and the weight angle of each
        layer (degrees), each as mean ± sample standard deviation across
        seeds (std 0 for a single seed; "n/a" when nothing was recorded).
    """
    n_layers = max(
        (len(f.get("weight_angle_deg") or []) for finals in summary.values() for f in finals),
        default=0,
    )
    header = ["rule", "seeds", "test accuracy (%)"] + [f"W{l + 1} angle (deg)" for l in range(n_layers)]
    rows = [header]
    for rule, finals in summary.items():
        row = [rule, str(len(finals)), mean_std([f.get("test_accuracy") for f in finals], scale=100.0)]
        row += [mean_std([_layer_angle(f, l) for f in finals], digits=1) for l in range(n_layers)]
        rows.append(row)
    return markdown_table(rows)


#: Per-layer fields of a history entry (lists, input side first).
LAYER_FIELDS = ("weight_angle_deg", "delta_angle_deg", "sign_concordance", "norm_ratio")


def history_frame(metrics: Mapping):
    """A run's history as a pandas DataFrame: one row per checkpoint and layer.

    Columns: ``step`` (engaged steps done), ``epoch``, ``presentation`` (circuits only),
    ``layer`` (1 = input -> first hidden), the layer's ``weight_angle_deg`` (angle between
    B_l and W_l^T, degrees), ``delta_angle_deg`` (delivered against backprop error,
    degrees), ``sign_concordance`` (fraction), ``norm_ratio`` (|B_l| / |W_l|), and the
    checkpoint's ``train_loss``, ``test_loss`` and ``test_accuracy`` (fraction; None for
    regression) repeated on each of its layers' rows.
    """
    import pandas as pd   # imported on use: the command line never needs it

    rows = []
    for entry in metrics.get("history") or []:
        checkpoint = {key: value for key, value in entry.items() if key not in LAYER_FIELDS}
        layers = len(entry.get("weight_angle_deg") or [])
        for layer in range(layers):
            rows.append({**checkpoint, "layer": layer + 1,
                         **{key: (entry.get(key) or [None] * layers)[layer]
                            for key in LAYER_FIELDS}})
    first = ["step", "epoch", "presentation", "layer", *LAYER_FIELDS,
             "train_loss", "test_loss", "test_accuracy"]
    frame = pd.DataFrame(rows)
    return frame[[c for c in first if c in frame] + [c for c in frame if c not in first]]
