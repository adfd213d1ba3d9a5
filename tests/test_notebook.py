"""The example notebook runs from top to bottom (so that it never goes stale), and shows
what it says: the circuit learns and aligns, the hypothesis gets verdicts. ~2 min."""
import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "examples" / "weight_mirror.ipynb"


@pytest.mark.slow
def test_the_example_notebook_runs_and_shows_alignment(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)     # its results/ go to tmp_path
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
                     for o in outputs)
    assert "'test_accuracy': 0.9" in text                     # the brief circuit learned
    assert "dale:" in text and "kp_dale:" in text             # both variants got verdicts
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2   # the two figures
    assert (tmp_path / "results" / "notebook_hypothesis" / "hypothesis.md").exists()
