"""mirrorlab: neural circuits that learn without weight transport.

From Python (see :mod:`mirrorlab.sims.api`; the command line is a layer over it)::

    import mirrorlab as ml
    result = ml.run(ml.load_config("configs/digits_mlp.toml", {"rule.name": "wm"}))
    result.history          # pandas DataFrame: one row per checkpoint and layer

Subpackages (each a top-level folder of the repository):

- :mod:`mirrorlab.models`   what neurons, transfer functions, losses, noise and rules are
- :mod:`mirrorlab.circuits` how populations and synapse groups are wired in Brian2
- :mod:`mirrorlab.sims`     configs, data, the matrix engine, runs, the API and the CLI
- :mod:`mirrorlab.analysis` alignment metrics and figures, reading recordings only
"""

__version__ = "0.1.0"

#: The Python API, imported on first use (``import mirrorlab`` stays instant).
API = ("load_config", "run", "Result", "build_circuit", "CircuitBuild", "compare",
       "Comparison", "sweep", "hypothesis", "check", "export_nwb", "ConfigError")
__all__ = list(API)


def __getattr__(name: str):
    if name in API:
        from .sims import api
        return getattr(api, name)
    raise AttributeError(f"module 'mirrorlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *API])
