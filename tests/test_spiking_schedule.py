"""configs/spiking_teacher_wm.toml: its schedule averages enough mirror noise draws.

The final angle of the spiking weight mirror is set mostly by how many independent noise
draws B averages (``tan(angle) ~ sqrt((n_in + 1) / k)``, k ~ 2 / decay) and by how far W
moves in that window, which the matrix engine reproduces with the same schedule: the
spiking circuit adds 2-3 degrees (docs/spiking.md). The matrix engine runs the config in
about a second, so this guards the schedule against edits that would put the spiking run
back above 20 degrees."""
from pathlib import Path

import numpy as np

from mirrorlab.sims.config import load_config
from mirrorlab.sims.runs import run
from mirrorlab.models.schedule import ENGAGED, MIRROR, phase_plan

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "spiking_teacher_wm.toml"


def test_schedule_is_the_documented_one():
    config = load_config(CONFIG)
    events = list(phase_plan(config.data.n_train, config.training.epochs, 1,
                             np.random.default_rng(0), mirror=True,
                             initial_mirror_batches=config.schedule.initial_mirror_batches,
                             mirror_every=config.schedule.mirror_every,
                             mirror_batches=config.schedule.mirror_batches))
    engaged = sum(e.phase == ENGAGED for e in events)
    mirror = sum(e.phase == MIRROR for e in events)
    layers = len(config.network.sizes) - 1
    assert engaged == 400
    assert engaged + layers * mirror == 6000   # alternating scheme: one presentation per layer
    # B averages ~1/decay draws of its layer, and the run has several times that many.
    assert 1 / config.rule.wm.decay >= 500 and mirror * config.rule.wm.decay >= 4


def test_matrix_engine_with_the_spiking_schedule_aligns_well_below_20_degrees():
    config = load_config(CONFIG, **{"experiment.engine": "matrix", "experiment.seed": 0})
    angles = run(config, None, progress=False)["final"]["weight_angle_deg"]
    assert max(angles) < 14.0, angles   # measured 7.9 / 11.6 (5 seeds); spiking adds 2-3
