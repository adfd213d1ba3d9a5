"""``circuit.partner_link``: what a spiking feedback neuron reads of its forward partner.

With ``"spikes"`` the output population fires its prediction sigmoid(a) and the feedback
neurons form the output error and phi' from the rate they decode from their partner's
spikes (no analog link between populations); with ``"net_input"`` (the default) they read
the partner's net input a, as the rate circuit does.
"""
from pathlib import Path

import numpy as np
import pytest
from brian2 import StateMonitor

import mirrorlab as ml
from mirrorlab.circuits import equations as E
from mirrorlab.models.transfer import TRANSFERS

ROOT = Path(__file__).resolve().parents[1]


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _small_digits(partner_link: str, neuron: str = "poisson", **circuit):
    return ml.load_config(ROOT / "configs" / "spiking_digits_wm.toml", {
        "circuit.partner_link": partner_link, "circuit.neuron": neuron,
        **{f"circuit.{name}": value for name, value in circuit.items()},
        "network.sizes": [64, 6, 10], "data.n_train": 4, "training.epochs": 1,
        "schedule.initial_mirror_batches": 1, "circuit.presentation_ms": 20.0,
        "device.name": "runtime"})


@pytest.mark.parametrize("partner_link", ["net_input", "spikes"])
def test_feedback_neurons_read_their_partner_as_partner_link_says(partner_link):
    built = ml.build_circuit(_small_digits(partner_link))
    circuit = built.circuit
    hidden, output = circuit.feedback[1], circuit.feedback[2]
    watch = [StateMonitor(circuit.forward[2], ["v", "a"], record=True),
             StateMonitor(output, ["delta_inf", "x_fwd", "y_hat"], record=True),
             StateMonitor(hidden, ["delta_inf", "x_fwd", "I_fb"], record=True)]
    circuit.network.add(*watch)
    built.run(progress=False)
    out, err, hid = watch
    assert np.ptp(out.a) > 0.1 and np.ptp(err.x_fwd) > 0.1      # spikes moved the values
    if partner_link == "spikes":
        assert "a_fwd" not in output.variables and "a_fwd" not in hidden.variables
        np.testing.assert_allclose(out.v, _sigmoid(out.a), rtol=1e-12)
        np.testing.assert_allclose(err.delta_inf, err.x_fwd - err.y_hat, atol=1e-12)
        h = np.clip(hid.x_fwd, 0, 1)
        np.testing.assert_allclose(hid.delta_inf, h * (1 - h) * hid.I_fb, atol=1e-12)
        assert np.any((hid.x_fwd < 0) | (hid.x_fwd > 1))         # the clip was needed
    else:
        np.testing.assert_allclose(out.v, out.a, rtol=1e-12)     # the output fires a
        assert "a_fwd" in output.variables


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "linear"])
def test_slope_of_a_decoded_rate_is_phi_prime(name):
    """``phi'`` from the rate r = phi(a) equals ``phi'(a)``, and stays within phi's slopes
    (non-negative) when spike noise carries the decoded rate outside phi's range."""
    transfer = TRANSFERS[name]
    a = np.linspace(-4, 4, 81)
    expression = E.slope_of_rate(transfer, "r")
    namespace = {"clip": np.clip, "int": lambda x: np.asarray(x, dtype=float)}
    slope = eval(expression, namespace, {"r": transfer.phi(a)})
    np.testing.assert_allclose(np.broadcast_to(slope, a.shape), transfer.dphi(a), atol=1e-12)
    strayed = eval(expression, namespace, {"r": np.array([-0.7, 1.6, 2.5])})
    assert np.all(np.asarray(strayed) >= 0)


def test_output_error_of_a_prediction_per_loss():
    from mirrorlab.models.losses import get_loss
    assert E.output_error_of_prediction(get_loss("sigmoid_xent")) == "delta_inf = x_fwd - y : 1"
    mse = E.output_error_of_prediction(get_loss("mse", "sigmoid"), "p")
    assert mse == "delta_inf = (p - y) * (clip(p, 0, 1) * (1.0 - clip(p, 0, 1))) : 1"
    with pytest.raises(ValueError, match="softmax_xent"):
        E.output_error_of_prediction(get_loss("softmax_xent"))


def test_partner_link_is_checked():
    with pytest.raises(ml.ConfigError, match="partner_link"):
        ml.load_config(ROOT / "configs" / "spiking_digits_wm.toml",
                       {"circuit.partner_link": "dendrite"})

