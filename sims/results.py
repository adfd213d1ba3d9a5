"""One folder per run: ``config.toml``, ``metrics.json``, ``arrays.npz``, ``figures/``.

Every file is written atomically (temporary file, then rename), so an
interrupted run leaves the last complete version of each; ``metrics.json``
says ``"complete": false`` until the run has finished.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np


def _atomic_write(path: Path, write) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


def _finite_or_none(obj):
    """JSON has no NaN or infinity: a diverged value is recorded as null."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(_finite_or_none(obj), indent=1, allow_nan=False) + "\n")


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    _atomic_write(Path(path), lambda f: np.savez_compressed(f, **arrays))


def read_metrics(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text())


def is_complete(run_dir: Path) -> bool:
    """True if ``run_dir`` holds a finished run."""
    try:
        return bool(read_metrics(run_dir).get("complete"))
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def versions() -> dict[str, str]:
    """Versions of Python and of the packages a result depends on."""
    found = {"python": platform.python_version()}
    for package in ("mirrorlab", "numpy", "scipy", "brian2", "brian2cuda"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def network_arrays(W, b, B) -> dict[str, np.ndarray]:
    """Name weight lists for ``arrays.npz``: ``W1, b1, B1, W2, ...`` (layer 1 = input side)."""
    arrays = {}
    for l, (w, bias, fb) in enumerate(zip(W, b, B), start=1):
        arrays[f"W{l}"], arrays[f"b{l}"], arrays[f"B{l}"] = w, bias, fb
    return arrays


def load_network_arrays(run_dir: Path) -> tuple[list, list, list]:
    """Inverse of :func:`network_arrays`, read from ``run_dir/arrays.npz``."""
    with np.load(Path(run_dir) / "arrays.npz") as data:
        n_layers = sum(1 for k in data.files if k.startswith("W") and k[1:].isdigit())
        return ([data[f"W{l}"] for l in range(1, n_layers + 1)],
                [data[f"b{l}"] for l in range(1, n_layers + 1)],
                [data[f"B{l}"] for l in range(1, n_layers + 1)])
