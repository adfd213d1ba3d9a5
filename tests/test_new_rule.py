"""Adding a rule is one file and one registry line: a rule defined only here trains on the
matrix engine and as a rate circuit, and both agree, with no other file of mirrorlab
touched (CONTRIBUTING.md, "Adding a learning rule")."""
from dataclasses import dataclass

import numpy as np
import pytest

from mirrorlab.models.params import fraction_below_one, parameter
from mirrorlab.models.rules import RULES, Plasticity, Rule, register, unregister
from mirrorlab.models.rules.base import uniform_feedback
from mirrorlab.sims.config import Config, ConfigError, from_dict, to_dict
from mirrorlab.sims.data import load_dataset
from mirrorlab.sims.matrix_engine import MatrixEngine, Network
from mirrorlab.sims.runs.circuit import plan_from_config
from mirrorlab.sims.runs.compiled import run_circuit


@dataclass(frozen=True)
class AntiHebbianFeedback(Rule):
    """Feedback synapses that learn the opposite of Kolen-Pollack's update.

    Notes
    -----
    ``dB_l = +eta x_{l-1} delta_l^T - lambda B_l`` in engaged steps: local (the activity
    below and the error above), with the sign that drives B away from ``W^T``.
    """

    decay: float = parameter(0.02, fraction_below_one)
    name = "anti_hebbian"

    def init_feedback(self, rng, W):
        return uniform_feedback(rng, W, 1.0)

    def engaged_gradient(self, B, hebbian):
        return -hebbian

    @property
    def engaged_decay(self):
        return self.decay

    def rate_plasticity(self, lr):
        return Plasticity("w += was_engaged(t) * (eta * r_fwd_post * delta_pre - decay * w)",
                          {"eta": lr, "decay": self.decay})

    def spiking_plasticity(self, lr):
        return None


@pytest.fixture
def anti_hebbian():
    register(AntiHebbianFeedback)          # the one line that adds the rule
    yield AntiHebbianFeedback
    unregister(AntiHebbianFeedback)


pytestmark = pytest.mark.usefixtures("fresh_brian2")


def config(**overrides) -> Config:
    settings = {"data.name": "teacher", "data.teacher_sizes": [6, 8, 3], "data.n_train": 50,
                "network.sizes": [6, 5, 4, 3], "network.transfer": "tanh",
                "network.loss": "mse", "training.epochs": 4, "training.batch_size": 1,
                "training.lr": 0.05, "rule.name": "anti_hebbian", **overrides}
    return Config().replace(**settings)


def test_a_registered_rule_gets_its_config_section(anti_hebbian):
    assert RULES["anti_hebbian"] is anti_hebbian
    tree = to_dict(Config())
    assert tree["rule"]["anti_hebbian"] == {"decay": 0.02}
    assert config(**{"rule.anti_hebbian.decay": 0.1}).rule.selected == anti_hebbian(decay=0.1)
    with pytest.raises(ConfigError, match=r"rule\.anti_hebbian\.decay: must be in \[0, 1\)"):
        config(**{"rule.anti_hebbian.decay": 1.5})
    with pytest.raises(ConfigError, match=r"rule\.anti_hebbian\.rate: unknown field"):
        from_dict({"rule": {"anti_hebbian": {"rate": 1.0}}})


def test_an_unregistered_rule_is_refused():
    with pytest.raises(ConfigError, match="rule.name: must be one of bp, fa, ss, wm, kp"):
        Config().replace(**{"rule.name": "anti_hebbian"})


def test_the_new_rule_trains_as_a_circuit_exactly_as_on_the_matrix_engine(anti_hebbian):
    data = load_dataset("teacher", seed=0, n_train=50, n_test=10, teacher_sizes=(6, 8, 3))
    plan = plan_from_config(config(**{"rule.anti_hebbian.decay": 0.0}), data)
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial)
    W, b, B = (list(map(np.copy, x)) for x in plan.initial)
    engine = MatrixEngine(Network(W, b, B), plan.spec.rule, plan.spec.transfer,
                          plan.spec.output_transfer, plan.spec.loss, lr=plan.spec.lr)
    engine.replay(plan.events, data.x_train, data.y_train, plan.noise)
    # The same 200 updates in float64 on both engines: rounding only (the shipped rules
    # agree to ~1e-15); 1e-6 leaves room for the circuit's different order of operations.
    for got, expected, start in zip((run.W, run.b, run.B),
                                    (engine.net.W, engine.net.b, engine.feedback_matrices()),
                                    plan.initial):
        for g, e, s in zip(got, expected, start):
            assert np.linalg.norm(g - e) / np.linalg.norm(e) < 1e-6
            assert np.linalg.norm(e - s) > 0.05 * np.linalg.norm(e)   # the weights (and biases) moved
    # and B learned the rule's update: without decay, B's change is exactly minus W's
    # (Kolen-Pollack's would be plus)
    for W0, B0, W1, B1 in zip(plan.initial[0], plan.initial[2], run.W, run.B):
        np.testing.assert_allclose(B1 - B0, -(W1 - W0).T, atol=1e-12)
