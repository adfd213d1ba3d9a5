"""The spike-trace covariance rule of the spiking weight mirror against its analytic
expectation, for two Poisson populations with a known linear coupling."""
import numpy as np
import pytest
from brian2 import Hz, ms, second

from mirrorlab.circuits import CircuitSpec, Presentations, build
from mirrorlab.circuits.spiking import learning_time
from mirrorlab.circuits.spiking_equations import covariance_gain
from mirrorlab.circuits.spiking_spec import SpikingSpec
from mirrorlab.models.losses import get_loss
from mirrorlab.models.rules import WeightMirror
from mirrorlab.models.transfer import get_transfer
from mirrorlab.sims import devices
from mirrorlab.sims.devices import Device

pytestmark = pytest.mark.usefixtures("fresh_brian2")

N = 40                # neurons per population
INPUTS_PER_NEURON = 3  # nonzero couplings per driven neuron
COUPLING = 0.15       # |W_ij|: the driven rate sd, COUPLING*sqrt(3 rate/(2 tau_syn POOL)) = 6 Hz,
                      # stays a third of the 30 Hz baseline, so the rate is never clipped at 0
POOL = 3              # neurons per unit (the covariance falls as 1/POOL, and so does its noise)
IDLE, LEARNING = 5, 80  # presentations (100 ms): traces settle, then the rule integrates


def coupling(rng) -> np.ndarray:
    """W (N, N): each driven neuron gets INPUTS_PER_NEURON inputs of +-COUPLING."""
    W = np.zeros((N, N))
    for i in range(N):
        W[i, rng.choice(N, INPUTS_PER_NEURON, replace=False)] = rng.choice([-1, 1],
                                                                           INPUTS_PER_NEURON)
    return COUPLING * W


def mirror_only(idle: int, learning: int) -> Presentations:
    """forward_0 at its baseline rate throughout; B_1 learns in the last ``learning``."""
    P = idle + learning
    mirror = np.zeros((P, 2))
    mirror[idle:, 1] = 1
    return Presentations(stimulus=np.zeros((P, N)), labels=np.zeros((P, N)),
                         drive=np.tile([0.0, 1.0], (P, 1)), noise_on=np.tile([1.0, 0.0], (P, 1)),
                         engaged=np.zeros(P), mirror=mirror, noise=None)


@pytest.mark.slow
def test_circuit_mirror_matches_the_covariance_expectation(tmp_path):
    """The whole spiking circuit (cpp_standalone; ~1.5 min, mostly compiling): B_1 learns
    from forward_0 at baseline driving forward_1 through W_1."""
    spiking = SpikingSpec(baseline=30 * Hz, gain=15 * Hz, pool=POOL, noise_drive=0.0,
                          tau_mean=200 * ms)
    eta = 1.0
    spec = CircuitSpec(sizes=(N, N), transfer=get_transfer("linear"),
                       output_transfer=get_transfer("linear"), loss=get_loss("mse"),
                       rule=WeightMirror(lr=eta, decay=0.0, noise="gaussian", sigma=1.0),
                       lr=1e-3, neuron="poisson", dt=0.5 * ms, noise_source="brian",
                       spiking=spiking)
    rng = np.random.default_rng(3)
    W = coupling(rng)
    device = Device("cpp", build_dir=tmp_path / "build")
    devices.activate(device)
    circuit = build(spec, mirror_only(IDLE, LEARNING))
    circuit.set_weights([W], [np.zeros(N)], [np.zeros((N, N))])
    circuit.network.run(circuit.duration, namespace={})
    devices.build(device)
    _, _, (B,) = circuit.weights()
    devices.restore_runtime()

    # B_ji = eta_per_time * sum over learning steps of dt * drive_ij: its time average
    # per unit of W is what covariance_gain predicts.
    drive = B.T / (eta / float(learning_time(spec)) * LEARNING * float(learning_time(spec)))
    expected = covariance_gain(spiking.baseline, spiking.gain, spiking.tau_syn,
                               spiking.tau_trace, spiking.tau_mean, spec.dt, pool=spiking.pool)
    coupled = W != 0
    slope = np.sum(drive * W) / np.sum(W * W)          # least squares through the origin
    residual = drive - slope * W
    se = np.std(residual[coupled]) / np.sqrt(np.sum(W * W))
    # Pairs without coupling: their drive averages 0 only because the slow traces remove
    # the rates' means (without them each pair's drive would be rate^2/gain^2 = 4).
    uncoupled = drive[~coupled]
    se0 = np.std(uncoupled) / np.sqrt(uncoupled.size)
    print(f"slope {slope:.3f} +- {se:.3f} (expected {expected:.3f}); "
          f"uncoupled mean {uncoupled.mean():.4f} +- {se0:.4f}")
    check(slope, se, expected, uncoupled.mean(), se0)


def check(slope, se, expected, uncoupled_mean, se0):
    # 4 standard errors: the pairs share neurons, so the residual-based SE is approximate.
    assert slope == pytest.approx(expected, abs=4 * se)
    assert se < 0.1 * expected          # the test has the power to see a 10 % error
    assert abs(uncoupled_mean) < 4 * se0


def test_covariance_rule_matches_its_analytic_expectation():
    """Two Poisson populations wired from the circuit's own equation templates (Brian2
    runtime, numpy): Q fires at ``rate + W (s_P - rate)``; synapses Q -> P learn by the
    covariance rule from both populations' fast and slow traces. ~10 s."""
    from brian2 import NeuronGroup, Network, Synapses, TimedArray, prefs
    from brian2 import seed as brian2_seed
    from mirrorlab.circuits import equations as E
    from mirrorlab.circuits import spiking_equations as SE
    from mirrorlab.models.rules.wm import COVARIANCE_LEARNING

    prefs.codegen.target = "numpy"
    dt, baseline, gain = 0.5 * ms, 30 * Hz, 15 * Hz
    tau_syn, tau_trace, tau_mean = 10 * ms, 10 * ms, 200 * ms
    settle, learn = 0.5, 8.0   # seconds
    brian2_seed(11)
    rng = np.random.default_rng(3)
    W = coupling(rng)
    # z_fwd and m_fwd of a neuron are its own fast and slow traces here (the circuit
    # copies them to the feedback partner through a one-to-one link).
    own_traces = (SE.PARTNER_SPIKE.replace("_post", "").replace("_pre", "") + "\n"
                  + SE.OWN_SPIKE)
    P = NeuronGroup(N, E.code("v = 0 : 1", SE.POISSON_RATE, SE.OWN_TRACE, SE.PARTNER_TRACES),
                    threshold=SE.POISSON_THRESHOLD, reset=own_traces, method="exact", dt=dt)
    Q = NeuronGroup(N, E.code("v = I_ff : 1", SE.POISSON_RATE, SE.OWN_TRACE, SE.PARTNER_TRACES,
                              SE.SYNAPTIC_TIME, SE.FILTERED_INPUT.format(p="ff"),
                              "I_ff = s_ff - base_ff : 1"),
                    threshold=SE.POISSON_THRESHOLD, reset=own_traces, method="exact", dt=dt)
    forward = Synapses(P, Q, E.code(SE.PROJECTION.format(weight="w", p="ff"), SE.FORWARD_PLASTIC),
                       on_pre=SE.PROJECTION_SPIKE.format(weight="w", p="ff"), dt=dt)
    mirror = Synapses(Q, P, E.code(SE.PROJECTION.format(weight="w", p="fb").replace(
        "base_fb_post = w * baseline_pre / gain_pre : 1 (summed)", ""),
        E.shared_constants(("eta", "decay"), "1/second")), dt=dt,
        namespace={"mirror_now": TimedArray(np.r_[[[0.0, 0.0]], [[0.0, 1.0]]],
                                            dt=settle * second), "layer": 1})
    for syn in (forward, mirror):
        post, pre = np.indices((N, N))
        syn.connect(i=pre.ravel(), j=post.ravel())
    forward.w = W[forward.j[:], forward.i[:]]
    mirror.run_regularly(COVARIANCE_LEARNING.format(weight="w", sign=1), when="start")
    for group in (P, Q):
        group.baseline, group.gain, group.pool = baseline, gain, POOL
        group.tau_trace, group.tau_mean = tau_trace, tau_mean
        group.z = group.z_fwd = group.m_fwd = baseline
    Q.tau_syn = tau_syn
    Q.s_ff = W.sum(axis=1) * float(baseline / gain)
    forward.eta = mirror.eta = 1 / second
    mirror.decay = 0 / second
    Network(P, Q, forward, mirror).run((settle + learn) * second, namespace={})
    B = np.zeros((N, N))
    B[mirror.j[:], mirror.i[:]] = mirror.w[:]
    drive = B.T / learn    # time average of the rule's drive (eta = 1/s, no decay)
    expected = SE.covariance_gain(baseline, gain, tau_syn, tau_trace, tau_mean, dt, pool=POOL)
    coupled = W != 0
    slope = np.sum(drive * W) / np.sum(W * W)
    se = np.std((drive - slope * W)[coupled]) / np.sqrt(np.sum(W * W))
    uncoupled = drive[~coupled]
    se0 = np.std(uncoupled) / np.sqrt(uncoupled.size)
    print(f"slope {slope:.3f} +- {se:.3f} (expected {expected:.3f}); "
          f"uncoupled mean {uncoupled.mean():.4f} +- {se0:.4f}")
    check(slope, se, expected, uncoupled.mean(), se0)
