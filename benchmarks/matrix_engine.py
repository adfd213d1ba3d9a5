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
from scipy.special import expit, log_softmax, softmax  # noqa: E402

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


def config(rule, sizes, batch):
    return Config().replace(**{"rule.name": rule, "network.sizes": sizes,
                               "training.batch_size": batch, "training.lr": LR,
                               "rule.wm.lr": MIRROR_LR, "rule.kp.decay": DECAY})


# --- the three programs ---------------------------------------------------------------------

def mirrorlab(rule, sizes, data):
    engine = build_engine(config(rule, sizes, len(data[0][0])), np.random.default_rng(0))
    noise = np.random.default_rng(2)
    mirror = engine.rule.uses_mirror_phase
    started = time.perf_counter()
    for x, y in data:
        engine.engaged_step(x, y)
        if mirror:
            engine.mirror_step(draw_mirror_noise(noise, engine.rule.mirror_noise, sizes, len(x)))
    return time.perf_counter() - started


def reference(rule, sizes, data):
    """Per batch what the official code does (rows are samples here)."""
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
            acts.append(expit(a) if l < L - 1 else a)
        float(-np.mean(np.sum(y * log_softmax(outs[-1], axis=1), axis=1)))   # the loss
        delta = softmax(outs[-1], axis=1) - y
        del_w, del_b = [None] * L, [None] * L
        del_w[-1], del_b[-1] = delta.T @ acts[-2], delta.mean(axis=0)
        for l in range(L - 2, -1, -1):
            feedback = (W[l + 1].T if rule == "bp" else
                        B[l + 1] * np.sign(W[l + 1].T) if rule == "ss" else B[l + 1])
            s = expit(outs[l])
            delta = (delta @ feedback.T) * (s * (1 - s))
            del_w[l], del_b[l] = delta.T @ acts[l], delta.mean(axis=0)
        W = [w - (LR / batch) * dw for w, dw in zip(W, del_w)]
        b = [v - LR * db for v, db in zip(b, del_b)]
        if rule == "kp":
            B = [(1 - DECAY) * m - (LR / batch) * dw.T for m, dw in zip(B, del_w)]
        if rule == "wm":
            for l in range(L):
                xi = noise.standard_normal((batch, sizes[l]))
                response = expit(xi @ W[l].T + b[l])
                B[l] = B[l] + MIRROR_LR / batch * (xi.T @ response) - 0.5 * B[l]
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


def measure(repeats):
    """{size: {rule: {program: best seconds}}}, interleaved."""
    best = {}
    for label, (sizes, batch, count) in SIZES.items():
        data = batches(sizes, batch, count)
        best[label] = {rule: {} for rule in RULES}
        for _ in range(repeats):
            for rule in RULES:
                for program in (mirrorlab, reference, bound):
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
          f"{'vs reference':>14}{'vs bound':>10}")
    for label, (sizes, batch, count) in SIZES.items():
        samples = batch * count
        for rule in RULES:
            t = best[label][rule]
            print(f"{label:<24}{rule:<6}{samples / t['mirrorlab']:>13,.0f}"
                  f"{samples / t['reference']:>13,.0f}{t['reference'] / t['mirrorlab']:>13.2f}x"
                  f"{t['bound'] / t['mirrorlab']:>10.2f}")


if __name__ == "__main__":
    main()
