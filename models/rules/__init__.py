"""Learning rules: how the feedback weights B are set or learned.

Adding a rule: one file here (a frozen dataclass subclassing
:class:`~mirrorlab.models.rules.base.Rule`, see its protocol) and one line
``register(MyRule)`` below; its config section ``[rule.<name>]`` and its circuit forms
follow from the class (see CONTRIBUTING.md).
"""
from __future__ import annotations

from .base import CHAIN_RULE, FIXED, ErrorForm, Plasticity, Rule
from .bp import Backprop
from .fa import FeedbackAlignment
from .kp import KolenPollack
from .rlra import RecursiveLRA
from .ss import SignSymmetry
from .wm import WeightMirror

#: Every rule by its name, in the order configs and comparisons list them.
RULES: dict[str, type[Rule]] = {}


def register(rule: type[Rule]) -> type[Rule]:
    """Add ``rule`` to :data:`RULES` under ``rule.name`` (usable as a decorator)."""
    if not (isinstance(rule, type) and issubclass(rule, Rule)) or rule.name == Rule.name:
        raise TypeError(f"register: needs a Rule subclass with its own name (got {rule!r})")
    if RULES.get(rule.name, rule) is not rule:
        raise ValueError(f"register: a rule named {rule.name!r} is registered already")
    RULES[rule.name] = rule
    return rule


def unregister(rule: type[Rule]) -> None:
    """Remove ``rule`` from :data:`RULES` (a test's own rule, when the test ends)."""
    if RULES.get(rule.name) is rule:
        del RULES[rule.name]


register(Backprop)
register(FeedbackAlignment)
register(SignSymmetry)
register(WeightMirror)
register(KolenPollack)
register(RecursiveLRA)

__all__ = ["RULES", "Rule", "Plasticity", "FIXED", "ErrorForm", "CHAIN_RULE", "register",
           "unregister", "Backprop", "FeedbackAlignment", "SignSymmetry", "WeightMirror",
           "KolenPollack", "RecursiveLRA"]
