"""Text tables of results, as Markdown: rules compared over seeds (:func:`summary_table`),
and the table writer the reports share (:func:`markdown_table`)."""
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
