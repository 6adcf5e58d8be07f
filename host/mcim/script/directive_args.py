"""The words of the secure-channel, card-management and OTA directives, sorted and checked in one place.

A directive's words are a sub-command (`open`, `begin`, `apps`, ...), flags from a fixed set (`s16`, `related`,
`last`, ...) and `key=value` options.  Option keys here may hold dashes (`kic-alg=aes`, `expect-por=09`), which
the generic `Directive.options` does not read as options, hence this module.  Every error names the directive's
file:line:column and its usage line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import BadInput
from ..hexutil import parse_hex
from ..keystore import read_key_file
from .ast import Directive, Template
from .directives import DirectiveContext
from .parser import parse_template

_OPTION = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)=(.*)", re.DOTALL)


@dataclass(frozen=True)
class DirectiveArgs:
    directive: Directive
    usage: str
    command: str | None
    flags: frozenset[str]
    options: Mapping[str, str]

    @property
    def where(self) -> str:
        return str(self.directive.pos)

    def error(self, message: str, expected: str | None = None) -> BadInput:
        return BadInput(f".{self.directive.name}: {message}", where=self.where, expected=expected or self.usage)

    def get(self, name: str) -> str | None:
        return self.options.get(name)

    def require(self, name: str) -> str:
        value = self.options.get(name)
        if value is None:
            raise self.error(f"{name}= is missing")
        return value

    def hex(self, name: str, lengths: Sequence[int] | None = None) -> bytes | None:
        """A literal hex option (no variables), of one of `lengths` bytes when given."""
        text = self.options.get(name)
        if text is None:
            return None
        with located(self.where):
            value = parse_hex(text, where=f"{name}=")
        if lengths is not None and len(value) not in lengths:
            raise self.error(f"{name}= has {len(value)} bytes",
                             expected=" or ".join(str(n) for n in lengths) + f" bytes for {name}=")
        return value

    def byte(self, name: str, default: int | None = None) -> int | None:
        """A one-byte hex option such as kvn=30 or state=0F."""
        value = self.hex(name, (1,))
        return default if value is None else value[0]

    def template(self, name: str, lengths: range | None = None) -> Template | None:
        """Hex with ${NAME} references, resolved when the directive runs; a literal is length-checked now."""
        text = self.options.get(name)
        if text is None:
            return None
        template = parse_template(text, self.where)
        literal = template.literal
        if lengths is not None and literal is not None and len(literal) not in lengths:
            raise self.error(f"{name}= has {len(literal)} bytes",
                             expected=f"{lengths.start} to {lengths.stop - 1} bytes for {name}=")
        return template

    def number(self, name: str, low: int, high: int) -> int | None:
        """A count or index: decimal, or hex after 0x."""
        text = self.options.get(name)
        if text is None:
            return None
        hexadecimal = text[:2].lower() == "0x"
        digits = text[2:] if hexadecimal else text
        if not digits or not all(c in ("0123456789abcdefABCDEF" if hexadecimal else "0123456789") for c in digits):
            raise self.error(f"{name}={text} is not a number", expected=f"{name}= in decimal (or 0x hex)")
        value = int(digits, 16 if hexadecimal else 10)
        if not low <= value <= high:
            raise self.error(f"{name}={text} is out of range", expected=f"{name}= from {low} to {high}")
        return value

    def choice(self, name: str, choices: Sequence[str], default: str | None = None) -> str | None:
        value = self.options.get(name, default)
        if value is not None and value not in choices:
            raise self.error(f"{name}={value} is not known", expected=f"{name}=" + "|".join(choices))
        return value

    def path(self, name: str) -> str | None:
        """A file option, relative to the script that holds the directive."""
        value = self.options.get(name)
        if value is None:
            return None
        return os.path.join(os.path.dirname(self.directive.pos.source), value)

    def exclusive(self, *names: str) -> None:
        given = [n for n in names if n in self.options]
        if len(given) > 1:
            raise self.error(f"{given[0]}= and {given[1]}= together",
                             expected="one of " + ", ".join(f"{n}=" for n in names))


def parse_args(directive: Directive, usage: str, *, commands: Sequence[str] = (), options: Sequence[str] = (),
               flags: Sequence[str] = ()) -> DirectiveArgs:
    """Sort the words: exactly one of `commands` when given (else none), known flags, known options, once each."""
    found_flags: set[str] = set()
    found_options: dict[str, str] = {}
    words: list[str] = []
    for arg in directive.args:
        match = _OPTION.fullmatch(arg)
        if match is not None:
            key = match.group(1)
            if key not in options:
                raise BadInput(f".{directive.name}: unknown option {key}=", where=str(directive.pos), expected=usage)
            if key in found_options:
                raise BadInput(f".{directive.name}: {key}= given twice", where=str(directive.pos), expected=usage)
            found_options[key] = match.group(2)
        elif arg in flags and arg not in found_flags:
            found_flags.add(arg)
        else:
            words.append(arg)
    command = words.pop(0) if commands and words and words[0] in commands else None
    if words or (commands and command is None):
        what = f"unexpected word {words[0]!r}" if words else "no sub-command"
        raise BadInput(f".{directive.name}: {what}", where=str(directive.pos), expected=usage)
    return DirectiveArgs(directive, usage, command, frozenset(found_flags), found_options)


def sub_command(directive: Directive, commands: Sequence[str], usage: str) -> str:
    """The first word, when it is one of `commands` (it decides which options the rest may hold)."""
    first = directive.args[0] if directive.args else ""
    if first not in commands:
        raise BadInput(f".{directive.name}: {'unknown sub-command ' + repr(first) if first else 'no sub-command'}",
                       where=str(directive.pos), expected=usage)
    return first


@contextmanager
def located(where: str) -> Iterator[None]:
    """Bad input found while a directive runs (a key file, a length) is reported at the directive's position;
    the inner position (a file name, a field) stays in the message."""
    try:
        yield
    except BadInput as exc:
        if exc.where == where:
            raise
        message = f"{exc.where}: {exc.message}" if exc.where else exc.message
        raise type(exc)(message, where=where, expected=exc.expected) from None


def load_keys(path: str, ctx: DirectiveContext) -> dict[str, bytes]:
    """A key file (`name = hex` lines, or one bare hex key named `key`); every key is marked secret at once."""
    keys = read_key_file(path)
    for value in keys.values():
        ctx.mark_secret(value)
    return keys


def key_named(keys: Mapping[str, bytes], name: str, path: str) -> bytes:
    key = keys.get(name)
    if key is None:
        raise BadInput(f"key file {path} has no '{name}' key", expected=f"a '{name} = hex' line")
    return key
