"""JSON Lines form of a script, for machines: one object per statement, in order, both directions.

    {"type": "command", "apdu": "00a4040007${AID}", "expect": {"sw": ["61XX", "9000"], "data": "62XX82..."}}
    {"type": "capture", "name": "FCP", "select": "data[2:4]"}
    {"type": "set", "name": "AID", "value": "a0000000871002"}      (or "env": NAME, or "file": PATH; "secret")
    {"type": "directive", "name": "reset", "args": []}
    {"type": "step" | "section", "title": "..."}   {"type": "include", "path": "..."}
    {"type": "comment", "text": "..."}   {"type": "blank"}

Hex is lowercase; `X` marks a wildcard nibble; "raw": true marks a raw command; "comment" carries a trailing
comment; "where" (file:line:column) is written for reference and ignored when read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ...errors import DecodeError, McimError
from ..ast import (
    NAME_RE,
    Blank,
    Capture,
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
    Template,
)
from ..loader import LoadedScript
from ..parser import (
    DIRECTIVE_RE,
    ScriptErrors,
    apdu_problem,
    parse_data_pattern,
    parse_selector,
    parse_sw,
    parse_template,
    regex_problem,
)
from . import Conversion, Dialect

# -- writing -----------------------------------------------------------------------------------------------


def statement_to_json(statement: Statement) -> dict[str, Any]:
    obj: dict[str, Any]
    match statement:
        case Blank():
            obj = {"type": "blank"}
        case Comment(text=text):
            obj = {"type": "comment", "text": text}
        case Command():
            obj = {"type": "command", "apdu": template_text(statement.apdu)}
            if statement.raw:
                obj["raw"] = True
            if statement.expect is not None:
                obj["expect"] = _expect_to_json(statement.expect)
        case Capture():
            obj = {"type": "capture", "name": statement.name, "select": statement.selector_text()}
            if statement.secret:
                obj["secret"] = True
        case SetVar():
            obj = {"type": "set", "name": statement.name, **_value_to_json(statement.value)}
            if statement.secret:
                obj["secret"] = True
        case Include():
            obj = {"type": "include", "path": statement.path}
        case Directive():
            obj = {"type": "directive", "name": statement.name, "args": list(statement.args)}
        case Step():
            obj = {"type": "step", "title": statement.title}
        case Section():
            obj = {"type": "section", "title": statement.title}
    if getattr(statement, "comment", None) is not None:
        obj["comment"] = statement.comment  # type: ignore[union-attr]
    obj["where"] = str(statement.pos)
    return obj


def template_text(template: Template) -> str:
    return "".join(c.hex() if isinstance(c, bytes) else f"${{{c.name}}}" for c in template.chunks)


def _expect_to_json(expect: Expect) -> dict[str, Any]:
    obj: dict[str, Any] = {"sw": [str(p).lower().replace("x", "X") for p in expect.sw]}
    if isinstance(expect.data, DataRegex):
        obj["data_regex"] = expect.data.pattern
    elif isinstance(expect.data, DataPattern):
        items = "".join(str(i).lower().replace("x", "X") if isinstance(i, Masked) else f"${{{i.name}}}"
                        for i in expect.data.items)
        obj["data"] = items + ("..." if expect.data.open_end else "")
    return obj


def _value_to_json(value: Template | EnvRef | FileRef) -> dict[str, str]:
    if isinstance(value, EnvRef):
        return {"env": value.name}
    if isinstance(value, FileRef):
        return {"file": value.path}
    return {"value": template_text(value)}


def write(loaded: LoadedScript) -> Conversion:
    lines = (json.dumps(statement_to_json(s), ensure_ascii=False) for s in loaded.root.statements)
    return Conversion("".join(line + "\n" for line in lines))


# -- reading -----------------------------------------------------------------------------------------------


def read(text: str, source: str) -> Script:
    statements: list[Statement] = []
    errors: list[McimError] = []
    for number, line in enumerate(text.split("\n"), 1):  # JSON Lines: "\n" only; JSON escapes the others
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            statements.append(_statement(_Fields(line, where), Pos(source, number, 1)))
        except McimError as exc:
            errors.append(exc)
    if errors:
        raise ScriptErrors(errors)
    return Script(source, tuple(statements))


class _Fields:
    """One JSON object; every key must be used, so that a misspelt key is an error rather than ignored."""

    def __init__(self, line: str, where: str) -> None:
        self.where = where
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise DecodeError(f"not JSON: {exc}", where=where, expected="one JSON object per line") from None
        if not isinstance(obj, dict):
            raise DecodeError("not a JSON object", where=where, expected="one JSON object per line")
        self.obj: dict[str, Any] = obj
        self.used = {"where"}

    def get(self, key: str, kind: type, default: Any = None, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.obj:
            if required:
                raise DecodeError(f"missing key {key!r}", where=self.where, expected=f"{key!r}: {kind.__name__}")
            return default
        value = self.obj[key]
        if not isinstance(value, kind):
            raise DecodeError(f"{key!r} is {type(value).__name__}", where=self.where, expected=kind.__name__)
        if isinstance(value, str) and value and value.splitlines() != [value]:
            raise DecodeError(f"{key!r} spans several lines", where=self.where, expected="one line of text")
        return value

    def name(self, key: str = "name") -> str:
        value = self.get(key, str, required=True)
        if not NAME_RE.fullmatch(value):
            raise DecodeError(f"{key} {value!r} is not a valid name", where=self.where,
                              expected="letters, digits and _, not starting with a digit")
        return value

    def done(self) -> None:
        extra = sorted(set(self.obj) - self.used)
        if extra:
            raise DecodeError(f"unknown key {extra[0]!r}", where=self.where,
                              expected="keys: " + ", ".join(sorted(self.used - {"where"})))


def _statement(f: _Fields, pos: Pos) -> Statement:
    kind = f.get("type", str, required=True)
    parse = _READERS.get(kind)
    if parse is None:
        raise DecodeError(f"unknown type {kind!r}", where=f.where, expected="one of " + ", ".join(_READERS))
    statement = parse(f, pos)
    f.done()
    return statement


def _comment_of(f: _Fields) -> str | None:
    return f.get("comment", str)


def _command(f: _Fields, pos: Pos) -> Command:
    apdu = parse_template(f.get("apdu", str, required=True), f.where)
    raw = f.get("raw", bool, False)
    problem = None if raw else apdu_problem(apdu)
    if problem:
        raise DecodeError(problem, where=f.where, expected="a well-formed APDU, or \"raw\": true")
    expect_obj = f.get("expect", dict)
    expect = None if expect_obj is None else _expect(_Fields(json.dumps(expect_obj), f.where + " expect"))
    return Command(apdu, expect, raw, _comment_of(f), pos)


def _expect(f: _Fields) -> Expect:
    sw = f.get("sw", list, required=True)
    if not sw or not all(isinstance(s, str) for s in sw):
        raise DecodeError("'sw' must list status words", where=f.where, expected='["9000", "61XX"]')
    data: DataPattern | DataRegex | None = None
    pattern, regex = f.get("data", str), f.get("data_regex", str)
    if pattern is not None and regex is not None:
        raise DecodeError("both 'data' and 'data_regex'", where=f.where, expected="one data check")
    if pattern is not None:
        data = parse_data_pattern(pattern, f.where)
    elif regex is not None:
        data = DataRegex(regex)
        problem = regex_problem(data)
        if problem:
            raise DecodeError(problem, where=f.where, expected="a Python regular expression")
    f.done()
    return Expect(tuple(parse_sw(s, f.where) for s in sw), data)


def _capture(f: _Fields, pos: Pos) -> Capture:
    name = f.name()
    source, index, start, stop = parse_selector(f.get("select", str, "data"), f.where)
    return Capture(name, source, index, start, stop, f.get("secret", bool, False), _comment_of(f), pos)


def _set(f: _Fields, pos: Pos) -> SetVar:
    name = f.name()
    given = [k for k in ("value", "env", "file") if k in f.obj]
    if len(given) != 1:
        raise DecodeError("a set needs exactly one of 'value', 'env', 'file'", where=f.where,
                          expected='"value": HEX, "env": NAME or "file": PATH')
    value: Template | EnvRef | FileRef
    if given[0] == "value":
        value = parse_template(f.get("value", str), f.where)
        if not value.chunks:
            raise DecodeError("empty value", where=f.where, expected="hex bytes or ${NAME}")
    elif given[0] == "env":
        value = EnvRef(f.name("env"))
    else:
        value = FileRef(f.get("file", str))
    return SetVar(name, value, f.get("secret", bool, False), _comment_of(f), pos)


def _directive(f: _Fields, pos: Pos) -> Directive:
    name = f.get("name", str, required=True)
    if not DIRECTIVE_RE.fullmatch(name):
        raise DecodeError(f"directive name {name!r}", where=f.where, expected="a letter, then letters, digits, "
                          "_ or -")
    args = f.get("args", list, [])
    if not all(isinstance(a, str) and (not a or a.splitlines() == [a]) for a in args):
        raise DecodeError("'args' must be a list of one-line strings", where=f.where, expected='["word", ...]')
    return Directive(name.lower(), tuple(args), _comment_of(f), pos)


def _titled(kind: type[Step] | type[Section]) -> Callable[[_Fields, Pos], Statement]:
    def parse(f: _Fields, pos: Pos) -> Statement:
        return kind(f.get("title", str, required=True), _comment_of(f), pos)
    return parse


_READERS: dict[str, Callable[[_Fields, Pos], Statement]] = {
    "command": _command,
    "capture": _capture,
    "set": _set,
    "include": lambda f, pos: Include(f.get("path", str, required=True), _comment_of(f), pos),
    "directive": _directive,
    "step": _titled(Step),
    "section": _titled(Section),
    "comment": lambda f, pos: Comment(f.get("text", str, ""), pos),
    "blank": lambda f, pos: Blank(pos),
}

DIALECT = Dialect("jsonl", (".jsonl",), read, write)
