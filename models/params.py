"""Parameters that check themselves: every frozen dataclass of mirrorlab (a learning rule,
a config section) declares each field's allowed values once, beside its default, and
:func:`check_fields` reads those declarations.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Noise:
...     sigma: float = parameter(1.0, positive)
>>> check_fields(Noise(sigma=-1.0), "rule.wm")
Traceback (most recent call last):
...
mirrorlab.models.params.ParameterError: rule.wm.sigma: must be > 0 (got -1.0)
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable


class ParameterError(ValueError):
    """A parameter has a wrong name, type or value; the message names it as
    ``section.field`` (the config field a user would change), also kept as ``where``."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(message)
        self.where = where


@dataclass(frozen=True)
class Allowed:
    """What a field accepts: ``test(value)`` is true, else ``must`` says what is allowed."""

    test: Callable[[Any], bool]
    must: str

    def check(self, where: str, value: Any) -> None:
        require(self.test(value), where, self.must, value)


def require(ok: bool, where: str, must: str, value: Any) -> None:
    """Raise :class:`ParameterError` ``"{where}: {must} (got {value!r})"`` unless ``ok``."""
    if not ok:
        raise ParameterError(f"{where}: {must} (got {value!r})", where)


def parameter(default: Any, *allowed: Allowed) -> Any:
    """A dataclass field with a default and the :class:`Allowed` values it is checked against
    (lists: give a callable that makes the default)."""
    if callable(default):
        return dataclasses.field(default_factory=default, metadata={"allowed": allowed})
    return dataclasses.field(default=default, metadata={"allowed": allowed})


def check_fields(obj: Any, where: str) -> None:
    """Check every field of the dataclass ``obj`` against its declared :class:`Allowed`;
    the error names ``{where}.{field}``."""
    for f in dataclasses.fields(obj):
        for allowed in f.metadata.get("allowed", ()):
            allowed.check(f"{where}.{f.name}", getattr(obj, f.name))


# --- the usual kinds of allowed values -----------------------------------------------------

positive = Allowed(lambda v: v > 0, "must be > 0")
non_negative = Allowed(lambda v: v >= 0, "must be >= 0")
unit_interval = Allowed(lambda v: 0 <= v <= 1, "must be in [0, 1]")
fraction_below_one = Allowed(lambda v: 0 <= v < 1, "must be in [0, 1)")


def one_of(*values: Any) -> Allowed:
    """Exactly one of ``values`` (a string option: an explicit list, never free text)."""
    return Allowed(lambda v: v in values, f"must be one of {', '.join(map(str, values))}")


def at_most(bound: float, why: str) -> Allowed:
    """``<= bound``; ``why`` says where the bound comes from."""
    return Allowed(lambda v: v <= bound, f"must be <= {bound:g} ({why})")


def satisfies(test: Callable[[Any], bool], must: str) -> Allowed:
    return Allowed(test, must)


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
