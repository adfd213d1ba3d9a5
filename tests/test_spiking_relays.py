"""Dale's inhibitory relays: a copying relay fires its partner's spikes one step later."""
from types import SimpleNamespace

import numpy as np
import pytest
from brian2 import Clock, Hz, Network, NeuronGroup, SpikeMonitor, Synapses, ms

from mirrorlab.circuits import equations as E
from mirrorlab.circuits import spiking as S

DT = 0.5 * ms


@pytest.mark.parametrize("dale_relay", ["copy", "rate"])
def test_copying_relay_repeats_its_partner_one_step_later(dale_relay):
    """With ``dale_relay = "copy"`` the relay's spike events are its partner's, shifted
    by one time step, with the same counts; a rate relay fires spikes of its own (the
    same number on average, at other times), which the same comparison tells apart."""
    clock = Clock(dt=DT)
    spec = SimpleNamespace(neuron="poisson", spiking=SimpleNamespace(dale_relay=dale_relay))
    partner = NeuronGroup(8, E.code("v = 0 : 1", S.POISSON_RATE, S.OWN_TRACE),
                          threshold=S.POISSON_THRESHOLD, reset=S.OWN_SPIKE, method="exact",
                          clock=clock, name="partner")
    relay = S._relay(spec, partner, "partner_inh", clock, traces=False)
    link = Synapses(partner, relay, on_pre=S.COPY_SPIKE if dale_relay == "copy" else S.ERROR_SPIKE,
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
