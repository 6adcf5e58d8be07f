"""The typed form of an `.apdu` script (grammar: apdu/README.md).

Every node is a frozen dataclass.  Source positions take no part in equality, so that a script written out and
parsed again compares equal to the original (the writer normalises spacing and case).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Pos:
    """Where a node starts: file, 1-based line and column."""

    source: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


NOWHERE = Pos("<script>", 0, 0)


def _pos() -> Pos:
    return field(default=NOWHERE, compare=False, repr=False)  # type: ignore[return-value]


# -- byte templates: literal hex and ${NAME} references ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Var:
    """`${NAME}`: replaced by the variable's bytes when the script runs."""

    name: str
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Template:
    """Bytes with variable references; adjacent literal bytes are always merged (one canonical form)."""

    chunks: tuple[bytes | Var, ...]

    @classmethod
    def of(cls, *parts: bytes | Var) -> Template:
        merged: list[bytes | Var] = []
        for part in parts:
            if isinstance(part, bytes):
                if not part:
                    continue
                if merged and isinstance(merged[-1], bytes):
                    merged[-1] = merged[-1] + part
                    continue
            merged.append(part)
        return cls(tuple(merged))

    @property
    def literal(self) -> bytes | None:
        """The bytes when the template has no variables, else None."""
        if any(isinstance(c, Var) for c in self.chunks):
            return None
        return b"".join(c for c in self.chunks if isinstance(c, bytes))

    def variables(self) -> Iterator[Var]:
        return (c for c in self.chunks if isinstance(c, Var))


# -- expectations --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SwPattern:
    """A status word with nibble wildcards: `61XX` is value 0x6100, mask 0xFF00."""

    value: int
    mask: int = 0xFFFF

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", self.value & self.mask)

    def matches(self, sw: int) -> bool:
        return sw & self.mask == self.value

    def __str__(self) -> str:
        return _masked_hex(self.value.to_bytes(2, "big"), self.mask.to_bytes(2, "big"))


@dataclass(frozen=True, slots=True)
class Masked:
    """Response bytes with nibble wildcards (mask nibble 0 = any)."""

    value: bytes
    mask: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", bytes(v & m for v, m in zip(self.value, self.mask, strict=True)))

    def matches(self, data: bytes) -> bool:
        return len(data) == len(self.value) and all(
            d & m == v for d, m, v in zip(data, self.mask, self.value, strict=True))

    def __str__(self) -> str:
        return _masked_hex(self.value, self.mask)


@dataclass(frozen=True, slots=True)
class DataPattern:
    """`data 62 XX 82 ...`: bytes, wildcards and variables; `open_end` (a final `...`) accepts any tail."""

    items: tuple[Masked | Var, ...]
    open_end: bool = False

    @classmethod
    def of(cls, items: list[Masked | Var], open_end: bool = False) -> DataPattern:
        merged: list[Masked | Var] = []
        for item in items:
            if isinstance(item, Masked):
                if not item.value:
                    continue
                if merged and isinstance(merged[-1], Masked):
                    last = merged.pop()
                    assert isinstance(last, Masked)
                    item = Masked(last.value + item.value, last.mask + item.mask)
            merged.append(item)
        return cls(tuple(merged), open_end)


@dataclass(frozen=True, slots=True)
class DataRegex:
    """`data ~ /regex/`: searched (case-insensitively) in the response data as lowercase hex."""

    pattern: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _unescape_slashes(self.pattern))

    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Expect:
    """`=> SW|SW [data ...]`: the response must match one SW alternative and the data check, if any."""

    sw: tuple[SwPattern, ...]
    data: DataPattern | DataRegex | None = None

    def sw_text(self) -> str:
        return " | ".join(str(p) for p in self.sw)


# -- statements ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """One C-APDU line.  `raw` commands are sent as written, without checking they form a valid APDU."""

    apdu: Template
    expect: Expect | None = None
    raw: bool = False
    comment: str | None = None
    pos: Pos = _pos()


class CaptureSource(StrEnum):
    DATA = "data"
    SW = "sw"
    RESPONSE = "response"  # data || SW1 SW2


@dataclass(frozen=True, slots=True)
class Capture:
    """`capture [secret] NAME = data[2:4]`: bytes of the last response into a variable.

    `index` selects one byte; `start`/`stop` a slice (None = open end, start 0 is written as None); neither
    selects everything.  Offsets are non-negative byte counts.
    """

    name: str
    source: CaptureSource = CaptureSource.DATA
    index: int | None = None
    start: int | None = None
    stop: int | None = None
    secret: bool = False
    comment: str | None = None
    pos: Pos = _pos()

    def __post_init__(self) -> None:
        if self.start == 0:
            object.__setattr__(self, "start", None)

    def select(self, data: bytes) -> bytes | None:
        """The selected bytes, or None when the response is too short for the selection."""
        if self.index is not None:
            return data[self.index:self.index + 1] if self.index < len(data) else None
        start = self.start or 0
        stop = len(data) if self.stop is None else self.stop
        return data[start:stop] if start <= stop <= len(data) else None

    def selector_text(self) -> str:
        if self.index is not None:
            return f"{self.source}[{self.index}]"
        if self.start is None and self.stop is None:
            return str(self.source)
        start = "" if self.start is None else str(self.start)
        stop = "" if self.stop is None else str(self.stop)
        return f"{self.source}[{start}:{stop}]"


@dataclass(frozen=True, slots=True)
class EnvRef:
    """`env NAME`: a hex value read from the environment when the script runs."""

    name: str


@dataclass(frozen=True, slots=True)
class FileRef:
    """`file PATH`: a hex value read from a key file (relative to the script); always secret."""

    path: str


@dataclass(frozen=True, slots=True)
class SetVar:
    """`set [secret] NAME = VALUE`."""

    name: str
    value: Template | EnvRef | FileRef
    secret: bool = False
    comment: str | None = None
    pos: Pos = _pos()

    def __post_init__(self) -> None:
        if isinstance(self.value, FileRef):
            object.__setattr__(self, "secret", True)


@dataclass(frozen=True, slots=True)
class Include:
    path: str
    comment: str | None = None
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Directive:
    """`.name word key=value "quoted words" ...`: parsed generically, executed by a registered handler."""

    name: str
    args: tuple[str, ...] = ()
    comment: str | None = None
    pos: Pos = _pos()

    @property
    def positional(self) -> tuple[str, ...]:
        return tuple(a for a in self.args if not _is_option(a))

    @property
    def options(self) -> dict[str, str]:
        return dict(a.split("=", 1) for a in self.args if _is_option(a))

    def __str__(self) -> str:
        return " ".join((f".{self.name}", *self.args))


def _is_option(arg: str) -> bool:
    key, sep, _ = arg.partition("=")
    return bool(sep) and NAME_RE.fullmatch(key) is not None


@dataclass(frozen=True, slots=True)
class Step:
    """`step TITLE`: the commands that follow, up to the next step or section, form one test case."""

    title: str
    comment: str | None = None
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Section:
    """`section TITLE`: a group of steps (a JUnit test suite)."""

    title: str
    comment: str | None = None
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Comment:
    """A whole-line comment; `text` is everything after the `#`."""

    text: str
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Blank:
    pos: Pos = _pos()


Statement = Command | Capture | SetVar | Include | Directive | Step | Section | Comment | Blank


@dataclass(frozen=True, slots=True)
class Script:
    source: str
    statements: tuple[Statement, ...]


def _masked_hex(value: bytes, mask: bytes) -> str:
    out = []
    for v, m in zip(value, mask, strict=True):
        for shift in (4, 0):
            out.append(f"{(v >> shift) & 0xF:X}" if (m >> shift) & 0xF else "X")
    return "".join(out)


def _unescape_slashes(pattern: str) -> str:
    """`\\/` and `/` mean the same to `re`; keep the bare `/` so that equal regexes compare equal."""
    out: list[str] = []
    k = 0
    while k < len(pattern):
        if pattern[k] == "\\" and k + 1 < len(pattern):
            out.append("/" if pattern[k + 1] == "/" else pattern[k:k + 2])
            k += 2
            continue
        out.append(pattern[k])
        k += 1
    return "".join(out)
