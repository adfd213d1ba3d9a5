"""Brian2 circuits that learn without weight transport.

A :class:`CircuitSpec` says what to wire; :func:`presentations` turns a phase plan into
per-presentation data; :func:`build` wires the named populations and synapse groups with
the circuit class of the spec's neuron kind (:data:`CIRCUITS`: :class:`RateCircuit`,
:class:`FiringRateCircuit`, :class:`SpikingCircuit`), all behind one interface
(:class:`Circuit`); :func:`locality_audit` lists every non-local signal a plastic synapse
uses. Running a circuit on a device is ``mirrorlab.sims``'s business.
"""
from .audit import Violation, locality_audit
from .base import CIRCUITS, Circuit, build, circuit_class, synapse_matrices
from .phases import Presentations, presentations
from .rate import RateCircuit
from .firing_rate import FiringRateCircuit
from .spec import CircuitSpec
from .spiking import SpikingCircuit

__all__ = ["CircuitSpec", "Presentations", "presentations", "Circuit", "CIRCUITS",
           "RateCircuit", "FiringRateCircuit", "SpikingCircuit", "build", "circuit_class",
           "synapse_matrices", "Violation", "locality_audit"]
