"""`mcim card serve`: the reference UICC in a vsmartcard-vpcd slot, so pcscd and any PC/SC tool see it."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ..errors import BadInput
from ..transport.vpcd import VPCD_HOST, VPCD_PORT, serve_vpcd


def _endpoint(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadInput(f"{value!r}", where="--vpcd", expected="HOST:PORT, e.g. 127.0.0.1:35963")
    return host, int(port)


@click.group("card")
def card() -> None:
    """The built-in reference UICC."""


@card.command("serve")
@click.option("--vpcd", "endpoint", default=f"{VPCD_HOST}:{VPCD_PORT}", show_default=True,
              help="vpcd slot to connect to (vsmartcard-vpcd listens on 35963 for slot 0, 35964 for slot 1).")
@click.option("--profile", help="Card profile: a YAML file or a name in applet-spec/profiles (default, factory).")
@click.option("--state", type=click.Path(dir_okay=False),
              help="State file: reused when it exists, written atomically after every command that changes the card.")
@click.option("-v", "--verbose", is_flag=True, help="Log connections and resets.")
def serve(endpoint: str, profile: str | None, state: str | None, verbose: bool) -> None:
    """Serve the reference UICC to pcscd through vsmartcard-vpcd until SIGTERM or Ctrl-C."""
    from mcim.refcard import RefCard, card_from_profile
    from mcim.refcard.profile import DEFAULT_PROFILE

    host, port = _endpoint(endpoint)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="mcim card: %(message)s")
    if state and Path(state).exists():
        if profile:
            raise BadInput("both a profile and an existing state file", where="--profile/--state",
                           expected="the state file alone (it already holds the whole card)")
        uicc = RefCard.load(state, state_path=state)
    else:
        uicc = card_from_profile(profile or DEFAULT_PROFILE, state_path=state)
        if state:
            uicc.save()
    click.echo(f"mcim card: reference UICC ICCID {uicc.iccid or '-'} on vpcd {host}:{port}"
               f"{f', state {state}' if state else ''}", err=True)
    serve_vpcd(uicc, host, port)


def register(root: click.Group) -> None:
    root.add_command(card)
