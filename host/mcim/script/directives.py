"""Directive registry: `.name ...` lines are parsed generically; a handler registered under the name checks them
when a script is checked and executes them when it runs.

A module that brings directives (secure channels, OTA wrapping, ...) calls `register_directive` at import time and
is listed in `DIRECTIVE_MODULES`.  A handler that wraps the commands that follow pushes a `Wrapper`; the
directive that ends the wrapping pops it.  Everything a handler may do to the run goes through the
`DirectiveContext` the runner hands it: the runner stays the one loop that talks to the card.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ..errors import BadInput, StateError
from .ast import Directive

# Modules that register directives when imported; add yours here (one line).
DIRECTIVE_MODULES = [
    "mcim.script.builtins",
    "mcim.script.gp_directives",
    "mcim.script.ota_directives",
    "mcim.diff",
]

Send = Callable[[bytes], bytes]
"""Sends one command APDU to the layer below (the next wrapper out, or the card) and returns its response."""


class Policy(StrEnum):
    """What a failed expectation does to the rest of the run (`.expect stop|continue`)."""

    STOP = "stop"
    CONTINUE = "continue"


@dataclass(frozen=True)
class NotExecuted:
    """A wrapper's answer for a command of a batch that the card refused as the script said it would (e.g. an
    OTA packet sent to provoke an error PoR): the command was not executed, and that is the expected outcome."""

    reason: str


class Wrapper(Protocol):
    """Stands between the script's commands and the card, from the directive that pushes it until it is popped.

    `transmit` gets each command the script sends while the wrapper is the innermost one; it returns the
    response to check against the command's expectations, or None to defer it (a batch, such as an OTA secured
    packet, answered as a whole).  `close` returns the deferred responses in order, None for a command that was
    not executed (a failure) or NotExecuted when not executing it was expected.  Integrity failures are raised
    (mcim.errors.IntegrityError), never returned.
    """

    def transmit(self, command: bytes, send: Send) -> bytes | None: ...

    def close(self, send: Send) -> Sequence[bytes | NotExecuted | None]: ...


class DirectiveContext(Protocol):
    """What a directive handler may do while it runs."""

    @property
    def where(self) -> str:
        """file:line:column of the directive, for error messages."""
        ...

    def transmit(self, command: bytes) -> bytes:
        """Send a command through the wrappers already open (recorded in the trace like any other)."""
        ...

    def reset(self) -> bytes:
        """Reset the card; returns the ATR."""
        ...

    def push(self, wrapper: Wrapper) -> None: ...

    def pop(self, kind: type) -> Wrapper:
        """Close and remove the innermost open wrapper of type `kind`; StateError when none is open."""
        ...

    def value(self, text: str) -> bytes:
        """Hex text with ${NAME} references, resolved against the run's variables."""
        ...

    def mark_secret(self, value: bytes) -> None:
        """Redact `value` wherever it appears in the trace and the reports."""
        ...

    def random(self, length: int) -> bytes:
        """Random bytes from the run's injected source (os.urandom unless a test replaces it)."""
        ...

    def say(self, text: str) -> None:
        """A message for the report, attached to the current step."""
        ...

    def set_policy(self, policy: Policy) -> None: ...


class DirectiveHandler(Protocol):
    def check(self, directive: Directive) -> None:
        """Raise BadInput (where=str(directive.pos)) if the directive's arguments are wrong."""
        ...

    def run(self, directive: Directive, ctx: DirectiveContext) -> None: ...


_REGISTRY: dict[str, DirectiveHandler] = {}
_loaded = False


def register_directive(name: str, handler: DirectiveHandler) -> None:
    if name in _REGISTRY and _REGISTRY[name] is not handler:
        raise StateError(f"directive .{name} is already registered")
    _REGISTRY[name] = handler


def directive_handlers() -> Mapping[str, DirectiveHandler]:
    """Every registered handler by name (importing DIRECTIVE_MODULES the first time)."""
    global _loaded
    if not _loaded:
        for module in DIRECTIVE_MODULES:
            importlib.import_module(module)
        _loaded = True
    return _REGISTRY


def handler_for(directive: Directive) -> DirectiveHandler:
    handlers = directive_handlers()
    handler = handlers.get(directive.name)
    if handler is None:
        raise BadInput(f"unknown directive .{directive.name}", where=str(directive.pos),
                       expected="one of " + ", ".join(f".{n}" for n in sorted(handlers)))
    return handler


def check_arity(directive: Directive, *, positional: int | tuple[int, int], options: Sequence[str] = (),
                usage: str) -> None:
    """Common argument check: how many positional words (exact or a range) and which key=value options."""
    low, high = (positional, positional) if isinstance(positional, int) else positional
    count = len(directive.positional)
    if not low <= count <= high:
        raise BadInput(f".{directive.name} takes {_count_text(low, high)}, got {count}",
                       where=str(directive.pos), expected=usage)
    unknown = sorted(set(directive.options) - set(options))
    if unknown:
        raise BadInput(f".{directive.name}: unknown option {unknown[0]}=", where=str(directive.pos),
                       expected=usage)


def _count_text(low: int, high: int) -> str:
    if low == high:
        return f"{low} argument{'s' if low != 1 else ''}"
    return f"{low} to {high} arguments"
