"""Card identities in a batch: ICCID (ITU-T E.118), EID (GSMA SGP.02 §2.2.2), serial; streamed from CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..usim import encode_iccid

REQUIRED_COLUMNS = ("iccid",)


def luhn_ok(digits: str) -> bool:
    """ITU-T E.118 §4.5: the last ICCID digit is a Luhn check digit over the others."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def eid_ok(eid: str) -> bool:
    """GSMA SGP.02 §2.2.2: the 32-digit EID read as a number is 1 modulo 97."""
    return len(eid) == 32 and eid.isdigit() and int(eid) % 97 == 1


@dataclass(frozen=True, slots=True)
class CardIdentity:
    iccid: str
    eid: str = ""
    serial: str = ""

    @property
    def kdd(self) -> bytes:
        """Key diversification data: the 10-byte EF.ICCID encoding, which the card returns in INITIALIZE UPDATE."""
        return encode_iccid(self.iccid)

    def check(self, where: str) -> CardIdentity:
        if not (self.iccid.isdigit() and 18 <= len(self.iccid) <= 20):
            raise BadInput(f"ICCID {self.iccid!r}", where=where, expected="18 to 20 digits")
        if not luhn_ok(self.iccid):
            raise BadInput(f"ICCID {self.iccid} fails its Luhn check digit", where=where,
                           expected="a valid E.118 check digit")
        if self.eid and not eid_ok(self.eid):
            raise BadInput(f"EID {self.eid!r}", where=where, expected="32 digits, 1 modulo 97 (SGP.02)")
        return self


def read_batch(path: str | Path) -> Iterator[CardIdentity]:
    """Stream the cards of a batch CSV (columns iccid[,eid][,serial]); errors name file:line."""
    name = str(path)
    try:
        handle = open(path, newline="", encoding="utf-8")  # noqa: SIM115 - closed by the generator
    except OSError as exc:
        raise BadInput(f"cannot read batch file ({exc.strerror})", where=name) from None
    with handle:
        reader = csv.DictReader(line for line in handle if line.strip() and not line.lstrip().startswith("#"))
        columns = [c.strip().lower() for c in reader.fieldnames or []]
        if any(c not in columns for c in REQUIRED_COLUMNS):
            raise BadInput(f"columns {columns}", where=f"{name}:1", expected="a header with iccid[,eid][,serial]")
        seen: set[str] = set()
        for row in reader:
            values = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            where = f"{name}:{reader.line_num}"
            card = CardIdentity(values.get("iccid", ""), values.get("eid", ""), values.get("serial", "")).check(where)
            if card.iccid in seen:
                raise BadInput(f"ICCID {card.iccid} appears twice", where=where, expected="one row per card")
            seen.add(card.iccid)
            yield card


def make_iccid(prefix: str, number: int, length: int = 19) -> str:
    """An ICCID from an issuer prefix and a serial number, with its Luhn check digit (for test batches)."""
    body = f"{prefix}{number:0{length - 1 - len(prefix)}d}"
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable: one check digit always fits")
