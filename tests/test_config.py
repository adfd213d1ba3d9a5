"""Configs: every section validated, bad input named before any work is done."""
import math

import pytest

from mirrorlab.sims.config import Config, ConfigError, from_dict, load_config, to_dict, to_toml

# One bad field per section: (section table, message fragment naming the field).
BAD_FIELDS = [
    ({"experiment": {"seed": -1}}, "experiment.seed"),
    ({"experiment": {"engine": "tensorflow"}}, "experiment.engine"),
    ({"data": {"name": "imagenet"}}, "data.name"),
    ({"data": {"name": "mnist"}}, "data.path"),
    ({"network": {"sizes": [64, -3, 10]}}, "network.sizes"),
    ({"network": {"transfer": "softplus"}}, "network.transfer"),
    ({"network": {"loss": "softmax_xent", "output_transfer": "sigmoid"}},
     "network.output_transfer"),
    ({"training": {"lr": math.nan}}, "training.lr"),
    ({"training": {"epochs": 2.5}}, "training.epochs"),
    ({"training": {"momentum": 1.0}}, "training.momentum"),
    ({"rule": {"name": "hebb"}}, "rule.name"),
    ({"rule": {"wm": {"sigma": 0}}}, "rule.wm.sigma"),
    ({"rule": {"wm": {"noise": "pink"}}}, "rule.wm.noise"),
    ({"rule": {"kp": {"decay": 1.5}}}, "rule.kp.decay"),
    ({"rule": {"ss": {"magnitudes": "gaussian"}}}, "rule.ss.magnitudes"),
    ({"schedule": {"mirror_every": 0}}, "schedule.mirror_every"),
    ({"schedule": {"mirror_scheme": "sometimes"}}, "schedule.mirror_scheme"),
    ({"constraints": {"feedback_dale": 1}}, "constraints.feedback_dale"),
    ({"constraints": {"feedback_excitatory_fraction": 1.2}},
     "constraints.feedback_excitatory_fraction"),
    ({"constraints": {"feedback_levels": 4}}, "constraints.feedback_levels"),
    ({"rule": {"name": "bp"}, "constraints": {"feedback_dale": True}}, "constraints.feedback_dale"),
    ({"device": {"name": "tpu"}}, "device.name"),
    ({"circuit": {"neuron": "hodgkin"}}, "circuit.neuron"),
    ({"circuit": {"dt_ms": -0.1}}, "circuit.dt_ms"),
]


@pytest.mark.parametrize("tree, field", BAD_FIELDS, ids=[f for _, f in BAD_FIELDS])
def test_bad_value_names_the_field(tree, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        from_dict(tree)


@pytest.mark.parametrize("section", ["experiment", "data", "network", "training", "rule",
                                     "schedule", "constraints", "device", "circuit"])
def test_unknown_key_in_every_section_is_rejected(section):
    with pytest.raises(ConfigError, match=rf"{section}\.typo: unknown field"):
        from_dict({section: {"typo": 1}})


def test_unknown_section_and_wrong_table_type():
    with pytest.raises(ConfigError, match=r"\[model\]: unknown section"):
        from_dict({"model": {}})
    with pytest.raises(ConfigError, match="rule.wm: must be a table"):
        from_dict({"rule": {"wm": 3}})


def test_toml_round_trip_and_base_layering(tmp_path):
    base = tmp_path / "base.toml"
    base.write_text('[training]\nepochs = 7\nlr = 0.2\n[rule]\nname = "kp"\n')
    child = tmp_path / "child.toml"
    child.write_text('base = "base.toml"\n[training]\nlr = 0.3\n')
    config = load_config(child)
    assert (config.training.epochs, config.training.lr, config.rule.name) == (7, 0.3, "kp")
    again = tmp_path / "again.toml"
    again.write_text(to_toml(config))
    assert load_config(again) == config


def test_base_cycle_and_missing_file(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('base = "b.toml"\n')
    b.write_text('base = "a.toml"\n')
    with pytest.raises(ConfigError, match="cycle"):
        load_config(a)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_dotted_overrides_are_validated():
    config = Config().replace(**{"rule.name": "fa", "training.lr": 0.05})
    assert config.rule.name == "fa" and config.training.lr == 0.05
    with pytest.raises(ConfigError, match="unknown field 'lrr'"):
        Config().replace(**{"training.lrr": 1.0})
    with pytest.raises(ConfigError, match="training.lr"):
        Config().replace(**{"training.lr": -1.0})


def test_teacher_sizes_must_fit_network():
    with pytest.raises(ConfigError, match="network.sizes"):
        from_dict({"data": {"name": "teacher", "teacher_sizes": [5, 3]},
                   "network": {"sizes": [6, 3]}})


@pytest.mark.parametrize("name", ["bp", "fa", "ss", "wm", "kp"])
def test_make_rule_passes_parameters(name):
    tree = to_dict(Config())
    tree["rule"]["name"] = name
    tree["rule"]["wm"]["sigma"] = 0.7
    tree["rule"]["kp"]["decay"] = 0.02
    rule = from_dict(tree).rule.selected
    assert rule.name == name
    if name == "wm":
        assert rule.mirror_noise.sigma == 0.7
    if name == "kp":
        assert rule.forward_decay == 0.02


def test_shipped_configs_load():
    from pathlib import Path
    for path in sorted(Path(__file__).parents[1].glob("configs/*.toml")):
        load_config(path)
