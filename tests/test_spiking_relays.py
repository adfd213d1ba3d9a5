"""Dale's inhibitory relays and spiking Kolen-Pollack: spike-level identities of the circuit."""
from types import SimpleNamespace

import numpy as np
import pytest
from brian2 import Clock, Hz, Network, NeuronGroup, SpikeMonitor, Synapses, ms

from mirrorlab.circuits import equations as E
from mirrorlab.circuits import spiking_units as S
from mirrorlab.circuits import spiking_equations as SE

DT = 0.5 * ms


@pytest.mark.parametrize("dale_relay", ["copy", "rate"])
def test_copying_relay_repeats_its_partner_one_step_later(dale_relay):
    """With ``dale_relay = "copy"`` the relay's spike events are its partner's, shifted
    by one time step, with the same counts; a rate relay fires spikes of its own (the
    same number on average, at other times), which the same comparison tells apart."""
    clock = Clock(dt=DT)
    spec = SimpleNamespace(neuron="poisson", spiking=SimpleNamespace(dale_relay=dale_relay))
    partner = NeuronGroup(8, E.code("v = 0 : 1", SE.POISSON_RATE, SE.OWN_TRACE),
                          threshold=SE.POISSON_THRESHOLD, reset=SE.OWN_SPIKE, method="exact",
                          clock=clock, name="partner")
    relay = S.relay(spec, partner, "partner_inh", clock)
    link = Synapses(partner, relay, on_pre=SE.COPY_SPIKE if dale_relay == "copy" else SE.ERROR_SPIKE,
                    clock=clock, name="partner_to_inh")
    link.connect(j="i")
    for group in (partner, relay):
        group.baseline, group.gain, group.pool = 30 * Hz, 15 * Hz, 20
        group.tau_trace = 10 * ms
    relay.tau_syn = 10 * ms
    if "e_tr" in relay.variables:
        relay.e_tr = 30 * Hz
    sent = SpikeMonitor(partner, variables=["n_spikes"])
    relayed = SpikeMonitor(relay, variables=["n_spikes"])
    steps = 1000
    Network(partner, relay, link, sent, relayed).run(steps * DT)

    def events(monitor, shift=0):
        step = np.round(monitor.t[:] / DT).astype(int) + shift
        keep = step < steps
        return set(zip(step[keep], monitor.i[:][keep], np.rint(monitor.n_spikes[:][keep])))

    assert len(sent.i) > 1000                   # 8 units x 20 neurons x 30 Hz x 0.5 s = 2400
    same = events(relayed) == events(sent, shift=1)
    assert same == (dale_relay == "copy")


def test_spiking_kolen_pollack_gives_W_and_B_the_same_updates(tmp_path):
    """Spiking Kolen-Pollack: W learns from its presynaptic trace and the error decoded
    from the feedback partner's spikes, B from the trace of its forward partner's spikes
    and the feedback neuron's own spikes. Same spikes, same time constants (tau_syn =
    tau_trace): every update of B is that of W^T, so with equal decays W - B^T only
    shrinks by the decay, exactly (float rounding), however noisy the spikes."""
    from pathlib import Path
    from mirrorlab.sims.runs.circuit import plan_from_config
    from mirrorlab.sims.runs.compiled import run_circuit
    from mirrorlab.sims.config import load_config
    from mirrorlab.sims.runs.common import load_config_data
    from mirrorlab.sims.devices import Device
    root = Path(__file__).resolve().parents[1]
    config = load_config(root / "configs" / "spiking_teacher_wm.toml", **{
        "rule.name": "kp", "rule.kp.decay": 0.01, "data.teacher_sizes": [4, 5, 3],
        "network.sizes": [4, 6, 3], "data.n_train": 6, "data.n_test": 3,
        "training.epochs": 1, "training.lr": 0.05, "circuit.presentation_ms": 20.0})
    data = load_config_data(config)
    plan = plan_from_config(config, data)
    run = run_circuit(plan.spec, data, plan.events, plan.noise, plan.initial,
                      device=Device("runtime"), seed=0)
    assert plan.spec.spiking.tau_syn == plan.spec.spiking.tau_trace
    W0, _, B0 = plan.initial
    for l in range(len(W0)):
        before, after = W0[l] - B0[l].T, run.W[l] - run.B[l].T
        kept = np.sum(after * before) / np.sum(before * before)   # the decay's factor
        assert 0.5 < kept < 1
        np.testing.assert_allclose(after, kept * before, atol=1e-9 * np.abs(before).max())
        assert np.abs(run.W[l] - kept * W0[l]).max() > 1e-3      # W did learn
