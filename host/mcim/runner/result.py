"""What a run returns: typed, with every hex string already redacted (unless the run was asked for an unsafe
trace), so results can be printed, stored and reported as they are."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..errors import McimError


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # an expectation or an integrity check did not hold (exit 1)
    ERROR = "error"  # the run could not go on: bad input, card unreachable (exit 2 or 3)
    SKIPPED = "skipped"  # not run because the run had stopped


class Kind(StrEnum):
    COMMAND = "command"
    RESET = "reset"
    CAPTURE = "capture"
    DIRECTIVE = "directive"
    STATEMENT = "statement"  # set, include: only ever reported when they fail


@dataclass(frozen=True)
class Outcome:
    """One thing the run did and how it went."""

    kind: Kind
    where: str
    status: Status
    command: str | None = None  # hex as sent by the script (before any wrapping); ** = redacted byte
    response: str | None = None  # hex (data || SW1 SW2) as the script saw it, or the ATR of a reset
    expected: str | None = None
    got: str | None = None
    message: str | None = None
    duration: float = 0.0  # seconds
    captures: tuple[tuple[str, str], ...] = ()  # (name, hex or "(secret)")


@dataclass(frozen=True)
class StepResult:
    name: str
    section: str | None
    where: str
    outcomes: tuple[Outcome, ...]
    messages: tuple[str, ...] = ()
    skipped: bool = False

    @property
    def status(self) -> Status:
        if self.skipped:
            return Status.SKIPPED
        states = {o.status for o in self.outcomes}
        for status in (Status.ERROR, Status.FAILED):
            if status in states:
                return status
        return Status.PASSED

    @property
    def duration(self) -> float:
        return sum(o.duration for o in self.outcomes)

    @property
    def failures(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status in (Status.FAILED, Status.ERROR))


@dataclass(frozen=True)
class TraceEntry:
    """One exchange on the card link (below any secure-channel or OTA wrapping), or one reset."""

    start: float  # seconds since the run began
    duration: float
    where: str | None
    command: str | None = None
    response: str | None = None
    atr: str | None = None

    def to_json(self) -> dict[str, object]:
        fields: dict[str, object] = {"command": self.command, "response": self.response} if self.atr is None \
            else {"atr": self.atr}
        fields.update(t_ms=round(self.start * 1000, 3), ms=round(self.duration * 1000, 3), where=self.where)
        return fields


@dataclass(frozen=True)
class RunResult:
    script: str
    steps: tuple[StepResult, ...]
    trace: tuple[TraceEntry, ...]
    duration: float
    error: McimError | None = None  # what stopped the run, if it was not an expectation

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        return tuple(o for s in self.steps for o in s.outcomes)

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def passed(self) -> bool:
        return self.error is None and not any(o.status in (Status.FAILED, Status.ERROR) for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 success, 1 an expectation failed, else the stopping error's own code (2 bad input, 3 transport)."""
        if self.error is not None:
            return self.error.exit_code
        return 0 if self.passed else 1
