"""Where a command talks to a card: one vocabulary (`--reader NAME|INDEX` or `--target SPEC`) for every command.

- `--reader NAME|INDEX`: a PC/SC reader (pyscard is imported only then).
- `--target replay:TRACE`: a recorded trace played back (mcim.transport.replay).
- `--target refcard[:PROFILE]`: the in-process reference UICC, the default when neither is given.  It is reached
  through `mcim.refcard.open_transport(profile: str | None) -> Transport`.
- `--target jcardsim[:port=N][,profile=FILE]`: mcim's Java Card applets on jCardSim, put into a vpcd slot of a
  running pcscd (vsmartcard-vpcd): the slot `--reader NAME` names, else the first vpcd slot without a card
  (`port=` picks it by its vpcd port, or gives the port of a `--reader` that /etc/reader.conf.d does not
  describe).  The MCIM is personalised at start with the identity of the reference UICC profile's USIM (the
  default profile: TEST VALUES only, its K/OPc are public), under personalisation keys drawn for this run.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import BadInput
from .transport.base import Transport

TARGETS = "replay:TRACE, refcard[:PROFILE], jcardsim[:port=N][,profile=FILE], or --reader NAME|INDEX"
JCARDSIM_OPTIONS = ("port", "profile")


def open_target(spec: str | None, reader: str | None = None, **opts: Any) -> Transport:
    """Open the transport `spec`/`reader` name; `opts` go to the PC/SC transport (timeout, protocol).
    `--reader` goes with `--target jcardsim` (the vpcd slot to use), with no other target."""
    kind, _, argument = (spec or "refcard").partition(":")
    if kind == "jcardsim":
        return _jcardsim(argument, reader, **opts)
    if spec is not None and reader is not None:
        raise BadInput("give --reader or --target, not both", where="--target", expected=TARGETS)
    if reader is not None:
        return _pcsc(reader, **opts)
    if kind == "replay":
        if not argument:
            raise BadInput("replay needs a trace file", where="--target", expected="replay:TRACE.jsonl")
        from .transport.replay import ReplayTransport

        return ReplayTransport.from_file(argument)
    if kind == "refcard":
        return _refcard(argument or None)
    raise BadInput(f"unknown target {spec!r}", where="--target", expected=TARGETS)


def _pcsc(reader: str, **opts: Any) -> Transport:
    from .transport.pcsc import PcscTransport

    return PcscTransport(int(reader) if reader.isdigit() else reader, **opts)


def _refcard(profile: str | None) -> Transport:
    try:
        factory = getattr(importlib.import_module("mcim.refcard"), "open_transport", None)
    except ImportError:
        factory = None
    if factory is None:
        raise BadInput("the reference UICC target is not available yet", where="--target refcard",
                       expected="replay:TRACE or --reader NAME|INDEX")
    transport: Transport = factory(profile)
    return transport


def _jcardsim(argument: str, reader: str | None, **opts: Any) -> Transport:
    from .jcardsim_target import open_jcardsim

    options = _options(argument, "--target jcardsim", JCARDSIM_OPTIONS)
    port = options.get("port")
    if port is not None and not port.isdecimal():
        raise BadInput(f"port={port}", where="--target jcardsim", expected="port=N, a vpcd slot's TCP port")
    return open_jcardsim(reader, port=None if port is None else int(port), profile=options.get("profile"),
                         timeout=opts.get("timeout", 5.0))


def _options(argument: str, where: str, known: tuple[str, ...]) -> dict[str, str]:
    """`key=value,key=value` target options."""
    options: dict[str, str] = {}
    for item in filter(None, argument.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in known or not value:
            raise BadInput(f"{item!r}", where=where, expected=", ".join(f"{k}=..." for k in known))
        options[key] = value
    return options
