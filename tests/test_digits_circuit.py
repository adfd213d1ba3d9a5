"""Issue claim: the weight mirror as a rate circuit on digits (configs/digits_wm_circuit.toml,
cpp_standalone) aligns the hidden->output feedback below 10 degrees, and its test accuracy
is within 3 points of the matrix engine run with the same settings. About 3 minutes."""
from pathlib import Path

import pytest

from mirrorlab.sims.config import load_config
from mirrorlab.sims.runs import run

CONFIG = Path(__file__).parents[1] / "configs" / "digits_wm_circuit.toml"


@pytest.mark.slow
@pytest.mark.standalone
def test_rate_circuit_weight_mirror_on_digits(tmp_path):
    circuit = run(load_config(CONFIG), tmp_path / "circuit", progress=False)["final"]
    matrix = run(load_config(CONFIG, **{"experiment.engine": "matrix"}), progress=False)["final"]
    assert circuit["weight_angle_deg"][-1] < 10.0
    assert abs(circuit["test_accuracy"] - matrix["test_accuracy"]) < 0.03
