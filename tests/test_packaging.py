"""The built wheel installs and imports without the source tree (not only editable)."""
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ["mirrorlab", "mirrorlab.models", "mirrorlab.models.rules", "mirrorlab.circuits",
               "mirrorlab.sims", "mirrorlab.analysis"]


@pytest.mark.slow
def test_wheel_installs_into_fresh_venv(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                    "--outdir", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("mirrorlab-*.whl")
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True)
    # Dependencies come from this interpreter's site-packages, added as a site directory
    # after the fresh venv's own (so its .pth files run: Brian2 needs setuptools'
    # distutils shim on 3.12). The editable mirrorlab there must not win: asserted below.
    fresh_site = subprocess.run([python, "-c", "import sysconfig; "
                                 "print(sysconfig.get_paths()['purelib'])"],
                                check=True, capture_output=True, text=True).stdout.strip()
    deps = sysconfig.get_paths()["purelib"]
    Path(fresh_site, "zz_mirrorlab_test_deps.pth").write_text(
        f"import site; site.addsitedir({deps!r})\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import importlib, json; "
            f"print(json.dumps({{n: importlib.import_module(n).__file__ for n in {SUBPACKAGES}}}))")
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True,
                         env=env, cwd=tmp_path).stdout
    for name in SUBPACKAGES:
        assert str(env_dir) in out.split(f'"{name}": ')[1].split(",")[0], out
    cli = subprocess.run([env_dir / "bin" / "mirrorlab", "--help"], capture_output=True,
                         text=True, env=env, cwd=tmp_path)
    assert cli.returncode == 0 and "compare" in cli.stdout
