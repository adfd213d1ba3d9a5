"""What every training run shares: its random streams, its data, and how its alignment and
performance are measured into the history of a results folder (``sims/results.py``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...analysis import metrics as M
from ..config import Config, ConfigError
from ..data import Dataset, load_dataset
from ..matrix_engine import MatrixEngine

PROBE_BATCH = 256  # training samples on which delta angles are measured
#: What ``final`` repeats of the last checkpoint.
FINAL_KEYS = ("test_accuracy", "test_loss", "weight_angle_deg", "delta_angle_deg",
              "sign_concordance", "norm_ratio")


@dataclass(frozen=True)
class Streams:
    """Independent random streams of one run, all derived from its seed."""

    init: np.random.Generator   # initial W and B
    data: np.random.Generator   # sample order
    noise: np.random.Generator  # mirror noise

    @classmethod
    def from_seed(cls, seed: int) -> "Streams":
        return cls(*(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)))


def load_config_data(config: Config) -> Dataset:
    """The data set of ``config`` (see :func:`check_sizes` for the fit to its network)."""
    d = config.data
    data = load_dataset(d.name, path=d.path, seed=config.experiment.seed, n_train=d.n_train,
                        n_test=d.n_test, test_fraction=d.test_fraction,
                        teacher_sizes=tuple(d.teacher_sizes), teacher_transfer=d.teacher_transfer,
                        teacher_noise=d.teacher_noise)
    return data


def check_sizes(config: Config, data: Dataset) -> None:
    """The network's first and last sizes fit the data, else a ConfigError naming them."""
    sizes = config.network.sizes
    if (sizes[0], sizes[-1]) != (data.n_in, data.n_out):
        raise ConfigError(f"network.sizes: must start with {data.n_in} inputs and end with "
                          f"{data.n_out} outputs for data {data.name!r} (got {sizes})")


def checkpoint(engine: MatrixEngine, data: Dataset, step: int, epoch: float,
               train_loss: float | None) -> dict:
    """Alignment and performance of the network now, as one history entry."""
    W, B = engine.net.W, engine.feedback_matrices()
    probe_x, probe_y = data.x_train[:PROBE_BATCH], data.y_train[:PROBE_BATCH]
    net_inputs, _ = engine.forward(probe_x)
    test_inputs, _ = engine.forward(data.x_test)
    test_output = engine.loss.predict(test_inputs[-1])
    return {
        "step": step,
        "epoch": epoch,
        "weight_angle_deg": M.weight_angles(W, B),
        "delta_angle_deg": M.delta_angles(engine.backward(net_inputs, probe_y),
                                          engine.backprop_deltas(net_inputs, probe_y)),
        "sign_concordance": M.sign_concordances(W, B),
        "norm_ratio": M.norm_ratios(W, B),
        "train_loss": train_loss,
        "test_loss": engine.loss.value(test_inputs[-1], data.y_test),
        "test_accuracy": (M.accuracy(test_output, data.y_test) if data.is_classification
                          else None),
    }


def final_of(last: dict) -> dict:
    """The ``final`` entry of ``metrics.json``: what the last checkpoint measured."""
    return {k: last[k] for k in FINAL_KEYS}
