"""pySim-shell scripts, write only.

pySim-shell's `apdu` command (osmocom/pysim, pySim-shell.py `apdu_cmd_parser`): `apdu [--expect-sw SW]
[--expect-response-regex RE] [--raw] APDU`.  `--expect-sw` takes one status word matched by `sw_match`, which
compares lowercase hex digit by digit with `x` or `?` as wildcards; `--expect-response-regex` is applied with
`re.match` (anchored at the start) to the response data as lowercase hex.  `reset` resets the card and `echo`
prints a line; `#` starts a comment line.
"""

from __future__ import annotations

from ..ast import (
    Blank,
    Capture,
    Command,
    Comment,
    DataPattern,
    DataRegex,
    Directive,
    Expect,
    Include,
    Section,
    SetVar,
    Statement,
    Step,
)
from ..loader import LoadedScript
from . import Conversion, Dialect
from .export import Export


def write(loaded: LoadedScript) -> Conversion:
    export = Export("pySim-shell", loaded)
    lines: list[str] = []
    for statement in export.statements():
        comment = getattr(statement, "comment", None)
        if comment is not None and not isinstance(statement, Comment):
            lines.append("#" + comment)
        line = _statement(statement, export)
        if line is not None:
            lines.append(line)
    return export.result(lines)


def _statement(statement: Statement, export: Export) -> str | None:
    match statement:
        case Blank():
            return ""
        case Comment(text=text):
            return "#" + text
        case Step(title=title) | Section(title=title):
            export.note("steps and sections became comments")
            return f"# {type(statement).__name__.lower()}: {title}"
        case Include() | SetVar():
            return None  # included statements follow in place; `set` values are inlined where used
        case Capture():
            export.unsupported(statement, "pySim-shell scripts cannot capture response bytes")
        case Command():
            return _command(statement, export)
        case Directive(name="reset"):
            return "reset"
        case Directive(name="echo" | "note"):
            return "echo " + " ".join(statement.args)
        case _:
            export.unsupported(statement, f"{statement} has no pySim-shell equivalent")
    return None


def _command(statement: Command, export: Export) -> str | None:
    apdu = export.resolve(statement.apdu, statement)
    if apdu is None:
        return None
    line = f"apdu {apdu.hex()}"
    if statement.expect is not None:
        options = _expect(statement.expect, statement, export)
        if options is None:
            return None
        line += options
    return line


def _expect(expect: Expect, statement: Command, export: Export) -> str | None:
    if len(expect.sw) != 1:
        export.unsupported(statement, f"pySim-shell --expect-sw takes one status word, not {expect.sw_text()}")
        return None
    options = f" --expect-sw {str(expect.sw[0]).lower()}"
    regex = _regex(expect.data, statement, export) if expect.data is not None else None
    if regex is not None:
        if "'" in regex:
            export.unsupported(statement, "a response regex with a ' cannot be quoted for pySim-shell")
            return None
        options += f" --expect-response-regex '{regex}'"
    return options


def _regex(data: DataPattern | DataRegex, statement: Command, export: Export) -> str | None:
    """mcim searches case-insensitively; pySim matches at the start: anchor or prefix accordingly."""
    if isinstance(data, DataRegex):
        pattern = data.pattern if data.pattern.startswith("^") else f".*(?:{data.pattern})"
        return "(?i)" + pattern
    masked = export.pattern_bytes(data.items, statement)
    if masked is None:
        return None
    nibbles = "".join(c.lower() if c != "X" else "." for c in str(masked)) if masked.value else ""
    return "^" + nibbles + ("" if data.open_end else "$")


DIALECT = Dialect("pysim", (".pysim",), write=write)
