"""Learning rules: how the feedback weights B are set or learned.

Adding a rule: one file here with a frozen dataclass subclassing
:class:`~mirrorlab.models.rules.base.Rule`, one line in :data:`RULES`, its
parameters in ``sims/config.py``, and a test (see CONTRIBUTING.md).
"""
from .base import Rule
from .bp import Backprop
from .fa import FeedbackAlignment
from .kp import KolenPollack
from .ss import SignSymmetry
from .wm import WeightMirror

RULES: dict[str, type[Rule]] = {
    "bp": Backprop,
    "fa": FeedbackAlignment,
    "ss": SignSymmetry,
    "wm": WeightMirror,
    "kp": KolenPollack,
}

__all__ = ["RULES", "Rule", "Backprop", "FeedbackAlignment", "SignSymmetry",
           "WeightMirror", "KolenPollack"]
