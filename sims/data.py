"""Datasets for the simulations: every loader returns a :class:`Dataset`.

All arrays are float64 with one sample per row. Classification targets are
one-hot rows, regression targets are real-valued rows. Nothing is ever
downloaded: ``digits`` ships with scikit-learn, ``teacher`` is generated, and
``mnist``, ``fashion-mnist`` and ``cifar10`` are read from a local folder.

Names accepted by :func:`load_dataset`:

``digits``
    scikit-learn's bundled 8x8 digits (1797 samples, 64 features), scaled to
    [0, 1], with a fixed stratified train/test split.
``iris``
    scikit-learn's bundled Iris flowers (150 samples, 4 features, 3 classes), each
    feature scaled to [0, 1] by its range over all samples, same kind of split.
``teacher``
    teacher-student regression: targets are the outputs of a random network.
``mnist``, ``fashion-mnist``
    the four IDX files (plain or ``.gz``) in a folder.
``cifar10``
    the python-pickle batches of ``cifar-10-batches-py``.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..models.params import ParameterError

__all__ = ["DATASET_NAMES", "Dataset", "DataError", "load_dataset", "read_idx"]

DATASET_NAMES = ("digits", "iris", "teacher", "mnist", "fashion-mnist", "cifar10")

TEACHER_TRANSFERS = ("linear", "tanh", "sigmoid", "relu")

#: IDX type code -> numpy dtype (multi-byte types are big-endian in the file).
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"
CIFAR_KEYS = (b"data", b"labels")

#: The digits split never depends on the seed, so seeds vary only the network.
DIGITS_SPLIT_STATE = 0


class DataError(ValueError):
    """A data file is missing or malformed; the message names the file and what was expected."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split ready for a network.

    Attributes
    ----------
    name : str
        Dataset name, one of :data:`DATASET_NAMES`.
    x_train : np.ndarray
        Shape ``(n_train, n_in)``, float64 inputs.
    y_train : np.ndarray
        Shape ``(n_train, n_out)``, float64 targets: one-hot rows for
        classification, real values for regression.
    x_test : np.ndarray
        Shape ``(n_test, n_in)``, float64.
    y_test : np.ndarray
        Shape ``(n_test, n_out)``, float64.
    n_classes : int or None
        Number of classes (``== n_out``), or None for regression.

    Notes
    -----
    Equality is identity (``eq=False``): comparing arrays elementwise has no
    single truth value.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int | None

    def __post_init__(self) -> None:
        for x, y, split in ((self.x_train, self.y_train, "train"), (self.x_test, self.y_test, "test")):
            if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
                raise ValueError(f"{self.name} {split}: need 2-D x and y with equal rows, got {x.shape} and {y.shape}")
        if self.x_test.shape[1] != self.n_in or self.y_test.shape[1] != self.n_out:
            raise ValueError(f"{self.name}: train and test widths differ")
        if self.n_classes is not None and self.n_classes != self.n_out:
            raise ValueError(f"{self.name}: n_classes={self.n_classes} but targets have {self.n_out} columns")

    @property
    def n_in(self) -> int:
        """Number of input features."""
        return self.x_train.shape[1]

    @property
    def n_out(self) -> int:
        """Number of target columns."""
        return self.y_train.shape[1]

    @property
    def is_classification(self) -> bool:
        """True when targets are one-hot class labels."""
        return self.n_classes is not None


def load_dataset(
    name: str,
    *,
    path: str | os.PathLike = "",
    seed: int = 0,
    n_train: int = 0,
    n_test: int = 0,
    test_fraction: float = 0.25,
    teacher_sizes: tuple[int, ...] = (20, 30, 10),
    teacher_transfer: str = "tanh",
    teacher_noise: float = 0.0,
) -> Dataset:
    """Load a dataset by name.

    Parameters
    ----------
    name : str
        One of ``"digits"``, ``"iris"``, ``"teacher"``, ``"mnist"``, ``"fashion-mnist"``,
        ``"cifar10"``.
    path : str or os.PathLike
        Folder holding the files (``mnist``, ``fashion-mnist``, ``cifar10``).
    seed : int
        Seed of the teacher network and its inputs (``teacher`` only). The
        ``digits`` split is fixed and does not depend on it.
    n_train, n_test : int
        Keep only the first ``n`` samples of each split, in the split's fixed
        order; 0 keeps all. For ``teacher`` they are the numbers generated
        (0 means 1000 and 200).
    test_fraction : float
        Fraction of ``digits`` or ``iris`` held out for testing.
    teacher_sizes : sequence of int
        Teacher layer sizes, input first, output last.
    teacher_transfer : str
        Teacher hidden transfer: ``linear``, ``tanh``, ``sigmoid`` or ``relu``.
    teacher_noise : float
        Standard deviation of Gaussian noise added to teacher targets.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        Unknown name or bad argument.
    DataError
        A data file is missing or malformed.
    """
    if n_train < 0 or n_test < 0:
        raise ValueError(f"n_train and n_test must be >= 0, got {n_train} and {n_test}")
    if name in ("digits", "iris"):
        data = _load_bundled(name, test_fraction)
    elif name == "teacher":
        return _make_teacher(
            seed, n_train or 1000, n_test or 200, tuple(teacher_sizes), teacher_transfer, teacher_noise
        )
    elif name in ("mnist", "fashion-mnist"):
        data = _load_mnist(name, _require_folder(name, path))
    elif name == "cifar10":
        data = _load_cifar10(_require_folder(name, path))
    else:
        raise ValueError(f"unknown dataset {name!r}; allowed names: {', '.join(DATASET_NAMES)}")
    return _head(data, n_train, n_test)


def read_idx(file: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (plain, or gzip-compressed when the name ends in ``.gz``).

    Parameters
    ----------
    file : str or os.PathLike
        The file to read.

    Returns
    -------
    np.ndarray
        Array with the file's shape and dtype (uint8, int8, int16, int32,
        float32 or float64) in native byte order.

    Raises
    ------
    DataError
        Missing file, bad magic, unknown type code, or a payload whose size does
        not match the header.
    """
    file = Path(file)
    raw = _read_bytes(file)
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise DataError(f"{file}: bad IDX magic {raw[:4]!r}; expected two zero bytes, a type code and ndim")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise DataError(f"{file}: unknown IDX type code 0x{code:02X}; expected one of "
                        + ", ".join(f"0x{c:02X}" for c in IDX_DTYPES))
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise DataError(f"{file}: truncated IDX header; expected {ndim} dimension sizes")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - start != expected:
        kind = "truncated" if len(raw) - start < expected else "too long"
        raise DataError(f"{file}: IDX payload {kind}: {len(raw) - start} bytes, expected {expected} for shape {shape}")
    array = np.frombuffer(raw, dtype=dtype, offset=start).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


# --- digits and teacher ----------------------------------------------------


def _load_bundled(name: str, test_fraction: float) -> Dataset:
    """scikit-learn's digits (pixels / 16) or Iris (each feature over its range), split
    stratified with a fixed ``random_state``."""
    from sklearn import datasets  # imported here: sklearn is slow to import
    from sklearn.model_selection import train_test_split

    x, labels = (datasets.load_digits if name == "digits" else datasets.load_iris)(
        return_X_y=True)
    x = x / 16.0 if name == "digits" else (x - x.min(axis=0)) / np.ptp(x, axis=0)
    n, classes = len(labels), int(labels.max()) + 1
    n_test = math.ceil(test_fraction * n)
    if not classes <= n_test <= n - classes:
        raise ParameterError(f"data.test_fraction: {test_fraction:g} leaves {n_test} of the {n} "
                          f"{name} samples for testing and {n - n_test} for training; a "
                          f"stratified split needs at least one per class ({classes}) on each "
                          f"side: use {classes / n:.4f} to {1 - classes / n:.4f}")
    x_train, x_test, l_train, l_test = train_test_split(
        x, labels, test_size=test_fraction, random_state=DIGITS_SPLIT_STATE, stratify=labels
    )
    return Dataset(name, x_train, _one_hot(l_train, classes), x_test, _one_hot(l_test, classes),
                   classes)


def _make_teacher(
    seed: int, n_train: int, n_test: int, sizes: tuple[int, ...], transfer: str, noise: float
) -> Dataset:
    """Inputs N(0, 1), targets from a random teacher net plus ``noise`` * N(0, 1).

    Draw order from ``default_rng(seed)``: weights (layer by layer, N(0, 1/fan_in)),
    x_train, x_test, train noise, test noise; so a seed fixes the teacher
    whatever ``n_train`` is.
    """
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"teacher_sizes needs >= 2 positive sizes, got {sizes}")
    if transfer not in TEACHER_TRANSFERS:
        raise ValueError(f"unknown teacher_transfer {transfer!r}; allowed: {', '.join(TEACHER_TRANSFERS)}")
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_in, n_out)) for n_in, n_out in zip(sizes, sizes[1:])]
    x_train = rng.standard_normal((n_train, sizes[0]))
    x_test = rng.standard_normal((n_test, sizes[0]))
    y_train = _teacher_forward(x_train, weights, transfer) + noise * rng.standard_normal((n_train, sizes[-1]))
    y_test = _teacher_forward(x_test, weights, transfer) + noise * rng.standard_normal((n_test, sizes[-1]))
    return Dataset("teacher", x_train, y_train, x_test, y_test, None)


def _teacher_forward(x: np.ndarray, weights: list[np.ndarray], transfer: str) -> np.ndarray:
    """Hidden layers apply ``transfer``; the output layer is linear."""
    f = {
        "linear": lambda a: a,
        "tanh": np.tanh,
        "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
        "relu": lambda a: np.maximum(a, 0.0),
    }[transfer]
    for w in weights[:-1]:
        x = f(x @ w)
    return x @ weights[-1]


# --- MNIST / Fashion-MNIST ---------------------------------------------------


def _load_mnist(name: str, folder: Path) -> Dataset:
    """The four IDX files in ``folder``; images / 255, one-hot labels."""
    arrays = {key: read_idx(_find_idx(folder, stem)) for key, stem in MNIST_FILES.items()}
    splits = []
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        image_file, label_file = MNIST_FILES[f"x_{split}"], MNIST_FILES[f"y_{split}"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(f"{folder / image_file}: expected uint8 images of shape (n, rows, cols), "
                            f"got {images.dtype} {images.shape}")
        if labels.ndim != 1:
            raise DataError(f"{folder / label_file}: expected 1-D labels, got shape {labels.shape}")
        if len(images) != len(labels):
            raise DataError(f"{folder}: {image_file} has {len(images)} images but {label_file} has {len(labels)} labels")
        if len(images) == 0:
            raise DataError(f"{folder / image_file}: holds 0 images")
        splits += [images.reshape(len(images), -1) / 255.0, _one_hot(labels, 10, folder / label_file)]
    train_size, test_size = arrays["x_train"].shape[1:], arrays["x_test"].shape[1:]
    if train_size != test_size:
        raise DataError(f"{folder / MNIST_FILES['x_test']}: images are {test_size}, "
                        f"expected {train_size} as in {MNIST_FILES['x_train']}")
    return Dataset(name, *splits, 10)


def _find_idx(folder: Path, stem: str) -> Path:
    """``folder/stem`` or ``folder/stem.gz``, whichever exists."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder / stem}: missing; looked for {stem} and {stem}.gz in {folder}")


# --- CIFAR-10 -----------------------------------------------------------------


def _load_cifar10(folder: Path) -> Dataset:
    """All five ``data_batch_*`` and ``test_batch``; pixels / 255, one-hot labels.

    Rows keep CIFAR's layout: 1024 red, then 1024 green, then 1024 blue values.
    """
    if (folder / CIFAR_FOLDER).is_dir():
        folder = folder / CIFAR_FOLDER
    missing = [n for n in (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH) if not (folder / n).is_file()]
    if missing:
        raise DataError(f"{folder}: missing CIFAR-10 batches {', '.join(missing)}; "
                        f"expected {', '.join(CIFAR_TRAIN_BATCHES)} and {CIFAR_TEST_BATCH}")
    train = [_read_cifar_batch(folder / n) for n in CIFAR_TRAIN_BATCHES]
    x_test, l_test = _read_cifar_batch(folder / CIFAR_TEST_BATCH)
    x_train = np.concatenate([x for x, _ in train])
    l_train = np.concatenate([labels for _, labels in train])
    return Dataset("cifar10", x_train / 255.0, _one_hot(l_train, 10), x_test / 255.0, _one_hot(l_test, 10), 10)


def _read_cifar_batch(file: Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> (uint8 data of shape (n, 3072), int64 labels of shape (n,)).

    Pickles can run code when loaded: only point ``path`` at files you trust.
    """
    try:
        with open(file, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as err:
        raise DataError(f"{file}: cannot unpickle CIFAR-10 batch ({err})") from err
    if not isinstance(batch, dict) or not all(k in batch for k in CIFAR_KEYS):
        found = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise DataError(f"{file}: expected a dict with keys {CIFAR_KEYS}, found {found}")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{file}: expected b'data' as uint8 of shape (n, 3072), got {data.dtype} {data.shape}")
    if labels.shape != (len(data),):
        raise DataError(f"{file}: expected {len(data)} b'labels', got shape {labels.shape}")
    _one_hot(labels, 10, file)  # validates the label range
    return data, labels


# --- helpers ------------------------------------------------------------------


def _require_folder(name: str, path: str | os.PathLike) -> Path:
    """``path`` as an existing folder, else a DataError."""
    if not str(path):
        raise DataError(f"dataset {name!r} is read from a local folder: pass path=...")
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder for {name!r} does not exist")
    return folder


def _read_bytes(file: Path) -> bytes:
    """The file's bytes, gunzipped when its name ends in ``.gz``."""
    try:
        if file.suffix == ".gz":
            with gzip.open(file, "rb") as f:
                return f.read()
        return file.read_bytes()
    except FileNotFoundError as err:
        raise DataError(f"{file}: missing") from err
    except (OSError, EOFError) as err:
        raise DataError(f"{file}: cannot read ({err})") from err


def _one_hot(labels: np.ndarray, n_classes: int, source: Path | None = None) -> np.ndarray:
    """Integer labels of shape (n,) -> float64 one-hot of shape (n, n_classes)."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(f"{source}: labels must lie in 0..{n_classes - 1}, got {labels.min()}..{labels.max()}")
    return np.eye(n_classes)[labels.astype(np.int64)]


def _head(data: Dataset, n_train: int, n_test: int) -> Dataset:
    """Keep the first ``n_train`` / ``n_test`` rows (0 keeps all)."""
    for n, available, split in ((n_train, len(data.x_train), "n_train"), (n_test, len(data.x_test), "n_test")):
        if n > available:
            raise DataError(f"data.{split}: {split}={n} but {data.name} has only {available} "
                            "samples in that split")
    for split, x in (("train", data.x_train), ("test", data.x_test)):
        if len(x) == 0:
            raise DataError(f"{data.name}: the {split} split holds no samples")
    tr, te = n_train or len(data.x_train), n_test or len(data.x_test)
    return Dataset(data.name, data.x_train[:tr], data.y_train[:tr], data.x_test[:te], data.y_test[:te], data.n_classes)
