"""LIF units: the membrane equations of circuits/spiking.py against the rate theory of
models/lif.py, the rate code they are calibrated to, and the pooling of member spikes."""
from types import SimpleNamespace

import numpy as np
import pytest
from brian2 import Clock, Hz, Network, NeuronGroup, SpikeMonitor, ms, second

from mirrorlab.circuits import equations as E
from mirrorlab.circuits import spiking_units as S
from mirrorlab.circuits import spiking_equations as SE
from mirrorlab.models.lif import LIFNeuron, firing_rate, rate_coding

DT = 0.5 * ms
VALUES = (-1.0, 0.0, 1.0)
BASELINE, GAIN = 30.0, 15.0


def lif_spec(synapses: str, pool: int = 20) -> SimpleNamespace:
    """The parts of a CircuitSpec that LIF units read."""
    return SimpleNamespace(neuron="lif", dt=DT, spiking=SimpleNamespace(
        pool=pool, lif=LIFNeuron(synapses=synapses), baseline=BASELINE * Hz, gain=GAIN * Hz))


def lif_units(spec, values: np.ndarray, clock: Clock):
    """Unit population holding ``values`` (fixed v) and its LIF members, parameters set."""
    units = NeuronGroup(len(values), E.code("v : 1", SE.COUNTING_UNIT, SE.OWN_TRACE),
                        threshold=SE.COUNTING_THRESHOLD, reset=SE.OWN_SPIKE, method="exact",
                        clock=clock, name="units")
    units.baseline, units.gain, units.pool = BASELINE * Hz, GAIN * Hz, spec.spiking.pool
    units.tau_trace = 10 * ms
    units.v = values
    objects = S.lif_members(spec, [units], clock)["units"]
    for name, value in S.membrane_values(spec).items():
        setattr(objects[0], name, value)
    objects[0].V = "rand()"
    return units, objects


@pytest.mark.parametrize("synapses,tolerance", [("current", 0.03), ("conductance", 0.05)])
def test_lif_members_fire_at_the_rate_theory_gives(synapses, tolerance):
    """Member rates at v = -1, 0, 1 match the Siegert rate with the time-grid corrections
    (and so fire at baseline + gain v near v = 0). Tolerances: the corrections are the
    first order in sqrt(dt/tau) of an expansion whose next order is ~dt/tau_eff: 2.5 %
    for tau_m = 20 ms, 5 % for the conductance-based membrane (tau_eff ~ 10 ms). Without
    them (continuous-time theory) the current-based rate at v = 0 is 10 % off, which
    this test would catch."""
    spec = lif_spec(synapses, pool=300)
    values = np.array(VALUES)
    units, (members, value_link, pooling) = lif_units(spec, values, Clock(dt=DT))
    spikes = SpikeMonitor(members)
    net = Network(units, members, value_link, pooling)
    net.run(0.3 * second)                         # forget the uniform start
    net.add(spikes)
    seconds = 3.0
    net.run(seconds * second)
    rates = np.bincount(spikes.i[:] // spec.spiking.pool, minlength=len(values)) / (
        seconds * spec.spiking.pool)
    neuron = LIFNeuron(synapses=synapses, dt=float(DT))
    coding = rate_coding(neuron, BASELINE, GAIN)
    expected = np.array([firing_rate(neuron, coding.rest + coding.slope * v) for v in VALUES])
    np.testing.assert_allclose(rates, expected, rtol=tolerance)
    assert abs(rates[1] - BASELINE) < tolerance * BASELINE
    if synapses == "current":
        continuous = firing_rate(LIFNeuron(synapses=synapses), coding.rest)
        assert abs(rates[1] - continuous) > tolerance * continuous


def test_lif_unit_events_carry_every_member_spike():
    """A unit's spike event at step k carries the count of its members' spikes at step
    k - 1, so the count-weighted events equal the member spikes (exactly, in integers),
    and the unit's own trace decodes v."""
    spec = lif_spec("current")
    values = np.repeat(VALUES, 4)
    units, (members, value_link, pooling) = lif_units(spec, values, Clock(dt=DT))
    events = SpikeMonitor(units, variables=["n_spikes"])
    member_spikes = SpikeMonitor(members)
    net = Network(units, members, value_link, pooling, events, member_spikes)
    steps = 800
    net.run(steps * DT)
    member_step = np.round(member_spikes.t[:] / DT).astype(int)
    issued = member_step < steps - 1              # the last step's spikes are not issued yet
    per_unit_members = np.bincount(member_spikes.i[:][issued] // spec.spiking.pool,
                                   minlength=len(values))
    per_unit_events = np.bincount(events.i[:], weights=events.n_spikes[:], minlength=len(values))
    np.testing.assert_array_equal(per_unit_events, per_unit_members)
    assert np.all(np.asarray(events.n_spikes[:]) >= 1)
    assert np.max(events.n_spikes[:]) > 1           # some steps pool several member spikes


def test_rate_coding_hits_baseline_and_gain():
    for synapses in ("current", "conductance"):
        neuron = LIFNeuron(synapses=synapses, dt=float(DT))
        coding = rate_coding(neuron, BASELINE, GAIN)
        assert firing_rate(neuron, coding.rest) == pytest.approx(BASELINE, rel=1e-6)
        h = 1e-3
        slope = (firing_rate(neuron, coding.rest + coding.slope * h)
                 - firing_rate(neuron, coding.rest - coding.slope * h)) / (2 * h)
        assert slope == pytest.approx(GAIN, rel=1e-3)


def test_lif_rejects_what_it_cannot_do():
    with pytest.raises(ValueError, match="cannot fire at a baseline"):
        rate_coding(LIFNeuron(refractory=0.01), 120.0, 10.0)
    with pytest.raises(ValueError, match="synapses must be one of"):
        LIFNeuron(synapses="shunting")
    with pytest.raises(ValueError, match="sigma must be > 0"):
        LIFNeuron(sigma=0.0)


def test_config_builds_lif_units_and_refuses_what_they_cannot_do(tmp_path):
    from pathlib import Path
    from mirrorlab.sims.runs.circuit import spec_from_config
    from mirrorlab.sims.config import load_config
    teacher = Path(__file__).resolve().parents[1] / "configs" / "spiking_teacher_wm.toml"
    spec = spec_from_config(load_config(teacher, **{"circuit.neuron": "lif",
                                                    "circuit.lif_synapses": "conductance",
                                                    "circuit.lif_tau_m_ms": 15.0}))
    assert spec.neuron == "lif" and spec.spiking.lif.synapses == "conductance"
    assert spec.spiking.lif.tau_m == pytest.approx(0.015)
    assert spec_from_config(load_config(teacher)).spiking.lif is None
    with pytest.raises(ValueError, match="lif units do not take delays"):
        spec_from_config(load_config(teacher, **{"circuit.neuron": "lif",
                                                 "circuit.delay_feedback_ms": 5.0}))
    with pytest.raises(ValueError, match="circuit.lif_synapses"):
        load_config(teacher, **{"circuit.lif_synapses": "shunting"})
