"""Fuzzing the command line: whatever the config fields and arguments, mirrorlab exits 0, 2
or 3, never with a traceback, and never leaves a folder marked complete when it failed."""
import json
import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mirrorlab.sims.cli import main

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "configs" / "digits_mlp.toml")

numbers = st.one_of(st.sampled_from([0, -1, 1, 2, 0.5, 1e-3, 1e4, 1e300, -1e300]),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(-10**6, 10**6))
texts = st.one_of(st.sampled_from(["", "/", "..", "a/b", "a\x00b", "wm", "digits", "x" * 300]),
                  st.text(max_size=20))
#: Each fuzzed field and what to try in it: sensible values, wrong types and extremes.
FIELDS = {
    "experiment.name": texts,
    "experiment.seed": st.one_of(numbers, texts),
    "experiment.engine": st.sampled_from(["matrix", "circuit", "gpu", 3]),
    "data.name": st.sampled_from(["digits", "teacher", "mnist", "cifar10", "imagenet", ""]),
    "data.path": texts,
    "data.n_train": st.sampled_from([-1, 0, 1, 10, 40, 100000, 2.5, "all"]),
    "data.n_test": st.sampled_from([-1, 0, 1, 30, 100000]),
    "data.test_fraction": numbers,
    "network.sizes": st.sampled_from([[64, 10], [64, 8, 10], [64, 0, 10], [], [64], [65, 10],
                                      ["a", 10], [64, 300000, 300000, 10], [64, -8, 10], 64]),
    "network.transfer": st.sampled_from(["sigmoid", "tanh", "relu", "linear", "softplus", 1]),
    "network.loss": st.sampled_from(["mse", "sigmoid_xent", "softmax_xent", "hinge"]),
    "network.output_transfer": st.sampled_from(["linear", "sigmoid", "tanh", "x"]),
    "network.init_gain": numbers,
    "training.epochs": st.sampled_from([-1, 0, 1, 2, 1.5, "one", True]),
    "training.batch_size": st.sampled_from([-1, 0, 1, 7, 64, 10**6]),
    "training.lr": numbers,
    "training.momentum": numbers,
    "training.weight_decay": numbers,
    "training.divergence_factor": numbers,
    "training.checkpoint_every": st.sampled_from([-1, 0, 1, 5, 10**9]),
    "rule.name": st.sampled_from(["bp", "fa", "ss", "wm", "kp", "xx", ""]),
    "rule.wm.lr": numbers, "rule.wm.decay": numbers, "rule.wm.sigma": numbers,
    "rule.wm.noise": st.sampled_from(["gaussian", "uniform", "pink"]),
    "rule.kp.decay": numbers, "rule.fa.scale": numbers,
    "rule.ss.magnitudes": st.sampled_from(["uniform", "random", "gaussian"]),
    "schedule.initial_mirror_batches": st.sampled_from([-1, 0, 3, 50]),
    "schedule.mirror_every": st.sampled_from([-1, 0, 1, 3]),
    "schedule.mirror_batches": st.sampled_from([-1, 0, 1, 2]),
    "schedule.mirror_scheme": st.sampled_from(["alternating", "simultaneous", "never"]),
    "constraints.feedback_dale": st.sampled_from([True, False, 1, "yes"]),
    "constraints.feedback_levels": st.sampled_from([0, 2, 3, 5, -3]),
    "constraints.feedback_excitatory_fraction": numbers,
    "device.name": st.sampled_from(["runtime", "cpp", "cuda", "tpu"]),
    "circuit.neuron": st.sampled_from(["instantaneous", "rate", "poisson", "lif", "hodgkin"]),
    "circuit.presentation_ms": numbers,
    "circuit.dt_ms": numbers,
    "nonsense.field": numbers,
    "training": numbers,
}


def toml_value(value) -> str:
    """A --set value as TOML text (what a user would type)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


#: Keep the valid runs tiny: one epoch of 40 digits, tested on 30.
TINY = ["--set", "data.n_train=40", "--set", "data.n_test=30", "--set", "training.epochs=1"]

overrides = st.lists(st.tuples(st.sampled_from(sorted(FIELDS)), st.data()), max_size=4)


def complete_folders(root: Path) -> list[Path]:
    found = []
    for metrics in root.rglob("metrics.json"):
        try:
            if json.loads(metrics.read_text()).get("complete"):
                found.append(metrics.parent)
        except ValueError:
            continue
    return found


def run_cli(argv: list[str], out: Path, capsys) -> None:
    code = main(argv)
    captured = capsys.readouterr()
    assert code in (0, 2, 3), (argv, code, captured.err)
    assert "Traceback" not in captured.err + captured.out, argv
    if code != 0:
        assert not complete_folders(out), (argv, captured.err)
        assert captured.err.strip().startswith("error:"), (argv, captured.err)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data(), fields=st.lists(st.sampled_from(sorted(FIELDS)), max_size=4,
                                       unique=True))
def test_run_with_fuzzed_config_fields(data, fields, tmp_path, capsys):
    out = Path(tempfile.mkdtemp(dir=tmp_path)) / "run"   # tmp_path is shared by examples
    argv = ["run", DIGITS, *TINY]
    for field in fields:
        argv += ["--set", f"{field}={toml_value(data.draw(FIELDS[field]))}"]
    run_cli(argv + ["--out", str(out), "--quiet"], out, capsys)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(rules=st.one_of(st.sampled_from(["", ",", "wm,", "wm,wm", "fa,xx", "bp", "fa,wm"]),
                       st.text(max_size=12)),
       seeds=st.integers(-3, 2), raw=st.text(max_size=15))
def test_compare_and_plot_with_fuzzed_arguments(rules, seeds, raw, tmp_path, capsys):
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))        # tmp_path is shared by examples
    out = tmp_path / "cmp"
    run_cli(["compare", DIGITS, *TINY, "--rules", rules, "--seeds", str(seeds), "--out",
             str(out), "--quiet"], out, capsys)
    run_cli(["run", DIGITS, *TINY, "--set", raw, "--out", str(tmp_path / "raw"), "--quiet"],
            tmp_path / "raw", capsys)
    if "\x00" not in raw:
        run_cli(["plot", str(tmp_path / raw)], tmp_path / "none", capsys)
