"""When a spiking circuit learns and from what, within each presentation.

``circuit.learning_onset_ms``: plasticity starts this far into a presentation (a quarter
by default), once the loop has settled to the new input. ``circuit.error_gate``: the
output error units carry ``prediction - label`` in engaged presentations only.
``circuit.mean_trace``: the covariance rule's slow mean follows the forward partner always
or only in the learning part of its layer's mirror presentations.
"""
from pathlib import Path

import numpy as np
import pytest
from brian2 import StateMonitor, ms

import mirrorlab as ml
from mirrorlab.circuits.spiking import learning_time

ROOT = Path(__file__).resolve().parents[1]
PRESENTATION_MS = 20.0


def _small_digits(**circuit):
    """The spiking digits circuit, 64-6-10, spikes only between populations, on 4 digits
    with 1 initial mirror draw per layer: 14 presentations of 20 ms on Brian2's numpy."""
    return ml.load_config(ROOT / "configs" / "spiking_digits_wm.toml", {
        "circuit.partner_link": "spikes", "network.sizes": [64, 6, 10], "data.n_train": 4,
        "training.epochs": 1, "schedule.initial_mirror_batches": 1,
        "circuit.presentation_ms": PRESENTATION_MS, "device.name": "runtime",
        **{f"circuit.{name}": value for name, value in circuit.items()}})


@pytest.mark.parametrize("error_gate", ["none", "engaged"])
def test_error_gate_silences_the_output_error_in_mirror_presentations(error_gate):
    """With ``error_gate = "engaged"`` the output error units carry ``prediction - label``
    in engaged presentations and rest at baseline (value 0) in mirror presentations, which
    have no label; without it they carry the prediction itself there."""
    config = _small_digits(error_gate=error_gate)
    built = ml.build_circuit(config)
    circuit = built.circuit
    # four samples per presentation, each after that step's presentation load
    watch = StateMonitor(circuit.feedback[2], ["v", "delta_inf"], record=True, when="end",
                         dt=config.circuit.presentation_ms / 4 * ms)
    circuit.network.add(watch)
    built.run(progress=False)
    engaged = circuit.presentations.engaged.astype(bool)
    per_presentation = watch.v.T.reshape(len(engaged), 4, -1)      # (P, parts, units)
    error = watch.delta_inf.T.reshape(len(engaged), 4, -1)
    assert engaged.any() and (~engaged).any()
    np.testing.assert_allclose(per_presentation[engaged], error[engaged], atol=1e-12)
    mirror = np.abs(per_presentation[~engaged])
    if error_gate == "engaged":
        assert mirror.max() == 0
    else:
        np.testing.assert_allclose(per_presentation[~engaged], error[~engaged], atol=1e-12)
        assert mirror.max() > 0.05


def test_error_gate_is_checked():
    with pytest.raises(ml.ConfigError, match="error_gate"):
        ml.load_config(ROOT / "configs" / "spiking_digits_wm.toml",
                       {"circuit.error_gate": "sometimes"})


@pytest.mark.parametrize("onset_ms, parts", [(0.0, 4), (25.0, 4), (50.0, 2), (10.0, 10)])
def test_learning_onset_sets_when_plasticity_starts(onset_ms, parts):
    """Plasticity is off for the first ``learning_onset_ms`` of every presentation (a
    quarter by default): the learning gates are 0 there and the presentation's gate after."""
    config = ml.load_config(ROOT / "configs" / "spiking_digits_wm.toml",
                            {"circuit.learning_onset_ms": onset_ms})
    built = ml.build_circuit(config.replace(**{"data.n_train": 2, "training.epochs": 1,
                                               "schedule.initial_mirror_batches": 1,
                                               "network.sizes": [64, 4, 10],
                                               "device.name": "runtime"}))
    circuit = built.circuit
    assert circuit.spec.spiking.parts == parts
    gates = circuit.schedule_values(circuit.spec, circuit.presentations)
    engaged = circuit.presentations.engaged
    rows = gates["engaged_now"].reshape(len(engaged), parts)
    np.testing.assert_array_equal(rows[:, 0], 0)
    np.testing.assert_array_equal(rows[:, 1:], np.repeat(engaged[:, None], parts - 1, axis=1))
    T = config.circuit.presentation_ms
    assert float(learning_time(circuit.spec) / ms) == pytest.approx(T * (parts - 1) / parts)


@pytest.mark.parametrize("onset_ms", [30.0, 100.0, 70.0])
def test_learning_onset_must_divide_the_presentation(onset_ms):
    with pytest.raises(ml.ConfigError, match="learning_onset_ms"):
        ml.load_config(ROOT / "configs" / "spiking_digits_wm.toml",
                       {"circuit.learning_onset_ms": onset_ms})


@pytest.mark.parametrize("mean_trace", ["always", "mirror"])
def test_mean_trace_follows_only_the_layers_mirror_presentations(mean_trace):
    """With ``mean_trace = "mirror"`` the slow trace m of feedback_2 (the output's mean,
    which B_2's covariance rule subtracts) holds still exactly outside the learning part of
    B_2's mirror presentations and follows the output inside it; by default it runs always."""
    config = _small_digits(mean_trace=mean_trace, learning_onset_ms=5.0)
    built = ml.build_circuit(config)
    circuit = built.circuit
    watch = StateMonitor(circuit.feedback[2], "m_fwd", record=True, when="end")
    circuit.network.add(watch)
    built.run(progress=False)
    steps_per_part = int(round(5.0 / config.circuit.dt_ms))
    mirrored = np.repeat(circuit.schedule_values(circuit.spec, circuit.presentations)
                         ["mirror_now"][:, 2], steps_per_part)[:watch.m_fwd.shape[1]]
    moved = np.any(np.diff(watch.m_fwd, axis=1) != 0, axis=0)     # (steps - 1,)
    learning = mirrored[1:].astype(bool)
    assert learning.any() and (~learning).any()
    assert moved[learning].mean() > 0.9                 # spikes and decay move it
    if mean_trace == "mirror":
        assert not moved[~learning].any()
    else:
        assert moved[~learning].mean() > 0.9
