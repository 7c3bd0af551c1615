"""The layers of docs/dev/architecture.md hold: the import-linter contracts of pyproject.toml are
kept, and no module of ``restoration`` takes part in an import cycle (lazy imports inside
functions count: they hide a cycle, they do not remove it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_no_module_of_the_app_imports_itself_back():
    # An import under ``if TYPE_CHECKING:`` only names a type for the reader: not a runtime arrow.
    graph = grimp.build_graph("restoration", cache_dir=None, exclude_type_checking_imports=True)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.chain_exists(importer=imported, imported=module):
                cycles.append(" -> ".join(graph.find_shortest_chain(importer=imported, imported=module) + (imported,)))
    assert not cycles, "import cycles:\n" + "\n".join(sorted(set(cycles)))
