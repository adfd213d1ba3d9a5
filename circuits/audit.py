"""Locality audit: does every plastic synapse learn from what it can see?

A synapse may use its own variables, variables of its presynaptic and its
postsynaptic neuron (``_pre``, ``_post``), broadcast scalars (shared or
constant values, the clock, TimedArrays of time) and functions. Anything else
is non-local. Brian2 offers two further ways for a synapse to read another
synapse group's weights, and both are reported:

- a variable of another object (a linked variable, or anything that is neither
  the synapse's own nor its pre- or postsynaptic neuron's);
- a neuron variable fed, directly or through other neurons, by a summed
  variable whose value is the sending synapse group's own state without any
  signal of the sending neuron (``x_post = w : 1 (summed)`` hands each neuron the
  weights themselves; ``I_post = w * r_pre`` is an ordinary weighted input).

Rules that declare ``transports_weights`` (bp: B starts at W^T) are reported too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from brian2 import Network, NeuronGroup, Synapses
from brian2.core.variables import Constant, Variable
from brian2.groups.group import CodeRunner
from brian2.synapses.synapses import SummedVariableUpdater
from brian2.utils.stringtools import get_identifiers

#: Words of Brian2's abstract code that are not identifiers of anything.
KEYWORDS = frozenset({"and", "or", "not", "True", "False"})
#: Variables every group has that belong to no neuron or synapse.
CLOCK_VARIABLES = frozenset({"t", "dt", "t_in_timesteps"})
#: An assignment ``x = ...``, ``x += ...`` etc. (not ``==``) at the start of a statement.
ASSIGNMENT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:[-+*/]?=)(?!=)")


@dataclass(frozen=True)
class Violation:
    """One non-local signal used by a plastic synapse group.

    Attributes
    ----------
    synapses : str
        Name of the plastic synapse group.
    identifier : str
        What its code reads.
    reason : str
    """

    synapses: str
    identifier: str
    reason: str

    def __str__(self) -> str:
        return f"{self.synapses}: {self.identifier}: {self.reason}"


def locality_audit(circuit) -> list[Violation]:
    """Every non-local identifier in the plasticity of ``circuit``.

    Parameters
    ----------
    circuit : Circuit or brian2.Network
        A built circuit (its rule's declared weight transport is checked too), or
        any Brian2 network, e.g. one wired by hand.

    Returns
    -------
    list of Violation
        Empty when every plastic synapse group learns from local signals only.
    """
    network = circuit if isinstance(circuit, Network) else circuit.network
    all_synapses = [obj for obj in network.objects if isinstance(obj, Synapses)]
    violations = []
    for synapses in all_synapses:
        if _is_plastic(synapses):
            violations += _audit(synapses, all_synapses)
    if not isinstance(circuit, Network) and circuit.spec.rule.transports_weights:
        violations += [Violation(B.name, "initial state", f"initialised from the transpose of "
                                 f"{W.name}: rule {circuit.spec.rule.name!r} transports weights")
                       for W, B in zip(circuit.W, circuit.B)]
    return violations


# --- what a synapse group's code is ---------------------------------------------------------

def _update_code(synapses: Synapses) -> list[str]:
    """Code that changes the synapses' state: ODEs, run_regularly operations, on_pre/on_post."""
    blocks = [str(eq.expr) for eq in synapses.equations.values()
              if eq.type == "differential equation"]
    blocks += [obj.abstract_code for obj in synapses.contained_objects
               if type(obj) is CodeRunner]
    blocks += [pathway.code for pathway in synapses._pathways]
    return blocks


def _owned_by(group, name: str) -> bool:
    """True if ``name`` is a variable that ``group`` itself owns (owners are weak proxies)."""
    variable = group.variables.get(name)
    return (isinstance(variable, Variable) and variable.owner is not None
            and variable.owner.name == group.name)


def _is_plastic(synapses: Synapses) -> bool:
    """True if some code of ``synapses`` changes one of its own variables."""
    if any(eq.type == "differential equation" for eq in synapses.equations.values()):
        return True
    return any(_owned_by(synapses, match.group(1))
               for block in _update_code(synapses) for line in block.splitlines()
               if (match := ASSIGNMENT.match(line)))


# --- the audit ------------------------------------------------------------------------------

def _audit(synapses: Synapses, all_synapses: list[Synapses]) -> list[Violation]:
    code = _update_code(synapses) + [str(updater.expression)
                                     for updater in synapses.summed_updaters.values()]
    identifiers = set().union(*(get_identifiers(block) for block in code)) - KEYWORDS
    violations = []
    for name in sorted(identifiers):
        side = _neuron_side(synapses, name)
        if side is not None:
            group, variable = side
            for source in sorted(_weight_sources(group, variable, all_synapses) - {synapses.name}):
                violations.append(Violation(synapses.name, name,
                                            f"carries the weights of {source} "
                                            "(through a summed variable without a presynaptic "
                                            "signal)"))
        elif not _local(synapses, name):
            violations.append(Violation(synapses.name, name, _why_not_local(synapses, name)))
    return violations


def _neuron_side(synapses: Synapses, name: str) -> tuple[NeuronGroup, str] | None:
    """(group, variable) if ``name`` is a pre- or postsynaptic neuron variable."""
    for suffix, group in (("_pre", synapses.source), ("_post", synapses.target)):
        if name.endswith(suffix) and name[:-len(suffix)] in group.variables:
            return group, name[:-len(suffix)]
    return None


def _local(synapses: Synapses, name: str) -> bool:
    if name in CLOCK_VARIABLES or _owned_by(synapses, name):
        return True
    if name in synapses.variables:
        return False  # a variable of another object (e.g. linked)
    try:
        resolved = synapses._resolve(name, run_namespace={})
    except KeyError:
        return False
    return not isinstance(resolved, Variable) or isinstance(resolved, Constant) or resolved.scalar


def _why_not_local(synapses: Synapses, name: str) -> str:
    variable = synapses.variables.get(name)
    if isinstance(variable, Variable) and variable.owner is not None:
        return f"a variable of {variable.owner.name}, neither this synapse's nor its neurons'"
    return "not a variable of this synapse, its neurons, or a broadcast scalar"


# --- where a neuron variable's value comes from -----------------------------------------------

def _weight_sources(group, name: str, all_synapses: list[Synapses], seen=None) -> set[str]:
    """Names of the synapse groups whose weights reach ``group.name`` through summed variables.

    Follows subexpressions and equations of ``group``, the code that assigns the
    variable, and every summed variable that targets it, transitively.
    """
    seen = set() if seen is None else seen
    if (group.name, name) in seen:
        return set()
    seen.add((group.name, name))
    sources = set()
    for ident in _dependencies(group, name):
        sources |= _weight_sources(group, ident, all_synapses, seen)
    for synapses in all_synapses:
        for updater in synapses.summed_updaters.values():
            if updater.target is group and updater.target_varname[:-5] == name:
                sources |= _summed_sources(synapses, updater, all_synapses, seen)
    return sources


def _dependencies(group, name: str) -> set[str]:
    """Variables of ``group`` that ``name`` is computed from (equations and assignments)."""
    expressions = [str(eq.expr) for eq in getattr(group, "equations", {}).values()
                   if eq.varname == name and eq.expr is not None]
    expressions += [line.split("=", 1)[1] for obj in group.contained_objects
                    if type(obj) is CodeRunner for line in obj.abstract_code.splitlines()
                    if (match := ASSIGNMENT.match(line)) and match.group(1) == name]
    return {ident for expr in expressions for ident in get_identifiers(expr)
            if _owned_by(group, ident)}


def _summed_sources(synapses: Synapses, updater: SummedVariableUpdater,
                    all_synapses: list[Synapses], seen: set) -> set[str]:
    """Weight sources of one summed variable: the synapses themselves if the sum has none of
    the sending neuron's variables, plus whatever the neuron variables it reads carry."""
    sending = "_pre" if updater.target is synapses.target else "_post"
    identifiers = get_identifiers(str(updater.expression))
    sources = set()
    reads_state = any(_owned_by(synapses, ident) and not synapses.variables[ident].scalar
                      for ident in identifiers)
    if reads_state and not any(ident.endswith(sending) for ident in identifiers):
        sources.add(synapses.name)
    for ident in identifiers:
        side = _neuron_side(synapses, ident)
        if side is not None:
            sources |= _weight_sources(*side, all_synapses, seen)
    return sources
