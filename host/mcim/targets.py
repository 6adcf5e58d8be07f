"""Where a command talks to a card: one vocabulary (`--reader NAME|INDEX` or `--target SPEC`) for every command.

- `--reader NAME|INDEX`: a PC/SC reader (pyscard is imported only then).
- `--target replay:TRACE`: a recorded trace played back (mcim.transport.replay).
- `--target refcard[:PROFILE]`: the in-process reference UICC, the default when neither is given.  It is reached
  through `mcim.refcard.open_transport(profile: str | None) -> Transport`.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import BadInput
from .transport.base import Transport

TARGETS = "replay:TRACE, refcard[:PROFILE], or --reader NAME|INDEX"


def open_target(spec: str | None, reader: str | None = None, **opts: Any) -> Transport:
    """Open the transport `spec`/`reader` name; `opts` go to the PC/SC transport (timeout, protocol)."""
    if spec is not None and reader is not None:
        raise BadInput("give --reader or --target, not both", where="--target", expected=TARGETS)
    if reader is not None:
        return _pcsc(reader, **opts)
    kind, _, argument = (spec or "refcard").partition(":")
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
