"""The reference UICC: a Python card that behaves like a well-made commercial UICC with a USIM
(ETSI TS 102 221 / TS 102 222, 3GPP TS 31.102).  Drive it with `process(command) -> response`."""

from __future__ import annotations

from pathlib import Path

from mcim.transport.inprocess import InProcessTransport

from .card import ATR, RefCard
from .profile import DEFAULT_PROFILE, card_from_profile, load_profile, validate_profile
from .usim_app import UsimApplication, UsimParams


def open_card(spec: str | Path | None = None) -> RefCard:
    """The default profile (None), a profile YAML, or a state file (.json, which then receives changes)."""
    if spec is not None and Path(spec).suffix == ".json":
        return RefCard.load(spec)
    return card_from_profile(DEFAULT_PROFILE if spec is None else spec)


def open_transport(profile: str | None = None) -> InProcessTransport:
    """`--target refcard[:PROFILE]` (mcim.targets): the card of `open_card`, in process."""
    return InProcessTransport(open_card(profile))


__all__ = ["ATR", "DEFAULT_PROFILE", "RefCard", "UsimApplication", "UsimParams", "card_from_profile",
           "load_profile", "open_card", "open_transport", "validate_profile"]
