"""mirrorlab: neural circuits that learn without weight transport.

Subpackages (each a top-level folder of the repository):

- :mod:`mirrorlab.models`   what neurons, transfer functions, losses, noise and rules are
- :mod:`mirrorlab.circuits` how populations and synapse groups are wired in Brian2
- :mod:`mirrorlab.sims`     configs, data, the matrix engine, phase schedules, the CLI
- :mod:`mirrorlab.analysis` alignment metrics and figures, reading recordings only
"""

__version__ = "0.1.0"
