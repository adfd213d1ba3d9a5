"""Brian2 circuits that learn without weight transport.

``spec_from_config(config)`` gives a :class:`CircuitSpec`; :func:`presentations`
turns the phase plan into per-presentation data; :func:`build` wires the named
populations and synapse groups; :func:`run_circuit` runs a whole training run
as one Brian2 ``run()`` on the runtime or cpp_standalone device;
:func:`locality_audit` lists every non-local signal a plastic synapse uses.
"""
from .audit import Violation, locality_audit
from .build import Circuit, build
from .phases import Presentations, presentations
from .run import CircuitRun, Recording, RunPlan, plan_from_config, run_circuit
from .spec import CircuitSpec, spec_from_config

__all__ = ["CircuitSpec", "spec_from_config", "Presentations", "presentations", "Circuit",
           "build", "CircuitRun", "Recording", "RunPlan", "plan_from_config", "run_circuit",
           "Violation", "locality_audit"]
