"""The matrix engine's training throughput against a minimal numpy reference and the bound.

    python benchmarks/matrix_engine.py [--repeats 9] [--threads 1]

Two sizes: 64-100-10 on batches of 32 (the digits config) and 784-500-10 on batches of 128
(Akrout et al.'s MNIST network), sigmoid hidden layers, softmax cross-entropy, float64,
synthetic inputs. Three programs train the same network on the same batches:

- **mirrorlab**: ``MatrixEngine.engaged_step`` (and, for wm, one ``mirror_step`` of the
  batch size per engaged batch), as ``run_matrix`` calls them;
- **reference**: a minimal numpy loop doing per batch what the official code of Akrout et
  al. (github.com/makrout/Deep-Learning-without-Weight-Transport, ``fcnn/FCNN_*.py``) does:
  forward pass, the loss, the error sent down through B (Wᵀ for bp, sign(Wᵀ) times fixed
  magnitudes for ss), ``W ← W − (η/batch) δᵀx``, for kp the same step on B, for wm one
  mirror batch (noise through each layer, ``B ← B + η_B ξ yᵀ``); its noise is drawn as
  mirrorlab draws it (``Generator.standard_normal``), so both pay the same for it;
- **bound**: the same matrix products alone, same shapes, same BLAS, into preallocated
  arrays (and wm's noise): what no implementation of these updates can beat.

Rules run interleaved (mirrorlab, reference, bound for one rule, then the next), each the
best of ``--repeats``; the ratios printed are samples/s of mirrorlab over the reference and
the bound's time over mirrorlab's (1 = at the bound). BLAS runs on ``--threads`` threads
(set through the environment before numpy loads).

Two more sections: the run loop's own cost (``run_matrix`` against its bare steps), and
what stacking 8 seeds into one computation could gain on one core (its floor is the
matrix products alone, which stacking does not make cheaper).
"""
import argparse
import os
import sys


def _threads_from_argv() -> str:
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = _threads_from_argv()

import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.special import log_softmax, softmax  # noqa: E402

from mirrorlab.models.schedule import draw_mirror_noise  # noqa: E402
from mirrorlab.sims.config import Config  # noqa: E402
from mirrorlab.sims.runs.matrix import build_engine  # noqa: E402

RULES = ("bp", "fa", "ss", "wm", "kp")
SIZES = {"64-100-10, batch 32": ([64, 100, 10], 32, 60),
         "784-500-10, batch 128": ([784, 500, 10], 128, 8)}
LR, MIRROR_LR, DECAY = 0.1, 0.05, 1e-4


def batches(sizes, batch, count, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(size=(batch, sizes[0])),
             np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=batch)]) for _ in range(count)]


def config(rule, sizes, batch, dtype="float64"):
    return Config().replace(**{"rule.name": rule, "network.sizes": sizes,
                               "training.batch_size": batch, "training.lr": LR,
                               "rule.wm.lr": MIRROR_LR, "rule.kp.decay": DECAY,
                               "training.dtype": dtype})


# --- the three programs ---------------------------------------------------------------------

def mirrorlab(rule, sizes, data, dtype="float64"):
    engine = build_engine(config(rule, sizes, len(data[0][0]), dtype), np.random.default_rng(0))
    if dtype != "float64":
        data = [(x.astype(dtype), y.astype(dtype)) for x, y in data]   # as a run casts its data
    noise = np.random.default_rng(2)
    mirror = engine.rule.uses_mirror_phase
    started = time.perf_counter()
    for x, y in data:
        engine.engaged_step(x, y)
        if mirror:
            engine.mirror_step(draw_mirror_noise(noise, engine.rule.mirror_noise, sizes, len(x)))
    return time.perf_counter() - started


def sigmoid(z):
    """The official code's sigmoid."""
    return 1.0 / (1.0 + np.exp(-z))


def mirrorlab_float32(rule, sizes, data):
    return mirrorlab(rule, sizes, data, "float32")


def reference(rule, sizes, data):
    """Per batch what the official code does (rows are samples here), with its sigmoid
    and its derivative ``sigmoid(z) * (1 - sigmoid(z))``."""
    rng = np.random.default_rng(0)
    W = [rng.uniform(-1, 1, (o, i)) / np.sqrt(i) for i, o in zip(sizes[:-1], sizes[1:])]
    b = [np.zeros(o) for o in sizes[1:]]
    B = [rng.uniform(-1, 1, w.T.shape) / np.sqrt(w.shape[0]) for w in W]
    noise = np.random.default_rng(2)
    L, batch = len(W), len(data[0][0])
    started = time.perf_counter()
    for x, y in data:
        outs, acts = [], [x]
        for l in range(L):
            a = acts[-1] @ W[l].T + b[l]
            outs.append(a)
            acts.append(sigmoid(a) if l < L - 1 else a)
        float(-np.mean(np.sum(y * log_softmax(outs[-1], axis=1), axis=1)))   # the loss
        delta = softmax(outs[-1], axis=1) - y
        del_w, del_b = [None] * L, [None] * L
        del_w[-1], del_b[-1] = delta.T @ acts[-2], delta.mean(axis=0)
        for l in range(L - 2, -1, -1):
            feedback = (W[l + 1].T if rule == "bp" else
                        B[l + 1] * np.sign(W[l + 1].T) if rule == "ss" else B[l + 1])
            delta = (delta @ feedback.T) * (sigmoid(outs[l]) * (1 - sigmoid(outs[l])))
            del_w[l], del_b[l] = delta.T @ acts[l], delta.mean(axis=0)
        W = [w - (LR / batch) * dw for w, dw in zip(W, del_w)]
        b = [v - LR * db for v, db in zip(b, del_b)]
        if rule == "kp":
            B = [(1 - DECAY) * m - (LR / batch) * dw.T for m, dw in zip(B, del_w)]
        if rule == "wm":
            for l in range(L):
                xi = noise.standard_normal((batch, sizes[l]))
                response = sigmoid(xi @ W[l].T + b[l])
                B[l] = B[l] + MIRROR_LR / batch * (xi.T @ response) - 0.5 * B[l]
    return time.perf_counter() - started


def noise_draws(rule, sizes, data):
    """wm's mirror noise alone, drawn as both programs draw it (zero for the other rules)."""
    noise = np.random.default_rng(2)
    started = time.perf_counter()
    if rule == "wm":
        for x, _ in data:
            for n in sizes[:-1]:
                noise.standard_normal((len(x), n))
    return time.perf_counter() - started


def bound(rule, sizes, data):
    """The matrix products of one training step alone (and wm's noise), preallocated."""
    L, batch = len(sizes) - 1, len(data[0][0])
    rng = np.random.default_rng(0)
    W = [rng.uniform(-1, 1, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    acts = [np.empty((batch, n)) for n in sizes]
    deltas = [np.empty((batch, n)) for n in sizes]
    grads = [np.empty(w.shape) for w in W]
    noise = np.random.default_rng(2)
    started = time.perf_counter()
    for x, _ in data:
        acts[0] = x
        for l in range(L):
            np.dot(acts[l], W[l].T, out=acts[l + 1])
        for l in range(L, 1, -1):
            np.dot(deltas[l], W[l - 1], out=deltas[l - 1])
        for l in range(L):
            np.dot(deltas[l + 1].T, acts[l], out=grads[l])
        if rule == "wm":
            for l in range(L):
                xi = noise.standard_normal((batch, sizes[l]))
                np.dot(xi, W[l].T, out=acts[l + 1])
                np.dot(acts[l + 1].T, xi, out=grads[l])
    return time.perf_counter() - started


def run_loop(repeats: int) -> dict[str, tuple[float, float, float]]:
    """``run_matrix`` of ``configs/digits_mlp.toml`` (30 epochs, only the first and final
    checkpoints) against the bare engine steps of the very same events on batches gathered
    beforehand, and the time of its two checkpoints: (run s, steps s, checkpoints s)."""
    from mirrorlab.models.schedule import ENGAGED, phase_plan
    from mirrorlab.sims.config import load_config
    from mirrorlab.sims.runs.common import Streams, checkpoint, load_config_data
    from mirrorlab.sims.runs.matrix import mirror_batch_size, run_matrix

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = {}
    for rule in RULES:
        cfg = load_config(os.path.join(root, "configs", "digits_mlp.toml"),
                          **{"rule.name": rule, "training.checkpoint_every": 10**9})
        data = load_config_data(cfg)
        run_matrix(cfg, progress=False, data=data)       # warm-up: lazy imports, caches
        run_s = steps_s = checkpoints_s = np.inf
        for _ in range(repeats):
            started = time.perf_counter()
            run_matrix(cfg, progress=False, data=data)
            run_s = min(run_s, time.perf_counter() - started)
            streams = Streams.from_seed(cfg.experiment.seed)
            engine = build_engine(cfg, streams.init)
            sched = cfg.schedule
            noise, size = engine.rule.mirror_noise, mirror_batch_size(cfg)
            steps = [(data.x_train[e.samples], data.y_train[e.samples])
                     if e.phase == ENGAGED else None
                     for e in phase_plan(len(data.x_train), cfg.training.epochs,
                                         cfg.training.batch_size, streams.data,
                                         mirror=engine.rule.uses_mirror_phase,
                                         initial_mirror_batches=sched.initial_mirror_batches,
                                         mirror_every=sched.mirror_every,
                                         mirror_batches=sched.mirror_batches)]
            started = time.perf_counter()
            for step in steps:
                if step is None:
                    engine.mirror_step(draw_mirror_noise(streams.noise, noise,
                                                         engine.net.sizes, size))
                else:
                    engine.engaged_step(*step)
            steps_s = min(steps_s, time.perf_counter() - started)
            started = time.perf_counter()
            checkpoint(engine, data, 0, 0.0, None)
            checkpoint(engine, data, 1, 1.0, 0.0)
            checkpoints_s = min(checkpoints_s, time.perf_counter() - started)
        out[rule] = (run_s, steps_s, checkpoints_s)
    return out


def stacked_seeds(repeats: int, seeds: int = 8) -> dict[str, float]:
    """Seconds per batch of ``seeds`` seeds of the digits network (bp): their engines' steps
    one after another; one stacked step (weights ``(S, n_l, n_{l-1})``, every elementwise
    operation once for all seeds, the products with ``np.matmul`` on the stacks or one
    ``np.dot`` per seed); and those matrix products alone, the floor of any stacked form
    (stacking does not change the products' arithmetic)."""
    sizes, batch = [64, 100, 10], 32
    data = batches(sizes, batch, 30 * seeds)
    engines = [build_engine(config("bp", sizes, batch), np.random.default_rng(s))
               for s in range(seeds)]
    W = [np.stack([e.net.W[l] for e in engines]) for l in range(2)]
    b = [np.stack([e.net.b[l] for e in engines])[:, None, :] for l in range(2)]
    xs = [np.stack([x for x, _ in data[i:i + seeds]]) for i in range(0, len(data), seeds)]
    ys = [np.stack([y for _, y in data[i:i + seeds]]) for i in range(0, len(data), seeds)]
    scale = LR / batch

    def singles():
        for i in range(len(xs)):
            for s, engine in enumerate(engines):
                engine.engaged_step(xs[i][s], ys[i][s])

    def products(per_seed):
        def dot(a, m, transpose_a=False):
            if not per_seed:
                return np.matmul(a.transpose(0, 2, 1) if transpose_a else a, m)
            out = np.empty((len(a), a.shape[2] if transpose_a else a.shape[1], m.shape[2]))
            for s in range(len(a)):
                np.dot(a[s].T if transpose_a else a[s], m[s], out=out[s])
            return out
        return dot

    def stacked(dot):
        def run():
            for x, y in zip(xs, ys):
                a1 = dot(x, W[0].transpose(0, 2, 1))
                a1 += b[0]
                h = sigmoid(a1)
                a2 = dot(h, W[1].transpose(0, 2, 1))
                a2 += b[1]
                e = np.exp(a2 - a2.max(axis=2, keepdims=True))
                delta2 = e / e.sum(axis=2, keepdims=True) - y
                delta1 = dot(delta2, W[1]) * (h * (1 - h))
                delta2 *= scale
                delta1 *= scale
                W[1] -= dot(delta2, h, transpose_a=True)
                W[0] -= dot(delta1, x, transpose_a=True)
                b[1] -= delta2.sum(axis=1, keepdims=True)
                b[0] -= delta1.sum(axis=1, keepdims=True)
        return run

    def floor():
        h = np.empty((batch, 100))
        out = np.empty((batch, 10))
        down = np.empty((batch, 100))
        grads = [np.empty((100, 64)), np.empty((10, 100))]
        for x, _ in zip(xs, ys):
            for s in range(seeds):
                np.dot(x[s], W[0][s].T, out=h)
                np.dot(h, W[1][s].T, out=out)
                np.dot(out, W[1][s], out=down)
                np.dot(out.T, h, out=grads[1])
                np.dot(down.T, x[s], out=grads[0])

    programs = {"singles": singles, "stacked, np.matmul": stacked(products(False)),
                "stacked, np.dot per seed": stacked(products(True)), "products alone": floor}
    best = dict.fromkeys(programs, np.inf)
    for _ in range(repeats):
        for name, program in programs.items():
            started = time.perf_counter()
            program()
            best[name] = min(best[name], (time.perf_counter() - started) / len(xs))
    return best


def measure(repeats):
    """{size: {rule: {program: best seconds}}}, interleaved."""
    best = {}
    for label, (sizes, batch, count) in SIZES.items():
        data = batches(sizes, batch, count)
        best[label] = {rule: {} for rule in RULES}
        for _ in range(repeats):
            for rule in RULES:
                for program in (mirrorlab, mirrorlab_float32, reference, bound, noise_draws):
                    seconds = program(rule, sizes, data)
                    old = best[label][rule].get(program.__name__, np.inf)
                    best[label][rule][program.__name__] = min(old, seconds)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args()
    best = measure(args.repeats)
    print(f"float64, {args.threads} BLAS thread(s), best of {args.repeats}")
    print(f"{'size':<24}{'rule':<6}{'mirrorlab/s':>13}{'reference/s':>13}"
          f"{'vs reference':>14}{'vs bound':>10}{'float32 vs reference':>22}")
    for label, (sizes, batch, count) in SIZES.items():
        samples = batch * count
        for rule in RULES:
            t = best[label][rule]
            print(f"{label:<24}{rule:<6}{samples / t['mirrorlab']:>13,.0f}"
                  f"{samples / t['reference']:>13,.0f}{t['reference'] / t['mirrorlab']:>13.2f}x"
                  f"{t['bound'] / t['mirrorlab']:>10.2f}"
                  f"{t['reference'] / t['mirrorlab_float32']:>21.2f}x")
        t = best[label]["wm"]
        print(f"{'':<24}{'wm without its noise draws (the same in all three)':<52}"
              f"{(t['reference'] - t['noise_draws']) / (t['mirrorlab'] - t['noise_draws']):>7.2f}x"
              f"{(t['bound'] - t['noise_draws']) / (t['mirrorlab'] - t['noise_draws']):>10.2f}")
    print("\nrun loop: run_matrix of configs/digits_mlp.toml (30 epochs, first and final "
          "checkpoints only) against its engine steps (and mirror noise) on batches gathered "
          "beforehand, and its two checkpoints")
    for rule, (run_s, steps_s, checks_s) in run_loop(max(5, args.repeats // 2)).items():
        loop = run_s - steps_s - checks_s
        print(f"  {rule:<4} run {run_s:.3f} s = steps {steps_s:.3f} s + checkpoints "
              f"{checks_s:.3f} s + loop {loop:.3f} s ({100 * loop / run_s:.1f} % of the run)")
    seeds = stacked_seeds(args.repeats)
    print("\nmany seeds: 8 seeds of the digits network (bp), time per batch of all 8 "
          "against their 8 engines stepped one after another")
    for name, seconds in seeds.items():
        print(f"  {name:<26}{seconds * 1e6:>8.0f} us  {seconds / seeds['singles']:.2f}")


if __name__ == "__main__":
    main()
