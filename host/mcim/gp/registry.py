"""The GlobalPlatform registry as GET STATUS reports it: entries, life cycle states and privileges.

GP Card Spec v2.3 §11.1.1 (life cycle coding), §11.1.2 (privileges), §11.4.3 (GET STATUS response data: the
tag-list format of Table 11-36 with one `E3` template per entry, and the legacy format of §11.4.3.2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import construct as cs

from ..errors import BadInput, DecodeError
from ..tlv import BerTlv, ber_decode, ber_encode
from .install_params import build_struct, parse_struct


class StatusSubset(enum.IntEnum):
    """GET STATUS P1 (GP v2.3 §11.4.2.1)."""

    ISD = 0x80
    APPLICATIONS = 0x40
    LOAD_FILES = 0x20
    LOAD_FILES_AND_MODULES = 0x10


class Privilege(enum.IntFlag):
    """Privileges as the 3-byte value of GP v2.3 §11.1.2 (byte 1 in the top byte; names
    and bits as pySim `Privileges` and DIGEST §5.4).

    The 1-byte encoding is byte 1 alone.  Unknown (RFU) bits are kept, so values survive round trips.
    """

    SECURITY_DOMAIN = 0x800000
    DAP_VERIFICATION = 0x400000
    DELEGATED_MANAGEMENT = 0x200000
    CARD_LOCK = 0x100000
    CARD_TERMINATE = 0x080000
    CARD_RESET = 0x040000  # "default selected" in GP 2.1.1
    CVM_MANAGEMENT = 0x020000
    MANDATED_DAP_VERIFICATION = 0x010000
    TRUSTED_PATH = 0x008000
    AUTHORIZED_MANAGEMENT = 0x004000
    TOKEN_MANAGEMENT = 0x002000
    GLOBAL_DELETE = 0x001000
    GLOBAL_LOCK = 0x000800
    GLOBAL_REGISTRY = 0x000400
    FINAL_APPLICATION = 0x000200
    GLOBAL_SERVICE = 0x000100
    RECEIPT_GENERATION = 0x000080
    CIPHERED_LOAD_FILE_DATA_BLOCK = 0x000040
    CONTACTLESS_ACTIVATION = 0x000020
    CONTACTLESS_SELF_ACTIVATION = 0x000010


NO_PRIVILEGES = Privilege(0)


def encode_privileges(privileges: Privilege, length: int | None = None) -> bytes:
    """1- or 3-byte privileges (GP v2.3 §11.1.2); `length=None` picks 1 byte when only byte 1 is used."""
    value = int(privileges)
    if not 0 <= value <= 0xFFFFFF:
        raise BadInput(f"privileges {value:#x}", where="privileges", expected="a 24-bit value")
    if length is None:
        length = 1 if value & 0xFFFF == 0 else 3
    if length == 1 and value & 0xFFFF:
        raise BadInput("privileges beyond byte 1", where="privileges", expected="the 3-byte encoding")
    if length not in (1, 3):
        raise BadInput(f"{length}-byte privileges", where="privileges", expected="1 or 3 bytes")
    return (value >> 16).to_bytes(1, "big") if length == 1 else value.to_bytes(3, "big")


def decode_privileges(data: bytes, where: str = "privileges") -> Privilege:
    if len(data) == 1:
        return Privilege(data[0] << 16)
    if len(data) == 3:
        return Privilege(int.from_bytes(data, "big"))
    raise DecodeError(f"{len(data)} bytes", where=where, expected="1 or 3 bytes (GP v2.3 §11.1.2)")


def privilege_names(privileges: Privilege) -> list[str]:
    """Names of the set bits, RFU bits as 'rfu-XXXXXX'."""
    names = [p.name.lower() for p in Privilege if p in privileges and p.name]
    unknown = int(privileges) & ~sum(int(p) for p in Privilege)
    return names + ([f"rfu-{unknown:06x}"] if unknown else [])


# GP v2.3 §11.1.1: life cycle coding of the card, Executable Load Files, applications and security domains
# (values as pySim CLifeCycleState/IsdLifeCycleState).
CARD_LIFE_CYCLE = {0x01: "OP_READY", 0x07: "INITIALIZED", 0x0F: "SECURED", 0x7F: "CARD_LOCKED",
                   0xFF: "TERMINATED"}
LOADED = 0x01
INSTALLED = 0x03
SELECTABLE = 0x07
PERSONALIZED = 0x0F
LOCKED_BIT = 0x80


def life_cycle_name(subset: StatusSubset, value: int, security_domain: bool = False) -> str:
    """Readable life cycle state of a registry entry of `subset`."""
    if subset == StatusSubset.ISD:
        return CARD_LIFE_CYCLE.get(value, f"unknown ({value:02X})")
    if subset in (StatusSubset.LOAD_FILES, StatusSubset.LOAD_FILES_AND_MODULES):
        return "LOADED" if value == LOADED else f"unknown ({value:02X})"
    base = value & 0x7F
    if base == INSTALLED:
        name = "INSTALLED"
    elif base == SELECTABLE:
        name = "SELECTABLE"
    elif base == PERSONALIZED and security_domain:
        name = "PERSONALIZED"
    elif base & 0x07 == SELECTABLE:
        name = f"SELECTABLE, application specific state {base >> 3:X}"
    else:
        name = f"unknown ({base:02X})"
    return f"LOCKED ({name})" if value & LOCKED_BIT else name


@dataclass(frozen=True)
class RegistryEntry:
    """One GET STATUS entry: ISD, application, security domain, Executable Load File (with modules)."""

    subset: StatusSubset
    aid: bytes
    life_cycle: int
    privileges: Privilege | None = None
    load_file_aid: bytes | None = None
    version: bytes | None = None
    module_aids: tuple[bytes, ...] = ()
    associated_sd: bytes | None = None
    implicit_selection: tuple[bytes, ...] = ()

    @property
    def is_security_domain(self) -> bool:
        return self.privileges is not None and Privilege.SECURITY_DOMAIN in self.privileges

    @property
    def life_cycle_name(self) -> str:
        return life_cycle_name(self.subset, self.life_cycle, self.is_security_domain)

    def to_json(self) -> dict:
        out: dict = {"kind": self.subset.name.lower(), "aid": self.aid.hex(), "life_cycle": f"{self.life_cycle:02x}",
                     "life_cycle_name": self.life_cycle_name}
        if self.privileges is not None:
            out["privileges"] = f"{int(self.privileges):06x}"
            out["privilege_names"] = privilege_names(self.privileges)
        for name in ("load_file_aid", "version", "associated_sd"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name).hex()
        if self.module_aids:
            out["module_aids"] = [aid.hex() for aid in self.module_aids]
        return out


# GP v2.3 Table 11-36: tags inside each 'E3' GP Registry related data template.
TAG_ENTRY = 0xE3
TAG_AID = 0x4F
TAG_LIFE_CYCLE = 0x9F70
TAG_PRIVILEGES = 0xC5
TAG_IMPLICIT_SELECTION = 0xCF
TAG_LOAD_FILE_AID = 0xC4
TAG_VERSION = 0xCE
TAG_MODULE_AID = 0x84
TAG_ASSOCIATED_SD = 0xCC


def _single(children: list[BerTlv], tag: int, where: str) -> bytes | None:
    found = [c.value for c in children if c.tag == tag]
    if len(found) > 1:
        raise DecodeError(f"tag {tag:02X} appears {len(found)} times", where=where, expected="at most once")
    return found[0] if found else None


def _entry_from_template(template: BerTlv, subset: StatusSubset, where: str) -> RegistryEntry:
    children = template.children
    aid = _single(children, TAG_AID, where)
    life_cycle = _single(children, TAG_LIFE_CYCLE, where)
    if aid is None:
        raise DecodeError("no AID (4F)", where=where, expected="an E3 template with 4F and 9F70")
    if life_cycle is None or len(life_cycle) != 1:
        raise DecodeError("no 1-byte life cycle (9F70)", where=where, expected="an E3 template with 4F and 9F70")
    privileges = _single(children, TAG_PRIVILEGES, where)
    return RegistryEntry(
        subset, aid, life_cycle[0],
        None if privileges is None else decode_privileges(privileges, f"{where}/C5"),
        _single(children, TAG_LOAD_FILE_AID, where), _single(children, TAG_VERSION, where),
        tuple(c.value for c in children if c.tag == TAG_MODULE_AID), _single(children, TAG_ASSOCIATED_SD, where),
        tuple(c.value for c in children if c.tag == TAG_IMPLICIT_SELECTION))


def parse_status_tlv(data: bytes, subset: StatusSubset) -> list[RegistryEntry]:
    """GET STATUS response data in the tag-list format (P2 b2 = 1): a sequence of `E3` templates."""
    entries = []
    for index, item in enumerate(ber_decode(data, where="GET STATUS response", skip_padding=False)):
        where = f"GET STATUS entry {index}"
        if item.tag != TAG_ENTRY:
            raise DecodeError(f"tag {item.tag:02X}", where=where, expected="E3 (GP Registry related data)")
        entries.append(_entry_from_template(item, subset, where))
    return entries


def encode_status_tlv(entry: RegistryEntry, privileges_length: int = 3) -> bytes:
    """One `E3` template, as a card answers GET STATUS in the tag-list format."""
    children = [ber_encode(TAG_AID, entry.aid), ber_encode(TAG_LIFE_CYCLE, bytes((entry.life_cycle,)))]
    if entry.privileges is not None:
        children.append(ber_encode(TAG_PRIVILEGES, encode_privileges(entry.privileges, privileges_length)))
    children += [ber_encode(TAG_IMPLICIT_SELECTION, value) for value in entry.implicit_selection]
    for tag, value in ((TAG_LOAD_FILE_AID, entry.load_file_aid), (TAG_VERSION, entry.version)):
        if value is not None:
            children.append(ber_encode(tag, value))
    children += [ber_encode(TAG_MODULE_AID, aid) for aid in entry.module_aids]
    if entry.associated_sd is not None:
        children.append(ber_encode(TAG_ASSOCIATED_SD, entry.associated_sd))
    return ber_encode(TAG_ENTRY, b"".join(children))


_LV = cs.Prefixed(cs.Int8ub, cs.GreedyBytes)
# GP v2.3 §11.4.3.2 (and GP 2.1.1 §9.4.3.2) legacy response: LV(AID), life cycle, privileges byte; the
# "load files and modules" subset adds a module count and LV(module AID)s.  Layout as GlobalPlatformPro
# GPRegistry.populate_legacy reads it.
LEGACY_ENTRIES = cs.Struct(
    "entries" / cs.GreedyRange(cs.Struct("aid" / _LV, "life_cycle" / cs.Int8ub, "privileges" / cs.Int8ub)),
    cs.Terminated)
LEGACY_ENTRIES_WITH_MODULES = cs.Struct(
    "entries" / cs.GreedyRange(cs.Struct("aid" / _LV, "life_cycle" / cs.Int8ub, "privileges" / cs.Int8ub,
                                         "modules" / cs.PrefixedArray(cs.Int8ub, _LV))),
    cs.Terminated)


def _legacy_format(subset: StatusSubset) -> cs.Construct:
    return LEGACY_ENTRIES_WITH_MODULES if subset == StatusSubset.LOAD_FILES_AND_MODULES else LEGACY_ENTRIES


def parse_status_legacy(data: bytes, subset: StatusSubset) -> list[RegistryEntry]:
    """GET STATUS response data in the legacy format (P2 = 00)."""
    parsed = parse_struct(_legacy_format(subset), data, "GET STATUS response (legacy format)",
                          expected="LV(AID), life cycle, privileges per entry (GP v2.3 §11.4.3.2)")
    return [RegistryEntry(subset, bytes(e.aid), e.life_cycle, Privilege(e.privileges << 16),
                          module_aids=tuple(bytes(m) for m in e.get("modules", ())))
            for e in parsed.entries]


def encode_status_legacy(entries: list[RegistryEntry], subset: StatusSubset) -> bytes:
    """Legacy-format GET STATUS response data for `entries` of `subset` (1-byte privileges)."""
    items = [{"aid": e.aid, "life_cycle": e.life_cycle,
              "privileges": encode_privileges(e.privileges or NO_PRIVILEGES, 1)[0],
              "modules": list(e.module_aids)} for e in entries]
    return build_struct(_legacy_format(subset), {"entries": items}, "GET STATUS legacy entry")
