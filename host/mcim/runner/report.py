"""Reports of a run: JSON and JUnit XML (the console report is the command line's: mcim.cli.console).

JUnit: one <testsuite> per section (the script itself when there are none), one <testcase> per step; a step's
failed expectations become one <failure> listing each with where, command, expected and got; an error that
stopped the run is an <error>; steps after the stop are <skipped/>.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from .result import Outcome, RunResult, Status, StepResult


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# -- JSON --------------------------------------------------------------------------------------------------


def result_to_json(result: RunResult) -> dict[str, Any]:
    error = result.error
    return {
        "script": result.script,
        "passed": result.passed,
        "exit_code": result.exit_code,
        "duration_ms": _ms(result.duration),
        "counts": {
            "steps": {status.value: sum(1 for s in result.steps if s.status == status) for status in Status},
            "outcomes": {status.value: result.count(status) for status in (Status.PASSED, Status.FAILED,
                                                                            Status.ERROR)},
            "exchanges": len(result.trace),
        },
        "error": None if error is None else {"type": type(error).__name__, "message": error.message,
                                             "where": error.where, "expected": error.expected},
        "steps": [_step_json(s) for s in result.steps],
    }


def _step_json(step: StepResult) -> dict[str, Any]:
    return {"name": step.name, "section": step.section, "where": step.where, "status": step.status.value,
            "duration_ms": _ms(step.duration), "messages": list(step.messages),
            "outcomes": [_outcome_json(o) for o in step.outcomes]}


def _outcome_json(o: Outcome) -> dict[str, Any]:
    return {"kind": o.kind.value, "where": o.where, "status": o.status.value, "command": o.command,
            "response": o.response, "expected": o.expected, "got": o.got, "message": o.message,
            "ms": _ms(o.duration), "captures": dict(o.captures)}


# -- JUnit XML ---------------------------------------------------------------------------------------------


def junit_xml(result: RunResult) -> str:
    script = os.path.basename(result.script)
    root = ET.Element("testsuites", name=script)
    suites: dict[str, list[StepResult]] = {}
    for step in result.steps:
        suites.setdefault(step.section or script, []).append(step)
    for name, steps in suites.items():
        suite = ET.SubElement(root, "testsuite", name=name)
        for step in steps:
            _testcase(suite, step, script)
        _count(suite, steps)
    _count(root, result.steps)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _count(element: ET.Element, steps: Iterable[StepResult]) -> None:
    steps = list(steps)
    element.set("tests", str(len(steps)))
    for attribute, status in (("failures", Status.FAILED), ("errors", Status.ERROR),
                              ("skipped", Status.SKIPPED)):
        element.set(attribute, str(sum(1 for s in steps if s.status == status)))
    element.set("time", f"{sum(s.duration for s in steps):.6f}")


def _testcase(suite: ET.Element, step: StepResult, script: str) -> None:
    case = ET.SubElement(suite, "testcase", name=step.name, classname=script if step.section is None
                         else f"{script}.{step.section}", time=f"{step.duration:.6f}")
    if step.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message="not run: the run stopped before this step")
    elif step.failures:
        first = step.failures[0]
        tag = "error" if step.status is Status.ERROR else "failure"
        element = ET.SubElement(case, tag, message=first.message or first.status.value, type=first.status.value)
        element.text = "\n\n".join(_failure_text(o) for o in step.failures)
    if step.messages:
        ET.SubElement(case, "system-out").text = "\n".join(step.messages)


def _failure_text(o: Outcome) -> str:
    lines = [f"{o.where}: {o.message}"]
    for label, value in (("command", o.command), ("response", o.response), ("expected", o.expected),
                         ("got", o.got)):
        if value is not None:
            lines.append(f"{label}: {value}")
    return "\n".join(lines)
