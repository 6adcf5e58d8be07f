"""`mcim demo`: the main job, the subcase 2b story end to end."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import BadInput
from .common import emit, json_option

if TYPE_CHECKING:
    from ..transport.base import Transport
    from ..workflows.demo import DemoReport, StepOutcome

TARGETS = "refcard, or jcardsim[:port=N]"


@click.command("demo")
@click.option("--target", "target_spec", default="refcard", show_default=True, metavar="refcard|jcardsim[:port=N]",
              help="The built-in reference UICC, or mcim's Java Card applets on jCardSim in a vpcd slot of a running "
                   "pcscd (the slot --reader names, else the first without a card; port= gives its vpcd port).")
@click.option("--reader", help="Run on a PC/SC reader (e.g. the reference UICC served by `mcim card serve`); with "
                               "--target jcardsim, the vpcd slot jCardSim goes into.")
@click.option("--profile", default="factory", show_default=True,
              help="Profile of the built-in reference UICC: a name in applet-spec/profiles or a YAML file.")
@click.option("--work", type=click.Path(file_okay=False),
              help="Where the scripts, demo keys, counters and report go (default: a new temporary directory).")
@json_option
def demo(target_spec: str, reader: str | None, profile: str, work: str | None, as_json: bool) -> None:
    """The TR 33.812 subcase 2b story: bootstrap, registration, MCIM download, validation, change of
    subscription (authorised and refused), replay refused, key and algorithm upgrades.

    Exit 0 when the run is ok: every step reached and every step that ran passed.  On --target jcardsim the
    applets cannot do every step (no GP DELETE / PUT KEY, no 3DES): change_authorized, upgrade_keys and
    upgrade_algorithm are reported as skipped, with the reason ("skipped": true, "ok": false in --json), and do
    not fail the run."""
    kind, _, argument = target_spec.partition(":")
    folder = Path(work) if work else Path(tempfile.mkdtemp(prefix="mcim-demo-"))
    show = None if as_json else _printer()
    if kind == "jcardsim":
        from ..workflows.demo_jcardsim import run_jcardsim_demo

        report = run_jcardsim_demo(folder, reader=reader, port=_port(argument), progress=show)
    elif target_spec == "refcard":
        report = _on_refcard(reader, profile, folder, show)
    else:
        raise BadInput(f"unknown target {target_spec!r}", where="--target", expected=TARGETS)
    if as_json:
        emit(report.to_json(), True)
    else:
        click.echo(_summary(report) + f"  (scripts, demo keys and report in {folder})")
    raise SystemExit(0 if report.ok else 1)


def _port(argument: str) -> int | None:
    from ..targets import _options  # the one parser of `key=value` target options

    port = _options(argument, "--target jcardsim", ("port",)).get("port")
    if port is not None and not port.isdecimal():
        raise BadInput(f"port={port}", where="--target jcardsim", expected="port=N, a vpcd slot's TCP port")
    return None if port is None else int(port)


def _on_refcard(reader: str | None, profile: str, folder: Path,
                show: Callable[[StepOutcome], None] | None) -> DemoReport:
    from ..workflows.demo import probe, read_iccid, run_demo

    transport: Transport
    if reader:
        from ..transport.pcsc import PcscTransport

        transport = PcscTransport(reader)
        target, snapshot = f"pcsc:{transport.reader}", (lambda: probe(transport))
    else:
        from mcim.refcard import open_card
        from mcim.transport.inprocess import InProcessTransport

        card = open_card(profile)
        transport, target, snapshot = InProcessTransport(card), "refcard (in-process)", card.to_state
    try:
        return run_demo(transport, folder, read_iccid(transport), target, snapshot=snapshot, progress=show)
    finally:
        transport.close()


def _summary(report: DemoReport) -> str:
    from ..workflows.demo import STEP_NAMES

    skipped = [s.name for s in report.steps if s.skipped]
    if not report.ok:
        missing = [n for n in STEP_NAMES if n not in {s.name for s in report.steps}]
        return f"\nFAILED; not run: {', '.join(missing) or '-'}"
    return "\nall steps passed" if not skipped else \
        f"\nevery step that ran passed; skipped on this target: {', '.join(skipped)}"


def _printer():  # type: ignore[no-untyped-def]
    from ..workflows.demo import ROLES

    def show(step) -> None:  # type: ignore[no-untyped-def]
        if step.skipped:
            mark = click.style("skip", fg="yellow")
        else:
            mark = click.style("ok  ", fg="green") if step.ok else click.style("FAIL", fg="red")
        role = ROLES.get(step.name, "")
        click.echo(f"{mark} {step.name:<28} {role:<15} {step.seconds:6.3f} s  {step.detail}")
    return show


def register(root: click.Group) -> None:
    root.add_command(demo)
