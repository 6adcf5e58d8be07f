"""GPShell scripts (`.gpsh`, `.gpshell`; GPShell itself takes any file name), read only.

Command syntax per the GPShell manual page (kaoh/globalplatform, gpshell.1.md) and its example scripts: one
command per line with `-option value` pairs, `#` or `//` comments, `${NAME}` for environment variables.
- `send_apdu -sc 0 -APDU HEX` sends HEX and stops on an error status; `send_apdu_nostop` goes on.  Both become
  commands; the first expects 9000.
- `select -AID AID` sends SELECT by DF name without Le (`00A40400 Lc AID`, as GPShell's own trace shows).
- Session bookkeeping (`establish_context`, `card_connect`, `enable_trace`, `mode_211`, ...) has no effect on what
  the card sees here and becomes comments.
- Everything that needs GPShell's own secure channel or card-content management (`open_sc`, `install`, `delete`,
  `put_sc_key`, `get_status`, `-sc 1`, ...) is reported as unsupported, line by line.
"""

from __future__ import annotations

import re

from ...errors import McimError
from ..ast import Blank, Command, Comment, EnvRef, Expect, Pos, Script, SetVar, Statement, SwPattern, Template
from ..parser import apdu_problem, parse_template
from . import Dialect, UnsupportedConstructs

BOOKKEEPING = frozenset({
    "establish_context", "release_context", "card_connect", "card_disconnect", "enable_trace", "disable_trace",
    "enable_timer", "mode_201", "mode_211", "mode_220", "visa_key_derivation", "emv_cps11_key_derivation",
})
ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SW_OK = SwPattern(0x9000)


def _options(words: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    k = 0
    while k < len(words):
        if not words[k].startswith("-") or k + 1 >= len(words):
            raise McimError(f"expected -option value pairs, found {words[k]!r}")
        options[words[k][1:]] = words[k + 1]
        k += 2
    return options


def _split(text: str) -> tuple[str, str | None]:
    """Code and trailing comment (GPShell examples use `//` after a command)."""
    code, sep, comment = text.partition("//")
    return code, (comment if sep else None)


def _statement(text: str, pos: Pos, env: list[str]) -> Statement:
    stripped = text.strip()
    if not stripped:
        return Blank(pos)
    for marker in ("#", "//"):
        if stripped.startswith(marker):
            return Comment(stripped[len(marker):], pos)
    code, comment = _split(stripped)
    words = code.split()
    name, options = words[0], _options(words[1:])
    if name in BOOKKEEPING:
        return Comment(f" gpshell: {code.strip()}", pos)
    for var in ENV_RE.findall(code):
        if var not in env:
            env.append(var)
    if name == "select" and set(options) == {"AID"}:
        aid = parse_template(options["AID"], str(pos))
        return Command(Template.of(b"\x00\xa4\x04\x00", *_length_of(aid), *aid.chunks), Expect((SW_OK,)),
                       comment=comment, pos=pos)
    if name in ("send_apdu", "send_apdu_nostop") and set(options) <= {"sc", "APDU"} and "APDU" in options:
        if options.get("sc", "0") != "0":
            raise McimError(f"{name} -sc {options['sc']} needs GPShell's secure channel (use an mcim secure "
                            "channel directive)")
        apdu = parse_template(options["APDU"], str(pos))
        expect = Expect((SW_OK,)) if name == "send_apdu" else None
        return Command(apdu, expect, apdu_problem(apdu) is not None,
                       comment if expect else f" gpshell: {name}, response not checked", pos)
    raise McimError(f"GPShell command {name!r} has no mcim equivalent")


def _length_of(aid: Template) -> tuple[bytes, ...]:
    literal = aid.literal
    if literal is None:
        raise McimError("select -AID with a variable: the length byte cannot be computed before the run")
    return (bytes((len(literal),)),)


def read(text: str, source: str) -> Script:
    statements: list[Statement] = []
    problems: list[tuple[str, str]] = []
    env: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        pos = Pos(source, number, len(line) - len(line.lstrip()) + 1)
        try:
            statements.append(_statement(line, pos, env))
        except McimError as exc:
            problems.append((str(pos), exc.message))
    if problems:
        raise UnsupportedConstructs("gpshell", problems)
    header = [SetVar(name, EnvRef(name), pos=Pos(source, 1, 1)) for name in env]
    return Script(source, (*header, *statements))


DIALECT = Dialect("gpshell", (".gpsh", ".gpshell"), read)
