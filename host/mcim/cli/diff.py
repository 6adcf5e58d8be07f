"""`mcim diff SCRIPT --target A --target B`: the same script on two targets, every response that differs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import click

from ..diff import report_lines, report_to_json, run_diff
from ..errors import BadInput
from ..fileio import write_atomic
from ..script.loader import check_file
from ..targets import TARGETS, open_target
from ..transport.base import Transport
from .common import emit, json_option


def _sides(targets: tuple[str, ...], reader: str | None,
           timeout: float) -> list[tuple[str, Callable[[], Transport]]]:
    """The two targets: `--reader` is the vpcd slot of a jcardsim target, or else a target of its own."""
    jcardsim = [spec for spec in targets if spec.partition(":")[0] == "jcardsim"]
    if reader is not None and len(jcardsim) > 1:
        raise BadInput("--reader with two jcardsim targets", where="--reader",
                       expected="one jcardsim target to put in that reader")
    def opener(spec: str | None, slot: str | None) -> Callable[[], Transport]:
        return lambda: open_target(spec, slot, timeout=timeout)

    sides = [(spec, opener(spec, reader if spec in jcardsim else None)) for spec in targets]
    if reader is not None and not jcardsim:
        sides.append((f"reader {reader}", opener(None, reader)))
    if len(sides) != 2:
        raise BadInput(f"{len(sides)} target(s)", where="--target",
                       expected=f"two targets, each one of {TARGETS}")
    if sides[0][0] == sides[1][0]:
        sides = [(f"{name} (#{i})", opener) for i, (name, opener) in enumerate(sides, 1)]
    return sides


@click.command("diff")
@click.argument("script", type=click.Path(dir_okay=False))
@click.option("--target", "targets", multiple=True, metavar="SPEC",
              help=f"A target to run on (twice, or once with --reader): {TARGETS}.")
@click.option("--reader", metavar="NAME|INDEX",
              help="PC/SC reader: the vpcd slot of a jcardsim target, else the second target.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="PC/SC response timeout, seconds.")
@click.option("--report", "report_path", metavar="FILE.json", help="Also write the report as JSON.")
@json_option
def diff(script: str, targets: tuple[str, ...], reader: str | None, timeout: float, report_path: str | None,
         as_json: bool) -> None:
    """Run SCRIPT on two targets and report every command whose response (SW, data) differs.

    Differences the script declares with `.allow-difference sw|data|response "reason"` are allowed; exit 1
    when another difference exists or an expectation failed on either target.
    """
    if report_path is not None and not report_path.endswith(".json"):
        raise BadInput(f"{report_path}", where="--report", expected="a .json file")
    sides = _sides(targets, reader, timeout)
    loaded, _ = check_file(script)
    report = run_diff(loaded, sides)
    document = report_to_json(report)
    if report_path is not None:
        write_atomic(report_path, json.dumps(document, indent=2) + "\n")
    emit(document, as_json, human=lambda _: "\n".join(report_lines(report)))
    sys.exit(report.exit_code)


def register(root: click.Group) -> None:
    root.add_command(diff)
