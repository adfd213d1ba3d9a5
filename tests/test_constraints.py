"""Feedback constraints: Dale's principle per feedback neuron, few weight levels."""
import numpy as np
import pytest

from mirrorlab.analysis.metrics import levels_floor_deg, weight_angles
from mirrorlab.models.constraints import FeedbackConstraints, dale_signs, project_dale, quantise
from mirrorlab.sims import results
from mirrorlab.sims.config import Config, ConfigError
from mirrorlab.sims.matrix_engine import MatrixEngine, init_network
from mirrorlab.sims.runs.common import Streams
from mirrorlab.sims.runs.matrix import build_engine, run_matrix

SMALL = {"data.n_train": 120, "data.n_test": 60, "training.epochs": 2,
         "training.batch_size": 20, "schedule.initial_mirror_batches": 3}


def small_config(**overrides):
    return Config().replace(**{**SMALL, **overrides})


# --- the pure functions ---------------------------------------------------------------

def test_project_dale_zeroes_wrong_signs_and_keeps_the_rest():
    B = np.array([[0.3, -0.2, 0.0], [-0.1, 0.4, -0.5]])
    signs = np.array([1.0, -1.0, -1.0])
    assert np.array_equal(project_dale(B, signs), [[0.3, -0.2, 0.0], [0.0, 0.0, -0.5]])


def test_dale_signs_have_the_exact_excitatory_share():
    rng = np.random.default_rng(0)
    for n, fraction, n_exc in [(10, 0.5, 5), (100, 0.8, 80), (7, 0.0, 0), (7, 1.0, 7)]:
        signs = dale_signs(rng, n, fraction)
        assert set(np.unique(signs)) <= {-1.0, 1.0} and np.sum(signs > 0) == n_exc


def test_ternary_quantisation_known_case():
    B = np.array([0.05, -0.3, 0.4, -0.15, 0.09, 0.21])   # mean |B| = 0.2 = s, zero below 0.1
    assert np.allclose(quantise(B, 3), [0.0, -0.2, 0.2, -0.2, 0.0, 0.2])
    assert np.array_equal(quantise(np.zeros((3, 2)), 3), np.zeros((3, 2)))


@pytest.mark.parametrize("levels", [3, 5, 9])
def test_quantised_values_take_exactly_the_allowed_levels(levels):
    B = np.random.default_rng(1).normal(size=(200, 50))
    Q = quantise(B, levels)
    values = np.unique(Q)
    assert len(values) == levels                          # every level used on 10,000 normals
    step = values[1] - values[0]
    assert np.allclose(values, step * np.arange(-(levels // 2), levels // 2 + 1))
    assert np.all(np.sign(Q) * np.sign(B) >= 0)           # never the opposite sign


def test_bad_constraint_parameters_are_rejected():
    with pytest.raises(ValueError, match="levels"):
        FeedbackConstraints(levels=4)
    with pytest.raises(ValueError, match="excitatory_fraction"):
        FeedbackConstraints(excitatory_fraction=1.5)


# --- in the engine ------------------------------------------------------------------------

@pytest.mark.parametrize("rule", ["fa", "wm", "kp"])
def test_a_feedback_column_never_changes_sign(rule, monkeypatch):
    """Checked after every engaged and mirror step of a whole run."""
    seen = {"checks": 0, "signs": None}

    def check(engine):
        signs = engine.net.feedback_signs
        seen["signs"] = seen["signs"] or [s.copy() for s in signs]
        for B, s, first in zip(engine.net.B, signs, seen["signs"]):
            assert np.array_equal(s, first)                   # the signs themselves are fixed
            assert np.all(B * s[np.newaxis, :] >= 0)          # no entry against its column
        seen["checks"] += 1

    for name in ("engaged_step", "mirror_step"):
        original = getattr(MatrixEngine, name)

        def checked(self, *args, _original=original):
            out = _original(self, *args)
            check(self)
            return out
        monkeypatch.setattr(MatrixEngine, name, checked)

    metrics = run_matrix(small_config(**{"rule.name": rule, "constraints.feedback_dale": True}),
                         progress=False)
    assert seen["checks"] >= 12 and metrics["complete"]
    # the constraint binds: each layer has zeroed entries, and both signs are in use
    for s in seen["signs"]:
        assert 0 < np.sum(s > 0) < len(s)


def test_dale_signs_are_drawn_after_w_and_b():
    """Same seed: same W, and the constrained B is the projection of the unconstrained one."""
    plain = build_engine(small_config(), Streams.from_seed(3).init)
    dale = build_engine(small_config(**{"constraints.feedback_dale": True}),
                        Streams.from_seed(3).init)
    for W0, W1, B0, B1, s in zip(plain.net.W, dale.net.W, plain.net.B, dale.net.B,
                                 dale.net.feedback_signs):
        assert np.array_equal(W0, W1)
        assert np.array_equal(B1, project_dale(B0, s))
        assert np.sum(B1 == 0) > 0.3 * B1.size        # about half the entries are cut


def test_ternary_feedback_is_delivered_and_measured_while_the_state_stays_continuous(tmp_path):
    config = small_config(**{"rule.name": "kp", "constraints.feedback_levels": 3})
    metrics = run_matrix(config, tmp_path / "run", progress=False)
    W, _, delivered = results.load_network_arrays(tmp_path / "run")
    for B in delivered:
        values = np.unique(B)
        assert len(values) == 3 and values[1] == 0 and values[0] == -values[2]
    # the same arrays, read back from arrays.npz: equal up to BLAS rounding of the angle
    assert metrics["final"]["weight_angle_deg"] == pytest.approx(weight_angles(W, delivered),
                                                                 rel=1e-12)
    engine = build_engine(config, Streams.from_seed(0).init)
    assert all(len(np.unique(B)) > 100 for B in engine.net.B)        # hidden state
    assert all(len(np.unique(B)) == 3 for B in engine.feedback_matrices())
    # the floor: no ternary B can come closer to W^T than its best ternary approximation
    for entry in metrics["history"]:
        floors = entry["weight_angle_floor_deg"]
        assert all(15.0 < f <= a + 1e-9 for f, a in zip(floors, entry["weight_angle_deg"]))
    assert metrics["final"]["weight_angle_floor_deg"] == pytest.approx(
        [levels_floor_deg(w.T, 3) for w in W])
    continuous = run_matrix(small_config(), tmp_path / "continuous", progress=False)
    assert continuous["final"]["weight_angle_floor_deg"] == [0.0] * len(W)


def test_dale_and_levels_combine():
    config = small_config(**{"rule.name": "kp", "constraints.feedback_dale": True,
                             "constraints.feedback_levels": 3})
    engine = build_engine(config, Streams.from_seed(0).init)
    for B, s in zip(engine.feedback_matrices(), engine.net.feedback_signs):
        assert len(np.unique(B)) <= 3 and np.all(B * s[np.newaxis, :] >= 0)


# --- constraints off: nothing changes -----------------------------------------------------

def test_inactive_constraints_are_bit_identical_to_none():
    """An engine built from a config without constraints computes exactly what an engine
    built the old way (no constraints argument anywhere) does."""
    config = small_config(**{"rule.name": "kp", "constraints.feedback_excitatory_fraction": 0.9})
    built = build_engine(config, Streams.from_seed(0).init)
    assert built.net.feedback_signs is None              # the fraction alone draws nothing
    plain = MatrixEngine(init_network(config.network.sizes, built.rule, Streams.from_seed(0).init),
                         built.rule, built.transfers[0], built.transfers[-1], built.loss,
                         lr=config.training.lr, batch_size=config.training.batch_size)
    rng = np.random.default_rng(0)
    # the same operations on equal arrays: equal but for BLAS rounding, which may depend on
    # memory alignment (1e-13 relative after 20 steps is ~1e3 ulp)
    for _ in range(20):
        x, y = rng.uniform(size=(16, 64)), np.eye(10)[rng.integers(0, 10, 16)]
        assert built.engaged_step(x, y) == pytest.approx(plain.engaged_step(x, y), rel=1e-13)
    for a, b in zip(built.feedback_matrices() + built.net.W, plain.feedback_matrices() + plain.net.W):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-16)


# Final weight angles (both layers) and test loss recorded at commit f926bbc, before the
# constraints existed, with the SMALL config above (wm re-recorded from f926bbc with the
# later change that takes the final checkpoint after the last mirror phase). On the machine that recorded them the
# runs are bit-identical (sha256 of the whole history); rel 1e-12 only absorbs BLAS
# rounding differences between CPUs.
BEFORE_CONSTRAINTS = {
    ("fa", "alternating", 0.0): ([91.80597036234055, 90.94346080825525], 2.321071696943368),
    ("wm", "simultaneous", 0.3): ([64.59607663166696, 60.21246612504891], 2.3186821329381107),
    ("kp", "alternating", 0.0): ([91.61689478058236, 90.75538624895351], 2.3209740371140835),
}


@pytest.mark.parametrize("rule, scheme, target_std", list(BEFORE_CONSTRAINTS))
def test_unconstrained_runs_match_the_engine_before_constraints(rule, scheme, target_std):
    config = small_config(**{"rule.name": rule, "schedule.mirror_scheme": scheme,
                             "rule.wm.target_std": target_std})
    final = run_matrix(config, progress=False)["final"]
    angles, loss = BEFORE_CONSTRAINTS[(rule, scheme, target_std)]
    assert final["weight_angle_deg"] == pytest.approx(angles, rel=1e-12)
    assert final["test_loss"] == pytest.approx(loss, rel=1e-12)


# --- config -------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, field", [("bp", "feedback_dale"), ("ss", "feedback_dale"),
                                         ("bp", "feedback_levels"), ("ss", "feedback_levels")])
def test_constraints_without_feedback_synapses_are_rejected(rule, field):
    value = True if field == "feedback_dale" else 3
    with pytest.raises(ConfigError, match=rf"constraints\.{field}: .*rule\.name = '{rule}'"):
        small_config(**{"rule.name": rule, f"constraints.{field}": value})
