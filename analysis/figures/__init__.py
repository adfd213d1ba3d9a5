"""Publication figures from recorded runs, one module per kind of figure.

Every function reads recordings only: a run's ``metrics`` dict (as loaded from
``metrics.json``), lists of weight arrays, or ``final`` dicts; each writes its figure(s)
in the format asked (``png``, ``pdf``, ``svg``) and returns the paths it wrote
(:func:`alignment_figure` returns its Figure, for notebooks).
"""
from .circuit import plot_activity, plot_schedule, plot_spiking_transition
from .compare import VERDICT_COLORS, plot_compare, plot_outcomes
from .run import alignment_figure, plot_run, plot_weight_scatter
from .style import FORMATS, MAX_SCATTER_POINTS, RULE_COLORS, rule_colors

__all__ = ["FORMATS", "RULE_COLORS", "MAX_SCATTER_POINTS", "VERDICT_COLORS", "rule_colors",
           "plot_run", "alignment_figure", "plot_weight_scatter", "plot_compare", "plot_outcomes", "plot_schedule",
           "plot_activity", "plot_spiking_transition"]
