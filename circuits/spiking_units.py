"""Spiking units: what each population of a spiking circuit is made of.

A unit carries a signed value ``v`` around a baseline rate. A Poisson unit is simulated as
its pooled spike train; a LIF unit has ``pool`` leaky integrate-and-fire member neurons
(:func:`lif_members`) calibrated to fire at ``baseline + gain * v`` near ``v = 0``
(:func:`membrane_values`), whose spikes are counted into the unit and issued one step later
as one event carrying ``n_spikes``. An inhibitory relay of Dale's law (:func:`relay`)
re-fires its partner's value or copies its spikes. See :mod:`.spiking` for the circuit.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from brian2 import Clock, NeuronGroup, Synapses, second

from ..models.lif import rate_coding
from . import equations as E
from . import spiking_equations as SE

def relay(spec, partner: NeuronGroup, name: str, clock: Clock,
          traces: tuple[list[str], dict] = ([], {})) -> NeuronGroup:
    """An inhibitory interneuron population relaying ``partner``'s spikes one-to-one: at
    the rate it decodes from them, or copying them one step later (``dale_relay``);
    ``traces``: (equations, namespace) of the traces it keeps of the partner's forward
    partner's spikes (feedback side)."""
    if spec.spiking.dale_relay == "copy":
        parts, threshold = [SE.COUNTING_UNIT], SE.COUNTING_THRESHOLD
    else:
        unit, threshold = unit_model(spec)
        parts = [SE.RELAY, unit]
    parts += [SE.OWN_TRACE, SE.SYNAPTIC_TIME, *traces[0]]
    relay = NeuronGroup(len(partner), E.code(*parts), threshold=threshold, reset=SE.OWN_SPIKE,
                        method="exact", clock=clock, name=name, namespace=dict(traces[1]))
    if spec.spiking.dale_relay == "copy":
        issue_counts(relay)
    return relay


def unit_model(spec) -> tuple[str, str]:
    """(equations, threshold) of a spiking unit of ``spec.neuron`` ("poisson" or "lif")."""
    if spec.neuron == "lif":
        return SE.COUNTING_UNIT, SE.COUNTING_THRESHOLD
    return SE.POISSON_RATE, SE.POISSON_THRESHOLD


def issue_counts(unit: NeuronGroup) -> None:
    unit.run_regularly(SE.ISSUE_COUNT, when="before_thresholds", name=f"{unit.name}_count")


def is_unit(group: NeuronGroup) -> bool:
    """Whether ``group`` is a spiking unit population (feedback_0 only holds traces)."""
    return "n_spikes" in group.variables


def lif_members(spec, units: list[NeuronGroup], clock: Clock) -> dict[str, list]:
    """The LIF member neurons of every unit population that carries a value (copying
    relays have none): ``{unit name: [members, value link, pooling synapses]}``. Members
    of unit u are ``u * pool ... (u + 1) * pool - 1``."""
    pool, synapses = spec.spiking.pool, spec.spiking.lif.synapses
    objects = {}
    for unit in (G for G in units if "v" in G.variables):
        members = NeuronGroup(len(unit) * pool, SE.LIF_MEMBRANES[synapses], threshold="V > 1",
                              reset="V = 0", refractory="t_ref", method="euler", clock=clock,
                              name=f"{unit.name}_lif", namespace={})
        unit_of = np.repeat(np.arange(len(unit)), pool)
        value = Synapses(unit, members, SE.MEMBER_VALUE, clock=clock,
                         name=f"{unit.name}_to_lif", namespace={})
        value.connect(i=unit_of, j=np.arange(len(members)))
        pooling = Synapses(members, unit, on_pre=SE.MEMBER_ARRIVES, clock=clock,
                           name=f"{unit.name}_lif_spikes", namespace={})
        pooling.connect(i=np.arange(len(members)), j=unit_of)
        issue_counts(unit)
        objects[unit.name] = [members, value, pooling]
    return objects


def membrane_values(spec) -> dict:
    """Membrane parameters of LIF members, and the drive that makes them fire at
    ``baseline + gain * v`` (the tangent at v = 0 of their f-I curve on this time grid)."""
    neuron = replace(spec.spiking.lif, dt=float(spec.dt))
    coding = rate_coding(neuron, float(spec.spiking.baseline), float(spec.spiking.gain))
    values = {"tau_m": neuron.tau_m * second, "t_ref": neuron.refractory * second,
              "sigma_m": neuron.sigma, "rest": coding.rest, "slope": coding.slope}
    if neuron.synapses == "conductance":
        values.update(E_e=neuron.E_e, E_i=neuron.E_i, g_i=neuron.g_i)
    return values
