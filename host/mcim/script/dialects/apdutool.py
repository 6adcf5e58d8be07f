"""Java Card `apdutool` / jCardSim `APDUScriptTool` scripts, write only.

Format per jCardSim's APDUScriptTool (licel/jcardsim, utils/APDUScriptTool.java) and the Java Card development
kit's apdutool: `<CLA> <INS> <P1> <P2> <LC> [<byte 0> ... <byte LC-1>] <LE>;` with numbers as `0x..`, `//`
comment lines, `powerup;` and `powerdown;`.  jCardSim reads LE as the expected length Ne of javax.smartcardio
(0 = no Le field, 256 = Le '00'), which is how it is written here.  Comments go on their own lines: jCardSim
reads whatever follows a `;` as the start of the next command.  These tools check no responses, so expectations
are kept as `// expect:` comments, and the conversion says so.
"""

from __future__ import annotations

from ..ast import Blank, Capture, Command, Comment, Directive, Include, Section, SetVar, Statement, Step
from ..loader import LoadedScript
from ..writer import format_expect
from . import Conversion, Dialect
from .export import Export


def write(loaded: LoadedScript) -> Conversion:
    export = Export("apdutool", loaded)
    lines = ["powerup;"]
    for statement in export.statements():
        comment = getattr(statement, "comment", None)
        if comment is not None and not isinstance(statement, Comment):
            lines.append("//" + comment)
        lines.extend(_statement(statement, export))
    lines.append("powerdown;")
    return export.result(lines)


def _statement(statement: Statement, export: Export) -> list[str]:
    match statement:
        case Blank():
            return [""]
        case Comment(text=text):
            return ["//" + text]
        case Step(title=title) | Section(title=title):
            export.note("steps and sections became comments")
            return [f"// {type(statement).__name__.lower()}: {title}"]
        case Include() | SetVar():
            return []  # included statements follow in place; `set` values are inlined where used
        case Capture():
            export.unsupported(statement, "apdutool scripts cannot capture response bytes")
        case Command():
            return _command(statement, export)
        case Directive(name="reset"):
            return ["powerdown;", "powerup;"]
        case Directive(name="echo" | "note" | "expect"):
            export.note(f".{statement.name} became a comment (jCardSim's script tool has no such command)")
            return [f"// {statement}"]
        case _:
            export.unsupported(statement, f"{statement} has no apdutool equivalent")
    return []


def _command(statement: Command, export: Export) -> list[str]:
    raw = export.resolve(statement.apdu, statement)
    apdu = None if raw is None else export.apdu(raw, statement)
    if apdu is None:
        return []
    numbers = [*apdu.header, len(apdu.data), *apdu.data]
    line = " ".join(f"0x{n:02X}" for n in numbers) + f" 0x{apdu.le or 0:02X};"
    if statement.expect is None:
        return [line]
    export.note("apdutool checks no responses: expectations were kept as // expect: comments")
    return [line, "// expect: " + format_expect(statement.expect)]


DIALECT = Dialect("apdutool", (".scr", ".script"), write=write)
