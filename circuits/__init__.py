"""Brian2 circuits that learn without weight transport.

``spec_from_config(config)`` gives a :class:`CircuitSpec`; :func:`presentations`
turns the phase plan into per-presentation data; :func:`build` wires the named
populations and synapse groups (``mirrorlab.sims.circuit_run`` runs them on a
device); :func:`locality_audit` lists every non-local signal a plastic synapse uses.
"""
from .audit import Violation, locality_audit
from .build import Circuit, build
from .phases import Presentations, presentations
from .spec import CircuitSpec, spec_from_config

__all__ = ["CircuitSpec", "spec_from_config", "Presentations", "presentations", "Circuit",
           "build", "Violation", "locality_audit"]
