"""Writes a `Script` as `.apdu` text in the canonical layout (apdu/README.md, "Canonical form").

Commands that form a valid APDU are laid out field by field (`00 A4 04 00 07 A0000000871002 [00]`), hex is
uppercase, and anything the parser would read differently is quoted.  `parse_script(format_script(s))` equals `s`.
"""

from __future__ import annotations

from ..apdu import CommandApdu
from ..errors import DecodeError
from .ast import (
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
    Script,
    Section,
    SetVar,
    Statement,
    Step,
    Template,
    Var,
)
from .parser import le_field_length

SPACED_PATTERN_MAX = 16  # data patterns up to this many bytes are written byte by byte


def format_script(script: Script) -> str:
    return "".join(format_statement(s) + "\n" for s in script.statements)


def format_statement(statement: Statement) -> str:
    match statement:
        case Blank():
            return ""
        case Comment(text=text):
            return "#" + text
        case Command():
            body = ("raw " if statement.raw else "") + format_apdu(statement.apdu, statement.raw)
            if statement.expect is not None:
                body += " => " + format_expect(statement.expect)
        case Capture():
            secret = "secret " if statement.secret else ""
            body = f"capture {secret}{statement.name} = {statement.selector_text()}"
        case SetVar():
            secret = "secret " if statement.secret and not isinstance(statement.value, FileRef) else ""
            body = f"set {secret}{statement.name} = {_value(statement.value)}"
        case Include():
            body = "include " + quote(statement.path)
        case Directive():
            body = " ".join((f".{statement.name}", *(quote(a) for a in statement.args)))
        case Step():
            body = "step " + quote(statement.title, words=True)
        case Section():
            body = "section " + quote(statement.title, words=True)
    return body + ("" if statement.comment is None else "  #" + statement.comment)


def quote(text: str, *, words: bool = False) -> str:
    """`text` bare when the parser reads it back unchanged (as one token, or as the rest of the line when
    `words`), else double-quoted."""
    if text and text == text.strip() and (words or not any(c.isspace() for c in text)) \
            and not text.startswith('"') and "#" not in text and not text.endswith("\\"):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_apdu(apdu: Template, raw: bool = False) -> str:
    literal = apdu.literal
    if literal is not None and not raw:
        try:
            return _apdu_fields(literal, CommandApdu.parse(literal))
        except DecodeError:
            pass
    return format_template(apdu, header=True)


def format_template(template: Template, *, header: bool = False) -> str:
    """Hex and ${NAME}; with `header`, the first four literal bytes are spaced out like CLA INS P1 P2."""
    out: list[str] = []
    for k, chunk in enumerate(template.chunks):
        if isinstance(chunk, Var):
            out.append(f"${{{chunk.name}}}")
        elif header and k == 0:
            out.extend(f"{b:02X}" for b in chunk[:4])
            if chunk[4:]:
                out.append(chunk[4:].hex().upper())
        else:
            out.append(chunk.hex().upper())
    return " ".join(out)


def _apdu_fields(raw: bytes, apdu: CommandApdu) -> str:
    le_len = le_field_length(apdu)
    lc_len = len(raw) - 4 - len(apdu.data) - le_len
    fields = [f"{b:02X}" for b in raw[:4]]
    if apdu.data:
        fields += [raw[4:4 + lc_len].hex().upper(), apdu.data.hex().upper()]
    if le_len:
        fields.append(f"[{raw[-le_len:].hex().upper()}]")
    return " ".join(fields)


def format_expect(expect: Expect) -> str:
    text = expect.sw_text()
    if isinstance(expect.data, DataRegex):
        text += " data ~ /" + _escape_regex(expect.data.pattern) + "/"
    elif isinstance(expect.data, DataPattern):
        text += " " + " ".join(("data", *_pattern_tokens(expect.data)))
    return text


def format_data_pattern(pattern: DataPattern | DataRegex) -> str:
    if isinstance(pattern, DataRegex):
        return "~ /" + _escape_regex(pattern.pattern) + "/"
    return " ".join(_pattern_tokens(pattern))


def _pattern_tokens(pattern: DataPattern) -> list[str]:
    size = sum(len(i.value) for i in pattern.items if isinstance(i, Masked))
    tokens: list[str] = []
    for item in pattern.items:
        if isinstance(item, Var):
            tokens.append(f"${{{item.name}}}")
        elif size <= SPACED_PATTERN_MAX:
            tokens.extend(str(Masked(item.value[k:k + 1], item.mask[k:k + 1])) for k in range(len(item.value)))
        else:
            tokens.extend(_runs(item))
    if pattern.open_end:
        tokens.append("...")
    return tokens


def _runs(item: Masked) -> list[str]:
    """Split where fully literal bytes meet bytes with wildcards, so wildcards stand out."""
    runs: list[str] = []
    start = 0
    for k in range(1, len(item.value) + 1):
        if k == len(item.value) or (item.mask[k] == 0xFF) != (item.mask[k - 1] == 0xFF):
            runs.append(str(Masked(item.value[start:k], item.mask[start:k])))
            start = k
    return runs


def _escape_regex(pattern: str) -> str:
    out: list[str] = []
    k = 0
    while k < len(pattern):
        if pattern[k] == "\\" and k + 1 < len(pattern):
            out.append(pattern[k:k + 2])
            k += 2
            continue
        out.append("\\/" if pattern[k] == "/" else pattern[k])
        k += 1
    return "".join(out)


def _value(value: Template | EnvRef | FileRef) -> str:
    if isinstance(value, EnvRef):
        return f"env {value.name}"
    if isinstance(value, FileRef):
        return "file " + quote(value.path)
    return format_template(value)
