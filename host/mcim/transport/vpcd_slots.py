"""The vpcd slots of a running pcscd: which PC/SC readers are vsmartcard's virtual readers, the TCP port each
slot listens on for a virtual card, and whether a card is in it.  The jcardsim target puts jCardSim there.

Facts used:
- pcsc-lite reader.conf(5): an entry is FRIENDLYNAME "name", DEVICENAME, LIBPATH (and CHANNELID) lines, files in
  /etc/reader.conf.d on Debian; pcscd names each slot of an entry "<FRIENDLYNAME> <reader number, 2 hex> <slot
  number, 2 hex>".
- vsmartcard ifd-vpcd.c (IFDHCreateChannelByName, IFDHCreateChannel): the port is what follows ':' in DEVICENAME,
  read with strtoul(.., 0) (so 0x8C7B is hex), 35963 (0x8C7B, VPCDPORT) without one; slot n listens on port + n.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_READER_CONF = Path("/etc/reader.conf.d")
VPCD_DEFAULT_PORT = 0x8C7B  # vsmartcard vpcd.h VPCDPORT
VPCD_LIBRARY = "libifdvpcd"
_ENTRY_KEYS = ("FRIENDLYNAME", "DEVICENAME", "LIBPATH", "CHANNELID")
_SLOT_SUFFIX = re.compile(r" [0-9A-Fa-f]{2} ([0-9A-Fa-f]{2})$")


@dataclass(frozen=True)
class VpcdReader:
    """One reader.conf entry served by the vpcd driver: its friendly name and the port of its slot 0."""

    friendly_name: str
    port: int


@dataclass(frozen=True)
class VpcdSlot:
    reader: str  # the PC/SC reader name
    port: int


def parse_reader_conf(text: str) -> list[VpcdReader]:
    """The vpcd entries of one reader.conf file (other drivers' entries are left out)."""
    entries: list[dict[str, str]] = [{}]
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(None, 1)
        if len(words) != 2 or words[0] not in _ENTRY_KEYS:
            continue
        key, value = words[0], words[1].strip().strip('"')
        if key in entries[-1]:  # a keyword seen twice starts the next entry
            entries.append({})
        entries[-1][key] = value
    return [VpcdReader(entry["FRIENDLYNAME"], _device_port(entry["DEVICENAME"])) for entry in entries
            if VPCD_LIBRARY in entry.get("LIBPATH", "") and "FRIENDLYNAME" in entry and "DEVICENAME" in entry]


def _device_port(device: str) -> int:
    """The port in a vpcd DEVICENAME, read as C's strtoul(text, NULL, 0) does (decimal, 0x hex, 0 octal)."""
    _, colon, text = device.partition(":")
    if not colon:
        return VPCD_DEFAULT_PORT
    digits = re.match(r"\s*(0[xX][0-9A-Fa-f]+|0[0-7]*|[1-9][0-9]*)", text)
    if digits is None:
        return 0  # strtoul's answer to no digits; pcscd's vpcd then fails to listen, and so no reader shows it
    number = digits.group(1)
    base = 16 if number[:2].lower() == "0x" else 8 if number.startswith("0") and len(number) > 1 else 10
    return int(number, base)


def read_reader_conf(directory: Path = DEFAULT_READER_CONF) -> list[VpcdReader]:
    """The vpcd entries of every file in a reader.conf.d directory (none when it cannot be read)."""
    try:
        files = sorted(path for path in directory.iterdir() if path.is_file())
    except OSError:
        return []
    entries: list[VpcdReader] = []
    for path in files:
        try:
            entries += parse_reader_conf(path.read_text(errors="replace"))
        except OSError:
            continue
    return entries


def vpcd_slots(readers: Iterable[str], entries: Iterable[VpcdReader]) -> list[VpcdSlot]:
    """The PC/SC readers that are slots of the vpcd entries, with each slot's port."""
    entries = list(entries)
    slots = []
    for reader in readers:
        suffix = _SLOT_SUFFIX.search(reader)
        if suffix is None:
            continue
        for entry in entries:
            if reader[:suffix.start()] == entry.friendly_name:
                slots.append(VpcdSlot(reader, entry.port + int(suffix.group(1), 16)))
                break
    return slots


def card_present(reader: str) -> bool:
    """Whether pcscd sees a card in `reader` (SCardGetStatusChange with no wait)."""
    from .pcsc import _check, _scard  # the PC/SC binding and its error mapping, shared within the transports

    scard = _scard()
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _check(hresult, "connecting to the PC/SC service")
    try:
        hresult, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        _check(hresult, f"reader {reader!r}: reading its state")
        _name, state, _atr = states[0]
        return bool(state & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(context)

