"""What every writer to another tool's format needs: the script flattened (includes expanded in place), values of
`set` variables known before the run inlined, and a list of what could not be carried over."""

from __future__ import annotations

from collections.abc import Iterator

from ...apdu import CommandApdu
from ...errors import DecodeError
from ..ast import Capture, EnvRef, FileRef, Masked, SetVar, Statement, Template, Var
from ..loader import LoadedScript
from . import Conversion, UnsupportedConstructs


class Export:
    def __init__(self, dialect: str, loaded: LoadedScript) -> None:
        self.dialect = dialect
        self.loaded = loaded
        self.problems: list[tuple[str, str]] = []
        self.notes: list[str] = []
        self.values: dict[str, bytes] = {}
        self.dynamic: dict[str, str] = {}  # variable -> why its value is only known when the script runs

    def statements(self) -> Iterator[Statement]:
        """The statements in execution order; `set` and `capture` are tracked as they pass."""
        for statement, _ in self.loaded.walk():
            yield statement
            if isinstance(statement, SetVar):
                self._track(statement)
            elif isinstance(statement, Capture):
                self.values.pop(statement.name, None)
                self.dynamic[statement.name] = "captured from a response"

    def _track(self, statement: SetVar) -> None:
        self.values.pop(statement.name, None)
        if isinstance(statement.value, EnvRef):
            self.dynamic[statement.name] = "read from the environment when the script runs"
        elif isinstance(statement.value, FileRef):
            self.dynamic[statement.name] = "read from a key file when the script runs"
        else:
            value = self._known(statement.value)
            if value is None:
                self.dynamic[statement.name] = "computed from values only known when the script runs"
            else:
                self.values[statement.name] = value
                self.dynamic.pop(statement.name, None)

    def _known(self, template: Template) -> bytes | None:
        parts = [c if isinstance(c, bytes) else self.values.get(c.name) for c in template.chunks]
        return None if any(p is None for p in parts) else b"".join(p for p in parts if p is not None)

    def unsupported(self, statement: Statement | Var, what: str) -> None:
        self.problems.append((str(statement.pos), what))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def resolve(self, template: Template, statement: Statement) -> bytes | None:
        """The template's bytes with `set` values inlined; None (and a problem recorded) if a value is only
        known when the script runs."""
        value = self._known(template)
        if value is not None:
            if template.literal is None:
                self.note(f"variables defined by `set` were written out as their values ({self.dialect} "
                          "scripts have no variables)")
            return value
        for var in template.variables():
            if var.name not in self.values:
                why = self.dynamic.get(var.name, "not defined in the script (it would come from --var)")
                self.unsupported(statement, f"${{{var.name}}} is {why}; {self.dialect} cannot compute it")
        return None

    def pattern_bytes(self, items: tuple[Masked | Var, ...], statement: Statement) -> Masked | None:
        """A data pattern as one Masked run, variables inlined."""
        value, mask = b"", b""
        for item in items:
            if isinstance(item, Var):
                known = self.resolve(Template((item,)), statement)
                if known is None:
                    return None
                value, mask = value + known, mask + b"\xff" * len(known)
            else:
                value, mask = value + item.value, mask + item.mask
        return Masked(value, mask)

    def apdu(self, raw: bytes, statement: Statement) -> CommandApdu | None:
        try:
            return CommandApdu.parse(raw)
        except DecodeError as exc:
            self.unsupported(statement, f"{self.dialect} needs a well-formed APDU: {exc}")
            return None

    def result(self, lines: list[str]) -> Conversion:
        if self.problems:
            raise UnsupportedConstructs(self.dialect, self.problems)
        return Conversion("".join(line + "\n" for line in lines), tuple(self.notes))
