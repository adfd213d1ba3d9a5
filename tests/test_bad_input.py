"""Every bad input exits 2 with one line naming the field, file or argument, before any
work, and leaves no results folder behind (README: the exit-status contract)."""
import gzip
import struct
from pathlib import Path

import pytest

from mirrorlab.sims import sweep
from mirrorlab.sims.cli import main
from mirrorlab.sims.config import load_config, parse_value

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "configs" / "digits_mlp.toml")
SWEEP = str(ROOT / "configs" / "sweeps" / "rules_by_lr.toml")
HYPOTHESIS = str(ROOT / "configs" / "hypotheses" / "dale_feedback.toml")


def write_idx(path: Path, shape: tuple, dtype_code: int = 0x08) -> None:
    """An IDX file of zeros (uint8) with the given shape."""
    header = struct.pack(">HBB", 0, dtype_code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    count = 1
    for n in shape:
        count *= n
    path.write_bytes(header + bytes(count))


def empty_mnist(folder: Path) -> Path:
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte", (0, 28, 28))
    write_idx(folder / "train-labels-idx1-ubyte", (0,))
    write_idx(folder / "t10k-images-idx3-ubyte", (2, 28, 28))
    write_idx(folder / "t10k-labels-idx1-ubyte", (2,))
    return folder


def cases(tmp: Path) -> list[tuple[str, list[str], str]]:
    """(case, argv, the text the error must name)."""
    latin = tmp / "latin1.toml"
    latin.write_bytes(b"[experiment]\nname = \"caf\xe9\"\n")
    deep = tmp / "deep.toml"
    deep.write_text("a = " + "[" * 2000 + "]" * 2000 + "\n")
    mnist = empty_mnist(tmp / "mnist")
    gz_mnist = tmp / "gz"
    gz_mnist.mkdir()
    (gz_mnist / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not idx"))
    (tmp / "a_file").write_text("")
    (tmp / "bad_metrics").mkdir()
    (tmp / "bad_metrics" / "metrics.json").write_text("{ not json")
    out = str(tmp / "out")
    return [
        ("config not UTF-8", ["run", str(latin), "--out", out], "not UTF-8"),
        ("config nested too deeply", ["run", str(deep), "--out", out], "nested too deeply"),
        ("missing config", ["run", str(tmp / "none.toml"), "--out", out], "does not exist"),
        ("n_train larger than the data", ["run", DIGITS, "--set", "data.n_train=100000",
                                          "--out", out], "data.n_train"),
        ("test split smaller than the classes", ["run", DIGITS, "--set",
                                                 "data.test_fraction=0.001", "--out", out],
         "data.test_fraction: 0.001 leaves 2"),
        ("too large for memory", ["run", DIGITS, "--set",
                                  "network.sizes=[64, 300000, 300000, 10]", "--out", out],
         "GiB of memory"),
        ("spikes too many for memory", ["run", str(ROOT / "configs" / "spiking_teacher_wm.toml"),
                                        "--set", "training.epochs=2000", "--out", out],
         "records every spike"),
        ("IDX folder with no images", ["run", DIGITS, "--set", 'data.name="mnist"', "--set",
                                       f'data.path="{mnist}"', "--set",
                                       "network.sizes=[784, 10]", "--out", out],
         "holds 0 images"),
        ("corrupt IDX", ["run", DIGITS, "--set", 'data.name="mnist"', "--set",
                         f'data.path="{gz_mnist}"', "--out", out], "train-images"),
        ("NUL byte in a name", ["run", DIGITS, "--set", 'experiment.name="a\\u0000b"',
                                "--out", out], "experiment.name"),
        ("slash in a name", ["run", DIGITS, "--set", 'experiment.name="../up"'],
         "experiment.name"),
        ("spiking presentation shorter than its parts", [
            "run", DIGITS, "--engine", "circuit", "--set", 'circuit.neuron="poisson"',
            "--set", "circuit.presentation_ms=0.1", "--out", out], "circuit.presentation_ms"),
        ("--out under a regular file", ["run", DIGITS, "--out", str(tmp / "a_file" / "run")],
         "is not a directory"),
        ("--out at /dev/null", ["run", DIGITS, "--out", "/dev/null"], "/dev/null"),
        ("huge init gain", ["run", DIGITS, "--set", "network.init_gain=1e300", "--out", out],
         "network.init_gain"),
        ("--device with the matrix engine", ["run", DIGITS, "--device", "cuda", "--out", out],
         "--engine circuit"),
        ("a config circuits refuse", ["run", DIGITS, "--engine", "circuit", "--out", out],
         "training.batch_size"),
        ("--set without a value", ["run", DIGITS, "--set", "training.lr", "--out", out],
         "FIELD=VALUE"),
        ("--set of an unknown field", ["run", DIGITS, "--set", "training.speed=1", "--out", out],
         "training.speed"),
        ("plot of a missing folder", ["plot", str(tmp / "nowhere")], "no such results folder"),
        ("plot of a corrupt metrics.json", ["plot", str(tmp / "bad_metrics")], "metrics.json"),
        ("compare --seeds 0", ["compare", DIGITS, "--seeds", "0", "--out", out], "--seeds"),
        ("compare --seeds -1", ["compare", DIGITS, "--seeds", "-1", "--out", out], "--seeds"),
        ("compare --rules ''", ["compare", DIGITS, "--rules", "", "--out", out], "--rules"),
        ("compare --rules wm,wm", ["compare", DIGITS, "--rules", "wm,wm", "--out", out],
         "wm named twice"),
        ("compare --rules wm,xx", ["compare", DIGITS, "--rules", "wm,xx", "--out", out],
         "unknown rule 'xx'"),
        ("sweep --workers -1", ["sweep", SWEEP, "--workers", "-1", "--out", out], "--workers"),
        ("sweep --workers 0", ["sweep", SWEEP, "--workers", "0", "--out", out], "--workers"),
        ("hypothesis with --workers and --scheduler", [
            "hypothesis", HYPOTHESIS, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1",
            "--out", out], "--workers"),
        ("check --steps -1", ["check", DIGITS, "--steps", "-1", "--out", out], "check.steps"),
        ("cross-entropy on a teacher's real-valued targets", [
            "run", DIGITS, "--set", 'data.name="teacher"', "--set", "network.sizes=[20, 10]",
            "--out", out], "use 'mse'"),
        ("sigmoid cross-entropy on targets outside [0, 1]", [
            "run", DIGITS, "--set", 'data.name="teacher"', "--set", "network.sizes=[20, 10]",
            "--set", 'network.loss="sigmoid_xent"', "--out", out], "in [0, 1]"),
        ("float32 circuits", ["run", DIGITS, "--engine", "circuit", "--set",
                              "training.batch_size=1", "--set", "schedule.mirror_batch_size=1",
                              "--set", 'training.dtype="float32"',
                              "--out", out], "training.dtype"),
    ]


@pytest.fixture(scope="module")
def bad_cases(tmp_path_factory):
    return cases(tmp_path_factory.mktemp("bad"))


#: How many cases :func:`cases` lists; the parametrization and the count test share it, so a
#: case added to the list cannot go untested.
N_CASES = 33


@pytest.mark.parametrize("index", range(N_CASES), ids=lambda i: f"case{i}")
def test_bad_input_exits_2_naming_it_before_any_work(index, bad_cases, capsys):
    name, argv, named = bad_cases[index]
    out_index = argv.index("--out") + 1 if "--out" in argv else None
    code = main(argv + ["--quiet"] if argv[0] != "plot" else argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, name
    assert len(err) == 1 and err[0].startswith("error: ") and named in err[0], (name, err)
    if out_index is not None and argv[out_index] not in ("/dev/null",):
        assert not Path(argv[out_index]).exists(), f"{name}: left {argv[out_index]}"


def test_every_case_is_listed(bad_cases):
    assert len(bad_cases) == N_CASES


def test_an_unreachable_scheduler_is_named_after_a_short_timeout(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sweep, "SCHEDULER_TIMEOUT_S", 1)
    code = main(["sweep", SWEEP, "--scheduler", "tcp://127.0.0.1:9", "--out",
                 str(tmp_path / "out"), "--quiet"])
    assert code == 2
    assert "--scheduler tcp://127.0.0.1:9: no Dask scheduler answered" in capsys.readouterr().err


# --- --set values are TOML ----------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("'untrue'", "untrue"), ('"/data/true_mnist"', "/data/true_mnist"), ("true", True),
    ("false", False), ("0.5", 0.5), ("1e-3", 0.001), ("7", 7), ("[64, 10]", [64, 10]),
    ("wm", "wm"), ("/data/x", "/data/x"), ("True", "True")])
def test_set_values_are_read_as_toml(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_set_keeps_strings_as_given(tmp_path):
    out = tmp_path / "run"
    assert main(["run", DIGITS, "--set", "experiment.name='untrue'", "--set",
                 "data.path='/data/true_mnist'", "--set", "training.epochs=1", "--out",
                 str(out), "--quiet"]) == 0
    stored = load_config(out / "config.toml")
    assert stored.experiment.name == "untrue" and stored.data.path == "/data/true_mnist"


def test_help_lists_commands_exit_statuses_and_where_to_start(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("run", "compare", "plot", "sweep", "hypothesis", "check"):
        assert f"    {command}" in text
    assert "where to start:" in text and "mirrorlab run configs/digits_mlp.toml" in text
    for status in ("0 ", "1 ", "2 ", "3 ", "130"):
        assert f"\n  {status}" in text
