"""`mcim demo`: the main job, the subcase 2b story end to end."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from .common import emit, json_option


@click.command("demo")
@click.option("--reader", help="Run on a PC/SC reader (e.g. the reference UICC served by `mcim card serve`).")
@click.option("--profile", default="factory", show_default=True,
              help="Profile of the built-in reference UICC: a name in applet-spec/profiles or a YAML file.")
@click.option("--work", type=click.Path(file_okay=False),
              help="Where the scripts, demo keys, counters and report go (default: a new temporary directory).")
@json_option
def demo(reader: str | None, profile: str, work: str | None, as_json: bool) -> None:
    """The TR 33.812 subcase 2b story: bootstrap, registration, MCIM download, validation, change of
    subscription (authorised and refused), replay refused, key and algorithm upgrades."""
    from ..workflows.demo import STEP_NAMES, probe, read_iccid, run_demo

    folder = Path(work) if work else Path(tempfile.mkdtemp(prefix="mcim-demo-"))
    if reader:
        from ..transport.pcsc import PcscTransport

        transport = PcscTransport(reader)
        target, snapshot = f"pcsc:{transport.reader}", (lambda: probe(transport))
    else:
        from mcim.refcard import open_card
        from mcim.transport.inprocess import InProcessTransport

        card = open_card(profile)
        transport, target, snapshot = InProcessTransport(card), "refcard (in-process)", card.to_state
    show = None if as_json else _printer()
    try:
        report = run_demo(transport, folder, read_iccid(transport), target, snapshot=snapshot, progress=show)
    finally:
        transport.close()
    if as_json:
        emit(report.to_json(), True)
    else:
        missing = [n for n in STEP_NAMES if n not in {s.name for s in report.steps}]
        click.echo(("\nall steps passed" if report.ok else f"\nFAILED; not run: {', '.join(missing) or '-'}")
                   + f"  (scripts, demo keys and report in {folder})")
    raise SystemExit(0 if report.ok else 1)


def _printer():  # type: ignore[no-untyped-def]
    def show(step) -> None:  # type: ignore[no-untyped-def]
        mark = click.style("ok  ", fg="green") if step.ok else click.style("FAIL", fg="red")
        click.echo(f"{mark} {step.name:<28} {step.seconds:7.3f} s  {step.detail}")
    return show


def register(root: click.Group) -> None:
    root.add_command(demo)
