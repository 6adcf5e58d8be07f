"""PINs and access conditions (ETSI TS 102 221 §9): key references, retry counters, and the evaluation of the
access rules a file references in EF.ARR (tag 8B) or carries expanded (tag AB).

Key references (§9.5.1, Table 9.3): 01-08 global PINs (PIN1 = 01), 0A-0E ADM1-5, 11 universal PIN,
81-88 local (application) PINs (PIN2 = 81), 8A-8E ADM6-10.  Verification status is volatile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mcim.errors import DecodeError
from mcim.usim import (
    AccessRule,
    AllOf,
    Always,
    AnyOf,
    Condition,
    KeyReference,
    Never,
    decode_arr_record,
)

from .files import Adf, Df, Node, RecordEf

EF_ARR_RECORDS_MAX = 254
PIN_LENGTH = 8


def is_local(key_ref: int) -> bool:
    """Local (application-specific) PINs 81..88 (TS 102 221 Table 9.3); ADM6-10 (8A-8E) are global."""
    return 0x81 <= key_ref <= 0x88


def is_adm(key_ref: int) -> bool:
    return 0x0A <= key_ref <= 0x0E or 0x8A <= key_ref <= 0x8E


def pin_format_ok(key_ref: int, value: bytes) -> bool:
    """PINs are 4-8 ASCII digits padded with FF (TS 102 221 §9.5); ADM values are issuer-defined bytes."""
    if len(value) != PIN_LENGTH:
        return False
    if is_adm(key_ref):
        return True
    digits = value.rstrip(b"\xff")
    return len(digits) >= 4 and all(0x30 <= b <= 0x39 for b in digits)


@dataclass
class Pin:
    key_ref: int
    value: bytes = field(repr=False)
    retries_max: int = 3
    retries: int = 3
    puk: bytes | None = field(default=None, repr=False)
    puk_retries_max: int = 10
    puk_retries: int = 10
    enabled: bool = True

    @property
    def blocked(self) -> bool:
        return self.retries == 0

    @property
    def puk_blocked(self) -> bool:
        return self.puk is None or self.puk_retries == 0

    def to_dict(self) -> dict[str, Any]:
        return {"key_ref": self.key_ref, "value": self.value.hex(), "retries_max": self.retries_max,
                "retries": self.retries, "puk": None if self.puk is None else self.puk.hex(),
                "puk_retries_max": self.puk_retries_max, "puk_retries": self.puk_retries, "enabled": self.enabled}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Pin:
        return cls(d["key_ref"], bytes.fromhex(d["value"]), d["retries_max"], d["retries"],
                   None if d["puk"] is None else bytes.fromhex(d["puk"]), d["puk_retries_max"], d["puk_retries"],
                   d["enabled"])


@lru_cache(maxsize=512)
def rules_of_record(raw: bytes) -> tuple[AccessRule, ...]:
    """Decoded access rules of one EF.ARR record; a malformed record grants nothing."""
    try:
        return decode_arr_record(raw)
    except DecodeError:
        return ()


def enclosing_adf(node: Node) -> Adf | None:
    current: Node | None = node
    while current is not None and not isinstance(current, Adf):
        current = current.parent
    return current


def find_arr_record(node: Node) -> bytes | None:
    """The EF.ARR record a file's tag 8B points at: the EF.ARR is looked for in the DF holding the file (for a
    DF, in the DF itself), then in each parent up to the MF (our reading of TS 102 221 §9.2.7 [M])."""
    if node.arr is None:
        return None
    arr_fid, record = node.arr
    df: Df | None = node if isinstance(node, Df) else node.parent
    while df is not None:
        arr_file = df.child(arr_fid)
        if isinstance(arr_file, RecordEf):
            return bytes(arr_file.records[record - 1]) if 1 <= record <= len(arr_file.records) else None
        df = df.parent
    return None


def rules_of(node: Node) -> tuple[AccessRule, ...]:
    if node.expanded is not None:
        return rules_of_record(node.expanded)
    raw = find_arr_record(node)
    return () if raw is None else rules_of_record(raw)


class SecurityState:
    """PIN objects (persistent) and their verification status (volatile, cleared by reset)."""

    def __init__(self) -> None:
        self.global_pins: dict[int, Pin] = {}
        self.local_pins: dict[bytes, dict[int, Pin]] = {}
        self.verified: set[tuple[bytes | None, int]] = set()

    def pin(self, key_ref: int, adf: Adf | None) -> Pin | None:
        if is_local(key_ref):
            return None if adf is None else self.local_pins.get(adf.aid, {}).get(key_ref)
        return self.global_pins.get(key_ref)

    def scope(self, key_ref: int, adf: Adf | None) -> tuple[bytes | None, int]:
        return (adf.aid if is_local(key_ref) and adf is not None else None, key_ref)

    def satisfied_by(self, key_ref: int, adf: Adf | None) -> bool:
        """A PIN condition holds when the PIN is verified, or disabled (TS 102 221 §9.5: no verification needed)."""
        pin = self.pin(key_ref, adf)
        if pin is None:
            return False
        if not pin.enabled and not is_adm(key_ref):
            return True
        return self.scope(key_ref, adf) in self.verified

    def condition_holds(self, condition: Condition, adf: Adf | None) -> bool:
        match condition:
            case Always():
                return True
            case Never():
                return False
            case KeyReference(key_ref, _):
                return self.satisfied_by(key_ref, adf)
            case AnyOf(conditions):
                return any(self.condition_holds(c, adf) for c in conditions)
            case AllOf(conditions):
                return all(self.condition_holds(c, adf) for c in conditions)
        return False  # Unsupported conditions (secure messaging etc.) are never met

    def allowed(self, node: Node, adf: Adf | None, *, mode: int | None = None, ins: int | None = None) -> bool:
        """Whether the first rule covering the operation is met; no covering rule means NEVER (§9.2.7).
        Command-header rules (INS) take precedence over access-mode rules for the same command."""
        rules = rules_of(node)
        context = enclosing_adf(node) or adf
        if ins is not None:
            rule = next((r for r in rules if r.ins is not None and r.covers(ins=ins)), None)
            if rule is not None:
                return self.condition_holds(rule.condition, context)
        if mode is None:
            return False
        rule = next((r for r in rules if r.mode is not None and r.covers(mode=mode)), None)
        return rule is not None and self.condition_holds(rule.condition, context)

    def clear_verification(self) -> None:
        self.verified.clear()

    def to_dict(self) -> dict[str, Any]:
        return {"global": [p.to_dict() for p in self.global_pins.values()],
                "local": {aid.hex(): [p.to_dict() for p in pins.values()] for aid, pins in self.local_pins.items()}}

    def load_dict(self, d: dict[str, Any]) -> None:
        self.global_pins = {p["key_ref"]: Pin.from_dict(p) for p in d["global"]}
        self.local_pins = {bytes.fromhex(aid): {p["key_ref"]: Pin.from_dict(p) for p in pins}
                           for aid, pins in d["local"].items()}
