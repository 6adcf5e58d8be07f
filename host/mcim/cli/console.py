"""The console report of a script run (rich: coloured on a terminal, plain otherwise)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from ..runner.result import Outcome, RunResult, Status

MARKS = {Status.PASSED: "[green]PASS[/]", Status.FAILED: "[bold red]FAIL[/]", Status.ERROR: "[bold red]ERROR[/]",
         Status.SKIPPED: "[yellow]SKIP[/]"}


def print_console(result: RunResult, console: Console) -> None:
    for step in result.steps:
        title = escape(f"{step.section} / {step.name}" if step.section and step.section != step.name
                       else step.name)
        commands = sum(1 for o in step.outcomes if o.kind == "command")
        detail = "" if step.skipped else f"  [dim]{commands} command(s), {_ms(step.duration):g} ms[/]"
        console.print(f"{MARKS[step.status]} {title}{detail}")
        for message in step.messages:
            console.print(f"     {escape(message)}")
        for outcome in step.outcomes:
            _print_outcome(outcome, console)
    console.print(_summary(result))


def _print_outcome(o: Outcome, console: Console) -> None:
    for name, value in o.captures:
        console.print(f"     [cyan]{escape(name)}[/] = {escape(value)}")
    if o.status not in (Status.FAILED, Status.ERROR):
        return
    console.print(f"     [red]{escape(o.where)}: {escape(o.message or o.status)}[/]")
    for label, text in (("command", o.command), ("response", o.response), ("expected", o.expected),
                        ("got", o.got)):
        if text is not None:
            console.print(f"       {label + ':':9} {escape(text)}")


def _summary(result: RunResult) -> str:
    steps = [s for s in result.steps if not s.skipped]
    failed = sum(1 for s in steps if s.status in (Status.FAILED, Status.ERROR))
    skipped = len(result.steps) - len(steps)
    commands = sum(1 for o in result.outcomes if o.kind == "command")
    text = (f"{len(steps) - failed} of {len(result.steps)} step(s) passed, {commands} command(s), "
            f"{len(result.trace)} exchange(s) in {_ms(result.duration):g} ms")
    if skipped:
        text += f", {skipped} skipped"
    verdict = "[bold green]PASSED[/]" if result.passed else "[bold red]FAILED[/]"
    return f"{verdict}: {text}"


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
