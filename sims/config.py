"""Run configuration: TOML in sections, every field typed and validated.

A config file has the sections ``[experiment] [data] [network] [training]
[rule] [schedule] [constraints] [device] [circuit] [check]``; every field has a default, so a
file names only what differs. ``base = "other.toml"`` at the top of a file layers it
over another file (paths relative to the file). Unknown sections or fields,
wrong types, NaN and out-of-range values raise :class:`ConfigError` naming the
field, before any work is done.

Each field declares its allowed values beside its default
(:func:`mirrorlab.models.params.parameter`); ``[rule.<name>]`` is each registered rule's
own parameter dataclass (:data:`mirrorlab.models.rules.RULES`), so a new rule brings its
section with it.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import tomli_w

from ..models.constraints import FeedbackConstraints
from ..models.losses import LOSSES
from ..models.lif import SYNAPSE_KINDS as LIF_SYNAPSES
from ..models.neurons import (NEURON_KINDS, NOISE_SOURCES, SPIKING_KINDS, SPIKING_PARAMETERS,
                              check_spiking, presentation_steps)
from ..models.params import ParameterError, at_most, check_fields, fraction_below_one, \
    non_negative, one_of, parameter, positive, require, satisfies, unit_interval
from ..models.rules import RULES, Rule
from ..models.schedule import MIRROR_SCHEME
from ..models.transfer import TRANSFERS
from .devices import DEVICE_NAMES

DATASETS = ("digits", "iris", "teacher", "mnist", "fashion-mnist", "cifar10")
ENGINES = ("matrix", "circuit")

#: A config field has a wrong name, type or value, named in the message (rules raise it too).
ConfigError = ParameterError


LOW_HIGH = satisfies(lambda v: len(v) == 2 and 0 <= v[0] < v[1],
                     "must be [low, high] with 0 <= low < high")
#: A name that becomes a folder of the results tree.
FOLDER_NAME = satisfies(lambda v: v not in ("", ".", "..") and v.isprintable() and "/" not in v,
                        "must be a non-empty printable name without '/' (it names a results "
                        "folder)")
PATH = satisfies(lambda v: "\0" not in v, "must not contain a NUL byte")


class Section:
    """A config section: its fields are checked against their declarations; ``validate``
    adds the checks that relate several fields."""

    section: typing.ClassVar[str] = ""

    def validate(self) -> None:
        check_fields(self, self.section)


@dataclass(frozen=True)
class ExperimentConfig(Section):
    section = "experiment"
    name: str = parameter("run", FOLDER_NAME)
    seed: int = parameter(0, non_negative)
    engine: str = parameter("matrix", one_of(*ENGINES))


@dataclass(frozen=True)
class DataConfig(Section):
    section = "data"
    name: str = parameter("digits", one_of(*DATASETS))
    path: str = parameter("", PATH)
    n_train: int = parameter(0, satisfies(lambda v: v >= 0, "must be >= 0 (0 = all)"))
    n_test: int = parameter(0, satisfies(lambda v: v >= 0, "must be >= 0 (0 = all)"))
    test_fraction: float = parameter(0.25, satisfies(lambda v: 0 < v < 1, "must be in (0, 1)"))
    teacher_sizes: list[int] = parameter(lambda: [20, 30, 10], satisfies(
        lambda v: len(v) >= 2 and min(v) > 0, "must list >= 2 sizes, each > 0"))
    teacher_transfer: str = parameter("tanh", one_of(*TRANSFERS))
    teacher_noise: float = parameter(0.0, non_negative)

    def validate(self):
        super().validate()
        require(self.name not in ("mnist", "fashion-mnist", "cifar10") or self.path != "",
                "data.path", f"must name the folder with the {self.name} files", self.path)


@dataclass(frozen=True)
class NetworkConfig(Section):
    section = "network"
    sizes: list[int] = parameter(lambda: [64, 100, 10],
                                 satisfies(lambda v: len(v) >= 2,
                                           "must list at least input and output size"),
                                 satisfies(lambda v: min(v) > 0, "every size must be > 0"))
    transfer: str = parameter("sigmoid", one_of(*TRANSFERS))
    output_transfer: str = parameter("linear", one_of(*TRANSFERS))
    loss: str = parameter("softmax_xent", one_of(*LOSSES))
    init_gain: float = parameter(1.0, positive, at_most(
        1e6, "initial weights of that size saturate every transfer function, and beyond "
        "~1e150 their squared norms overflow"))

    def validate(self):
        super().validate()
        require(self.loss == "mse" or self.output_transfer == "linear", "network.output_transfer",
                f"must be 'linear' with loss {self.loss!r} (the loss applies its own output "
                "nonlinearity)", self.output_transfer)


@dataclass(frozen=True)
class TrainingConfig(Section):
    section = "training"
    epochs: int = parameter(10, positive)
    batch_size: int = parameter(32, positive)
    lr: float = parameter(0.1, positive)
    momentum: float = parameter(0.0, fraction_below_one)
    weight_decay: float = parameter(0.0, non_negative)
    checkpoint_every: int = parameter(0, satisfies(lambda v: v >= 0,
                                                   "must be >= 0 (0 = once per epoch)"))
    divergence_factor: float = parameter(1000.0, satisfies(lambda v: v > 1, "must be > 1"))
    dtype: str = parameter("float64", one_of("float64", "float32"))
    trainer: str = parameter("gradient", one_of("gradient", "conntra"))   # sims/conntra.py
    modules: int = parameter(1, positive)     # K > 1: decoupled modules, sims/dtrp.py
    weight_prediction: bool = True            # of the decoupled modules


@dataclass(frozen=True)
class RuleConfig:
    """Which rule runs (``name``) and the parameters of every registered rule, one table
    ``[rule.<name>]`` each, so one file serves a comparison of all rules.

    ``config.rule.wm`` is the weight mirror's parameter dataclass (a
    :class:`~mirrorlab.models.rules.WeightMirror`); :attr:`selected` is the rule that runs.
    """

    name: str = "wm"
    rules: Mapping[str, Rule] = field(default_factory=lambda: {n: r() for n, r in RULES.items()})

    def __getattr__(self, name: str) -> Rule:
        rules = self.__dict__.get("rules", {})
        if name in rules:
            return rules[name]
        raise AttributeError(name)

    @property
    def selected(self) -> Rule:
        """The rule ``name`` names, with its parameters."""
        return self.rules[self.name]

    def validate(self) -> None:
        require(self.name in RULES, "rule.name", f"must be one of {', '.join(RULES)}", self.name)

    def as_table(self) -> dict:
        return {"name": self.name, **{name: dataclasses.asdict(rule)
                                      for name, rule in self.rules.items()}}

    @classmethod
    def from_table(cls, table: dict) -> "RuleConfig":
        for key in table:
            if key != "name" and key not in RULES:
                raise ConfigError(f"rule.{key}: unknown field; allowed in [rule]: name, "
                                  f"{', '.join(RULES)}")
        given = {key: _convert(f"rule.{key}", value, RULES[key])
                 for key, value in table.items() if key != "name"}
        rules = {name: given[name] if name in given else rule() for name, rule in RULES.items()}
        return cls(_convert("rule.name", table.get("name", cls.name), str), rules)


@dataclass(frozen=True)
class ScheduleConfig(Section):
    """When the mirror phase runs (rules with a mirror phase only).

    ``initial_mirror_batches`` mirror batches before training; then after
    every ``mirror_every`` engaged batches, ``mirror_batches`` mirror batches
    of ``mirror_batch_size`` noise samples (0 = the training batch size).
    """

    section = "schedule"
    initial_mirror_batches: int = parameter(0, non_negative)
    mirror_every: int = parameter(1, positive)
    mirror_batches: int = parameter(1, non_negative)
    mirror_batch_size: int = parameter(0, satisfies(lambda v: v >= 0,
                                                    "must be >= 0 (0 = training batch size)"))
    mirror_scheme: str = parameter("alternating", MIRROR_SCHEME)


@dataclass(frozen=True)
class ConstraintsConfig(Section):
    """Biological constraints on the feedback synapses B (see ``models/constraints.py``).

    ``feedback_dale``: each feedback neuron (column of ``B_l``) has a fixed sign,
    a share ``feedback_excitatory_fraction`` of them (exactly, rounded) excitatory;
    wrong-sign entries are set to zero after every update. ``feedback_levels``:
    0 = continuous; an odd n >= 3 = the feedback delivers only n values (3 = ternary).
    """

    section = "constraints"
    feedback_dale: bool = False
    feedback_excitatory_fraction: float = parameter(0.5, unit_interval)
    feedback_levels: int = parameter(0, satisfies(
        lambda v: v == 0 or (v >= 3 and v % 2 == 1),
        "must be 0 (continuous) or an odd number >= 3 (3 = ternary)"))

    def feedback(self) -> FeedbackConstraints:
        """The feedback constraints this section describes."""
        return FeedbackConstraints(dale=self.feedback_dale,
                                   excitatory_fraction=self.feedback_excitatory_fraction,
                                   levels=self.feedback_levels)


@dataclass(frozen=True)
class DeviceConfig(Section):
    """Where a circuit runs: Brian2 ``runtime``, ``cpp`` (cpp_standalone) or ``cuda``."""

    section = "device"
    name: str = parameter("runtime", one_of(*DEVICE_NAMES))
    threads: int = parameter(0, satisfies(lambda v: v >= 0,
                                          "must be >= 0 (0 = one thread, Brian2's default)"))
    gpu_id: int = parameter(0, non_negative)
    build_dir: str = parameter("", PATH)


@dataclass(frozen=True)
class CircuitConfig(Section):
    """Neuron model and timing of a Brian2 circuit (engine = "circuit").

    Spiking neurons (``neuron = "poisson"`` or ``"lif"``, see ``circuits/spiking.py``) carry
    a signed value v at ``baseline_hz + gain_hz * v`` (``signed = "baseline"``), each unit
    a pool of ``neurons_per_unit`` neurons with the same input. LIF neurons
    (``models/lif.py``): membrane time constant ``lif_tau_m_ms``, refractory period
    ``lif_refractory_ms``, membrane noise ``lif_sigma`` (sd of the free potential, in units
    of threshold - rest), the unit's value enters as a current or an excitatory
    conductance (``lif_synapses``). ``tau_syn_ms`` synaptic filter, ``tau_trace_ms`` fast
    and ``tau_mean_ms`` slow (running mean) spike traces of plasticity; ``presentation_ms``
    per sample or noise draw; ``noise_drive`` mirror noise drive in units of rule.wm.sigma
    (0 = spiking variability only); ``dale`` one sign per population's outgoing synapses
    (inhibitory interneurons carry the negative weights; ``dale_relay``: they fire at the
    rate they decode from their partner, ``"rate"``, or copy its spikes one step later,
    ``"copy"``); ``partner_link``: feedback neurons read their forward partner's net input
    (``"net_input"``) or only its spikes (``"spikes"``, see circuits/spiking.py);
    ``error_gate`` (output errors always or in engaged presentations only), ``learning_onset_ms``
    (plasticity starts this far into a presentation; 0 = a quarter), ``mean_trace`` (the
    covariance rule's slow mean runs always or only in its layer's mirror presentations);
    ``delay_forward_ms``, ``delay_feedback_ms`` spike delays of W and B, drawn
    uniformly within +- ``delay_spread_ms``.

    Firing-rate neurons (``neuron = "firing_rate"``, ``circuits/firing_rate.py``): leaky rate
    neurons (``tau_ms``) in every population that fire ``baseline_hz + gain_hz * v``,
    Dale's principle through inhibitory relay interneurons, each signed weight w an
    excitatory and an inhibitory synapse ``resting_weight +- w/2``.
    """

    section = "circuit"
    neuron: str = parameter("instantaneous", one_of(*NEURON_KINDS))
    tau_ms: float = parameter(1.0, positive)
    dt_ms: float = parameter(0.1, positive)
    settle_steps: int = parameter(0, satisfies(lambda v: v >= 0, "must be >= 0 (0 = automatic)"))
    noise_source: str = parameter("replay", one_of(*NOISE_SOURCES))
    baseline_hz: float = parameter(30.0, *SPIKING_PARAMETERS["baseline_hz"])
    gain_hz: float = parameter(15.0, *SPIKING_PARAMETERS["gain_hz"])
    neurons_per_unit: int = parameter(20, *SPIKING_PARAMETERS["neurons_per_unit"])
    lif_synapses: str = parameter("current", one_of(*LIF_SYNAPSES))
    lif_tau_m_ms: float = parameter(20.0, positive)
    lif_refractory_ms: float = parameter(2.0, non_negative)
    lif_sigma: float = parameter(0.3, positive)
    signed: str = parameter("baseline", *SPIKING_PARAMETERS["signed"])
    tau_syn_ms: float = parameter(10.0, *SPIKING_PARAMETERS["tau_syn_ms"])
    tau_trace_ms: float = parameter(10.0, *SPIKING_PARAMETERS["tau_trace_ms"])
    tau_mean_ms: float = parameter(1000.0, *SPIKING_PARAMETERS["tau_mean_ms"])
    presentation_ms: float = parameter(100.0, *SPIKING_PARAMETERS["presentation_ms"])
    noise_drive: float = parameter(1.0, *SPIKING_PARAMETERS["noise_drive"])
    dale: bool = False
    dale_relay: str = parameter("rate", *SPIKING_PARAMETERS["dale_relay"])
    partner_link: str = parameter("net_input", *SPIKING_PARAMETERS["partner_link"])
    error_gate: str = parameter("none", *SPIKING_PARAMETERS["error_gate"])
    learning_onset_ms: float = parameter(0.0, *SPIKING_PARAMETERS["learning_onset_ms"])
    mean_trace: str = parameter("always", *SPIKING_PARAMETERS["mean_trace"])
    delay_forward_ms: float = parameter(0.0, *SPIKING_PARAMETERS["delay_forward_ms"])
    delay_feedback_ms: float = parameter(0.0, *SPIKING_PARAMETERS["delay_feedback_ms"])
    delay_spread_ms: float = parameter(0.0, *SPIKING_PARAMETERS["delay_spread_ms"])
    resting_weight: float = parameter(2.0, positive)

    def validate(self):
        super().validate()
        if self.neuron in SPIKING_KINDS:   # the combinations a spiking circuit needs
            check_spiking({name: getattr(self, name) for name in SPIKING_PARAMETERS},
                          self.neuron)
            presentation_steps(self.presentation_ms, self.dt_ms, self.learning_onset_ms)


@dataclass(frozen=True)
class CheckConfig(Section):
    """Bounds of ``mirrorlab check`` (the plausibility checks, ``analysis/plausibility.py``).

    Each default is a value a physiologist would accept; ``docs/plausibility.md`` gives the
    source of each.

    ``steps``: engaged presentations of the brief run (0 = the config's whole run).
    ``max_rate_hz``: the firing rate of a rate unit whose activity r is 1 (Hz per unit
    of r; firing-rate and spiking circuits fire in Hz and do not use it).
    ``rate_bounds_hz``: [low, high] physiological firing rates, low >= 0 (200 Hz: above
    what cortical neurons sustain, below the refractory limit). ``weight_bound``: largest
    |w| of any W, b or B entry (dimensionless: one presynaptic unit of value moves the
    target's net input by w units). ``dale_tolerance``: largest fraction of presynaptic
    neurons of a synapse group whose outgoing weights may mix signs (0: Dale's
    principle). ``tau_range_ms``: [low, high] neuron (and synaptic, trace) time constants
    (10 ms: the low end of cortical membrane time constants). ``settle_tolerance``:
    largest |r - r_inf| when a presentation ends (a numerical criterion: 1 % of a unit).
    ``max_relative_update``: largest change of a weight matrix in one presentation,
    relative to its norm (10 %; pairing experiments change a synapse by well under 1 %
    per pairing). ``angle_threshold_deg``: alignment is reached when every
    angle(B_l, W_l^T) is below it. ``min_accuracy``: test accuracy to pass (0 = above
    chance: the most frequent test class's share plus two of its standard errors).
    """

    section = "check"
    steps: int = parameter(200, satisfies(lambda v: v >= 0, "must be >= 0 (0 = the whole run)"))
    max_rate_hz: float = parameter(100.0, positive)
    rate_bounds_hz: list[float] = parameter(lambda: [0.0, 200.0], LOW_HIGH)
    weight_bound: float = parameter(10.0, positive)
    dale_tolerance: float = parameter(0.0, unit_interval)
    tau_range_ms: list[float] = parameter(lambda: [10.0, 100.0], LOW_HIGH)
    settle_tolerance: float = parameter(0.01, positive)
    max_relative_update: float = parameter(0.1, positive)
    angle_threshold_deg: float = parameter(20.0, satisfies(lambda v: 0 < v <= 180,
                                                           "must be in (0, 180]"))
    min_accuracy: float = parameter(0.0, satisfies(lambda v: 0 <= v <= 1,
                                                   "must be in [0, 1] (0 = above chance)"))


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
            require(self.data.teacher_sizes[0] == self.network.sizes[0]
                    and self.data.teacher_sizes[-1] == self.network.sizes[-1],
                    "network.sizes", "must start and end like data.teacher_sizes "
                    f"{self.data.teacher_sizes}", self.network.sizes)
        if self.rule.selected.transports_weights:
            for name in ("feedback_dale", "feedback_levels"):
                value = getattr(self.constraints, name)
                require(not value, f"constraints.{name}",
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
        require(isinstance(value, dict), where, "must be a table", value)
        return _build_section(where, kind, value)
    origin = typing.get_origin(kind)
    if origin is list:
        (item_kind,) = typing.get_args(kind)
        require(isinstance(value, list), where, "must be a list", value)
        return [_convert(f"{where}[{i}]", v, item_kind) for i, v in enumerate(value)]
    if kind is bool:
        require(isinstance(value, bool), where, "must be true or false", value)
    elif kind is int:
        require(isinstance(value, int) and not isinstance(value, bool), where,
                "must be an integer", value)
    elif kind is float:
        require(isinstance(value, (int, float)) and not isinstance(value, bool), where,
                "must be a number", value)
        require(math.isfinite(value), where, "must be finite", value)
        return float(value)
    elif kind is str:
        require(isinstance(value, str), where, "must be a string", value)
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
        if hints[name] is RuleConfig:
            require(isinstance(table, dict), name, "must be a table", table)
            sections[name] = RuleConfig.from_table(table)
        else:
            sections[name] = _convert(name, table, hints[name])
    return Config(**sections).validate()


def read_toml(path: str | Path, what: str = "file") -> dict:
    """A TOML file as a dict; :class:`ConfigError` naming the file if it is missing,
    unreadable, not UTF-8 or not valid TOML."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror})") from None


def parse_value(text: str):
    """A ``--set`` value as TOML reads it (``0.1``, ``true``, ``"name"``, ``[64, 10]``); text
    that is not a TOML value is taken as a plain string (``--set rule.name=wm``)."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text


def _read_layers(path: Path, seen: tuple = ()) -> dict:
    if path.is_file() and path.resolve() in seen:
        raise ConfigError(f"{path}: 'base' files form a cycle")
    tree = read_toml(path, "config file")
    base = tree.pop("base", None)
    if base is None:
        return tree
    require(isinstance(base, str), f"{path}: base", "must be a path string", base)
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
    """The config as nested dicts of plain values (what TOML holds)."""
    tree = {}
    for f in dataclasses.fields(config):
        section = getattr(config, f.name)
        tree[f.name] = (section.as_table() if isinstance(section, RuleConfig)
                        else dataclasses.asdict(section))
    return tree


def to_toml(config: Config) -> str:
    """The fully resolved config as TOML text (what a results folder stores)."""
    return tomli_w.dumps(to_dict(config))
