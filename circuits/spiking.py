"""Spiking circuits: the weight mirror and Kolen-Pollack with Poisson or LIF neurons.

The same populations and synapse groups as the rate circuit of :mod:`.build`
(``forward_l``, ``feedback_l``, ``target``, ``W_l``, ``B_l``, one-to-one links),
and the same presentations, but every population that carries a signal spikes.

Units. Every population is made of units, each a pool of ``pool`` neurons with one
input. A Poisson unit is simulated as its pooled spike train. A LIF unit
(``spec.neuron = "lif"``) has ``pool`` leaky integrate-and-fire member neurons
(``<population>_lif``) that read the unit's value ``v`` as a drive (current or
excitatory conductance, :mod:`mirrorlab.models.lif`) calibrated to fire at
``baseline + gain * v`` near ``v = 0``; their spikes are counted into the unit, which
issues them one step later as one spike event carrying ``n_spikes`` spikes. Whatever
reads a unit's spikes weights each event by ``n_spikes`` (1 for Poisson units).

Signed values around a baseline. A value ``v`` (a rate ``phi(a)``, an error
``delta``, a label, a noise draw) is carried by an inhomogeneous Poisson neuron
firing at ``baseline + gain * v`` (clipped at 0 Hz). Whoever receives its spikes
reads ``(trace - baseline) / gain``, where ``trace`` is the spike train filtered by
an exponential normalised so that its mean is the firing rate (each spike adds
``(1 - exp(-dt/tau)) / dt``). A synapse of weight ``w`` from such a neuron adds
``w / gain`` of the filtered spike train to its target's input; the target
subtracts what its synapses bring at baseline (``base = sum_j w_j baseline / gain``,
a summed variable of its own synapses: a homeostatic offset), so its input is
``I = sum_j w_j (trace_j - baseline) / gain``, the rate circuit's ``sum_j w_j r_j``
read from spikes.

Plasticity runs at every time step, gated by the presentation (broadcast
TimedArrays ``engaged_now(t)`` and ``mirror_now(t, layer)``, 0 in the first
1/:data:`~.spiking_spec.PRESENTATION_PARTS` of every presentation while the traces
forget the previous one). A rule's per-presentation rates (``lr``, ``decay``) are
spread over the learning part ``T_learn`` of a presentation: ``eta = lr / T_learn``.

- W_l (engaged): ``dw/dt = -eta delta_post r_pre - decay w`` with ``r_pre`` the
  presynaptic neuron's decoded spike trace and ``delta_post`` the error its
  postsynaptic neuron decodes from its feedback partner's spikes.
- B_l, weight mirror (mirror presentations of layer l): the covariance rule
  ``dw/dt = eta (z_pre - m_pre)(z_post - m_post) / gain^2 - decay w``, where ``z`` is
  a fast and ``m`` a slow spike trace of the forward partner of each feedback
  neuron (the feedback neuron sees its partner's spikes through a one-to-one
  link). No zero-mean input is needed: ``m`` removes the mean. For a linear
  coupling of Poisson neurons the expectation is ``W^T`` times a positive
  constant (:func:`covariance_gain`).
- B_l, Kolen-Pollack (engaged): ``dw/dt = -eta x_post delta_pre - decay w`` with
  ``x_post`` the decoded trace of the postsynaptic feedback neuron's forward
  partner and ``delta_pre`` the presynaptic feedback neuron's decoded own spikes.

Dale's law (``spec.spiking.dale``): every population's outgoing synapses keep one
sign. Each signed projection becomes an excitatory group (``W_l``, ``B_l``, weights
``w >= 0``) plus an inhibitory one (``W_inh_l``, ``B_inh_l``, weights ``w >= 0``
that subtract) from an inhibitory interneuron population (``forward_inh_l``,
``feedback_inh_l``) that relays its partner's spikes: it fires at the rate it
decodes from them (``dale_relay = "rate"``), or with its partner's spikes, one step
later (``"copy"``). Both learn by the same local rule, the inhibitory one with the
opposite sign, and are clipped at 0. :meth:`SpikingCircuit.weights` returns the
signed ``W_exc - W_inh``; monitors of ``W_l``/``B_l`` alone see the excitatory part.

Delays: ``W`` and ``B`` groups transmit spikes after ``delay_forward`` and
``delay_feedback`` (the baseline offset needs no delay: it is constant).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from brian2 import (Clock, Equations, Network, NeuronGroup, Quantity, SpikeMonitor, Synapses,
                    TimedArray, ms, second)

from ..models.lif import rate_coding
from . import equations as E
from .build import _dense_indices, _matrix, _shape
from .phases import Presentations, presentation_arrays
from .spiking_spec import PRESENTATION_PARTS

Array = np.ndarray

# --- neurons -------------------------------------------------------------------------------

#: A unit: a pool of ``pool`` neurons with one input, carrying the signed value ``v``
#: around its baseline. Its spike event at a time step carries ``n_spikes`` neuron spikes.
UNIT = """
    baseline : Hz (shared, constant)
    gain : Hz (shared, constant)
    pool : 1 (shared, constant)
    """
#: A Poisson unit is simulated as its pooled spike train, inhomogeneous Poisson at ``pool``
#: times the rate, with at most one spike per time step (``pool * rate * dt`` < 1).
POISSON_RATE = UNIT + """
    rate = clip(baseline + gain * v, 0*Hz, inf*Hz) : Hz
    n_spikes = 1 : 1
    """
POISSON_THRESHOLD = "rand() < pool * rate * dt"
#: A counting unit issues spikes that arrive from elsewhere, counted at ``arrivals`` and
#: issued one step later as one event: a LIF unit's come from its ``pool`` member neurons
#: (:data:`LIF_CURRENT`, :data:`LIF_CONDUCTANCE`), a copying relay's from its partner.
COUNTING_UNIT = UNIT + """
    n_spikes : 1
    arrivals : 1
    """
COUNTING_THRESHOLD = "n_spikes > 0"
ISSUE_COUNT = "n_spikes = arrivals\narrivals = 0"
MEMBER_ARRIVES = "arrivals_post += 1"
COPY_SPIKE = "arrivals_post += n_spikes_pre"
#: The unit's value ``v`` read by each of its member neurons.
MEMBER_VALUE = "v_unit_post = v_pre : 1 (summed)"

#: LIF member neurons (``V`` in units of threshold - rest, see :mod:`mirrorlab.models.lif`)
#: driven by ``rest + slope * v`` as a current or an excitatory conductance.
LIF_MEMBRANE = """
    v_unit : 1
    tau_m : second (shared, constant)
    t_ref : second (shared, constant)
    sigma_m : 1 (shared, constant)
    rest : 1 (shared, constant)
    slope : 1 (shared, constant)
    """
LIF_CURRENT = LIF_MEMBRANE + """
    dV/dt = (rest + slope * v_unit - V) / tau_m + sigma_m * sqrt(2 / tau_m) * xi : 1 (unless refractory)
    """
LIF_CONDUCTANCE = LIF_MEMBRANE + """
    dV/dt = (-V + g_e * (E_e - V) + g_i * (E_i - V)) / tau_m
            + sigma_m * sqrt(2 / tau_m) * xi : 1 (unless refractory)
    g_e = clip(rest + slope * v_unit, 0, inf) : 1
    E_e : 1 (shared, constant)
    E_i : 1 (shared, constant)
    g_i : 1 (shared, constant)
    """
LIF_MEMBRANES = {"current": LIF_CURRENT, "conductance": LIF_CONDUCTANCE}


def trace_jump(tau: str, pool: str = "pool", count: str = "n_spikes") -> str:
    """What one spike event of a unit of ``pool`` neurons (``count`` spikes) adds to an
    exponential trace of time constant ``tau`` (identifiers), normalised so that the
    trace's mean is the firing rate per neuron, in Hz."""
    return f"{count} * (1 - exp(-dt / {tau})) / (dt * {pool})"


#: The neuron's own spike trace ``z`` and what it decodes from it (``own``: r or delta).
OWN_TRACE = """
    dz/dt = -z / tau_trace : Hz
    own = (z - baseline) / gain : 1
    tau_trace : second (shared, constant)
    """
OWN_SPIKE = f"z += {trace_jump('tau_trace')}"

#: Filtered, weighted input from a synapse group into ``I_{p}`` (p a pathway name), minus
#: what the group brings at baseline (``base_{p}``, summed by the group).
FILTERED_INPUT = """
    ds_{p}/dt = -s_{p} / tau_syn : 1
    base_{p} : 1
    """
SYNAPTIC_TIME = "tau_syn : second (shared, constant)"

#: forward_l, l >= 1: net input from W (and the inhibitory route), bias, and the error
#: decoded from the spikes of the feedback partner.
FORWARD_NET_INPUT = """
    a = I_ff + b : 1
    b : 1
    de_tr/dt = -e_tr / tau_syn : Hz
    delta = (e_tr - baseline) / gain : 1
    eta_b : 1/second (shared, constant)
    """

#: feedback_l: traces of the forward partner's spikes (fast ``z_fwd``, slow ``m_fwd``) and
#: the partner's value decoded from them.
PARTNER_TRACES = """
    dz_fwd/dt = -z_fwd / tau_trace : Hz
    dm_fwd/dt = -m_fwd / tau_mean : Hz
    x_fwd = (z_fwd - baseline) / gain : 1
    tau_mean : second (shared, constant)
    """
PARTNER_SPIKE = (f"z_fwd_post += {trace_jump('tau_trace_post', 'pool_pre', 'n_spikes_pre')}\n"
                 f"m_fwd_post += {trace_jump('tau_mean_post', 'pool_pre', 'n_spikes_pre')}")

#: feedback_L: the label decoded from the target population's spikes.
LABEL_TRACE = """
    dy_tr/dt = -y_tr / tau_syn : Hz
    y_hat = (y_tr - baseline) / gain : 1
    """
LABEL_SPIKE = f"y_tr_post += {trace_jump('tau_syn_post', 'pool_pre', 'n_spikes_pre')}"

#: forward_l -> feedback_l: the net input a feedback neuron sees beside its partner
#: (the analog one-to-one link of the rate circuit; it shapes phi'(a) and the output error).
NET_INPUT_LINK = "a_fwd_post = a_pre : 1 (summed)"
ERROR_SPIKE = f"e_tr_post += {trace_jump('tau_syn_post', 'pool_pre', 'n_spikes_pre')}"

#: An inhibitory interneuron relaying its partner's spikes (``dale_relay = "rate"``): it
#: fires at the rate it decodes.
RELAY = """
    v = (e_tr - baseline) / gain : 1
    de_tr/dt = -e_tr / tau_syn : Hz
    """

# --- synapses ------------------------------------------------------------------------------

#: A dense projection into pathway ``p`` of its target (``weight``: the weight variable).
PROJECTION = """
    {weight} : 1
    base_{p}_post = {weight} * baseline_pre / gain_pre : 1 (summed)
    eta : 1/second (shared, constant)
    decay : 1/second (shared, constant)
    """
PROJECTION_SPIKE = ("s_{p}_post += {weight} * " + trace_jump("tau_syn_post", "pool_pre", "n_spikes_pre")
                    + " / gain_pre")

#: Plasticity, applied every time step (``{weight}`` and ``{sign}``: +1 excitatory, -1
#: inhibitory route; ``{clip}`` keeps Dale's sign).
FORWARD_LEARNING = ("{weight} += dt * engaged_now(t) * "
                    "(-{sign} * eta * delta_post * own_pre - decay * {weight})")
COVARIANCE_LEARNING = ("{weight} += dt * mirror_now(t, layer) * ({sign} * eta * "
                       "(z_fwd_pre - m_fwd_pre) * (z_fwd_post - m_fwd_post) / (gain_pre * gain_post)"
                       " - decay * {weight})")
KOLEN_POLLACK_LEARNING = ("{weight} += dt * engaged_now(t) * "
                          "(-{sign} * eta * x_fwd_post * own_pre - decay * {weight})")
CLIP_AT_ZERO = "{weight} = clip({weight}, 0, inf)"
BIAS_LEARNING = "b += dt * engaged_now(t) * (-eta_b * delta)"

FEEDBACK_RULES = {"wm": COVARIANCE_LEARNING, "kp": KOLEN_POLLACK_LEARNING, "fa": None}


def covariance_gain(rate: Quantity, gain: Quantity, tau_syn: Quantity, tau_trace: Quantity,
                    tau_mean: Quantity, dt: Quantity, delay: Quantity = 0 * ms,
                    pool: int = 1) -> float:
    """Expected drive of the spike-trace covariance rule per unit of W, on the time grid.

    A Poisson neuron j at constant ``rate`` drives a Poisson neuron i at
    ``rate + W_ij (s_j - rate)``, with ``s_j`` its spike train filtered by ``tau_syn``
    and arriving ``delay`` later. With ``z`` fast (``tau_trace``) and ``m`` slow
    (``tau_mean``) traces of each, the covariance rule's drive has expectation
    ``E[(z_i - m_i)(z_j - m_j)] / gain^2 = W_ij * covariance_gain(...)`` (dimensionless).

    Notes
    -----
    Time steps of ``dt``; a unit is a pool of ``M = pool`` neurons whose pooled spike
    is a Bernoulli event of probability ``p = M rate dt``. A trace of decay
    ``a = exp(-dt/tau)`` adds ``c/M``, ``c = (1 - a)/dt``, per pooled spike. A spike of
    j at step q raises i's pooled spike probability at step q + k by ``W dt c_s s^(k - D)``
    for ``k > D``
    (``s`` the synaptic decay, ``D = delay/dt``: the input is filtered after the
    spike's step, then read at the next). For a trace of decay ``a`` on i's spikes
    and ``b`` on j's, summing the geometric series gives
    ``Cov = W dt p (1 - p) c_a c_b c_s / M^2 / (1 - ab) * bs / (1 - bs) * b^D``; the
    rule's drive is ``K(z, z) - K(z, m) - K(m, z) + K(m, m)``. For ``dt -> 0``,
    ``K(a, b) -> W rate / M tau_b / ((tau_a + tau_b)(tau_b + tau_s)) exp(-delay/tau_b)``:
    the spiking variability that the rule feeds on is averaged down by the pool.
    """
    step = float(dt)
    p = pool * float(rate) * step
    decay = {name: np.exp(-step / float(tau)) for name, tau in
             (("z", tau_trace), ("m", tau_mean), ("s", tau_syn))}
    jump = {name: (1 - a) / step for name, a in decay.items()}
    lag = int(round(float(delay) / step))

    def K(i_side: str, j_side: str) -> float:
        a, b, s = decay[i_side], decay[j_side], decay["s"]
        return (step * p * (1 - p) * jump[i_side] * jump[j_side] * jump["s"] / pool ** 2
                / (1 - a * b) * b * s / (1 - b * s) * b ** lag)

    return (K("z", "z") - K("z", "m") - K("m", "z") + K("m", "m")) / float(gain) ** 2


# --- the circuit -----------------------------------------------------------------------------

@dataclass(eq=False)
class SpikingCircuit:
    """A built spiking circuit, with the interface of :class:`.build.Circuit`.

    Attributes
    ----------
    spec, presentations, network, forward, feedback, target, W, B, links, schedule
        As in :class:`.build.Circuit`. With Dale's law ``W[l-1]``/``B[l-1]`` are the
        excitatory groups (their ``w`` is the excitatory part only).
    inhibitory : dict
        Dale's law only: ``"W"``, ``"B"`` (inhibitory synapse groups) and
        ``"populations"`` (the interneurons).
    spikes : dict of str -> SpikeMonitor
        Every spiking population's spikes (see :meth:`activity`).
    members : dict of str -> list
        LIF neurons only: each unit population's member neurons, the synapses that give
        them the unit's value and those that pool their spikes (:func:`_lif_members`).
    """

    spec: "CircuitSpec"
    presentations: Presentations
    network: Network
    forward: list
    feedback: list
    target: NeuronGroup
    W: list
    B: list
    links: list
    schedule: dict
    inhibitory: dict = field(default_factory=dict)
    spikes: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)

    @property
    def duration(self) -> Quantity:
        """Every presentation (plasticity runs inside them, so nothing is left to apply)."""
        return len(self.presentations) * self.spec.presentation_time

    @property
    def populations(self) -> list[NeuronGroup]:
        """Every population of units (and feedback_0), inhibitory relays included."""
        return (self.forward + self.feedback + [self.target]
                + self.inhibitory.get("populations", []))

    @property
    def dale(self) -> bool:
        return bool(self.spec.spiking.dale)

    def set_weights(self, W: list[Array], b: list[Array], B: list[Array],
                    feedback_signs=None) -> None:
        """Initial weights in the matrix engine's layout (as :meth:`.build.Circuit.set_weights`);
        with Dale's law the positive part goes to the excitatory, the negative part to the
        inhibitory group. The synaptic filters start where the baseline input puts them.
        ``feedback_signs`` ([constraints] of rate circuits) must be None: spiking circuits
        keep Dale's law with ``spiking.dale``."""
        _no_feedback_signs(feedback_signs)
        for group, name, value in self._weight_values(W, b, B):
            setattr(group, name, value)

    def _weight_values(self, W, b, B):
        spiking = self.spec.spiking
        for pathway, groups, inhibitory, matrices in (
                ("ff", self.W, self.inhibitory.get("W"), W),
                ("fb", self.B, self.inhibitory.get("B"), B)):
            for k, (S, matrix) in enumerate(zip(groups, matrices)):
                matrix = np.asarray(matrix, dtype=float)
                if matrix.shape != _shape(S):
                    raise ValueError(f"{S.name}: weights must have shape {_shape(S)} "
                                     f"(got {matrix.shape})")
                post, pre = _dense_indices(_shape(S))
                at_baseline = float(spiking.baseline / spiking.gain)
                if inhibitory is None:
                    yield S, "w", matrix[post, pre]
                    yield S.target, f"s_{pathway}", matrix.sum(axis=1) * at_baseline
                else:
                    yield S, "w", np.maximum(matrix, 0)[post, pre]
                    yield inhibitory[k], "w", np.maximum(-matrix, 0)[post, pre]
                    yield S.target, f"s_{pathway}", np.maximum(matrix, 0).sum(1) * at_baseline
                    yield S.target, f"s_{pathway}_inh", (np.maximum(-matrix, 0).sum(1)
                                                         * at_baseline)
        for group, bias in zip(self.forward[1:], b):
            yield group, "b", np.asarray(bias, dtype=float)

    def weights(self) -> tuple[list[Array], list[Array], list[Array]]:
        """Current ``(W, b, B)`` (signed: ``W_exc - W_inh`` with Dale's law)."""
        return ([self._signed(S, "W", k) for k, S in enumerate(self.W)],
                [np.array(G.b[:]) for G in self.forward[1:]],
                [self._signed(S, "B", k) for k, S in enumerate(self.B)])

    def _signed(self, S, kind: str, k: int) -> Array:
        if not self.dale:
            return _matrix(S)
        return _matrix(S) - _matrix(self.inhibitory[kind][k])

    def run_args(self, spec, plan: Presentations, initial, feedback_signs=None) -> dict:
        """``run_args`` of a standalone rerun with other weights, parameters and
        presentations (see :meth:`.build.Circuit.run_args`)."""
        _no_feedback_signs(feedback_signs)
        if _structure(spec, plan) != _structure(self.spec, self.presentations):
            raise ValueError("the spiking circuit was built for another structure; build it anew")
        values = list(_parameter_values(self, spec)) + list(self._weight_values(*initial))
        args = {getattr(group, name): value for group, name, value in values}
        args.update({self.schedule[name]: array
                     for name, array in schedule_values(spec, plan).items()})
        return args

    def activity(self) -> dict[str, dict]:
        """Pooled spikes of every spiking population:
        ``{name: {"i": unit, "t_s": time, "n": units, "pool": neurons per unit}}``."""
        def spikes(monitor) -> dict:
            n = np.rint(monitor.n_spikes[:]).astype(np.int64)   # spikes per event
            return {"i": np.repeat(monitor.i[:], n), "t_s": np.repeat(monitor.t[:] / second, n),
                    "n": len(monitor.source), "pool": int(self.spec.spiking.pool)}

        return {name: spikes(monitor) for name, monitor in self.spikes.items()}


def _no_feedback_signs(signs) -> None:
    if signs is not None:
        raise ValueError("spiking circuits take Dale's law from circuit.dale, not from "
                         "[constraints] feedback_dale")


def build_spiking(spec, plan: Presentations) -> SpikingCircuit:
    """Create the Brian2 objects of the spiking circuit ``spec`` running ``plan``."""
    if spec.noise_source == "replay" and spec.rule.uses_mirror_phase and plan.noise is None:
        raise ValueError("noise_source 'replay' needs presentations with noise arrays")
    clock = Clock(dt=spec.dt)
    schedule = {name: TimedArray(values, dt=_array_dt(spec, name), name=name)
                for name, values in schedule_values(spec, plan).items()}
    L = spec.n_layers
    forward = [_forward(spec, l, schedule, clock) for l in range(L + 1)]
    feedback = [_feedback(spec, l, clock) for l in range(L + 1)]
    unit, threshold = _unit(spec)
    target = NeuronGroup(spec.sizes[-1], E.code("v = y : 1", E.TARGET_POPULATION, unit, OWN_TRACE),
                         threshold=threshold, reset=OWN_SPIKE, clock=clock,
                         name="target", namespace={"labels": schedule["labels"]})
    _load(spec, target, E.LOAD_LABEL)
    W = [_projection(spec, forward[l - 1], forward[l], "ff", f"W_{l}", l, schedule, clock)
         for l in range(1, L + 1)]
    B = [_projection(spec, feedback[l], feedback[l - 1], "fb", f"B_{l}", l, schedule, clock)
         for l in range(1, L + 1)]
    links = _links(spec, forward, feedback, target, clock)
    inhibitory = _inhibitory_routes(spec, forward, feedback, W, B, schedule, clock) \
        if spec.spiking.dale else {}
    units = [G for G in forward + feedback + [target] + inhibitory.get("populations", [])
             if _is_unit(G)]
    members = _lif_members(spec, units, clock) if spec.neuron == "lif" else {}
    spikes = {G.name: SpikeMonitor(G, variables=["n_spikes"], name=f"{G.name}_spikes")
              for G in units}
    network = Network(*forward, *feedback, target, *W, *B, *links, *spikes.values(),
                      *[obj for objs in inhibitory.values() for obj in objs],
                      *[obj for objs in members.values() for obj in objs])
    circuit = SpikingCircuit(spec, plan, network, forward, feedback, target, W, B, links,
                             schedule, inhibitory, spikes, members)
    for group, name, value in _parameter_values(circuit, spec):
        setattr(group, name, value)
    _start_traces(circuit)
    return circuit


# --- the schedule ------------------------------------------------------------------------------

#: Gates read at every time step, at a resolution of 1/PRESENTATION_PARTS presentation.
LEARNING_GATES = ("engaged_now", "mirror_now")


def schedule_values(spec, plan: Presentations) -> dict[str, Array]:
    """Arrays of the TimedArrays: per presentation (``stimulus``, ``labels``, ``drive_gate``,
    ``noise_gate``, ``noise_values_l``) and per part of a presentation (``engaged_now``,
    ``mirror_now``: the presentation's gates, 0 in its first part)."""
    return {**presentation_arrays(plan, spec.noise_source == "replay"),
            "engaged_now": _learning_parts(plan.engaged),
            "mirror_now": _learning_parts(plan.mirror)}


def _learning_parts(gates: Array) -> Array:
    """Each presentation's row repeated PRESENTATION_PARTS times, the first part zeroed."""
    parts = np.repeat(gates, PRESENTATION_PARTS, axis=0)
    parts[::PRESENTATION_PARTS] = 0
    return parts


def _array_dt(spec, name: str) -> Quantity:
    T = spec.presentation_time
    return T / PRESENTATION_PARTS if name in LEARNING_GATES else T


def learning_time(spec) -> Quantity:
    """``T_learn``: the part of a presentation in which plasticity is on."""
    return spec.presentation_time * (PRESENTATION_PARTS - 1) / PRESENTATION_PARTS


def _load(spec, group, *blocks: str) -> None:
    group.run_regularly(E.code(*blocks), dt=spec.presentation_time, when="start", order=2,
                        name=f"{group.name}_present")


def _every_step(group, code: str) -> None:
    group.run_regularly(code, when="start", order=0, name=f"{group.name}_learn")


# --- populations ------------------------------------------------------------------------------

def _noise(spec, schedule: dict, l: int) -> tuple[str, str, dict]:
    """(equations, load code, namespace) of the mirror noise of forward_l, as in the rate
    circuit; ``noise_drive`` scales it into the rate."""
    if not spec.rule.uses_mirror_phase:
        return "", "", {}
    if spec.noise_source == "replay":
        return "", E.LOAD_NOISE["replay"], {"noise_values": schedule[f"noise_values_{l}"]}
    return E.NOISE_SCALE, E.LOAD_NOISE[spec.rule.noise.distribution], {}


def _forward(spec, l: int, schedule: dict, clock: Clock) -> NeuronGroup:
    """forward_0 (shows x or noise), forward_l (hidden), forward_L (output): Poisson."""
    L = spec.n_layers
    namespace = {"layer": l, "engaged_now": schedule["engaged_now"]}
    unit, threshold = _unit(spec)
    parts = [unit, OWN_TRACE, SYNAPTIC_TIME, "r = own : 1"]
    terms, load = {}, []
    if l < L:
        noise_eqs, load_noise, noise_namespace = _noise(spec, schedule, l)
        signal = "x" if l == 0 else "transfer_phi"
        parts += [f"v = drive * {signal} + noise_on * noise_drive * noise : 1", E.MIRROR_GATES,
                  "noise_drive : 1 (shared, constant)", noise_eqs]
        namespace.update({"drive_gate": schedule["drive_gate"],
                          "noise_gate": schedule["noise_gate"], **noise_namespace})
        load = [E.LOAD_MIRROR_GATES, load_noise]
        if l == 0:
            parts.append("x : 1")
            namespace["stimulus"] = schedule["stimulus"]
            load.append(E.LOAD_SAMPLE)
        else:
            terms = E.transfer_terms(spec.transfer, "a")
    else:
        parts.append("v = transfer_phi : 1")
        terms = E.transfer_terms(spec.output_transfer, "a")
    if l > 0:
        parts += [FORWARD_NET_INPUT, *_inputs(spec, "ff")]
    group = NeuronGroup(spec.sizes[l], Equations(E.code(*parts), **terms),
                        threshold=threshold, reset=OWN_SPIKE, method="exact",
                        clock=clock, name=f"forward_{l}", namespace=namespace)
    if load:
        _load(spec, group, *load)
    if l > 0:
        _every_step(group, BIAS_LEARNING)
    return group


def _inputs(spec, p: str) -> list[str]:
    """Filtered inputs of pathway ``p`` and ``I_{p}``: excitatory minus inhibitory with Dale."""
    blocks = [FILTERED_INPUT.format(p=p)]
    current = f"s_{p} - base_{p}"
    if spec.spiking.dale:
        blocks.append(FILTERED_INPUT.format(p=f"{p}_inh"))
        current += f" - (s_{p}_inh - base_{p}_inh)"
    return blocks + [f"I_{p} = {current} : 1"]


def _feedback(spec, l: int, clock: Clock) -> NeuronGroup:
    """feedback_l: Poisson neurons carrying the error (feedback_0 does not spike: it trains
    nothing and only holds the traces that B_1 learns from, and its input)."""
    L = spec.n_layers
    if l == 0:
        parts = [PARTNER_TRACES, SYNAPTIC_TIME, "tau_trace : second (shared, constant)",
                 "baseline : Hz (shared, constant)", "gain : Hz (shared, constant)",
                 *_inputs(spec, "fb"), "delta = I_fb : 1"]
        return NeuronGroup(spec.sizes[0], E.code(*parts), method="exact", clock=clock,
                           name="feedback_0", namespace={})
    unit, threshold = _unit(spec)
    parts = [PARTNER_TRACES, SYNAPTIC_TIME, unit, OWN_TRACE, "delta = own : 1",
             "v = delta_inf : 1", "a_fwd : 1"]
    if l < L:
        parts += [E.HIDDEN_ERROR, *_inputs(spec, "fb")]
        terms = E.transfer_terms(spec.transfer, "a_fwd")
    else:
        parts += [E.output_error(spec.loss), LABEL_TRACE]
        terms = {**E.transfer_terms(spec.output_transfer, "a_fwd"),
                 "y": "y_hat"}  # the label, decoded from the target's spikes
    return NeuronGroup(spec.sizes[l], Equations(E.code(*parts), **terms),
                       threshold=threshold, reset=OWN_SPIKE, method="exact",
                       clock=clock, name=f"feedback_{l}", namespace={})


def _relay(spec, partner: NeuronGroup, name: str, clock: Clock, traces: bool) -> NeuronGroup:
    """An inhibitory interneuron population relaying ``partner``'s spikes one-to-one: at
    the rate it decodes from them, or copying them one step later (``dale_relay``);
    ``traces``: it also sees the spikes of the partner's forward partner (feedback side)."""
    if spec.spiking.dale_relay == "copy":
        parts, threshold = [COUNTING_UNIT], COUNTING_THRESHOLD
    else:
        unit, threshold = _unit(spec)
        parts = [RELAY, unit]
    parts += [OWN_TRACE, SYNAPTIC_TIME] + ([PARTNER_TRACES] if traces else [])
    relay = NeuronGroup(len(partner), E.code(*parts), threshold=threshold,
                        reset=OWN_SPIKE, method="exact", clock=clock, name=name, namespace={})
    if spec.spiking.dale_relay == "copy":
        _issue_counts(relay)
    return relay


def _unit(spec) -> tuple[str, str]:
    """(equations, threshold) of a spiking unit of ``spec.neuron`` ("poisson" or "lif")."""
    if spec.neuron == "lif":
        return COUNTING_UNIT, COUNTING_THRESHOLD
    return POISSON_RATE, POISSON_THRESHOLD


def _issue_counts(unit: NeuronGroup) -> None:
    unit.run_regularly(ISSUE_COUNT, when="before_thresholds", name=f"{unit.name}_count")


def _is_unit(group: NeuronGroup) -> bool:
    """Whether ``group`` is a spiking unit population (feedback_0 only holds traces)."""
    return "n_spikes" in group.variables


def _lif_members(spec, units: list[NeuronGroup], clock: Clock) -> dict[str, list]:
    """The LIF member neurons of every unit population that carries a value (copying
    relays have none): ``{unit name: [members, value link, pooling synapses]}``. Members
    of unit u are ``u * pool ... (u + 1) * pool - 1``."""
    pool, synapses = spec.spiking.pool, spec.spiking.lif.synapses
    objects = {}
    for unit in (G for G in units if "v" in G.variables):
        members = NeuronGroup(len(unit) * pool, LIF_MEMBRANES[synapses], threshold="V > 1",
                              reset="V = 0", refractory="t_ref", method="euler", clock=clock,
                              name=f"{unit.name}_lif", namespace={})
        unit_of = np.repeat(np.arange(len(unit)), pool)
        value = Synapses(unit, members, MEMBER_VALUE, clock=clock,
                         name=f"{unit.name}_to_lif", namespace={})
        value.connect(i=unit_of, j=np.arange(len(members)))
        pooling = Synapses(members, unit, on_pre=MEMBER_ARRIVES, clock=clock,
                           name=f"{unit.name}_lif_spikes", namespace={})
        pooling.connect(i=np.arange(len(members)), j=unit_of)
        _issue_counts(unit)
        objects[unit.name] = [members, value, pooling]
    return objects


def _start_traces(circuit: SpikingCircuit) -> None:
    """Every trace starts at the baseline rate (the circuit starts in its resting state)."""
    baseline = circuit.spec.spiking.baseline
    for group in circuit.populations:
        for name in ("z", "e_tr", "z_fwd", "m_fwd", "y_tr"):
            if name in group.variables:
                setattr(group, name, baseline)
    for members, _, _ in circuit.members.values():
        members.V = "rand()"


# --- synapses --------------------------------------------------------------------------------

def _rule_key(spec) -> str:
    return spec.rule.name


def _projection(spec, source, target, p: str, name: str, l: int, schedule: dict, clock: Clock,
                inhibitory: bool = False) -> Synapses:
    """A dense projection of pathway ``p`` ("ff": W, "fb": B) with its plasticity; with
    Dale's law the excitatory or the inhibitory group of the pair (both ``w >= 0``)."""
    dale = spec.spiking.dale
    weight = "w"
    into = f"{p}_inh" if inhibitory else p
    model = PROJECTION.format(weight=weight, p=into)
    if p == "ff":
        update = FORWARD_LEARNING
    else:
        update = FEEDBACK_RULES[_rule_key(spec)]
    namespace = {"engaged_now": schedule["engaged_now"], "mirror_now": schedule["mirror_now"],
                 "layer": l}
    S = Synapses(source, target, model, on_pre=PROJECTION_SPIKE.format(weight=weight, p=into),
                 clock=clock, name=name, namespace=namespace)
    post, pre = _dense_indices((len(target), len(source)))
    S.connect(i=pre, j=post)
    _set_delays(spec, S, spec.spiking.delay_forward if p == "ff" else spec.spiking.delay_feedback)
    if update is not None:
        code = update.format(weight=weight, sign=-1 if inhibitory else 1)
        if dale:
            code += "\n" + CLIP_AT_ZERO.format(weight=weight)
        _every_step(S, code)
    return S


def _set_delays(spec, S: Synapses, mean: Quantity) -> None:
    """Fixed delays, or uniform in ``mean +- delay_spread`` (drawn by Brian2's ``rand()``,
    so the run's seed fixes them)."""
    spread = spec.spiking.delay_spread
    if float(mean) == 0 and float(spread) == 0:
        return
    if float(spread) == 0:
        S.delay = mean
    else:
        S.delay = f"({float(mean / ms)!r} + (2 * rand() - 1) * {float(spread / ms)!r}) * ms"


def _links(spec, forward, feedback, target, clock) -> list[Synapses]:
    """One-to-one links: forward_l's spikes (and net input) to feedback_l, feedback_l's
    spikes back to forward_l (the error), the target's spikes to feedback_L."""
    L, links = spec.n_layers, []

    def link(source, dest, model: str, on_pre: str, name: str) -> None:
        S = Synapses(source, dest, model, on_pre=on_pre, clock=clock, name=name, namespace={})
        S.connect(j="i")
        links.append(S)

    for l in range(L + 1):
        link(forward[l], feedback[l], NET_INPUT_LINK if l > 0 else "", PARTNER_SPIKE,
             f"forward_to_feedback_{l}")
    for l in range(1, L + 1):
        link(feedback[l], forward[l], "", ERROR_SPIKE, f"feedback_to_forward_{l}")
    link(target, feedback[L], "", LABEL_SPIKE, "target_to_feedback")
    return links


def _inhibitory_routes(spec, forward, feedback, W, B, schedule, clock) -> dict:
    """Dale's law: interneurons relaying forward_0..L-1 and feedback_1..L, their inhibitory
    projections, and the links that feed them."""
    L = spec.n_layers
    fwd_inh = [_relay(spec, forward[l], f"forward_inh_{l}", clock, traces=False)
               for l in range(L)]
    fb_inh = [_relay(spec, feedback[l], f"feedback_inh_{l}", clock, traces=True)
              for l in range(1, L + 1)]
    links = []

    def link(source, dest, on_pre: str, name: str) -> None:
        S = Synapses(source, dest, on_pre=on_pre, clock=clock, name=name, namespace={})
        S.connect(j="i")
        links.append(S)

    relayed = COPY_SPIKE if spec.spiking.dale_relay == "copy" else ERROR_SPIKE
    for l, relay in enumerate(fwd_inh):
        link(forward[l], relay, relayed, f"forward_to_inh_{l}")
    for l, relay in zip(range(1, L + 1), fb_inh):
        link(feedback[l], relay, relayed, f"feedback_to_inh_{l}")
        link(forward[l], relay, PARTNER_SPIKE, f"forward_to_feedback_inh_{l}")
    W_inh = [_projection(spec, fwd_inh[l - 1], forward[l], "ff", f"W_inh_{l}", l, schedule,
                         clock, inhibitory=True) for l in range(1, L + 1)]
    B_inh = [_projection(spec, fb_inh[l - 1], feedback[l - 1], "fb", f"B_inh_{l}", l,
                         schedule, clock, inhibitory=True) for l in range(1, L + 1)]
    return {"W": W_inh, "B": B_inh, "populations": fwd_inh + fb_inh, "links": links}


# --- parameters --------------------------------------------------------------------------------

def _parameter_values(circuit: SpikingCircuit, spec):
    """(group, variable, value) of every parameter the circuit takes from ``spec``."""
    spiking = spec.spiking
    per_time = 1 / learning_time(spec)
    shared = {"baseline": spiking.baseline, "gain": spiking.gain, "pool": spiking.pool,
              "tau_syn": spiking.tau_syn,
              "tau_trace": spiking.tau_trace, "tau_mean": spiking.tau_mean,
              "noise_drive": spiking.noise_drive}
    if spiking.lif is not None:
        shared.update(membrane_values(spec))
    members = [objects[0] for objects in circuit.members.values()]
    for group in circuit.populations + members:
        for name, value in shared.items():
            if name in group.variables:
                yield group, name, value
        if "noise_scale" in group.variables:
            noise = spec.rule.noise
            yield group, "noise_scale", noise.sigma * (np.sqrt(3.0) if noise.distribution
                                                       == "uniform" else 1.0)
    for group in circuit.forward[1:]:
        yield group, "eta_b", spec.lr * per_time
    for S in circuit.W + circuit.inhibitory.get("W", []):
        yield S, "eta", spec.lr * per_time
        yield S, "decay", spec.rule.forward_decay * per_time
    eta, decay = _feedback_rates(spec)
    for S in circuit.B + circuit.inhibitory.get("B", []):
        yield S, "eta", eta * per_time
        yield S, "decay", decay * per_time


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


def _feedback_rates(spec) -> tuple[float, float]:
    """The rule's per-presentation learning rate and decay of B."""
    name = spec.rule.name
    if name == "wm":
        return spec.rule.lr, spec.rule.decay
    if name == "kp":
        return spec.lr, spec.rule.decay
    return 0.0, 0.0


def _structure(spec, plan: Presentations) -> tuple:
    return (spec.sizes, spec.transfer.name, spec.output_transfer.name, spec.loss.name,
            spec.rule.name, spec.neuron, float(spec.dt), spec.presentation_steps,
            spec.mirror_scheme, spec.noise_source, len(plan), plan.noise is not None,
            spec.spiking.structure())
