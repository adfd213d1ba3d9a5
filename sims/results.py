"""One folder per run: ``config.toml``, ``metrics.json``, ``arrays.npz``, ``figures/``.

Every file is written atomically (temporary file, then rename), so an interrupted run
leaves the last complete version of each. A run goes through three steps:

1. :func:`begin`: the folder is checked (it must be a directory, or creatable), stale
   temporary files of a killed write are removed, ``config.toml`` (the resolved config)
   and ``metrics.json`` with ``"complete": false`` are written;
2. checkpoints rewrite ``arrays.npz`` and then ``metrics.json``, still incomplete;
3. :func:`finish`: every other file of the run (arrays, activity, spikes, figures) is
   written first, and ``"complete": true`` last, so a folder that says complete holds
   every file it vouches for.

A finished run is reused (``compare``, ``sweep``, ``hypothesis`` resume) only if it was
made with the same resolved config (:func:`finished`).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

import numpy as np

from ..models.params import ParameterError


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
    except (OSError, ValueError):
        return False


def config_digest(config_toml: str) -> str:
    """The identity of a resolved config: the SHA-256 of its TOML text."""
    return hashlib.sha256(config_toml.encode()).hexdigest()


def stored_config(run_dir: Path) -> str | None:
    """The resolved config a run folder holds, or None."""
    try:
        return (Path(run_dir) / "config.toml").read_text()
    except (OSError, UnicodeDecodeError):
        return None


class FolderError(ParameterError):
    """A results folder cannot be used (a file is in the way, it cannot be created, or it
    holds a finished run of another config); the message names the folder."""


def finished(run_dir: Path, config_toml: str) -> bool:
    """True if ``run_dir`` holds a finished run of exactly this config (``config_toml``);
    :class:`FolderError` naming the differing fields if it holds a finished run of another
    config (rerunning would silently mix two experiments)."""
    if not is_complete(run_dir):
        return False
    stored = stored_config(run_dir)
    metrics = read_metrics(run_dir)
    digest = metrics.get("config_sha256")
    if stored is not None and stored == config_toml and digest in (None, config_digest(stored)):
        return True
    fields = differing_fields(stored or "", config_toml)
    raise FolderError(f"{run_dir} holds a finished run of another config (differs in "
                      f"{', '.join(fields) or 'formatting'}); use another output folder "
                      "or delete that run")


def differing_fields(a_toml: str, b_toml: str) -> list[str]:
    """Dotted names of the fields in which two TOML texts differ."""
    try:
        a, b = tomllib.loads(a_toml), tomllib.loads(b_toml)
    except tomllib.TOMLDecodeError:
        return ["the stored config.toml (unreadable)"]
    return _differing(a, b)


def _differing(a: dict, b: dict, prefix: str = "") -> list[str]:
    fields = []
    for key in sorted(set(a) | set(b)):
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            fields += _differing(a[key], b[key], f"{prefix}{key}.")
        elif a.get(key) != b.get(key):
            fields.append(f"{prefix}{key}")
    return fields


def check_folder(folder: Path) -> Path:
    """``folder`` as a usable results folder: an existing directory, or one that can be
    created (nothing in its path is a file, and it is not a device like /dev/null)."""
    folder = Path(folder)
    for part in [folder, *folder.parents]:
        if part.exists():
            if not part.is_dir():
                raise FolderError(f"results folder {folder}: {part} is not a directory")
            if not os.access(part, os.W_OK | os.X_OK):
                raise FolderError(f"results folder {folder}: {part} is not writable")
            return folder
    return folder


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporary files (``.NAME.*.tmp``) that a killed write left behind."""
    for sub in (folder, folder / "figures"):
        if sub.is_dir():
            for stale in sub.glob(".*.tmp"):
                stale.unlink(missing_ok=True)


def begin(folder: Path, config_toml: str, metrics: dict) -> None:
    """Start a run in ``folder`` (see the module docstring): check it, remove stale
    temporaries, write ``config.toml`` and an incomplete ``metrics.json``."""
    folder = check_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder)
    write_text(folder / "config.toml", config_toml)
    write_json(folder / "metrics.json", {**metrics, "complete": False})


def finish(folder: Path, metrics: dict, arrays: dict[str, dict], draw=None) -> None:
    """End a run: write every ``arrays[file name]`` (``.npz``), call ``draw(folder)`` (the
    figures, optional), then ``metrics.json`` with ``"complete": true``, last."""
    for name, contents in arrays.items():
        write_arrays(folder / name, contents)
    write_json(folder / "metrics.json", {**metrics, "complete": False})
    if draw is not None:
        draw(folder)
    write_json(folder / "metrics.json", {**metrics, "complete": True})


@functools.lru_cache(maxsize=1)
def _installed_versions() -> tuple[tuple[str, str], ...]:
    found = [("python", platform.python_version())]
    for package in ("mirrorlab", "numpy", "scipy", "brian2", "brian2cuda"):
        try:
            found.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(found)


def versions() -> dict[str, str]:
    """Versions of Python and of the packages a result depends on (read once per process:
    reading package metadata costs milliseconds)."""
    return dict(_installed_versions())


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
