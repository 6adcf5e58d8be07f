"""Differential runs: the same `.apdu` script on two targets, and every command whose response differs.

Responses are compared as the script sees them (after the T=0 layer and any secure-channel or OTA wrapping), so
procedure bytes, GET RESPONSE and the wrapping's own exchanges never count; a command that one target did not
execute (its run stopped earlier) differs from any response.  ATRs are not compared.

A suite declares the differences it allows, with the reason, by a directive that `mcim run` ignores:

    .allow-difference sw|data|response "reason" [scope=next|step|script]

`sw` allows the status words to differ, `data` the response data, `response` both.  The scope is the next
command (the default), every command up to the end of the current step, or every command of the run.  A
difference is allowed when the declarations that cover its command allow every part that differs; a command one
target did not execute is never allowed.  A report passes when no difference is undeclared and every
expectation held on both targets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import BadInput, McimError
from .runner import RunResult, run_script
from .runner.result import Kind, Outcome, Status
from .script.ast import Command, Directive, Section, Step
from .script.directives import DirectiveContext, check_arity, register_directive
from .script.loader import LoadedScript
from .transport.base import Transport

DIRECTIVE = "allow-difference"
USAGE = '.allow-difference sw|data|response "reason" [scope=next|step|script]'


class Part(StrEnum):
    """A part of a response that may differ."""

    SW = "sw"
    DATA = "data"


PARTS_BY_WORD: Mapping[str, frozenset[Part]] = {
    "sw": frozenset({Part.SW}), "data": frozenset({Part.DATA}), "response": frozenset(Part),
}


class Scope(StrEnum):
    NEXT = "next"
    STEP = "step"
    SCRIPT = "script"


@dataclass(frozen=True)
class Allowance:
    """One `.allow-difference` declaration."""

    parts: frozenset[Part]
    reason: str
    scope: Scope
    where: str


def parse_allowance(directive: Directive) -> Allowance:
    check_arity(directive, positional=2, options=("scope",), usage=USAGE)
    word, reason = directive.positional
    where = str(directive.pos)
    if word not in PARTS_BY_WORD:
        raise BadInput(f"unknown part {word!r}", where=where, expected=USAGE)
    if not reason.strip():
        raise BadInput("empty reason", where=where, expected="why the targets may legitimately differ")
    scope = directive.options.get("scope", Scope.NEXT)
    if scope not in set(Scope):
        raise BadInput(f"unknown scope {scope!r}", where=where, expected=USAGE)
    return Allowance(PARTS_BY_WORD[word], reason, Scope(scope), where)


class AllowDifference:
    """`.allow-difference`: a declaration read by `mcim diff` before the runs; running it does nothing."""

    def check(self, directive: Directive) -> None:
        parse_allowance(directive)

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        """A run on one card has no difference to allow."""


register_directive(DIRECTIVE, AllowDifference())


def declared_allowances(loaded: LoadedScript) -> dict[str, tuple[Allowance, ...]]:
    """The allowances that cover each command, by the command's position (file:line:column)."""
    everywhere: list[Allowance] = []
    step: list[Allowance] = []
    waiting: list[Allowance] = []
    covered: dict[str, list[Allowance]] = {}
    for statement, _script in loaded.walk():
        if isinstance(statement, (Step, Section)):
            step = []
        elif isinstance(statement, Directive) and statement.name == DIRECTIVE:
            allowance = parse_allowance(statement)
            {Scope.NEXT: waiting, Scope.STEP: step, Scope.SCRIPT: everywhere}[allowance.scope].append(allowance)
        elif isinstance(statement, Command):
            covered.setdefault(str(statement.pos), []).extend([*step, *waiting])
            waiting = []
    if waiting:
        raise BadInput(".allow-difference with no command after it", where=waiting[0].where,
                       expected="a command for it to apply to, or scope=step|script")
    return {where: tuple(everywhere + found) for where, found in covered.items()}


@dataclass(frozen=True)
class Difference:
    """A command whose responses differ: `responses[i]` is target i's (hex, redacted), None if not executed."""

    where: str
    step: str
    command: str | None
    responses: tuple[str | None, str | None]
    parts: frozenset[Part]
    allowances: tuple[Allowance, ...] = ()

    @property
    def executed_by_both(self) -> bool:
        return None not in self.responses

    @property
    def allowed(self) -> bool:
        granted = frozenset(part for allowance in self.allowances for part in allowance.parts)
        return self.executed_by_both and self.parts <= granted


@dataclass(frozen=True)
class TargetRun:
    name: str
    result: RunResult


@dataclass(frozen=True)
class DiffReport:
    script: str
    runs: tuple[TargetRun, TargetRun]
    compared: int
    differences: tuple[Difference, ...] = field(default=())

    @property
    def undeclared(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if not d.allowed)

    @property
    def allowed(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if d.allowed)

    @property
    def error(self) -> McimError | None:
        """What stopped one of the runs, if it was not an expectation (the first target's first)."""
        return next((run.result.error for run in self.runs if run.result.error is not None), None)

    @property
    def passed(self) -> bool:
        return not self.undeclared and all(run.result.passed for run in self.runs)

    @property
    def exit_code(self) -> int:
        """0 passed, 1 an undeclared difference or a failed expectation, else the code of what stopped a run."""
        if self.error is not None:
            return self.error.exit_code
        return 0 if self.passed else 1


def run_diff(loaded: LoadedScript, targets: Sequence[tuple[str, Callable[[], Transport]]],
             **run_options: Any) -> DiffReport:
    """Run `loaded` on each of two targets in turn (`(name, open)`: each transport is opened just before its run
    and closed after it) and compare the responses.  `run_options` go to `mcim.runner.run_script`."""
    if len(targets) != 2:
        raise BadInput(f"{len(targets)} target(s)", where="mcim diff", expected="exactly two targets")
    allowances = declared_allowances(loaded)
    runs = []
    for name, open_transport in targets:
        transport = open_transport()
        try:
            runs.append(TargetRun(name, run_script(loaded, transport, **run_options)))
        finally:
            transport.close()
    return compare_runs(loaded.root.source, (runs[0], runs[1]), allowances)


def compare_runs(script: str, runs: tuple[TargetRun, TargetRun],
                 allowances: Mapping[str, tuple[Allowance, ...]]) -> DiffReport:
    """The report of two runs of the same script: every command paired by its position and occurrence."""
    first, second = (dict(_commands(run.result)) for run in runs)
    differences = []
    in_order = first | {key: entry for key, entry in second.items() if key not in first}
    for key, (step, outcome) in in_order.items():
        responses = (_response(first.get(key)), _response(second.get(key)))
        parts = _differing_parts(*responses)
        if parts:
            differences.append(Difference(key[0], step, outcome.command, responses, parts,
                                          allowances.get(key[0], ())))
    return DiffReport(script, runs, len(first.keys() | second.keys()), tuple(differences))


def _commands(result: RunResult) -> Iterator[tuple[tuple[str, int], tuple[str, Outcome]]]:
    """((where, occurrence), (step title, outcome)) for each command the run reached."""
    seen: Counter[str] = Counter()
    for step in result.steps:
        for outcome in step.outcomes:
            if outcome.kind is Kind.COMMAND:
                seen[outcome.where] += 1
                yield (outcome.where, seen[outcome.where]), (step.name, outcome)


def _response(entry: tuple[str, Outcome] | None) -> str | None:
    return None if entry is None else entry[1].response


def _differing_parts(a: str | None, b: str | None) -> frozenset[Part]:
    if a == b:
        return frozenset()
    if a is None or b is None:
        return frozenset(Part)
    parts = {Part.SW} if a[-4:] != b[-4:] else set()
    return frozenset(parts | ({Part.DATA} if a[:-4] != b[:-4] else set()))


# -- reports ---------------------------------------------------------------------------------------------------


def report_to_json(report: DiffReport) -> dict[str, Any]:
    names = [run.name for run in report.runs]
    return {
        "script": report.script,
        "targets": names,
        "passed": report.passed,
        "exit_code": report.exit_code,
        "compared": report.compared,
        "counts": {"differences": len(report.differences), "allowed": len(report.allowed),
                   "undeclared": len(report.undeclared)},
        "runs": [_run_json(run) for run in report.runs],
        "differences": [_difference_json(d, names) for d in report.differences],
    }


def _run_json(run: TargetRun) -> dict[str, Any]:
    error = run.result.error
    return {"target": run.name, "passed": run.result.passed, "exit_code": run.result.exit_code,
            "failures": [{"where": o.where, "status": o.status.value, "message": o.message,
                          "expected": o.expected, "got": o.got}
                         for o in run.result.outcomes if o.status in (Status.FAILED, Status.ERROR)],
            "error": None if error is None else {"type": type(error).__name__, "message": error.message,
                                                 "where": error.where}}


def _difference_json(d: Difference, names: list[str]) -> dict[str, Any]:
    return {"where": d.where, "step": d.step, "command": d.command,
            "responses": dict(zip(names, d.responses, strict=True)), "differs": sorted(d.parts),
            "allowed": d.allowed,
            "declarations": [{"allows": sorted(a.parts), "reason": a.reason, "where": a.where}
                             for a in d.allowances]}


def report_lines(report: DiffReport) -> list[str]:
    """The report as plain text lines (the console output of `mcim diff`)."""
    names = [run.name for run in report.runs]
    width = max(len(name) for name in [*names, "command"]) + 1
    lines = []
    for run in report.runs:
        for outcome in run.result.outcomes:
            if outcome.status in (Status.FAILED, Status.ERROR):
                lines.append(f"FAILED on {run.name}: {outcome.where}: {outcome.message}")
        if run.result.error is not None:
            lines.append(f"STOPPED on {run.name}: {run.result.error}")
    for d in report.differences:
        verdict = "allowed" if d.allowed else "DIFFERS"
        lines.append(f"{verdict} {d.where} [{d.step}] ({', '.join(sorted(d.parts))})")
        lines.extend(f"    {a.reason} ({', '.join(sorted(a.parts))}, {a.where})" for a in d.allowances)
        lines.append(f"    {'command:':{width}} {d.command}")
        lines.extend(f"    {name + ':':{width}} {response if response is not None else '(not executed)'}"
                     for name, response in zip(names, d.responses, strict=True))
    verdict = "PASSED" if report.passed else "FAILED"
    lines.append(f"{verdict}: {names[0]} vs {names[1]}: {report.compared} command(s) compared, "
                 f"{len(report.differences)} differ ({len(report.allowed)} allowed, "
                 f"{len(report.undeclared)} undeclared)")
    return lines
