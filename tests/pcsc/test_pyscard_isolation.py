"""pyscard stays inside mcim.transport.pcsc, imported lazily (DESIGN.md §3.6): the rest works without it."""

import ast
import subprocess
import sys
from pathlib import Path

import mcim

PACKAGE = Path(mcim.__file__).parent
PCSC_MODULE = PACKAGE / "transport" / "pcsc.py"


def imports_of_pyscard(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "smartcard" for a in node.names):
            yield node
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "smartcard":
            yield node


def test_only_the_pcsc_transport_imports_pyscard_and_only_inside_functions():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        found = list(imports_of_pyscard(tree))
        if path != PCSC_MODULE:
            assert not found, f"{path} imports pyscard"
            continue
        module_level = {id(node) for node in tree.body}
        assert found and not any(id(node) in module_level for node in found)


BLOCK_PYSCARD = """
import sys

class NoPyscard:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "smartcard":
            raise ImportError("pyscard blocked for this test")

sys.meta_path.insert(0, NoPyscard())
import mcim.cli.main, mcim.transport.pcsc, mcim.transport.vpcd, mcim.cards.echo
from mcim.errors import TransportError
try:
    mcim.transport.pcsc.list_readers()
except TransportError as exc:
    print(exc)
"""


def test_mcim_imports_and_fails_clearly_without_pyscard():
    result = subprocess.run([sys.executable, "-c", BLOCK_PYSCARD], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "pyscard is not installed" in result.stdout
