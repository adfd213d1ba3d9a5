"""Run configuration: TOML in sections, every field typed and validated.

A config file has the sections ``[experiment] [data] [network] [training]
[rule] [schedule] [constraints] [device] [circuit] [check]``; every field has a default, so a
file names only what differs. ``base = "other.toml"`` at the top of a file layers it
over another file (paths relative to the file). Unknown sections or fields,
wrong types, NaN and out-of-range values raise :class:`ConfigError` naming the
field, before any work is done.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from ..models.constraints import FeedbackConstraints
from ..models.losses import LOSSES
from ..models.noise import NOISE_DISTRIBUTIONS, NoiseSource
from ..models.rules import RULES
from ..models.rules.ss import SIGN_SYMMETRY_MAGNITUDES
from ..models.transfer import TRANSFERS
from .devices import DEVICE_NAMES

DATASETS = ("digits", "teacher", "mnist", "fashion-mnist", "cifar10")
ENGINES = ("matrix", "circuit")
MIRROR_SCHEMES = ("alternating", "simultaneous")
NEURON_KINDS = ("instantaneous", "rate", "poisson", "lif")
#: What a LIF neuron's drive is (see mirrorlab.models.lif).
LIF_SYNAPSES = ("current", "conductance")
NOISE_SOURCES = ("replay", "brian")  # mirror noise: replayed arrays or drawn in Brian2


class ConfigError(ValueError):
    """A config field has a wrong name, type or value; the message names it."""


def _require(ok: bool, where: str, message: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{where}: {message} (got {value!r})")


def _one_of(where: str, value: str, allowed) -> None:
    _require(value in allowed, where, f"must be one of {', '.join(allowed)}", value)


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "run"
    seed: int = 0
    engine: str = "matrix"

    def validate(self):
        _require(self.seed >= 0, "experiment.seed", "must be >= 0", self.seed)
        _one_of("experiment.engine", self.engine, ENGINES)


@dataclass(frozen=True)
class DataConfig:
    name: str = "digits"
    path: str = ""
    n_train: int = 0
    n_test: int = 0
    test_fraction: float = 0.25
    teacher_sizes: list[int] = field(default_factory=lambda: [20, 30, 10])
    teacher_transfer: str = "tanh"
    teacher_noise: float = 0.0

    def validate(self):
        _one_of("data.name", self.name, DATASETS)
        _require(self.n_train >= 0, "data.n_train", "must be >= 0 (0 = all)", self.n_train)
        _require(self.n_test >= 0, "data.n_test", "must be >= 0 (0 = all)", self.n_test)
        _require(0 < self.test_fraction < 1, "data.test_fraction", "must be in (0, 1)",
                 self.test_fraction)
        _require(len(self.teacher_sizes) >= 2 and min(self.teacher_sizes) > 0,
                 "data.teacher_sizes", "must list >= 2 positive sizes", self.teacher_sizes)
        _one_of("data.teacher_transfer", self.teacher_transfer, TRANSFERS)
        _require(self.teacher_noise >= 0, "data.teacher_noise", "must be >= 0", self.teacher_noise)
        _require(self.name not in ("mnist", "fashion-mnist", "cifar10") or self.path != "",
                 "data.path", f"must name the folder with the {self.name} files", self.path)


@dataclass(frozen=True)
class NetworkConfig:
    sizes: list[int] = field(default_factory=lambda: [64, 100, 10])
    transfer: str = "sigmoid"
    output_transfer: str = "linear"
    loss: str = "softmax_xent"
    init_gain: float = 1.0

    def validate(self):
        _require(len(self.sizes) >= 2, "network.sizes", "must list at least input and output size",
                 self.sizes)
        _require(min(self.sizes) > 0, "network.sizes", "every size must be > 0", self.sizes)
        _one_of("network.transfer", self.transfer, TRANSFERS)
        _one_of("network.output_transfer", self.output_transfer, TRANSFERS)
        _one_of("network.loss", self.loss, LOSSES)
        _require(self.loss == "mse" or self.output_transfer == "linear", "network.output_transfer",
                 f"must be 'linear' with loss {self.loss!r} (the loss applies its own output "
                 "nonlinearity)", self.output_transfer)
        _require(self.init_gain > 0, "network.init_gain", "must be > 0", self.init_gain)


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    checkpoint_every: int = 0

    def validate(self):
        _require(self.epochs > 0, "training.epochs", "must be > 0", self.epochs)
        _require(self.batch_size > 0, "training.batch_size", "must be > 0", self.batch_size)
        _require(self.lr > 0, "training.lr", "must be > 0", self.lr)
        _require(0 <= self.momentum < 1, "training.momentum", "must be in [0, 1)", self.momentum)
        _require(self.weight_decay >= 0, "training.weight_decay", "must be >= 0", self.weight_decay)
        _require(self.checkpoint_every >= 0, "training.checkpoint_every",
                 "must be >= 0 (0 = once per epoch)", self.checkpoint_every)


@dataclass(frozen=True)
class FAConfig:
    scale: float = 1.0

    def validate(self):
        _require(self.scale > 0, "rule.fa.scale", "must be > 0", self.scale)


@dataclass(frozen=True)
class SSConfig:
    scale: float = 1.0
    magnitudes: str = "uniform"

    def validate(self):
        _require(self.scale > 0, "rule.ss.scale", "must be > 0", self.scale)
        _one_of("rule.ss.magnitudes", self.magnitudes, SIGN_SYMMETRY_MAGNITUDES)


@dataclass(frozen=True)
class WMConfig:
    lr: float = 0.05
    decay: float = 0.5
    noise: str = "gaussian"
    sigma: float = 1.0
    target_std: float = 0.0
    scale: float = 1.0

    def validate(self):
        _require(self.lr > 0, "rule.wm.lr", "must be > 0", self.lr)
        _require(0 <= self.decay < 1, "rule.wm.decay", "must be in [0, 1)", self.decay)
        _one_of("rule.wm.noise", self.noise, NOISE_DISTRIBUTIONS)
        _require(self.sigma > 0, "rule.wm.sigma", "must be > 0", self.sigma)
        _require(self.target_std >= 0, "rule.wm.target_std", "must be >= 0 (0 = off)",
                 self.target_std)
        _require(self.scale > 0, "rule.wm.scale", "must be > 0", self.scale)


@dataclass(frozen=True)
class KPConfig:
    decay: float = 1e-4
    scale: float = 1.0

    def validate(self):
        _require(0 <= self.decay < 1, "rule.kp.decay", "must be in [0, 1)", self.decay)
        _require(self.scale > 0, "rule.kp.scale", "must be > 0", self.scale)


@dataclass(frozen=True)
class RuleConfig:
    """Which rule runs (``name``) and the parameters of every rule, so one file
    serves a comparison of all rules."""

    name: str = "wm"
    fa: FAConfig = field(default_factory=FAConfig)
    ss: SSConfig = field(default_factory=SSConfig)
    wm: WMConfig = field(default_factory=WMConfig)
    kp: KPConfig = field(default_factory=KPConfig)

    def validate(self):
        _one_of("rule.name", self.name, RULES)
        for sub in (self.fa, self.ss, self.wm, self.kp):
            sub.validate()


@dataclass(frozen=True)
class ScheduleConfig:
    """When the mirror phase runs (weight mirror only).

    ``initial_mirror_batches`` mirror batches before training; then after
    every ``mirror_every`` engaged batches, ``mirror_batches`` mirror batches
    of ``mirror_batch_size`` noise samples (0 = the training batch size).
    """

    initial_mirror_batches: int = 0
    mirror_every: int = 1
    mirror_batches: int = 1
    mirror_batch_size: int = 0
    mirror_scheme: str = "alternating"

    def validate(self):
        _require(self.initial_mirror_batches >= 0, "schedule.initial_mirror_batches",
                 "must be >= 0", self.initial_mirror_batches)
        _require(self.mirror_every > 0, "schedule.mirror_every", "must be > 0", self.mirror_every)
        _require(self.mirror_batches >= 0, "schedule.mirror_batches", "must be >= 0",
                 self.mirror_batches)
        _require(self.mirror_batch_size >= 0, "schedule.mirror_batch_size",
                 "must be >= 0 (0 = training batch size)", self.mirror_batch_size)
        _one_of("schedule.mirror_scheme", self.mirror_scheme, MIRROR_SCHEMES)


@dataclass(frozen=True)
class ConstraintsConfig:
    """Biological constraints on the feedback synapses B (see ``models/constraints.py``).

    ``feedback_dale``: each feedback neuron (column of ``B_l``) has a fixed sign,
    a share ``feedback_excitatory_fraction`` of them (exactly, rounded) excitatory;
    wrong-sign entries are set to zero after every update. ``feedback_levels``:
    0 = continuous; an odd n >= 3 = the feedback delivers only n values (3 = ternary).
    """

    feedback_dale: bool = False
    feedback_excitatory_fraction: float = 0.5
    feedback_levels: int = 0

    def validate(self):
        _require(0 <= self.feedback_excitatory_fraction <= 1,
                 "constraints.feedback_excitatory_fraction", "must be in [0, 1]",
                 self.feedback_excitatory_fraction)
        _require(self.feedback_levels == 0 or (self.feedback_levels >= 3
                                               and self.feedback_levels % 2 == 1),
                 "constraints.feedback_levels",
                 "must be 0 (continuous) or an odd number >= 3 (3 = ternary)",
                 self.feedback_levels)


@dataclass(frozen=True)
class DeviceConfig:
    """Where a circuit runs: Brian2 ``runtime``, ``cpp`` (cpp_standalone) or ``cuda``."""

    name: str = "runtime"
    threads: int = 0
    gpu_id: int = 0
    build_dir: str = ""

    def validate(self):
        _one_of("device.name", self.name, DEVICE_NAMES)
        _require(self.threads >= 0, "device.threads", "must be >= 0 (0 = one thread, Brian2's default)", self.threads)
        _require(self.gpu_id >= 0, "device.gpu_id", "must be >= 0", self.gpu_id)


@dataclass(frozen=True)
class CircuitConfig:
    """Neuron model and timing of a Brian2 circuit (engine = "circuit").

    Spiking neurons (``neuron = "poisson"`` or ``"lif"``, see ``circuits/spiking.py``) carry
    a signed value v at ``baseline_hz + gain_hz * v`` (``signed = "baseline"``), each unit
    a pool of ``neurons_per_unit`` neurons with the same input. LIF neurons
    (``models/lif.py``): membrane time constant ``lif_tau_m_ms``, refractory period
    ``lif_refractory_ms``, membrane noise ``lif_sigma`` (sd of the free potential, in units
    of threshold - rest), the unit's value enters as a current or an excitatory
    conductance (``lif_synapses``). ``tau_syn_ms``
    synaptic filter, ``tau_trace_ms`` fast and ``tau_mean_ms`` slow (running mean) spike
    traces of plasticity; ``presentation_ms`` per sample or noise draw; ``noise_drive``
    mirror noise drive in units of rule.wm.sigma (0 = spiking variability only);
    ``dale`` one sign per population's outgoing synapses (inhibitory interneurons carry
    the negative weights; ``dale_relay``: they fire at the rate they decode from their
    partner, ``"rate"``, or copy its spikes one step later, ``"copy"``); ``delay_forward_ms``, ``delay_feedback_ms`` spike delays of
    W and B, drawn uniformly within +- ``delay_spread_ms``.
    """

    neuron: str = "instantaneous"
    tau_ms: float = 1.0
    dt_ms: float = 0.1
    settle_steps: int = 0
    noise_source: str = "replay"
    baseline_hz: float = 30.0
    gain_hz: float = 15.0
    neurons_per_unit: int = 20
    lif_synapses: str = "current"
    lif_tau_m_ms: float = 20.0
    lif_refractory_ms: float = 2.0
    lif_sigma: float = 0.3
    signed: str = "baseline"
    tau_syn_ms: float = 10.0
    tau_trace_ms: float = 10.0
    tau_mean_ms: float = 1000.0
    presentation_ms: float = 100.0
    noise_drive: float = 1.0
    dale: bool = False
    dale_relay: str = "rate"
    delay_forward_ms: float = 0.0
    delay_feedback_ms: float = 0.0
    delay_spread_ms: float = 0.0

    def validate(self):
        _one_of("circuit.neuron", self.neuron, NEURON_KINDS)
        _one_of("circuit.noise_source", self.noise_source, NOISE_SOURCES)
        _require(self.tau_ms > 0, "circuit.tau_ms", "must be > 0", self.tau_ms)
        _require(self.dt_ms > 0, "circuit.dt_ms", "must be > 0", self.dt_ms)
        _require(self.settle_steps >= 0, "circuit.settle_steps", "must be >= 0 (0 = automatic)",
                 self.settle_steps)
        _one_of("circuit.lif_synapses", self.lif_synapses, LIF_SYNAPSES)
        _one_of("circuit.dale_relay", self.dale_relay, ("rate", "copy"))
        for name in ("baseline_hz", "gain_hz", "tau_syn_ms", "tau_trace_ms", "tau_mean_ms",
                     "presentation_ms", "lif_tau_m_ms", "lif_sigma"):
            _require(getattr(self, name) > 0, f"circuit.{name}", "must be > 0",
                     getattr(self, name))
        for name in ("noise_drive", "delay_forward_ms", "delay_feedback_ms", "delay_spread_ms",
                     "lif_refractory_ms"):
            _require(getattr(self, name) >= 0, f"circuit.{name}", "must be >= 0",
                     getattr(self, name))
        _one_of("circuit.signed", self.signed, ("baseline",))
        _require(self.neurons_per_unit >= 1, "circuit.neurons_per_unit", "must be >= 1",
                 self.neurons_per_unit)


@dataclass(frozen=True)
class CheckConfig:
    """Bounds of ``mirrorlab check`` (the plausibility checks, ``sims/check.py``).

    ``steps``: engaged presentations of the brief run (0 = the config's whole run).
    ``max_rate_hz``: the firing rate of a rate unit whose activity r is 1 (Hz per unit
    of r). ``rate_bounds_hz``: [low, high] physiological firing rates, low >= 0.
    ``weight_bound``: largest |w| allowed for any W, b or B entry (dimensionless).
    ``dale_tolerance``: largest fraction of presynaptic neurons of a synapse group whose
    outgoing weights may mix signs. ``tau_range_ms``: [low, high] neuron time constant
    (rate neurons). ``settle_tolerance``: largest |r - r_inf| when a presentation ends.
    ``max_relative_update``: largest change of a weight matrix in one presentation,
    relative to its norm. ``angle_threshold_deg``: alignment is reached when every
    angle(B_l, W_l^T) is below it. ``min_accuracy``: test accuracy to pass (0 = above
    chance: the most frequent test class's share plus two of its standard errors).
    """

    steps: int = 200
    max_rate_hz: float = 100.0
    rate_bounds_hz: list[float] = field(default_factory=lambda: [0.0, 200.0])
    weight_bound: float = 10.0
    dale_tolerance: float = 0.0
    tau_range_ms: list[float] = field(default_factory=lambda: [1.0, 100.0])
    settle_tolerance: float = 0.01
    max_relative_update: float = 0.1
    angle_threshold_deg: float = 20.0
    min_accuracy: float = 0.0

    def validate(self):
        _require(self.steps >= 0, "check.steps", "must be >= 0 (0 = the whole run)", self.steps)
        _require(self.max_rate_hz > 0, "check.max_rate_hz", "must be > 0", self.max_rate_hz)
        for name in ("rate_bounds_hz", "tau_range_ms"):
            low_high = getattr(self, name)
            _require(len(low_high) == 2 and 0 <= low_high[0] < low_high[1], f"check.{name}",
                     "must be [low, high] with 0 <= low < high", low_high)
        _require(self.weight_bound > 0, "check.weight_bound", "must be > 0", self.weight_bound)
        _require(0 <= self.dale_tolerance <= 1, "check.dale_tolerance", "must be in [0, 1]",
                 self.dale_tolerance)
        _require(self.settle_tolerance > 0, "check.settle_tolerance", "must be > 0",
                 self.settle_tolerance)
        _require(self.max_relative_update > 0, "check.max_relative_update", "must be > 0",
                 self.max_relative_update)
        _require(0 < self.angle_threshold_deg <= 180, "check.angle_threshold_deg",
                 "must be in (0, 180]", self.angle_threshold_deg)
        _require(0 <= self.min_accuracy <= 1, "check.min_accuracy",
                 "must be in [0, 1] (0 = above chance)", self.min_accuracy)


@dataclass(frozen=True)
class Config:
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    rule: RuleConfig = field(default_factory=RuleConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    constraints: ConstraintsConfig = field(default_factory=ConstraintsConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    circuit: CircuitConfig = field(default_factory=CircuitConfig)
    check: CheckConfig = field(default_factory=CheckConfig)

    def validate(self) -> "Config":
        for section in dataclasses.fields(self):
            getattr(self, section.name).validate()
        if self.data.name == "teacher":
            _require(self.data.teacher_sizes[0] == self.network.sizes[0]
                     and self.data.teacher_sizes[-1] == self.network.sizes[-1],
                     "network.sizes", "must start and end like data.teacher_sizes "
                     f"{self.data.teacher_sizes}", self.network.sizes)
        if RULES[self.rule.name].transports_weights:
            for name in ("feedback_dale", "feedback_levels"):
                value = getattr(self.constraints, name)
                _require(not value, f"constraints.{name}",
                         f"has no meaning with rule.name = {self.rule.name!r}, whose feedback is "
                         "read from W (no feedback synapses of its own to constrain)", value)
        return self

    def replace(self, **dotted: Any) -> "Config":
        """A copy with dotted fields replaced, e.g. ``replace(**{"rule.name": "fa"})``."""
        tree = to_dict(self)
        for key, value in dotted.items():
            *path, last = key.split(".")
            node = tree
            for part in path:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"{key}: no such section {part!r}")
                node = node[part]
            if last not in node:
                raise ConfigError(f"{key}: unknown field {last!r}; allowed: {', '.join(node)}")
            node[last] = value
        return from_dict(tree)


# --- reading and writing -------------------------------------------------------------

def _convert(where: str, value: Any, kind: Any) -> Any:
    """Check ``value`` against the annotation ``kind`` (int, float, str, bool, list[int],
    or a section dataclass) and return it converted (ints are accepted as floats)."""
    if dataclasses.is_dataclass(kind):
        _require(isinstance(value, dict), where, "must be a table", value)
        return _build_section(where, kind, value)
    origin = typing.get_origin(kind)
    if origin is list:
        (item_kind,) = typing.get_args(kind)
        _require(isinstance(value, list), where, "must be a list", value)
        return [_convert(f"{where}[{i}]", v, item_kind) for i, v in enumerate(value)]
    if kind is bool:
        _require(isinstance(value, bool), where, "must be true or false", value)
    elif kind is int:
        _require(isinstance(value, int) and not isinstance(value, bool), where,
                 "must be an integer", value)
    elif kind is float:
        _require(isinstance(value, (int, float)) and not isinstance(value, bool), where,
                 "must be a number", value)
        _require(math.isfinite(value), where, "must be finite", value)
        return float(value)
    elif kind is str:
        _require(isinstance(value, str), where, "must be a string", value)
    return value


def _build_section(where: str, cls, table: dict):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in table:
        if key not in names:
            raise ConfigError(f"{where}.{key}: unknown field; allowed in [{where}]: "
                              f"{', '.join(names)}")
    values = {k: _convert(f"{where}.{k}", v, hints[k]) for k, v in table.items()}
    return cls(**values)


def from_dict(tree: dict) -> Config:
    """Build and validate a :class:`Config` from a nested dict (as read from TOML)."""
    hints = typing.get_type_hints(Config)
    sections = {}
    for name, table in tree.items():
        if name not in hints:
            raise ConfigError(f"[{name}]: unknown section; allowed: {', '.join(hints)}")
        sections[name] = _convert(name, table, hints[name])
    return Config(**sections).validate()


def _read_layers(path: Path, seen: tuple = ()) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'base' files form a cycle")
    try:
        tree = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    base = tree.pop("base", None)
    if base is None:
        return tree
    _require(isinstance(base, str), f"{path}: base", "must be a path string", base)
    merged = _read_layers(path.parent / base, seen + (path.resolve(),))
    return _merge(merged, tree)


def _merge(lower: dict, upper: dict) -> dict:
    out = dict(lower)
    for key, value in upper.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(path: str | Path, **overrides: Any) -> Config:
    """Read a TOML config (following ``base``), apply dotted ``overrides``, validate."""
    config = from_dict(_read_layers(Path(path)))
    return config.replace(**overrides) if overrides else config


def to_dict(config: Config) -> dict:
    return dataclasses.asdict(config)


def to_toml(config: Config) -> str:
    """The fully resolved config as TOML text (what a results folder stores)."""
    return tomli_w.dumps(to_dict(config))


# --- from config to model objects -----------------------------------------------------

def make_rule(rule: RuleConfig):
    """The rule object that ``rule.name`` selects, with its parameters."""
    if rule.name == "wm":
        wm = rule.wm
        return RULES["wm"](lr=wm.lr, decay=wm.decay, noise=NoiseSource(wm.noise, wm.sigma),
                           target_std=wm.target_std, scale=wm.scale)
    params = getattr(rule, rule.name, None)
    return RULES[rule.name](**dataclasses.asdict(params)) if params else RULES[rule.name]()


def make_constraints(constraints: ConstraintsConfig) -> FeedbackConstraints:
    """The feedback constraints that ``[constraints]`` describes."""
    return FeedbackConstraints(dale=constraints.feedback_dale,
                               excitatory_fraction=constraints.feedback_excitatory_fraction,
                               levels=constraints.feedback_levels)
