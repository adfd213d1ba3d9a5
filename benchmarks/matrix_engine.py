"""Training throughput of the matrix engine per rule, relative to backprop.

    python benchmarks/matrix_engine.py [--batches 100] [--batch-size 128]

784-500-10 sigmoid network, softmax cross-entropy, synthetic inputs (no data
set needed). For wm each engaged batch is followed by one mirror batch of the
same size, as in configs/digits_mlp.toml. Prints samples per second and each
rule's time per engaged batch relative to bp, all measured in this one run.
"""
import argparse
import time

import numpy as np

from mirrorlab.sims.config import Config
from mirrorlab.models.schedule import draw_mirror_noise
from mirrorlab.sims.runs.matrix import build_engine

SIZES = [784, 500, 10]


def throughput(rule: str, batches: int, batch_size: int, repeats: int = 3) -> float:
    """Best of ``repeats`` timings (the first also warms up BLAS and caches)."""
    return max(_throughput(rule, batches, batch_size) for _ in range(repeats))


def _throughput(rule: str, batches: int, batch_size: int) -> float:
    config = Config().replace(**{"rule.name": rule, "network.sizes": SIZES})
    engine = build_engine(config, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(batch_size, SIZES[0]))
    y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], size=batch_size)]
    started = time.perf_counter()
    for _ in range(batches):
        engine.engaged_step(x, y)
        if engine.rule.uses_mirror_phase:
            engine.mirror_step(draw_mirror_noise(rng, engine.rule.noise, SIZES, batch_size))
    return batches * batch_size / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    rates = {rule: throughput(rule, args.batches, args.batch_size)
             for rule in ("bp", "fa", "ss", "wm", "kp")}
    print(f"matrix engine, {'-'.join(map(str, SIZES))} sigmoid, batch {args.batch_size}, "
          f"{args.batches} batches")
    print(f"{'rule':<6}{'samples/s':>12}{'cost vs bp':>12}")
    for rule, rate in rates.items():
        print(f"{rule:<6}{rate:>12.0f}{rates['bp'] / rate:>11.2f}x")


if __name__ == "__main__":
    main()
