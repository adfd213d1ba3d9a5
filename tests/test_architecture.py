"""The package's shape: dependencies run one way, no import cycles, no private names
borrowed across modules, no source file grown past its budget (docs/design.md)."""
import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("models", "circuits", "sims", "analysis")
#: What each room may import from mirrorlab: models <- circuits <- sims -> analysis,
#: analysis reads recordings and models only.
ALLOWED = {"models": {"models"}, "circuits": {"models", "circuits"},
           "analysis": {"models", "analysis"}, "sims": set(ROOMS)}
MAX_LINES = 500


def modules() -> dict[str, Path]:
    """``mirrorlab.<room>.<...>`` -> file, for every source file of the four rooms."""
    found = {}
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found["mirrorlab." + ".".join(parts)] = path
    return found


def imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported mirrorlab module, imported names, line) of every import in a file, at any
    depth (imports inside functions count too), relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
    return [(t, names, line) for t, names, line in found if t.startswith("mirrorlab.")]


def room(module: str) -> str:
    return module.split(".")[1]


def resolve(target: str, names: list[str], known: dict) -> list[str]:
    """The modules an import reaches: ``from pkg import submodule`` names a module."""
    reached = [target] if target in known else []
    reached += [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
    return reached or [target]


def test_rooms_import_only_downstream():
    known, wrong = modules(), []
    for name, path in known.items():
        for target, _, line in imports(name, path):
            if room(target) not in ALLOWED[room(name)]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not wrong, "imports against the direction models <- circuits <- sims -> analysis:\n" \
        + "\n".join(wrong)


def test_no_import_cycles():
    known = modules()
    graph = {name: set() for name in known}
    for name, path in known.items():
        for target, names, _ in imports(name, path):
            graph[name] |= {m for m in resolve(target, names, known) if m in known and m != name}
    # a package's __init__ re-exporting its own submodules is not a cycle
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def find_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Every cycle a depth-first search meets, as ``a -> b -> a``."""
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def test_no_private_names_across_modules():
    known, borrowed = modules(), []
    for name, path in known.items():
        for target, names, line in imports(name, path):
            for imported in names:
                if imported.startswith("_") and target != name:
                    borrowed.append(f"{path.relative_to(ROOT)}:{line} imports {target}.{imported}")
    assert not borrowed, "\n".join(borrowed)


@pytest.mark.parametrize("name", sorted(modules()))
def test_source_files_stay_short(name):
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines (budget {MAX_LINES}): split it"


def test_the_checks_can_fail(tmp_path):
    """The parser sees a wrong-way import and a cycle (so the tests above can fail)."""
    wrong = tmp_path / "bad.py"
    wrong.write_text("from ..sims.config import Config\nimport mirrorlab.circuits\n")
    assert [t for t, _, _ in imports("mirrorlab.models.bad", wrong)] == [
        "mirrorlab.sims.config", "mirrorlab.circuits"]
    assert "sims" not in ALLOWED["models"] and "circuits" not in ALLOWED["analysis"]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a -> b -> c -> a"]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_docs_live_in_the_project():
    """The README and docs/ point only at files of the repository (the design included)."""
    assert (ROOT / "docs" / "design.md").is_file()
    for doc in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]:
        assert "../shared" not in doc.read_text(), doc
    assert "docs/design.md" in (ROOT / "README.md").read_text()


def test_every_file_the_docs_cite_is_in_the_repository():
    """A report, figure or config named in the README or docs/ exists and is not ignored by
    git (an ignored file never reaches a clone: docs/results/ once was)."""
    cited = set()
    for doc in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        cited |= set(re.findall(r"(?<![\w/.])((?:docs|configs|benchmarks|scripts)/[\w./-]+"
                                r"\.(?:md|png|toml|py|sh))", doc.read_text()))
    assert len(cited) > 20
    missing = sorted(path for path in cited if not (ROOT / path).is_file())
    assert not missing, missing
    if shutil.which("git") and (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", *sorted(cited)], cwd=ROOT,
                                 capture_output=True, text=True).stdout.split()
        assert not ignored, ignored
