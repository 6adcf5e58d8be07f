"""Profile file specifications as bytes: the contents and access rules that card profiles and MCIM profiles
describe in YAML (`{imsi: ...}`, `{read: PIN1, update: ADM1}`), encoded once for the reference UICC that is built
from a profile and for the DPF that writes the same files over the air (TS 102 221 §9.2, TS 31.102 §4.2)."""

from __future__ import annotations

from typing import Any

from .errors import BadInput, DecodeError
from .usim import (
    DF_CREATE_DF,
    DF_CREATE_EF,
    DF_DELETE_CHILD,
    AccessMode,
    AccessRule,
    AdministrativeData,
    AllOf,
    Always,
    AnyOf,
    Condition,
    KeyReference,
    LocationInformation,
    Never,
    Plmn,
    ServiceProviderName,
    ServiceTable,
    encode_acc,
    encode_fplmn,
    encode_hpplmn,
    encode_iccid,
    encode_imsi,
)

# TS 102 221 Table 9.3 key references by the names profiles use.
KEY_REFS = {**{f"PIN{i}": i for i in range(1, 9)}, "PIN2": 0x81, "UPIN": 0x11,
            **{f"ADM{i}": 0x09 + i for i in range(1, 6)}, **{f"ADM{i}": 0x84 + i for i in range(6, 11)}}

# Rule keys -> AM byte bits (ISO 7816-4 Tables 17/18); increase/resize use command-header AM_DOs (INS 32, D4).
MODE_BITS = {"read": AccessMode.READ, "update": AccessMode.UPDATE, "write": AccessMode.WRITE,
              "deactivate": AccessMode.DEACTIVATE, "activate": AccessMode.ACTIVATE,
              "terminate": AccessMode.TERMINATE, "delete": AccessMode.DELETE, "delete_child": DF_DELETE_CHILD,
              "create_ef": DF_CREATE_EF, "create_df": DF_CREATE_DF}
HEADER_INS = {"increase": 0x32, "resize": 0xD4}


def parse_condition(text: str) -> Condition:
    if text == "always":
        return Always()
    if text == "never":
        return Never()
    if "&" in text:
        return AllOf(tuple(KeyReference(KEY_REFS[k]) for k in text.split("&")))
    keys = tuple(KeyReference(KEY_REFS[k]) for k in text.split("|"))
    return keys[0] if len(keys) == 1 else AnyOf(keys)


def encode_rule(spec: dict[str, str], where: str) -> list[AccessRule]:
    """A profile rule {read: PIN1, update: ADM1, ...} as EF.ARR access rules: one AM byte per condition."""
    by_condition: dict[str, int] = {}
    for key, condition in spec.items():
        if key in MODE_BITS:
            bits = by_condition.get(condition, 0)
            if bits & MODE_BITS[key] or any(b & MODE_BITS[key] for c, b in by_condition.items() if c != condition):
                raise BadInput(f"{key} overlaps another access mode", where=where,
                               expected="EF modes (read/update/...) or DF modes (create_ef/...), not both")
            by_condition[condition] = bits | MODE_BITS[key]
    rules = [AccessRule(parse_condition(c), mode=bits) for c, bits in by_condition.items()]
    rules += [AccessRule(parse_condition(c), ins=HEADER_INS[k]) for k, c in spec.items() if k in HEADER_INS]
    return rules


def file_content(spec: dict[str, Any], size: int, where: str) -> bytes:
    (kind, value), = spec.items()
    try:
        raw = encode_content(kind, value, size)
    except (BadInput, DecodeError) as exc:
        raise BadInput(exc.message, where=f"{where}.{kind}", expected=exc.expected) from None
    if len(raw) > size:
        raise BadInput(f"{len(raw)} bytes", where=f"{where}.{kind}", expected=f"at most the file size {size}")
    return raw.ljust(size, b"\xff")


def encode_content(kind: str, value: Any, size: int) -> bytes:
    if kind == "data":
        return bytes.fromhex(value)
    if kind == "iccid":
        return encode_iccid(value)
    if kind == "imsi":
        return encode_imsi(value)
    if kind == "ad":
        return AdministrativeData(value.get("ue_mode", 0), value.get("info", 0), value.get("mnc_length", 2)).to_bytes()
    if kind == "ust":
        return ServiceTable(frozenset(value), size).to_bytes()
    if kind == "acc":
        return encode_acc(set(value))
    if kind == "spn":
        return ServiceProviderName(value["name"], value.get("display_condition", 0)).to_bytes()
    if kind == "loci":
        defaults = LocationInformation()
        plmn = None if "plmn" not in value else parse_plmn(value["plmn"])
        return LocationInformation(bytes.fromhex(value.get("tmsi", "ffffffff")), plmn,
                                   value.get("lac", defaults.lac), defaults.rfu,
                                   value.get("status", defaults.status)).to_bytes()
    if kind == "hpplmn":
        return encode_hpplmn(value)
    return encode_fplmn([parse_plmn(p) for p in value], size // 3)  # fplmn


def parse_plmn(text: str) -> Plmn:
    mcc, mnc = text.split("-")
    return Plmn(mcc, mnc)
