"""Parser of the `.apdu` script format (grammar and examples: apdu/README.md).

Hand-written and line-oriented: every logical line is one statement, so an error in one line is reported with its
file:line:column and parsing goes on with the next; `parse_script` raises all of them at once as `ScriptErrors`.
"""

from __future__ import annotations

import bisect
import re
import string
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from ..apdu import CommandApdu
from ..errors import DecodeError, McimError
from .ast import (
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
    Var,
)

HEX_DIGITS = frozenset(string.hexdigits)
WILDCARDS = frozenset("Xx?")
PATTERN_DIGITS = HEX_DIGITS | WILDCARDS
DIRECTIVE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
T = TypeVar("T")
KEYWORDS = ("set", "capture", "include", "step", "section", "raw")


class ScriptErrors(DecodeError):
    """Every error found in a script (or a set of scripts); `errors` lists them in file order.  `partial` holds
    the statements that did parse, so that the files they include can be checked too."""

    def __init__(self, errors: Sequence[McimError], partial: Script | None = None,
                 loaded: object | None = None) -> None:
        self.errors = tuple(errors)
        self.partial = partial
        self.loaded = loaded  # the LoadedScript of what did parse, when raised by the loader
        first = self.errors[0]
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(first.message + more, where=first.where, expected=first.expected)


def parse_script(text: str, source: str = "<script>") -> Script:
    """Parse `.apdu` text; `source` names the file in positions and errors."""
    statements: list[Statement] = []
    errors: list[McimError] = []
    for line in _logical_lines(text, source):
        try:
            statements.append(_statement(_Cursor(line)))
        except McimError as exc:
            errors.append(exc)
    if errors:
        raise ScriptErrors(errors, Script(source, tuple(statements)))
    return Script(source, tuple(statements))


# -- fragments: pieces of the grammar held in other containers (JSON Lines, other dialects) ------------------


def parse_template(text: str, where: str) -> Template:
    """Hex with ${NAME} references, as in a command or a `set` value."""
    return _fragment(text, where, lambda cur: Template.of(*_byte_items(cur, stop="")))


def parse_sw(text: str, where: str) -> SwPattern:
    return _fragment(text, where, _sw)


def parse_data_pattern(text: str, where: str) -> DataPattern:
    """A data pattern as after `data`: hex, X wildcards, ${NAME}, and a final `...`."""
    return _fragment(text, where, _data_pattern)


def parse_selector(text: str, where: str) -> tuple[CaptureSource, int | None, int | None, int | None]:
    """A capture selection such as `data[2:4]`: (source, index, start, stop)."""
    return _fragment(text, where, _selector)


def _fragment(text: str, where: str, parse: Callable[[_Cursor], T]) -> T:
    cur = _Cursor(_Line(text, [0], [1], where))
    try:
        value = parse(cur)
        cur.skip_ws()
        if cur.i < len(text):
            raise cur.error(f"unexpected {cur.describe()}")
    except DecodeError as exc:
        column = (exc.where or "").rpartition(":")[2]
        raise DecodeError(f"{exc.message} (in {text!r} at column {column})", where=where,
                          expected=exc.expected) from None
    return value


# -- logical lines: a line ending in " \" continues on the next one ------------------------------------------


class _Line:
    def __init__(self, text: str, starts: list[int], lines: list[int], source: str) -> None:
        self.text = text
        self.starts = starts  # offset in `text` where each physical line begins
        self.lines = lines  # its 1-based line number
        self.source = source

    def pos(self, offset: int) -> Pos:
        k = bisect.bisect_right(self.starts, offset) - 1
        return Pos(self.source, self.lines[k], offset - self.starts[k] + 1)


def _continues(physical: str) -> bool:
    body = physical.rstrip()
    return body.endswith("\\") and (len(body) == 1 or body[-2].isspace()) and "#" not in body


def _logical_lines(text: str, source: str) -> Iterator[_Line]:
    physical = text.splitlines()
    i = 0
    while i < len(physical):
        parts: list[str] = []
        starts: list[int] = []
        numbers: list[int] = []
        offset = 0
        while True:
            raw = physical[i]
            more = _continues(raw) and i + 1 < len(physical)
            body = raw.rstrip()[:-1] if more else raw
            starts.append(offset)
            numbers.append(i + 1)
            parts.append(body + (" " if more else ""))
            offset += len(parts[-1])
            i += 1
            if not more:
                break
        yield _Line("".join(parts), starts, numbers, source)


# -- cursor over one logical line --------------------------------------------------------------------------


class _Cursor:
    def __init__(self, line: _Line) -> None:
        self.line = line
        self.text = line.text
        self.i = 0

    def pos(self, at: int | None = None) -> Pos:
        return self.line.pos(self.i if at is None else at)

    def error(self, message: str, expected: str | None = None, at: int | None = None) -> DecodeError:
        return DecodeError(message, where=str(self.pos(at)), expected=expected)

    def char(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.i)

    def skip_ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def at_end(self) -> bool:
        """After blanks: nothing left but, perhaps, a comment."""
        self.skip_ws()
        return self.i >= len(self.text) or self.text[self.i] == "#"

    def finish(self) -> str | None:
        """The trailing comment, after checking nothing else is left on the line."""
        self.skip_ws()
        if self.i < len(self.text) and self.text[self.i] != "#":
            raise self.error(f"unexpected {self.describe()}", "the end of the line or a # comment")
        comment = self.text[self.i + 1:] if self.i < len(self.text) else None
        self.i = len(self.text)
        return comment

    def describe(self) -> str:
        rest = self.text[self.i:].split(None, 1)
        return repr(rest[0][:20]) if rest else "end of line"

    def word(self) -> str:
        start = self.i
        while self.i < len(self.text) and not self.text[self.i].isspace():
            self.i += 1
        return self.text[start:self.i]

    def keyword(self, kw: str) -> bool:
        """Consume `kw` if it is the next whole word."""
        self.skip_ws()
        end = self.i + len(kw)
        if self.text.startswith(kw, self.i) and (end == len(self.text) or self.text[end].isspace()):
            self.i = end
            return True
        return False

    def name(self, what: str) -> str:
        self.skip_ws()
        match = NAME_RE.match(self.text, self.i)
        if not match:
            raise self.error(f"expected {what}, found {self.describe()}", "a name: letters, digits, _")
        self.i = match.end()
        return match.group()

    def expect_char(self, ch: str, expected: str) -> None:
        self.skip_ws()
        if not self.peek(ch):
            raise self.error(f"expected '{ch}', found {self.describe()}", expected)
        self.i += 1

    def quoted(self) -> str:
        """A double-quoted string; \\" and \\\\ are the only escapes."""
        start = self.i
        self.i += 1
        out: list[str] = []
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch == "\\" and self.i + 1 < len(self.text) and self.text[self.i + 1] in '"\\':
                out.append(self.text[self.i + 1])
                self.i += 2
                continue
            self.i += 1
            if ch == '"':
                return "".join(out)
            out.append(ch)
        raise self.error("unterminated string", 'a closing "', at=start)

    def token(self) -> str:
        """A quoted string or a bare word."""
        self.skip_ws()
        return self.quoted() if self.peek('"') else self.word()

    def var(self) -> Var:
        start = self.i
        close = self.text.find("}", self.i + 2)
        name = self.text[self.i + 2:close] if close >= 0 else ""
        if close < 0 or not NAME_RE.fullmatch(name):
            raise self.error("malformed variable reference", "${NAME} with a name of letters, digits, _",
                             at=start)
        self.i = close + 1
        return Var(name, self.pos(start))

    def run(self, allowed: frozenset[str]) -> str:
        start = self.i
        while self.i < len(self.text) and self.text[self.i] in allowed:
            self.i += 1
        return self.text[start:self.i]


# -- statements --------------------------------------------------------------------------------------------


def _statement(cur: _Cursor) -> Statement:
    cur.skip_ws()
    pos = cur.pos()
    if cur.i >= len(cur.text):
        return Blank(pos)
    if cur.peek("#"):
        return Comment(cur.text[cur.i + 1:], pos)
    if cur.peek("."):
        return _directive(cur, pos)
    for kw in KEYWORDS:
        if cur.keyword(kw):
            return _KEYWORD_PARSERS[kw](cur, pos)
    return _command(cur, pos, raw=False)


def _directive(cur: _Cursor, pos: Pos) -> Directive:
    cur.i += 1
    match = DIRECTIVE_RE.match(cur.text, cur.i)
    if not match or (match.end() < len(cur.text) and not cur.text[match.end()].isspace()):
        raise cur.error("malformed directive name", ".name: a letter, then letters, digits, _ or -")
    cur.i = match.end()
    args: list[str] = []
    while not cur.at_end():
        args.append(cur.token())
    return Directive(match.group().lower(), tuple(args), cur.finish(), pos)


def _set(cur: _Cursor, pos: Pos) -> SetVar:
    secret = cur.keyword("secret")
    name = cur.name("a variable name")
    cur.expect_char("=", "set NAME = VALUE")
    value: Template | EnvRef | FileRef
    if cur.keyword("env"):
        value = EnvRef(cur.name("an environment variable name"))
    elif cur.keyword("file"):
        if cur.at_end():
            raise cur.error("expected a file name", "file PATH")
        value = FileRef(cur.token())
    else:
        cur.skip_ws()
        start = cur.i
        value = Template.of(*_byte_items(cur, stop=""))
        if not value.chunks:
            raise cur.error("expected a value", "hex bytes, ${NAME}, env NAME or file PATH", at=start)
    return SetVar(name, value, secret, cur.finish(), pos)


def _capture(cur: _Cursor, pos: Pos) -> Capture:
    secret = cur.keyword("secret")
    name = cur.name("a variable name")
    cur.expect_char("=", "capture NAME = data[START:STOP]")
    source, index, first, stop = _selector(cur)
    return Capture(name, source, index, first, stop, secret, cur.finish(), pos)


def _selector(cur: _Cursor) -> tuple[CaptureSource, int | None, int | None, int | None]:
    cur.skip_ws()
    start = cur.i
    word = cur.run(frozenset(string.ascii_letters))
    try:
        source = CaptureSource(word)
    except ValueError:
        raise cur.error(f"unknown capture source {word!r}", "data, sw or response", at=start) from None
    index = first = stop = None
    if cur.peek("["):
        cur.i += 1
        first = _offset(cur)
        if cur.peek(":"):
            cur.i += 1
            stop = _offset(cur)
        else:
            if first is None:
                raise cur.error("expected a byte offset", "[INDEX] or [START:STOP]")
            index, first = first, None
        if not cur.peek("]"):
            raise cur.error(f"unexpected {cur.describe()}", "] closing the selection")
        cur.i += 1
    return source, index, first, stop


def _offset(cur: _Cursor) -> int | None:
    digits = cur.run(frozenset(string.digits))
    return int(digits) if digits else None


def _include(cur: _Cursor, pos: Pos) -> Include:
    if cur.at_end():
        raise cur.error("expected a file name", "include PATH")
    return Include(cur.token(), cur.finish(), pos)


def _title(cur: _Cursor) -> tuple[str, str | None]:
    cur.skip_ws()
    if cur.peek('"'):
        return cur.quoted(), cur.finish()
    start = cur.i
    end = next((k for k in range(start, len(cur.text)) if cur.text[k] == "#" and (
        k == start or cur.text[k - 1].isspace())), len(cur.text))
    title = cur.text[start:end].strip()
    if not title:
        raise cur.error("expected a title", "step TITLE")
    cur.i = end
    return title, cur.finish()


def _step(cur: _Cursor, pos: Pos) -> Step:
    return Step(*_title(cur), pos)


def _section(cur: _Cursor, pos: Pos) -> Section:
    return Section(*_title(cur), pos)


def _raw(cur: _Cursor, pos: Pos) -> Command:
    return _command(cur, pos, raw=True)


_KEYWORD_PARSERS: dict[str, Callable[[_Cursor, Pos], Statement]] = {
    "set": _set, "capture": _capture, "include": _include, "step": _step, "section": _section, "raw": _raw,
}


# -- commands and expectations ------------------------------------------------------------------------------


def _byte_items(cur: _Cursor, stop: str) -> list[bytes | Var]:
    """Hex runs and ${NAME} references up to the end of the line, a comment, or one of `stop`'s markers."""
    items: list[bytes | Var] = []
    while not cur.at_end() and not any(cur.peek(s) for s in stop.split()):
        if cur.peek("${"):
            items.append(cur.var())
            continue
        start = cur.i
        digits = cur.run(HEX_DIGITS)
        if not digits or not _run_end(cur, "$[]=#"):
            raise _not_hex(cur)
        if len(digits) % 2:
            raise cur.error(f"odd number of hex digits ({len(digits)})", "whole bytes: two hex digits each",
                            at=start)
        items.append(bytes.fromhex(digits))
    return items


def _run_end(cur: _Cursor, followers: str) -> bool:
    """A run of digits must end the line or be followed by a blank or one of `followers`."""
    return cur.i >= len(cur.text) or cur.text[cur.i].isspace() or cur.text[cur.i] in followers


def _not_hex(cur: _Cursor) -> DecodeError:
    word = cur.text[cur.i:].split(None, 1)[0]
    if (cur.i == 0 or cur.text[:cur.i].isspace()) and word.isalpha():
        return cur.error(f"unknown statement {word!r}", "a command in hex, a .directive, or one of: "
                         + ", ".join(KEYWORDS))
    return cur.error(f"{cur.char()!r} is not a hex digit", "hex digits 0-9 A-F or ${NAME}")


def _command(cur: _Cursor, pos: Pos, *, raw: bool) -> Command:
    cur.skip_ws()
    start = cur.i
    items = _byte_items(cur, stop="=> [")
    le_items: list[bytes | Var] = []
    if cur.peek("["):
        bracket = cur.i
        cur.i += 1
        le_items = _byte_items(cur, stop="] =>")
        if not cur.peek("]"):
            raise cur.error("unclosed [", "] after the Le byte(s)", at=bracket)
        cur.i += 1
        if not le_items:
            raise cur.error("empty []", "the Le byte(s) between [ and ]", at=bracket)
        if not cur.at_end() and not cur.peek("=>"):
            raise cur.error(f"unexpected {cur.describe()} after [Le]", "=> and the expected response, or the "
                            "end of the line")
    if not items:
        raise cur.error("expected the command in hex", "CLA INS P1 P2 ...", at=start)
    apdu = Template.of(*items, *le_items)
    if not raw:
        _check_apdu(cur, apdu, le_items, start)
    expect = None
    if cur.peek("=>"):
        cur.i += 2
        expect = _expect(cur)
    return Command(apdu, expect, raw, cur.finish(), pos)


def _check_apdu(cur: _Cursor, apdu: Template, le_items: list[bytes | Var], start: int) -> None:
    problem = apdu_problem(apdu)
    if problem:
        raise cur.error(problem, "a well-formed APDU, or 'raw' before it to send it as written", at=start)
    literal, le = apdu.literal, Template.of(*le_items).literal
    if literal is not None and le is not None and le_items and \
            len(le) != le_field_length(CommandApdu.parse(literal)):
        raise cur.error(f"[{le.hex().upper()}] is not the Le field of this APDU",
                        "[Le] around exactly the trailing Le byte(s)", at=start)


def apdu_problem(apdu: Template) -> str | None:
    """Why a (non-raw) command template cannot be sent, or None.  Templates with variables are checked when
    the script runs."""
    if not apdu.chunks:
        return "empty command"
    literal = apdu.literal
    if literal is None:
        return None
    try:
        CommandApdu.parse(literal)
    except DecodeError as exc:
        return f"not a valid APDU: {exc}"
    return None


def regex_problem(regex: DataRegex) -> str | None:
    try:
        regex.compiled()
    except re.error as exc:
        return f"bad regular expression: {exc.msg}"
    except OverflowError as exc:
        return f"bad regular expression: {exc}"
    return None


def le_field_length(apdu: CommandApdu) -> int:
    """Bytes the Le field takes in the encoding (ISO/IEC 7816-4 §5.1): 0, 1, or 2/3 for extended length."""
    if apdu.le is None:
        return 0
    if not apdu.is_extended:
        return 1
    return 2 if apdu.data else 3


def _expect(cur: _Cursor) -> Expect:
    alternatives = [_sw(cur)]
    while True:
        cur.skip_ws()
        if not cur.peek("|"):
            break
        cur.i += 1
        alternatives.append(_sw(cur))
    data: DataPattern | DataRegex | None = None
    if cur.keyword("data"):
        data = _data_check(cur)
    return Expect(tuple(alternatives), data)


def _sw(cur: _Cursor) -> SwPattern:
    """Four hex digits or X wildcards, also written as two bytes: 9000, 61XX, 90 00."""
    cur.skip_ws()
    start = cur.i
    text = cur.run(PATTERN_DIGITS)
    if len(text) == 2:
        save = cur.i
        cur.skip_ws()
        second = cur.run(PATTERN_DIGITS)
        if len(second) == 2 and _boundary(cur):
            text += second
        else:
            cur.i = save
    if len(text) != 4 or not _boundary(cur):
        cur.i = start
        raise cur.error(f"expected a status word, found {cur.describe()}", "4 hex digits with X wildcards, "
                        "e.g. 9000 or 61XX")
    value, mask = _masked(text)
    return SwPattern(int.from_bytes(value, "big"), int.from_bytes(mask, "big"))


def _boundary(cur: _Cursor) -> bool:
    return cur.i >= len(cur.text) or cur.text[cur.i].isspace() or cur.text[cur.i] in "|#"


def _masked(text: str) -> tuple[bytes, bytes]:
    value = bytes.fromhex("".join("0" if c in WILDCARDS else c for c in text))
    mask = bytes.fromhex("".join("0" if c in WILDCARDS else "F" for c in text))
    return value, mask


def _data_check(cur: _Cursor) -> DataPattern | DataRegex:
    cur.skip_ws()
    if cur.peek("~"):
        cur.i += 1
        cur.skip_ws()
        return _regex(cur)
    return _data_pattern(cur)


def _data_pattern(cur: _Cursor) -> DataPattern:
    items: list[Masked | Var] = []
    open_end = False
    while not cur.at_end():
        if open_end:
            raise cur.error(f"unexpected {cur.describe()} after ...", "... only at the end of the pattern")
        if cur.peek("..."):
            cur.i += 3
            open_end = True
            continue
        if cur.peek("${"):
            items.append(cur.var())
            continue
        start = cur.i
        text = cur.run(PATTERN_DIGITS)
        if not text or not _run_end(cur, "$.#"):
            raise cur.error(f"{cur.char()!r} is not a hex digit or wildcard", "hex digits, X wildcards, "
                            "${NAME}, or ... at the end")
        if len(text) % 2:
            raise cur.error(f"odd number of digits ({len(text)})", "whole bytes: two digits each", at=start)
        items.append(Masked(*_masked(text)))
    return DataPattern.of(items, open_end)


def _regex(cur: _Cursor) -> DataRegex:
    start = cur.i
    if not cur.peek("/"):
        raise cur.error(f"expected /regex/, found {cur.describe()}", "data ~ /REGEX/")
    cur.i += 1
    out: list[str] = []
    while cur.i < len(cur.text):
        ch = cur.text[cur.i]
        if ch == "\\" and cur.i + 1 < len(cur.text):
            nxt = cur.text[cur.i + 1]
            out.append(ch + nxt)
            cur.i += 2
            continue
        cur.i += 1
        if ch == "/":
            regex = DataRegex("".join(out))
            problem = regex_problem(regex)
            if problem:
                raise cur.error(problem, "a Python regular expression", at=start + 1)
            return regex
        out.append(ch)
    raise cur.error("unterminated regular expression", "a closing /", at=start)
