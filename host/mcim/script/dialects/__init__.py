"""Script dialects: the `.apdu` format, its JSON Lines form, and the formats of other tools, in and out.

A dialect reads text into a `Script` and/or writes a loaded script as text.  Whatever a dialect cannot express is
never dropped: writers raise `UnsupportedConstructs` listing every construct by file:line, readers do the same for
input they cannot map; a mapping that changes nothing a card sees but is worth knowing is returned as a note.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...errors import BadInput, UnsupportedError
from ..ast import Script
from ..loader import LoadedScript


@dataclass(frozen=True)
class Conversion:
    text: str
    notes: tuple[str, ...] = ()


class UnsupportedConstructs(UnsupportedError):
    """Constructs a conversion cannot carry over; `problems` holds (where, what) for each."""

    def __init__(self, dialect: str, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        listing = "".join(f"\n  {where}: {what}" for where, what in self.problems)
        super().__init__(f"{len(self.problems)} construct(s) cannot be converted to or from {dialect}:{listing}")


@dataclass(frozen=True)
class Dialect:
    name: str
    extensions: tuple[str, ...]
    read: Callable[[str, str], Script] | None = None
    write: Callable[[LoadedScript], Conversion] | None = None


def _dialects() -> dict[str, Dialect]:
    from . import apdutool, gpshell, jsonl, native, pcom, pysim

    found = (native.DIALECT, jsonl.DIALECT, pcom.DIALECT, gpshell.DIALECT, pysim.DIALECT, apdutool.DIALECT)
    return {d.name: d for d in found}


def dialect_names(*, readable: bool = False, writable: bool = False) -> list[str]:
    return [d.name for d in _dialects().values()
            if (not readable or d.read is not None) and (not writable or d.write is not None)]


def dialect_named(name: str) -> Dialect:
    dialects = _dialects()
    if name not in dialects:
        raise BadInput(f"unknown script dialect {name!r}", expected="one of " + ", ".join(dialects))
    return dialects[name]


def dialect_for(path: str, name: str | None = None) -> Dialect:
    """The dialect called `name`, else the one the file extension names (`.apdu` when none does)."""
    if name is not None:
        return dialect_named(name)
    ext = os.path.splitext(path)[1].lower()
    return next((d for d in _dialects().values() if ext in d.extensions), dialect_named("apdu"))


def reader(dialect: Dialect) -> Callable[[str, str], Script]:
    if dialect.read is None:
        raise UnsupportedError(f"mcim cannot read {dialect.name} scripts",
                               expected="one of " + ", ".join(dialect_names(readable=True)))
    return dialect.read


def writer(dialect: Dialect) -> Callable[[LoadedScript], Conversion]:
    if dialect.write is None:
        raise UnsupportedError(f"mcim cannot write {dialect.name} scripts",
                               expected="one of " + ", ".join(dialect_names(writable=True)))
    return dialect.write
