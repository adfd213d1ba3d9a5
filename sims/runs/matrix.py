"""Training runs of the matrix engine: the phase plan, checkpoints, results on disk."""
from __future__ import annotations

import datetime
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ...models.losses import get_loss
from ...models.schedule import ENGAGED, draw_mirror_noise, phase_plan, steps_per_epoch
from ...models.transfer import get_transfer
from .. import results
from ..config import Config, ConfigError, to_toml
from ..conntra import ConntraEngine, ternary_network
from ..data import Dataset
from ..dtrp import DecoupledEngine, module_layers
from ..matrix_engine import DivergenceError, MatrixEngine, init_network
from .common import (DivergenceWatch, Streams, check_memory, check_fit, checkpoint,
                     draw_figures, final_of, load_config_data)


def build_engine(config: Config, rng: np.random.Generator) -> MatrixEngine:
    """A :class:`MatrixEngine` with freshly initialised weights, as ``config`` says: the
    rule's, or the ``training.trainer`` CoNNTrA's, or backprop in ``training.modules``
    decoupled modules."""
    training, network = config.training, config.network
    transfers = (get_transfer(network.transfer), get_transfer(network.output_transfer),
                 get_loss(network.loss, network.output_transfer))
    check_trainer(config)
    if training.trainer == "conntra":
        return ConntraEngine(*ternary_network(network.sizes, rng), *transfers, rng=rng,
                             batch_size=training.batch_size)
    rule, constraints = config.rule.selected, config.constraints.feedback()
    net = init_network(network.sizes, rule, rng, network.init_gain, constraints)
    options = dict(lr=training.lr, momentum=training.momentum,
                   weight_decay=training.weight_decay, batch_size=training.batch_size,
                   dtype=training.dtype)
    if training.modules > 1:
        return DecoupledEngine(net, *transfers, modules=training.modules,
                               weight_prediction=training.weight_prediction, **options)
    return MatrixEngine(net, rule, *transfers, mirror_scheme=config.schedule.mirror_scheme,
                        constraints=constraints, **options)


def check_trainer(config: Config) -> None:
    """What ``training.trainer`` and ``training.modules`` can be combined with."""
    training = config.training
    rule_free = ("trainer = \"conntra\" searches ternary weights with no feedback rule"
                 if training.trainer == "conntra" else
                 "modules > 1 backpropagates inside each module (DTRP)"
                 if training.modules > 1 else None)
    if rule_free is None:
        return
    if config.experiment.engine != "matrix":
        raise ConfigError(f"experiment.engine: {rule_free}: the matrix engine only "
                          f"(got {config.experiment.engine!r})")
    if training.trainer == "conntra" and training.modules > 1:
        raise ConfigError("training.modules: must be 1 with trainer = \"conntra\"")
    if config.rule.name != "bp":
        raise ConfigError(f"rule.name: {rule_free}; set rule.name = \"bp\" (got "
                          f"{config.rule.name!r})")
    if training.trainer == "conntra" and (training.momentum or training.weight_decay):
        raise ConfigError("training.momentum, training.weight_decay: CoNNTrA takes no "
                          "gradient steps; leave them 0")
    module_layers(len(config.network.sizes) - 1, training.modules)


def method_name(config: Config) -> str:
    """What trains the network: ``conntra``, ``dtrp-k3`` (``-nopred`` without weight
    prediction), or the rule's name."""
    training = config.training
    if training.trainer == "conntra":
        return "conntra"
    if training.modules > 1:
        return f"dtrp-k{training.modules}" + ("" if training.weight_prediction else "-nopred")
    return config.rule.name


def mirror_batch_size(config: Config) -> int:
    return config.schedule.mirror_batch_size or config.training.batch_size


def run_matrix(config: Config, out_dir: str | Path | None = None, *, progress: bool = True,
               data: Dataset | None = None, figures: bool = False) -> dict:
    """Train with the matrix engine; return (and, with ``out_dir``, write) the metrics.

    The results folder is updated at every checkpoint, so Ctrl-C or a divergence leaves
    what was finished, with ``"complete": false``; ``figures`` draws the run's figures
    before the run is marked complete (see :mod:`mirrorlab.sims.results`).
    """
    data = data if data is not None else load_config_data(config)
    check_fit(config, data)
    check_memory(config, data)
    folder = results.check_folder(out_dir) if out_dir is not None else None
    streams = Streams.from_seed(config.experiment.seed)
    engine = build_engine(config, streams.init)
    n_train, batch = len(data.x_train), config.training.batch_size
    per_epoch = steps_per_epoch(n_train, batch)
    every = config.training.checkpoint_every or per_epoch
    sched = config.schedule
    plan = phase_plan(n_train, config.training.epochs, batch, streams.data,
                      mirror=engine.rule.uses_mirror_phase,
                      initial_mirror_batches=sched.initial_mirror_batches,
                      mirror_every=sched.mirror_every, mirror_batches=sched.mirror_batches)
    metrics = new_metrics(config, data)
    metrics["history"].append(checkpoint(engine, data, 0, 0.0, None))
    watch = DivergenceWatch(config.training.divergence_factor,
                            metrics["history"][0]["test_loss"], engine.net.W,
                            engine.feedback_matrices())
    if folder is not None:
        results.begin(folder, to_toml(config), metrics)
    losses, step, started = [], 0, time.perf_counter()
    bar = tqdm(total=config.training.epochs * per_epoch, disable=not progress, unit="batch",
               desc=f"{method_name(config)} seed {config.experiment.seed}")
    noise, mirror_size, sizes = engine.rule.mirror_noise, mirror_batch_size(config), \
        engine.net.sizes
    engaged_step, limit, total = engine.engaged_step, watch.loss_limit, bar.total
    order = x_epoch = y_epoch = None
    try:
        for event in plan:
            if event.phase != ENGAGED:
                engine.mirror_step(draw_mirror_noise(streams.noise, noise, sizes, mirror_size))
                continue
            if event.order is not order:   # a new epoch: its data gathered once, in order
                order = event.order
                x_epoch, y_epoch = data.x_train[order], data.y_train[order]
            start = event.start                # batches are slices (the last may be short)
            loss = engaged_step(x_epoch[start:start + batch], y_epoch[start:start + batch])
            losses.append(loss)
            step += 1
            bar.update()
            if not loss <= limit:              # (NaN too)
                watch.loss(f"step {step}", loss,
                           lambda: (engine.net.W, engine.feedback_matrices()))
            if step % every == 0 and step < total:
                watch.weights(f"step {step}", engine.net.W, engine.feedback_matrices())
                metrics["history"].append(
                    checkpoint(engine, data, step, step / per_epoch, float(np.mean(losses))))
                losses = []
                _save(folder, metrics, engine)
        # The last checkpoint comes after the last mirror phase, so `final` and
        # arrays.npz describe the same weights.
        watch.weights(f"step {step}", engine.net.W, engine.feedback_matrices())
        metrics["history"].append(
            checkpoint(engine, data, step, step / per_epoch, float(np.mean(losses))))
    except (KeyboardInterrupt, DivergenceError) as stop:
        metrics["stopped"] = f"{type(stop).__name__}: {stop}" if str(stop) else type(stop).__name__
        _save(folder, metrics, engine)
        raise
    finally:
        bar.close()
    metrics["wall_time_s"] = time.perf_counter() - started
    metrics["parameter_memory"] = {"parameters": engine.parameter_count,
                                   "bits_per_parameter": engine.parameter_bits,
                                   "bytes": engine.parameter_count * engine.parameter_bits / 8}
    if isinstance(engine, DecoupledEngine):
        metrics["modules"] = engine.memory(batch)
    metrics["final"] = final_of(metrics["history"][-1])
    if folder is not None:
        results.finish(folder, metrics, {"arrays.npz": _arrays(engine)},
                       draw_figures if figures else None)
    metrics["complete"] = True
    return metrics


def new_metrics(config: Config, data: Dataset) -> dict:
    """``metrics.json`` of a run that has not started (``complete`` false, empty history)."""
    return {"name": config.experiment.name, "rule": method_name(config), "engine": "matrix",
            "device": "cpu (numpy)", "seed": config.experiment.seed, "data": data.name,
            "sizes": list(config.network.sizes), "versions": results.versions(),
            "config_sha256": results.config_digest(to_toml(config)),
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "history": [], "complete": False}


def _arrays(engine: MatrixEngine) -> dict:
    return results.network_arrays(engine.net.W, engine.net.b, engine.feedback_matrices())


def _save(folder: Path | None, metrics: dict, engine: MatrixEngine) -> None:
    """A checkpoint on disk: the arrays, then the (incomplete) metrics."""
    if folder is None:
        return
    results.write_arrays(folder / "arrays.npz", _arrays(engine))
    results.write_json(folder / "metrics.json", {**metrics, "complete": False})
