"""PCOM personalisation scripts (`.pcom`, `.var`), in and out.

Syntax as implemented by two public PCOM executors, SIMSHELL (Intergalaxy, `pcom` engine in C) and sim_reader's
`PcomExecutor` (Go), and described in sim_reader's "PCOM Script Format Specification":
- `;` starts a comment (outside `(...)` and `[...]`); a trailing `\\` continues the line.
- An APDU line is hex (spaces ignored) with `(SW)` expected status words (X = any nibble; SIMSHELL accepts several,
  separated by commas or spaces) and `[DATA]` expected response data, compared as a prefix with X wildcards.
- `.DEFINE %NAME value`, `%NAME` substitution, `.CALL file` (relative to the script), `.POWER_ON [/COLD]`,
  `.POWER_OFF`, `.INSERT`, `.ALLUNDEFINE`; directives are case-insensitive.
- `W(i;n)` / `R(i;n)`: n bytes from position i (1-based; `(i:j)` gives an end position) of the last status word
  (W) or response data (R), per SIMSHELL's buffers W and R.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import McimError
from ..ast import (
    NAME_RE,
    Blank,
    Capture,
    CaptureSource,
    Command,
    Comment,
    DataPattern,
    DataRegex,
    Directive,
    EnvRef,
    Expect,
    FileRef,
    Include,
    Masked,
    Pos,
    Script,
    Section,
    SetVar,
    Statement,
    Step,
    SwPattern,
    Template,
)
from ..loader import LoadedScript
from ..parser import apdu_problem, parse_data_pattern, parse_sw, parse_template
from ..writer import format_template
from . import Conversion, Dialect, UnsupportedConstructs
from .export import Export

IGNORED = {".power_off": "the card stays powered", ".insert": "the card is already in the reader",
           ".allundefine": "variables are not cleared", ".step_on": "no single-stepping",
           ".step_off": "no single-stepping", ".list_on": "no listing switch", ".list_off": "no listing switch"}
FUNCTION_RE = re.compile(r"([WRwr])\((\d+)([;:])(\d+)\)")
VAR_RE = re.compile(r"%([A-Za-z0-9_]+)")


# -- reading -----------------------------------------------------------------------------------------------


@dataclass
class _Reader:
    source: str

    def __post_init__(self) -> None:
        self.statements: list[Statement] = []
        self.problems: list[tuple[str, str]] = []
        self.seen_command = False

    def line(self, number: int, text: str) -> None:
        code, comment = _split_comment(text)
        stripped = code.strip()
        pos = Pos(self.source, number, len(code) - len(code.lstrip()) + 1)
        try:
            if not stripped:
                self.statements.append(Blank(pos) if comment is None else Comment(comment, pos))
            elif stripped.startswith("."):
                self.directive(stripped, comment, pos)
            else:
                self.command(stripped, comment, pos)
        except McimError as exc:
            self.problems.append((str(pos), exc.message))

    def directive(self, text: str, comment: str | None, pos: Pos) -> None:
        name, _, rest = text.partition(" ")
        key, rest = name.lower(), rest.strip()
        if key == ".define":
            self.define(rest, comment, pos)
        elif key == ".call" and rest:
            self.statements.append(Include(rest, comment, pos))
        elif key == ".power_on":
            self.statements.append(Directive("reset", (), f" {text}" if comment is None else comment, pos))
        elif key in IGNORED:
            self.statements.append(Comment(f" pcom: {text} (no effect in mcim: {IGNORED[key]})", pos))
        else:
            self.problems.append((str(pos), f"PCOM directive {name} has no mcim equivalent"))

    def define(self, rest: str, comment: str | None, pos: Pos) -> None:
        name, _, value = rest.partition(" ")
        value = value.strip()
        if not name.startswith("%") or not NAME_RE.fullmatch(name[1:]):
            self.problems.append((str(pos), f".DEFINE name {name!r} is not %NAME (letters, digits, _)"))
            return
        function = FUNCTION_RE.fullmatch(value.replace(" ", ""))
        if function:
            self.statements.append(self.capture(name[1:], function, pos, comment))
        elif not value or FUNCTION_RE.search(value):
            self.problems.append((str(pos), f".DEFINE {name} needs a hex value or a single R()/W()"))
        else:
            template = parse_template(VAR_RE.sub(r"${\1}", value.replace(" ", "")), str(pos))
            self.statements.append(SetVar(name[1:], template, comment=comment, pos=pos))

    def capture(self, name: str, match: re.Match[str], pos: Pos, comment: str | None = None) -> Capture:
        if not self.seen_command:
            raise McimError(f"{match.group()} before any command")
        letter, first, sep, last = match.groups()
        start = int(first) - 1
        stop = int(last) if sep == ":" else start + int(last)
        source = CaptureSource.SW if letter.upper() == "W" else CaptureSource.DATA
        return Capture(name, source, None, start, stop, comment=comment, pos=pos)

    def command(self, text: str, comment: str | None, pos: Pos) -> None:
        captures: dict[str, Capture] = {}

        def function(match: re.Match[str]) -> str:
            name = f"PCOM_{match.group(1).upper()}{match.group(2)}_{match.group(4)}"
            captures.setdefault(name, self.capture(name, match, pos))
            return f"${{{name}}}"

        body, sw, data = _groups(FUNCTION_RE.sub(function, text))
        apdu = parse_template(VAR_RE.sub(r"${\1}", body), str(pos))
        if not apdu.chunks:
            raise McimError("no command before the expected response")
        expect = None
        if sw is not None:
            expect = Expect(sw, data)
        elif data is not None:
            expect = Expect((SwPattern(0, 0),), data)
        self.statements.extend(captures.values())
        self.statements.append(Command(apdu, expect, apdu_problem(apdu) is not None, comment, pos))
        self.seen_command = True


def _split_comment(text: str) -> tuple[str, str | None]:
    depth = 0
    for k, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(depth - 1, 0)
        elif ch == ";" and depth == 0:
            return text[:k], text[k + 1:]
    return text, None


def _groups(text: str) -> tuple[str, tuple[SwPattern, ...] | None, DataPattern | None]:
    """Split an APDU line into the command, its `(SW...)` and its `[DATA]`."""
    sw: tuple[SwPattern, ...] | None = None
    data: DataPattern | None = None
    body: list[str] = []
    for part in re.split(r"(\([^)]*\)|\[[^\]]*\])", text):
        if part.startswith("("):
            if sw is not None:
                raise McimError("two expected status word groups")
            digits = re.sub(r"[\s,]", "", part[1:-1])
            if not digits or len(digits) % 4:
                raise McimError(f"expected status words {part} are not groups of 4 digits")
            sw = tuple(parse_sw(digits[k:k + 4], part) for k in range(0, len(digits), 4))
        elif part.startswith("["):
            if data is not None:
                raise McimError("two expected data groups")
            # PCOM compares the expected data as a prefix of the response (both executors)
            data = parse_data_pattern(VAR_RE.sub(r"${\1}", part[1:-1].replace(" ", "")) + "...", part)
        elif "(" in part or ")" in part or "[" in part or "]" in part:
            raise McimError(f"unbalanced brackets in {part.strip()!r}")
        else:
            body.append(part.replace(" ", "").replace("\t", ""))
    return "".join(body), sw, data


def read(text: str, source: str) -> Script:
    reader = _Reader(source)
    pending = ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        reader.line(number, pending + line)
        pending = ""
    if pending:
        reader.line(len(text.splitlines()), pending)
    if reader.problems:
        raise UnsupportedConstructs("pcom", reader.problems)
    return Script(source, tuple(reader.statements))


# -- writing -----------------------------------------------------------------------------------------------


def write(loaded: LoadedScript) -> Conversion:
    export = Export("pcom", loaded)
    lines: list[str] = []
    for statement in export.statements():
        line = _statement(statement, export)
        if line is not None:
            comment = getattr(statement, "comment", None)
            lines.append(line + ("" if comment is None else "  ;" + comment))
    return export.result(lines)


def _statement(statement: Statement, export: Export) -> str | None:
    match statement:
        case Blank():
            return ""
        case Comment(text=text):
            return ";" + text
        case Step(title=title) | Section(title=title):
            export.note("steps and sections became comments")
            return f"; {type(statement).__name__.lower()}: {title}"
        case Include():
            return None  # its statements follow, expanded in place
        case SetVar():
            return _define(statement, export)
        case Capture():
            return _capture(statement, export)
        case Command():
            return _command(statement, export)
        case Directive(name="reset"):
            return ".POWER_ON"
        case Directive(name="echo" | "note"):
            export.note(".echo and .note became comments")
            return "; " + " ".join(statement.args)
    export.unsupported(statement, f"{statement} has no PCOM equivalent")
    return None


def _vars(template: Template) -> str:
    return re.sub(r"\$\{(\w+)\}", r"%\1 ", format_template(template, header=True)).rstrip()


def _define(statement: SetVar, export: Export) -> str | None:
    if isinstance(statement.value, (EnvRef, FileRef)):
        export.unsupported(statement, f"set {statement.name}: PCOM has no environment or key-file values")
        return None
    if statement.secret:
        export.note("PCOM has no secret values: `secret` marks were left out")
    return f".DEFINE %{statement.name} {_vars(statement.value)}"


def _capture(statement: Capture, export: Export) -> str | None:
    letter = {CaptureSource.DATA: "R", CaptureSource.SW: "W"}.get(statement.source)
    if statement.index is not None:
        start, length = statement.index, 1
    elif statement.stop is not None:
        start, length = statement.start or 0, statement.stop - (statement.start or 0)
    else:
        start, length = 0, 0
    if letter is None or length <= 0:
        export.unsupported(statement, f"capture {statement.selector_text()}: PCOM R()/W() need a bounded "
                                      "selection of data or sw")
        return None
    if statement.secret:
        export.note("PCOM has no secret values: `secret` marks were left out")
    return f".DEFINE %{statement.name} {letter}({start + 1};{length})"


def _command(statement: Command, export: Export) -> str:
    line = _vars(statement.apdu)
    expect = statement.expect
    if expect is None:
        return line
    data = expect.data
    if isinstance(data, DataRegex):
        export.unsupported(statement, "PCOM has no regular expressions for response data")
    elif isinstance(data, DataPattern):
        if not data.open_end:
            export.unsupported(statement, "PCOM [DATA] checks a prefix only: end the pattern with ... to accept "
                                          "that")
        items = "".join(str(i) if isinstance(i, Masked) else f"%{i.name} " for i in data.items)
        line += f" [{items.rstrip()}]"
    return line + " (" + ",".join(str(p) for p in expect.sw) + ")"


DIALECT = Dialect("pcom", (".pcom", ".var"), read, write)
