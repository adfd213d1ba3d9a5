"""What every training run shares: its random streams, its data, and how its alignment and
performance are measured into the history of a results folder (``sims/results.py``)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ...analysis import metrics as M
from ...models.neurons import SPIKING_KINDS
from ..config import Config, ConfigError
from ..data import Dataset, load_dataset
from ..matrix_engine import DivergenceError, MatrixEngine

Array = np.ndarray

PROBE_BATCH = 256  # training samples on which delta angles are measured
#: What ``final`` repeats of the last checkpoint.
#: Per-layer measures of the feedback pathway (None where a trainer has none).
ALIGNMENT_KEYS = ("weight_angle_deg", "weight_angle_floor_deg", "delta_angle_deg",
                  "sign_concordance", "norm_ratio")
FINAL_KEYS = ("test_accuracy", "test_loss", *ALIGNMENT_KEYS)


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
    """The data set of ``config`` (see :func:`check_fit` for the fit to its network)."""
    d = config.data
    data = load_dataset(d.name, path=d.path, seed=config.experiment.seed, n_train=d.n_train,
                        n_test=d.n_test, test_fraction=d.test_fraction,
                        teacher_sizes=tuple(d.teacher_sizes), teacher_transfer=d.teacher_transfer,
                        teacher_noise=d.teacher_noise)
    return data


def check_fit(config: Config, data: Dataset) -> None:
    """The network fits the data, else a ConfigError naming what does not: its first and
    last sizes, and the loss's targets (cross-entropy needs probabilities: in [0, 1] for
    ``sigmoid_xent``, rows that also sum to 1 for ``softmax_xent``; with other targets it
    is no loss at all, and can fall without bound)."""
    sizes = config.network.sizes
    if (sizes[0], sizes[-1]) != (data.n_in, data.n_out):
        raise ConfigError(f"network.sizes: must start with {data.n_in} inputs and end with "
                          f"{data.n_out} outputs for data {data.name!r} (got {sizes})")
    loss = config.network.loss
    if loss not in ("sigmoid_xent", "softmax_xent"):
        return
    targets = np.concatenate([data.y_train, data.y_test])
    probabilities = targets.min() >= 0 and targets.max() <= 1
    if loss == "softmax_xent":
        probabilities = probabilities and np.allclose(targets.sum(axis=1), 1.0, atol=1e-6)
    if not probabilities:
        needs = ("in [0, 1]" if loss == "sigmoid_xent"
                 else "rows of probabilities (>= 0, summing to 1), e.g. one-hot classes")
        raise ConfigError(f"network.loss: {loss!r} needs targets {needs}; data {data.name!r} "
                          f"has targets in [{targets.min():.3g}, {targets.max():.3g}]"
                          + (" (a teacher's outputs): use 'mse'" if data.name == "teacher"
                             else ""))


def checkpoint(engine: MatrixEngine, data: Dataset, step: int, epoch: float,
               train_loss: float | None) -> dict:
    """Alignment and performance of the network now, as one history entry."""
    W, B = engine.net.W, engine.feedback_matrices()
    probe_x, probe_y = data.x_train[:PROBE_BATCH], data.y_train[:PROBE_BATCH]
    net_inputs, _ = engine.forward(probe_x)
    test_inputs, _ = engine.forward(data.x_test)
    test_output = engine.loss.predict(test_inputs[-1])
    alignment = {
        "weight_angle_deg": M.weight_angles(W, B),
        # the least angle(B_l, W_l^T) synapses delivering feedback_levels values can reach
        "weight_angle_floor_deg": [M.levels_floor_deg(w.T, engine.constraints.levels)
                                   for w in engine.net.W],
        "delta_angle_deg": M.delta_angles(engine.backward(net_inputs, probe_y),
                                          engine.backprop_deltas(net_inputs, probe_y)),
        "sign_concordance": M.sign_concordances(W, B),
        "norm_ratio": M.norm_ratios(W, B),
    } if engine.has_feedback else dict.fromkeys(ALIGNMENT_KEYS)   # no feedback to align
    return {
        "step": step,
        "epoch": epoch,
        **alignment,
        "train_loss": train_loss,
        "test_loss": engine.loss.value(test_inputs[-1], data.y_test),
        "test_accuracy": (M.accuracy(test_output, data.y_test) if data.is_classification
                          else None),
    }


def draw_figures(folder) -> None:
    """Every figure of a run's folder (imported on use: matplotlib is slow to import, and
    sweeps do not draw)."""
    from ..figures import draw_figures as draw
    draw(folder)


def final_of(last: dict) -> dict:
    """The ``final`` entry of ``metrics.json``: what the last checkpoint measured."""
    return {k: last[k] for k in FINAL_KEYS}


# --- divergence --------------------------------------------------------------------------

def reference_norm(matrix: Array) -> float:
    """Norm a matrix is measured against: its own at the start, but at least that of a
    unit-gain initialisation of its shape, ``U(-1, 1) / sqrt(fan-in)``, whose expected
    Frobenius norm is ``sqrt(rows / 3)`` (so small initial weights may grow into it)."""
    return max(float(np.linalg.norm(matrix)), float(np.sqrt(matrix.shape[0] / 3.0)))


class DivergenceWatch:
    """Stops a run whose training loss or weights blow up, naming where.

    A run has diverged when a batch's training loss is not finite or exceeds
    ``training.divergence_factor`` times the network's initial test loss, or when the norm
    of any W_l or B_l is not finite or exceeds that factor times its reference
    (:func:`reference_norm`). Healthy runs of every shipped config stay within 11x in
    weight norm and 2.8x in batch loss (measured; see the README), so the default
    factor of 1000 leaves two orders of magnitude.
    """

    def __init__(self, factor: float, initial_loss: float, W: list[Array], B: list[Array]):
        self.factor = factor
        self.initial_loss = max(float(initial_loss), np.finfo(float).tiny)
        self.loss_limit = factor * self.initial_loss
        self.references = {"W": [reference_norm(w) for w in W],
                           "B": [reference_norm(b) for b in B]}

    def loss(self, where: str, loss: float, weights) -> None:
        """Check one batch's training loss (``where``: "step 12"); ``weights()`` gives the
        current ``(W, B)`` (asked only when the loss has blown up)."""
        if loss <= self.loss_limit:     # False for NaN too
            return
        W, B = weights()
        self.weights(where, W, B)   # a weight that blew up names its layer first
        output = f"in layer {len(W)} (the output)"
        raise DivergenceError(
            f"diverged at {where}: " + (f"non-finite loss {output}" if not np.isfinite(loss)
                                        else f"training loss {loss:.3g} {output} is more than "
                                        f"{self.factor:g} times its start "
                                        f"({self.initial_loss:.3g})")
            + "; lower the learning rate(s) or raise training.divergence_factor")

    def weights(self, where: str, W: list[Array], B: list[Array]) -> None:
        """Check every weight matrix's norm."""
        for kind, matrices in (("W", W), ("B", B)):
            for l, (matrix, reference) in enumerate(zip(matrices, self.references[kind]), 1):
                with np.errstate(over="ignore", invalid="ignore"):
                    norm = float(np.linalg.norm(matrix))
                if not np.isfinite(norm):   # an entry, or the sum of squares, overflowed
                    grown = f"non-finite {kind} in layer {l}"
                elif norm <= self.factor * reference:
                    continue
                else:
                    grown = (f"{kind} in layer {l} has norm {norm:.3g}, more than "
                             f"{self.factor:g} times its reference {reference:.3g}")
                raise DivergenceError(f"diverged at {where}: {grown}; lower the learning "
                                      "rate(s) or raise training.divergence_factor")


# --- resources ---------------------------------------------------------------------------

#: Bytes of memory per synapse of a Brian2 circuit (weight, indices, plasticity variables,
#: dynamic-array bookkeeping; measured ~70-110 B on runtime for the shipped circuits).
BYTES_PER_SYNAPSE = 128


#: Bytes per recorded spike event of a spiking circuit: unit index, time and spike count
#: (4 + 8 + 8) in the compiled binary's arrays, then in Python. Measured on the Poisson
#: plausible digits circuit (5.3e8 events by :func:`spike_events`): peak resident memory
#: 11.8 GB in the binary, 10.8 GB in Python afterwards, i.e. 22 B per event.
BYTES_PER_SPIKE_EVENT = 24


def spike_events(config: Config, presentations: int) -> float:
    """Expected spike events a spiking circuit records over ``presentations``: every unit
    population (with Dale's law the relays too) at its baseline rate; a unit issues at most
    one event (its pool's spikes) per time step."""
    circuit, sizes = config.circuit, config.network.sizes
    units = sum(sizes) + sum(sizes[1:]) + sizes[-1]        # forward, feedback, target
    if circuit.dale:
        units += sum(sizes[:-1]) + sum(sizes[1:])           # relays of W and of B
    dt_s = circuit.dt_ms * 1e-3
    per_step = min(1.0, circuit.neurons_per_unit * circuit.baseline_hz * dt_s)
    steps = presentations * circuit.presentation_ms / circuit.dt_ms
    return units * per_step * steps


def memory_needed(config: Config, n_test: int, n_train: int) -> int:
    """A generous estimate (bytes) of what a run of ``config`` holds in memory: the matrix
    engine's weights, feedback, velocities and temporaries (8 copies of the parameters)
    and its largest forward pass (the test set); a circuit's synapses and presentation
    table on top."""
    sizes = config.network.sizes
    parameters = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    rows = max(config.training.batch_size, n_test, PROBE_BATCH)
    needed = 8 * (8 * parameters + 4 * rows * sum(sizes))
    if config.experiment.engine == "circuit":
        presentations = n_train * config.training.epochs * (1 + config.schedule.mirror_batches
                                                            * len(sizes))
        presentations += config.schedule.initial_mirror_batches * (len(sizes) - 1)
        needed += 2 * parameters * BYTES_PER_SYNAPSE + 8 * presentations * (
            sizes[0] + sizes[-1] + 4 * len(sizes))
        if config.circuit.neuron in SPIKING_KINDS:   # every spike is recorded
            needed += BYTES_PER_SPIKE_EVENT * spike_events(config, presentations)
    return int(needed)


def available_memory() -> int:
    """This machine's physical memory in bytes (0 if unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def check_memory(config: Config, data: Dataset) -> None:
    """Refuse, before any work, a run that cannot fit in this machine's memory."""
    needed, have = memory_needed(config, len(data.x_test), len(data.x_train)), available_memory()
    if have and needed > have:
        spiking = (config.experiment.engine == "circuit"
                   and config.circuit.neuron in SPIKING_KINDS)
        why = (" (a spiking circuit records every spike: train on fewer samples or "
               "epochs, or split the run)" if spiking else "")
        raise ConfigError(f"network.sizes: a run of {config.network.sizes} on "
                          f"{len(data.x_train)} samples needs about {needed / 2**30:.1f} GiB "
                          f"of memory{why}; this machine has {have / 2**30:.1f} GiB "
                          f"(got {config.network.sizes!r})")
