"""Training runs of the matrix engine: the phase plan, checkpoints, results on disk."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..analysis import metrics as M
from ..models.losses import get_loss
from ..models.transfer import get_transfer
from . import results
from .config import Config, make_constraints, make_rule, to_toml
from .data import Dataset, load_dataset
from .matrix_engine import DivergenceError, MatrixEngine, init_network
from .schedule import ENGAGED, draw_mirror_noise, phase_plan, steps_per_epoch

PROBE_BATCH = 256  # training samples on which delta angles are measured


@dataclass(frozen=True)
class Streams:
    """Independent random streams of one run, all derived from its seed."""

    init: np.random.Generator   # initial W and B
    data: np.random.Generator   # sample order
    noise: np.random.Generator  # mirror noise

    @classmethod
    def from_seed(cls, seed: int) -> "Streams":
        return cls(*(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)))


def build_engine(config: Config, rng: np.random.Generator) -> MatrixEngine:
    """A :class:`MatrixEngine` with freshly initialised weights, as ``config`` says."""
    rule, constraints = make_rule(config.rule), make_constraints(config.constraints)
    net = init_network(config.network.sizes, rule, rng, config.network.init_gain, constraints)
    return MatrixEngine(
        net, rule, get_transfer(config.network.transfer),
        get_transfer(config.network.output_transfer),
        get_loss(config.network.loss, config.network.output_transfer),
        lr=config.training.lr, momentum=config.training.momentum,
        weight_decay=config.training.weight_decay, mirror_scheme=config.schedule.mirror_scheme,
        constraints=constraints)


def mirror_batch_size(config: Config) -> int:
    return config.schedule.mirror_batch_size or config.training.batch_size


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


def run_matrix(config: Config, out_dir: str | Path | None = None, *, progress: bool = True,
               data: Dataset | None = None) -> dict:
    """Train with the matrix engine; return (and, with ``out_dir``, write) the metrics.

    The results folder is updated at every checkpoint, so Ctrl-C or a
    divergence leaves what was finished, with ``"complete": false``.
    """
    data = data if data is not None else load_config_data(config)
    _check_sizes(config, data)
    streams = Streams.from_seed(config.experiment.seed)
    engine = build_engine(config, streams.init)
    folder = Path(out_dir) if out_dir is not None else None
    if folder is not None:
        results.write_text(folder / "config.toml", to_toml(config))

    n_train, batch = len(data.x_train), config.training.batch_size
    per_epoch = steps_per_epoch(n_train, batch)
    every = config.training.checkpoint_every or per_epoch
    sched = config.schedule
    plan = phase_plan(n_train, config.training.epochs, batch, streams.data,
                      mirror=engine.rule.uses_mirror_phase,
                      initial_mirror_batches=sched.initial_mirror_batches,
                      mirror_every=sched.mirror_every, mirror_batches=sched.mirror_batches)
    metrics = _new_metrics(config, data)
    metrics["history"].append(checkpoint(engine, data, 0, 0.0, None))
    losses, step, started = [], 0, time.perf_counter()
    bar = tqdm(total=config.training.epochs * per_epoch, disable=not progress, unit="batch",
               desc=f"{config.rule.name} seed {config.experiment.seed}")
    try:
        for event in plan:
            if event.phase == ENGAGED:
                losses.append(engine.engaged_step(data.x_train[event.samples],
                                                  data.y_train[event.samples]))
                step += 1
                bar.update()
            else:
                engine.mirror_step(draw_mirror_noise(streams.noise, engine.rule.noise,
                                                     engine.net.sizes, mirror_batch_size(config)))
            engine.check_finite(step, losses[-1] if losses else 0.0)
            if event.phase == ENGAGED and step % every == 0 and step < bar.total:
                metrics["history"].append(
                    checkpoint(engine, data, step, step / per_epoch, float(np.mean(losses))))
                losses = []
                _save(folder, metrics, engine)
        # The last checkpoint comes after the last mirror phase, so `final` and
        # arrays.npz describe the same weights.
        metrics["history"].append(
            checkpoint(engine, data, step, step / per_epoch, float(np.mean(losses))))
    except (KeyboardInterrupt, DivergenceError) as stop:
        metrics["stopped"] = f"{type(stop).__name__}: {stop}" if str(stop) else type(stop).__name__
        _save(folder, metrics, engine)
        raise
    finally:
        bar.close()
    metrics["wall_time_s"] = time.perf_counter() - started
    metrics["final"] = _final(metrics["history"][-1])
    metrics["complete"] = True
    _save(folder, metrics, engine)
    return metrics


def load_config_data(config: Config) -> Dataset:
    d = config.data
    return load_dataset(d.name, path=d.path, seed=config.experiment.seed, n_train=d.n_train,
                        n_test=d.n_test, test_fraction=d.test_fraction,
                        teacher_sizes=tuple(d.teacher_sizes), teacher_transfer=d.teacher_transfer,
                        teacher_noise=d.teacher_noise)


def _check_sizes(config: Config, data: Dataset) -> None:
    sizes = config.network.sizes
    if (sizes[0], sizes[-1]) != (data.n_in, data.n_out):
        from .config import ConfigError
        raise ConfigError(f"network.sizes: must start with {data.n_in} inputs and end with "
                          f"{data.n_out} outputs for data {data.name!r} (got {sizes})")


def _new_metrics(config: Config, data: Dataset) -> dict:
    return {"name": config.experiment.name, "rule": config.rule.name, "engine": "matrix",
            "device": "cpu (numpy)", "seed": config.experiment.seed, "data": data.name,
            "sizes": list(config.network.sizes), "versions": results.versions(),
            "history": [], "complete": False}


def _final(last: dict) -> dict:
    keys = ("test_accuracy", "test_loss", "weight_angle_deg", "delta_angle_deg",
            "sign_concordance", "norm_ratio")
    return {k: last[k] for k in keys}


def _save(folder: Path | None, metrics: dict, engine: MatrixEngine) -> None:
    if folder is None:
        return
    results.write_json(folder / "metrics.json", metrics)
    results.write_arrays(folder / "arrays.npz", results.network_arrays(
        engine.net.W, engine.net.b, engine.feedback_matrices()))
