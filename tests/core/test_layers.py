"""The layers stay apart by their imports (DESIGN.md §3.6): only `mcim.cli` uses click and rich; nothing outside
`mcim.cli` imports it; the host library never imports the reference card (`mcim.refcard`), which is a target like
any other, except where a module's job is to open it as a target."""

import ast
from pathlib import Path

import mcim

HOST = Path(mcim.__file__).parent
# Modules whose job is to open the reference UICC as a target (lazily, inside functions).
OPENS_THE_REFCARD = {"targets.py", "cli/card.py", "cli/demo.py", "jcardsim_target.py", "perso.py"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package of `path`
                parts = path.relative_to(HOST).parent.parts[: len(path.relative_to(HOST).parent.parts) - node.level + 1]
                base = ".".join(("mcim", *parts, base)).rstrip(".")
            names.add(base)
    return names


def library_modules():
    return [p for p in HOST.rglob("*.py") if p.relative_to(HOST).parts[0] != "cli"]


def test_only_the_cli_uses_click_and_rich():
    for path in library_modules():
        ui = {n for n in imported(path) if n.split(".")[0] in ("click", "rich")}
        assert not ui, f"{path.relative_to(HOST)} imports {ui}"


def test_nothing_outside_the_cli_imports_it():
    for path in library_modules():
        cli = {n for n in imported(path) if n.startswith("mcim.cli")}
        assert not cli, f"{path.relative_to(HOST)} imports {cli}"


def test_the_host_library_does_not_reach_into_the_reference_card():
    for path in HOST.rglob("*.py"):
        if path.relative_to(HOST).as_posix() in OPENS_THE_REFCARD:
            continue
        card = {n for n in imported(path) if n.startswith("mcim.refcard")}
        assert not card, f"{path.relative_to(HOST)} imports {card}"
