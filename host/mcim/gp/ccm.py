"""GlobalPlatform card content management, sans-IO: build command APDUs, parse what comes back.

GP Card Spec v2.3 §11 (SELECT §11.9, GET DATA §11.3, GET STATUS §11.4, INSTALL §11.5, LOAD §11.6, DELETE §11.2,
SET STATUS §11.10, STORE DATA §11.11, PUT KEY §11.8).  Builders return `mcim.apdu.CommandApdu` (class '80', the
caller's secure channel wraps it); the card side (the reference UICC) uses the `parse_*` functions on what the host
built.  Multi-step exchanges (GET STATUS with '6310' "more data") are generators that yield commands and receive
raw responses; `run_flow` drives one over any `transmit(bytes) -> bytes`.

Status words per command: `SW_TABLES` (GP v2.3 §11.x.3 tables, plus the general errors of §11.1.3).
"""

from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

import construct as cs

from ..apdu import CommandApdu, ResponseApdu
from ..errors import BadChecksum, BadInput, DecodeError, ExpectationFailed, UnsupportedError
from ..sw import describe
from ..tlv import BerTlv, ber_decode, ber_decode_one, ber_encode
from .crypto import aes_cbc_decrypt, aes_cbc_encrypt, ct_equal, des3_ecb_decrypt, des3_ecb_encrypt
from .install_params import (
    InstallParameters,
    SystemParameters,
    build_struct,
    encode_load_parameters,
    parse_load_parameters,
    parse_struct,
)
from .keys import KeyAlgorithm, kcv, verify_kcv
from .registry import (
    NO_PRIVILEGES,
    Privilege,
    RegistryEntry,
    StatusSubset,
    decode_privileges,
    encode_privileges,
    parse_status_legacy,
    parse_status_tlv,
)

T = TypeVar("T")
CLA_GP = 0x80
LE_MAX = 256  # Le '00'
MAX_SHORT_DATA = 255

# --------------------------------------------------------------------------------------------- status words

# GP v2.3 §11.1.3: errors any command may return (pySim global_platform sw_table agrees).
GENERAL_SW = {
    0x6400: "no specific diagnosis",
    0x6700: "wrong length in Lc",
    0x6881: "logical channel not supported or is not active",
    0x6882: "secure messaging not supported",
    0x6982: "security status not satisfied",
    0x6985: "conditions of use not satisfied",
    0x6A86: "incorrect P1 P2",
    0x6D00: "invalid instruction",
    0x6E00: "invalid class",
}
_OK = {0x9000: "success"}
# Per-command tables: GP v2.3 §11.2.3 (DELETE), §11.3.3 (GET DATA), §11.4.3 (GET STATUS), §11.5.3 (INSTALL),
# §11.6.3 (LOAD), §11.8.3 (PUT KEY), §11.9.3 (SELECT), §11.10.3 (SET STATUS), §11.11.3 (STORE DATA).
SW_TABLES: dict[str, dict[int, str]] = {
    "DELETE": {**_OK, 0x6581: "memory failure", 0x6A88: "referenced data not found",
               0x6A82: "application not found", 0x6A80: "incorrect values in command data"},
    "GET DATA": {**_OK, 0x6A88: "referenced data not found"},
    "GET STATUS": {**_OK, 0x6310: "more data available", 0x6A88: "referenced data not found",
                   0x6A80: "incorrect values in command data"},
    "INSTALL": {**_OK, 0x6581: "memory failure", 0x6A80: "incorrect parameters in data field",
                0x6A84: "not enough memory space", 0x6A88: "referenced data not found"},
    "LOAD": {**_OK, 0x6581: "memory failure", 0x6A84: "not enough memory space"},
    "PUT KEY": {**_OK, 0x6581: "memory failure", 0x6A84: "not enough memory space",
                0x6A88: "referenced data not found", 0x9484: "algorithm not supported",
                0x9485: "invalid key check value"},
    "SELECT": {**_OK, 0x6283: "card life cycle state is CARD_LOCKED",
               0x6A81: "function not supported, e.g. card life cycle state is CARD_LOCKED",
               0x6A82: "selected application / file not found"},
    "SET STATUS": {**_OK, 0x6A80: "incorrect values in command data", 0x6A88: "referenced data not found"},
    "STORE DATA": {**_OK, 0x6A80: "incorrect values in command data", 0x6A84: "not enough memory space",
                   0x6A88: "referenced data not found"},
}


def sw_meaning(command: str, sw: int) -> str:
    """What `sw` means as the answer to GP command `command` (a key of SW_TABLES)."""
    table = SW_TABLES.get(command.upper(), {})
    return table.get(sw) or GENERAL_SW.get(sw) or describe(sw).meaning


def check_sw(command: str, response: ResponseApdu, accept: Iterable[int] = (0x9000,)) -> ResponseApdu:
    """Return `response` if its SW is accepted, else raise ExpectationFailed with the GP meaning."""
    if response.sw not in accept:
        raise ExpectationFailed(f"card answered {response.sw:04X} ({sw_meaning(command, response.sw)})",
                                where=command, expected=" or ".join(f"{sw:04X}" for sw in accept))
    return response


# --------------------------------------------------------------------------------------------- helpers

def _check_aid(aid: bytes, where: str, *, optional: bool = False) -> bytes:
    """ISO/IEC 7816-5 AIDs are 5-16 bytes; `optional` also allows the empty value."""
    if (optional and not aid) or 5 <= len(aid) <= 16:
        return bytes(aid)
    raise BadInput(f"{len(aid)}-byte AID", where=where, expected="5 to 16 bytes" + (" or none" if optional else ""))


def _check_parsed_aid(aid: bytes, where: str, *, optional: bool = False) -> bytes:
    try:
        return _check_aid(aid, where, optional=optional)
    except BadInput as exc:
        raise DecodeError(exc.message, where=where, expected=exc.expected) from None


def _apdu(command: CommandApdu | bytes) -> CommandApdu:
    return command if isinstance(command, CommandApdu) else CommandApdu.parse(command)


def _expect_ins(command: CommandApdu, ins: int, name: str) -> None:
    if command.ins != ins:
        raise DecodeError(f"INS {command.ins:02X}", where=f"{name} command", expected=f"INS {ins:02X}")


def _tlv_value(data: bytes, tag: int, where: str) -> bytes:
    item = ber_decode_one(data, where=where)
    if item.tag != tag:
        raise DecodeError(f"tag {item.tag:02X}", where=where, expected=f"tag {tag:02X}")
    return item.value


# --------------------------------------------------------------------------------------------- SELECT

def select(aid: bytes | None = None, *, next_occurrence: bool = False) -> CommandApdu:
    """SELECT by name (GP v2.3 §11.9.2); no AID selects the ISD (the card's default selection)."""
    data = _check_aid(aid or b"", "SELECT AID", optional=True)
    return CommandApdu(0x00, 0xA4, 0x04, 0x02 if next_occurrence else 0x00, data, le=LE_MAX)


def decode_oid(data: bytes, where: str = "OID") -> str:
    """Dotted form of a DER OBJECT IDENTIFIER value (ISO/IEC 8825-1 §8.19)."""
    if not data or data[-1] & 0x80:
        raise DecodeError("empty or unterminated sub-identifier", where=where, expected="base-128 sub-identifiers")
    arcs, value = [], 0
    for byte in data:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


GP_OID = "1.2.840.114283"  # GlobalPlatform's arc (GP v2.3 Annex H)


@dataclass(frozen=True)
class CardRecognitionData:
    """GP v2.3 Annex H.2 card recognition data ('73' inside GET DATA '66', or SD management data in FCI)."""

    gp_version: str | None = None
    identification_scheme: str | None = None
    secure_channels: tuple[tuple[int, int], ...] = ()  # (SCP number, i parameter)
    configuration_details: bytes | None = None
    chip_details: bytes | None = None
    other: tuple[BerTlv, ...] = ()

    def to_json(self) -> dict:
        out: dict = {"gp_version": self.gp_version, "identification_scheme": self.identification_scheme,
                     "secure_channels": [{"scp": f"{scp:02x}", "i": f"{i:02x}"} for scp, i in self.secure_channels]}
        for name in ("configuration_details", "chip_details"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name).hex()
        return out


def _oid_in(template: BerTlv, where: str) -> str:
    return decode_oid(_tlv_value(template.value, 0x06, where), where)


def _gp_arcs(oid: str, branch: int, where: str) -> list[int]:
    prefix = f"{GP_OID}.{branch}."
    if not oid.startswith(prefix):
        raise DecodeError(f"OID {oid}", where=where, expected=f"an OID under {prefix}")
    return [int(arc) for arc in oid.removeprefix(prefix).split(".")]


def parse_recognition_template(value: bytes) -> CardRecognitionData:
    """The children of a '73' template (GP v2.3 Annex H)."""
    gp_version = scheme = config = chip = None
    channels: list[tuple[int, int]] = []
    other = []
    for item in ber_decode(value, where="card recognition data", skip_padding=False):
        where = f"card recognition data/{item.tag:02X}"
        if item.tag == 0x06 and decode_oid(item.value, where) == f"{GP_OID}.1":
            continue  # the "card recognition data" OID that opens the template
        if item.tag == 0x60:
            gp_version = ".".join(str(a) for a in _gp_arcs(_oid_in(item, where), 2, where))
        elif item.tag == 0x63:
            scheme = _oid_in(item, where)
        elif item.tag == 0x64:
            arcs = _gp_arcs(_oid_in(item, where), 4, where)
            if len(arcs) != 2:
                raise DecodeError(f"{len(arcs)} arcs after {GP_OID}.4", where=where, expected="SCP number and i")
            channels.append((arcs[0], arcs[1]))
        elif item.tag == 0x65:
            config = item.value
        elif item.tag == 0x66:
            chip = item.value
        else:
            other.append(item)
    return CardRecognitionData(gp_version, scheme, tuple(channels), config, chip, tuple(other))


def parse_card_data(data: bytes) -> CardRecognitionData:
    """GET DATA '66' response: `66 { 73 { ... } }`."""
    outer = _tlv_value(data, 0x66, "card data")
    return parse_recognition_template(_tlv_value(outer, 0x73, "card data/66"))


@dataclass(frozen=True)
class SelectResponse:
    """GP v2.3 §11.9.3.1 FCI of a security domain: `6F { 84 AID, A5 { 73, 9F6E, 9F65 } }`."""

    aid: bytes | None
    security_domain_data: CardRecognitionData | None = None
    production_life_cycle: bytes | None = None
    max_command_length: int | None = None
    other: tuple[BerTlv, ...] = ()


def parse_select_response(data: bytes) -> SelectResponse:
    fci = ber_decode_one(data, where="SELECT response")
    if fci.tag != 0x6F:
        raise DecodeError(f"tag {fci.tag:02X}", where="SELECT response", expected="6F (FCI template)")
    aid = sd_data = plc = max_len = None
    other = []
    for item in fci.children:
        if item.tag == 0x84:
            aid = item.value
        elif item.tag == 0xA5:
            for prop in item.children:
                if prop.tag == 0x73:
                    sd_data = parse_recognition_template(prop.value)
                elif prop.tag == 0x9F6E:
                    plc = prop.value
                elif prop.tag == 0x9F65:
                    max_len = int.from_bytes(prop.value, "big")
                else:
                    other.append(prop)
        else:
            other.append(item)
    return SelectResponse(aid, sd_data, plc, max_len, tuple(other))


# --------------------------------------------------------------------------------------------- GET DATA

class DataObject(enum.IntEnum):
    """GET DATA P1P2 tags used here (GP v2.3 §11.3)."""

    ISSUER_IDENTIFICATION_NUMBER = 0x0042
    CARD_IMAGE_NUMBER = 0x0045
    CARD_DATA = 0x0066
    KEY_INFORMATION = 0x00E0
    CPLC = 0x9F7F


def get_data(tag: int, *, cla: int = CLA_GP) -> CommandApdu:
    """GET DATA for the data object `tag` (P1P2)."""
    if not 0 <= tag <= 0xFFFF:
        raise BadInput(f"tag {tag:#x}", where="GET DATA", expected="a 1- or 2-byte tag")
    return CommandApdu(cla, 0xCA, tag >> 8, tag & 0xFF, le=LE_MAX)


# Card Production Life Cycle data, 42 bytes (field list and sizes as GlobalPlatformPro CPLC.Field).
CPLC = cs.Struct(
    "ic_fabricator" / cs.Bytes(2), "ic_type" / cs.Bytes(2), "os_id" / cs.Bytes(2),
    "os_release_date" / cs.Bytes(2), "os_release_level" / cs.Bytes(2), "ic_fabrication_date" / cs.Bytes(2),
    "ic_serial_number" / cs.Bytes(4), "ic_batch_identifier" / cs.Bytes(2), "ic_module_fabricator" / cs.Bytes(2),
    "ic_module_packaging_date" / cs.Bytes(2), "icc_manufacturer" / cs.Bytes(2), "ic_embedding_date" / cs.Bytes(2),
    "ic_pre_personalizer" / cs.Bytes(2), "ic_pre_personalization_date" / cs.Bytes(2),
    "ic_pre_personalization_equipment_id" / cs.Bytes(4), "ic_personalizer" / cs.Bytes(2),
    "ic_personalization_date" / cs.Bytes(2), "ic_personalization_equipment_id" / cs.Bytes(4),
    cs.Terminated,
)
CPLC_LENGTH = 42
CPLC_FIELDS = tuple(sc.name for sc in CPLC.subcons if sc.name)


def parse_cplc(data: bytes) -> dict[str, bytes]:
    """CPLC (GET DATA '9F7F'): the named 42-byte fields; the `9F7F 2A` header may be present or not."""
    value = _tlv_value(data, 0x9F7F, "CPLC") if data[:2] == b"\x9f\x7f" else data
    if len(value) != CPLC_LENGTH:
        raise DecodeError(f"{len(value)} bytes", where="CPLC", expected=f"{CPLC_LENGTH} bytes")
    parsed = parse_struct(CPLC, value, "CPLC")
    return {name: bytes(parsed[name]) for name in CPLC_FIELDS}


class KeyType(enum.IntEnum):
    """Key type coding, GP v2.3 §11.1.8 (subset, as pySim KeyType)."""

    DES = 0x80
    TLS_PSK = 0x85
    AES = 0x88
    HMAC_SHA1 = 0x90
    HMAC_SHA1_160 = 0x91
    RSA_PUBLIC_EXPONENT = 0xA0
    RSA_MODULUS = 0xA1
    ECC_PUBLIC = 0xB0
    ECC_PRIVATE = 0xB1
    EXTENDED = 0xFF


def key_type_name(value: int) -> str:
    try:
        return KeyType(value).name.lower()
    except ValueError:
        return f"type-{value:02x}"


class KeyComponent(NamedTuple):
    key_type: int
    length: int


class KeyInfo(NamedTuple):
    """One 'C0' key information data object (GP v2.3 §11.3.3.1, basic format; pySim KeyInformationData)."""

    kid: int
    kvn: int
    components: tuple[KeyComponent, ...]

    @property
    def key_type(self) -> int:
        return self.components[0].key_type

    @property
    def length(self) -> int:
        return self.components[0].length


_KEY_INFO_DATA = cs.Struct(
    "kid" / cs.Int8ub, "kvn" / cs.Int8ub,
    "components" / cs.GreedyRange(cs.Struct("key_type" / cs.Int8ub, "length" / cs.Int8ub)),
    cs.Terminated,
)


def parse_key_information(data: bytes) -> tuple[KeyInfo, ...]:
    """GET DATA 'E0' response: `E0 { C0 KID KVN (type length)+ }*`."""
    infos = []
    for index, item in enumerate(ber_decode(_tlv_value(data, 0xE0, "key information"), where="E0",
                                            skip_padding=False)):
        where = f"key information entry {index}"
        if item.tag != 0xC0:
            raise DecodeError(f"tag {item.tag:02X}", where=where, expected="C0 (key information data)")
        parsed = parse_struct(_KEY_INFO_DATA, item.value, where, "KID, KVN, then (key type, length) pairs")
        components = tuple(KeyComponent(c.key_type, c.length) for c in parsed.components)
        if not components:
            raise DecodeError("no key component", where=where, expected="at least one (type, length) pair")
        if any(c.key_type == KeyType.EXTENDED for c in components):
            raise UnsupportedError("extended key information format", where=where, expected="the basic format")
        infos.append(KeyInfo(parsed.kid, parsed.kvn, components))
    return tuple(infos)


def parse_iin(data: bytes) -> bytes:
    """Issuer Identification Number (GET DATA '42')."""
    return _tlv_value(data, 0x42, "IIN")


def parse_cin(data: bytes) -> bytes:
    """Card Image Number (GET DATA '45')."""
    return _tlv_value(data, 0x45, "CIN")


# --------------------------------------------------------------------------------------------- GET STATUS

def get_status(subset: StatusSubset, *, aid: bytes = b"", tlv: bool = True, next_occurrence: bool = False,
               tag_list: bytes | None = None, cla: int = CLA_GP) -> CommandApdu:
    """GET STATUS (GP v2.3 §11.4.2): P1 = subset, P2 b2 = tag-list format, b1 = next occurrence."""
    data = ber_encode(0x4F, _check_aid(aid, "GET STATUS AID", optional=True))
    if tag_list is not None:
        if not tlv:
            raise BadInput("a tag list needs the TLV format", where="GET STATUS", expected="tlv=True")
        data += ber_encode(0x5C, tag_list)
    p2 = (0x02 if tlv else 0x00) | (0x01 if next_occurrence else 0x00)
    return CommandApdu(cla, 0xF2, int(StatusSubset(subset)), p2, data, le=LE_MAX)


Flow = Generator[CommandApdu, bytes, T]


def get_status_flow(subset: StatusSubset, *, aid: bytes = b"", tlv: bool = True,
                    cla: int = CLA_GP) -> Flow[list[RegistryEntry]]:
    """All registry entries of `subset`: repeats GET STATUS [next] while the card answers '6310'.

    Yields each command; send() it the raw response (data || SW).  '6A88' on the first command means an empty
    subset.  Any other status word raises ExpectationFailed.
    """
    parse = parse_status_tlv if tlv else parse_status_legacy
    entries: list[RegistryEntry] = []
    command = get_status(subset, aid=aid, tlv=tlv, cla=cla)
    while True:
        response = ResponseApdu.parse((yield command))
        if response.sw == 0x6A88 and not command.p2 & 0x01:
            return entries  # nothing matches the search
        check_sw("GET STATUS", response, (0x9000, 0x6310))
        entries += parse(response.data, StatusSubset(subset))
        if response.sw == 0x9000:
            return entries
        command = get_status(subset, aid=aid, tlv=tlv, next_occurrence=True, cla=cla)


def run_flow(flow: Flow[T], transmit: Callable[[bytes], bytes]) -> T:
    """Drive a command flow over `transmit` (a Transport's transmit, or a secure channel's)."""
    try:
        command = next(flow)
        while True:
            command = flow.send(transmit(command.to_bytes()))
    except StopIteration as done:
        return done.value


def read_registry(transmit: Callable[[bytes], bytes], subset: StatusSubset, *, aid: bytes = b"", tlv: bool = True,
                  cla: int = CLA_GP) -> list[RegistryEntry]:
    """GET STATUS over `transmit` until the card has no more entries."""
    return run_flow(get_status_flow(subset, aid=aid, tlv=tlv, cla=cla), transmit)


# --------------------------------------------------------------------------------------------- INSTALL

_LV = cs.Prefixed(cs.Int8ub, cs.GreedyBytes)
_NONE = cs.Const(b"\x00")  # a length byte that must be zero

# GP v2.3 §11.5.2.3 command data fields, one LV per field.
INSTALL_FOR_LOAD = cs.Struct(
    "load_file_aid" / _LV, "security_domain_aid" / _LV, "lfdb_hash" / _LV, "load_parameters" / _LV,
    "load_token" / _LV, cs.Terminated)
INSTALL_FOR_INSTALL = cs.Struct(  # also [for install and make selectable]
    "load_file_aid" / _LV, "module_aid" / _LV, "application_aid" / _LV, "privileges" / _LV,
    "install_parameters" / _LV, "install_token" / _LV, cs.Terminated)
INSTALL_FOR_MAKE_SELECTABLE = cs.Struct(
    _NONE, _NONE, "application_aid" / _LV, "privileges" / _LV, _NONE, "token" / _LV, cs.Terminated)
INSTALL_FOR_EXTRADITION = cs.Struct(
    "security_domain_aid" / _LV, _NONE, "application_aid" / _LV, _NONE, "extradition_parameters" / _LV,
    "token" / _LV, cs.Terminated)
INSTALL_FOR_PERSONALIZATION = cs.Struct(  # as pySim install_for_personalization
    _NONE, _NONE, "application_aid" / _LV, _NONE, _NONE, _NONE, cs.Terminated)
INSTALL_FOR_REGISTRY_UPDATE = cs.Struct(
    "security_domain_aid" / _LV, _NONE, "application_aid" / _LV, "privileges" / _LV,
    "registry_update_parameters" / _LV, "token" / _LV, cs.Terminated)


class InstallP1(enum.IntEnum):
    """INSTALL P1 (GP v2.3 §11.5.2.1); b8 set means "more INSTALL commands follow"."""

    FOR_LOAD = 0x02
    FOR_INSTALL = 0x04
    FOR_MAKE_SELECTABLE = 0x08
    FOR_INSTALL_AND_MAKE_SELECTABLE = 0x0C
    FOR_EXTRADITION = 0x10
    FOR_PERSONALIZATION = 0x20
    FOR_REGISTRY_UPDATE = 0x40


MORE_INSTALL_COMMANDS = 0x80


def _install_apdu(p1: int, fmt: cs.Construct, fields: dict, where: str, cla: int, more: bool) -> CommandApdu:
    data = build_struct(fmt, fields, where)
    if len(data) > MAX_SHORT_DATA:
        raise BadInput(f"{len(data)} bytes of command data", where=where, expected="at most 255")
    return CommandApdu(cla, 0xE6, p1 | (MORE_INSTALL_COMMANDS if more else 0), 0x00, data, le=LE_MAX)


@dataclass(frozen=True)
class InstallForLoad:
    load_file_aid: bytes
    security_domain_aid: bytes = b""
    lfdb_hash: bytes = b""
    load_parameters: SystemParameters | None = None
    load_token: bytes = b""

    def to_apdu(self, *, cla: int = CLA_GP, more: bool = False) -> CommandApdu:
        fields = {"load_file_aid": _check_aid(self.load_file_aid, "load file AID"),
                  "security_domain_aid": _check_aid(self.security_domain_aid, "SD AID", optional=True),
                  "lfdb_hash": self.lfdb_hash, "load_parameters": encode_load_parameters(self.load_parameters),
                  "load_token": self.load_token}
        return _install_apdu(InstallP1.FOR_LOAD, INSTALL_FOR_LOAD, fields, "INSTALL [for load]", cla, more)


@dataclass(frozen=True)
class InstallForInstall:
    """INSTALL [for install] (P1 04), or [for install and make selectable] (P1 0C) when `make_selectable`."""

    load_file_aid: bytes
    module_aid: bytes
    application_aid: bytes
    privileges: Privilege = NO_PRIVILEGES
    install_parameters: InstallParameters = field(default_factory=InstallParameters)
    install_token: bytes = b""
    make_selectable: bool = True
    privileges_length: int | None = None  # None: 1 byte when possible

    def to_apdu(self, *, cla: int = CLA_GP, more: bool = False) -> CommandApdu:
        fields = {"load_file_aid": _check_aid(self.load_file_aid, "load file AID"),
                  "module_aid": _check_aid(self.module_aid, "module AID"),
                  "application_aid": _check_aid(self.application_aid, "application AID"),
                  "privileges": encode_privileges(self.privileges, self.privileges_length),
                  "install_parameters": self.install_parameters.to_bytes(), "install_token": self.install_token}
        p1 = InstallP1.FOR_INSTALL_AND_MAKE_SELECTABLE if self.make_selectable else InstallP1.FOR_INSTALL
        return _install_apdu(p1, INSTALL_FOR_INSTALL, fields, "INSTALL [for install]", cla, more)


@dataclass(frozen=True)
class InstallForMakeSelectable:
    application_aid: bytes
    privileges: Privilege = NO_PRIVILEGES
    token: bytes = b""
    privileges_length: int | None = None

    def to_apdu(self, *, cla: int = CLA_GP, more: bool = False) -> CommandApdu:
        fields = {"application_aid": _check_aid(self.application_aid, "application AID"),
                  "privileges": encode_privileges(self.privileges, self.privileges_length), "token": self.token}
        return _install_apdu(InstallP1.FOR_MAKE_SELECTABLE, INSTALL_FOR_MAKE_SELECTABLE, fields,
                             "INSTALL [for make selectable]", cla, more)


@dataclass(frozen=True)
class InstallForExtradition:
    security_domain_aid: bytes
    application_aid: bytes
    extradition_parameters: bytes = b""
    token: bytes = b""

    def to_apdu(self, *, cla: int = CLA_GP, more: bool = False) -> CommandApdu:
        fields = {"security_domain_aid": _check_aid(self.security_domain_aid, "SD AID"),
                  "application_aid": _check_aid(self.application_aid, "application or load file AID"),
                  "extradition_parameters": self.extradition_parameters, "token": self.token}
        return _install_apdu(InstallP1.FOR_EXTRADITION, INSTALL_FOR_EXTRADITION, fields,
                             "INSTALL [for extradition]", cla, more)


@dataclass(frozen=True)
class InstallForPersonalization:
    application_aid: bytes

    def to_apdu(self, *, cla: int = CLA_GP, more: bool = False) -> CommandApdu:
        fields = {"application_aid": _check_aid(self.application_aid, "application AID")}
        return _install_apdu(InstallP1.FOR_PERSONALIZATION, INSTALL_FOR_PERSONALIZATION, fields,
                             "INSTALL [for personalization]", cla, more)


@dataclass(frozen=True)
class InstallForRegistryUpdate:
    security_domain_aid: bytes = b""
    application_aid: bytes = b""
    privileges: Privilege | None = None
    registry_update_parameters: bytes = b""
    token: bytes = b""
    privileges_length: int | None = None

    def to_apdu(self, *, cla: int = CLA_GP, more: bool = False) -> CommandApdu:
        privileges = b"" if self.privileges is None else encode_privileges(self.privileges, self.privileges_length)
        fields = {"security_domain_aid": _check_aid(self.security_domain_aid, "SD AID", optional=True),
                  "application_aid": _check_aid(self.application_aid, "application AID", optional=True),
                  "privileges": privileges, "registry_update_parameters": self.registry_update_parameters,
                  "token": self.token}
        return _install_apdu(InstallP1.FOR_REGISTRY_UPDATE, INSTALL_FOR_REGISTRY_UPDATE, fields,
                             "INSTALL [for registry update]", cla, more)


InstallCommand = (InstallForLoad | InstallForInstall | InstallForMakeSelectable | InstallForExtradition
                  | InstallForPersonalization | InstallForRegistryUpdate)


class ParsedInstall(NamedTuple):
    command: InstallCommand
    more: bool  # P1 b8: more INSTALL commands follow


def _privileges_of(data: bytes, where: str) -> tuple[Privilege, int]:
    return decode_privileges(data, where), len(data)


def parse_install(command: CommandApdu | bytes) -> ParsedInstall:
    """Decode an INSTALL command back into its typed value (what the card does with it)."""
    apdu = _apdu(command)
    _expect_ins(apdu, 0xE6, "INSTALL")
    more, p1 = bool(apdu.p1 & MORE_INSTALL_COMMANDS), apdu.p1 & ~MORE_INSTALL_COMMANDS
    try:
        kind = InstallP1(p1)
    except ValueError:
        raise DecodeError(f"P1 {apdu.p1:02X}", where="INSTALL",
                          expected="02, 04, 08, 0C, 10, 20 or 40 (b8 = more commands)") from None
    where = f"INSTALL [{kind.name.lower().replace('_', ' ')}]"
    formats = {InstallP1.FOR_LOAD: INSTALL_FOR_LOAD, InstallP1.FOR_INSTALL: INSTALL_FOR_INSTALL,
               InstallP1.FOR_INSTALL_AND_MAKE_SELECTABLE: INSTALL_FOR_INSTALL,
               InstallP1.FOR_MAKE_SELECTABLE: INSTALL_FOR_MAKE_SELECTABLE,
               InstallP1.FOR_EXTRADITION: INSTALL_FOR_EXTRADITION,
               InstallP1.FOR_PERSONALIZATION: INSTALL_FOR_PERSONALIZATION,
               InstallP1.FOR_REGISTRY_UPDATE: INSTALL_FOR_REGISTRY_UPDATE}
    f = parse_struct(formats[kind], apdu.data, where, "the LV fields of GP v2.3 §11.5.2.3")
    return ParsedInstall(_install_from_fields(kind, f, where), more)


def _install_from_fields(kind: InstallP1, f: cs.Container, where: str) -> InstallCommand:
    if kind == InstallP1.FOR_LOAD:
        return InstallForLoad(_check_parsed_aid(f.load_file_aid, f"{where} load file AID"),
                              _check_parsed_aid(f.security_domain_aid, f"{where} SD AID", optional=True),
                              f.lfdb_hash, parse_load_parameters(f.load_parameters), f.load_token)
    if kind in (InstallP1.FOR_INSTALL, InstallP1.FOR_INSTALL_AND_MAKE_SELECTABLE):
        privileges, length = _privileges_of(f.privileges, f"{where} privileges")
        return InstallForInstall(_check_parsed_aid(f.load_file_aid, f"{where} load file AID"),
                                 _check_parsed_aid(f.module_aid, f"{where} module AID"),
                                 _check_parsed_aid(f.application_aid, f"{where} application AID"),
                                 privileges, InstallParameters.parse(f.install_parameters), f.install_token,
                                 kind == InstallP1.FOR_INSTALL_AND_MAKE_SELECTABLE, length)
    if kind == InstallP1.FOR_MAKE_SELECTABLE:
        privileges, length = _privileges_of(f.privileges, f"{where} privileges")
        return InstallForMakeSelectable(_check_parsed_aid(f.application_aid, f"{where} application AID"),
                                        privileges, f.token, length)
    if kind == InstallP1.FOR_EXTRADITION:
        return InstallForExtradition(_check_parsed_aid(f.security_domain_aid, f"{where} SD AID"),
                                     _check_parsed_aid(f.application_aid, f"{where} AID"),
                                     f.extradition_parameters, f.token)
    if kind == InstallP1.FOR_PERSONALIZATION:
        return InstallForPersonalization(_check_parsed_aid(f.application_aid, f"{where} application AID"))
    update: tuple[Privilege | None, int | None] = (None, None)
    if f.privileges:
        update = _privileges_of(f.privileges, f"{where} privileges")
    return InstallForRegistryUpdate(_check_parsed_aid(f.security_domain_aid, f"{where} SD AID", optional=True),
                                    _check_parsed_aid(f.application_aid, f"{where} AID", optional=True),
                                    update[0], f.registry_update_parameters, f.token, update[1])


# --------------------------------------------------------------------------------------------- LOAD

class HashAlgorithm(enum.StrEnum):
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"


def lfdb_hash(lfdb: bytes, algorithm: HashAlgorithm | str = HashAlgorithm.SHA256) -> bytes:
    """Load File Data Block hash for INSTALL [for load] / DAP (GP v2.3 §11.5.2.3.1): over the C4 contents."""
    return hashlib.new(HashAlgorithm(algorithm).value, lfdb).digest()


@dataclass(frozen=True)
class DapBlock:
    """GP v2.3 §11.6.2.3: `E2 { 4F SD AID, C3 signature }`."""

    security_domain_aid: bytes
    signature: bytes

    def to_bytes(self) -> bytes:
        return ber_encode(0xE2, ber_encode(0x4F, _check_aid(self.security_domain_aid, "DAP block SD AID"))
                          + ber_encode(0xC3, self.signature))


def load_file_stream(lfdb: bytes, dap_blocks: Sequence[DapBlock] = ()) -> bytes:
    """The bytes LOAD carries: optional DAP blocks, then `C4 <BER length> <Load File Data Block>`."""
    return b"".join(block.to_bytes() for block in dap_blocks) + ber_encode(0xC4, lfdb)


def block_size_for(overhead: int = 0, cipher_block: int = 0) -> int:
    """Largest clear data block whose wrapped form still fits in 255 bytes.

    `overhead` is what the secure channel appends (e.g. 8 for a C-MAC); with `cipher_block` (16 for SCP03
    C-DEC, 8 for SCP02) the data is also padded '80 00..' to whole blocks before encryption, adding 1..block bytes.
    """
    room = MAX_SHORT_DATA - overhead
    if cipher_block:
        room = room // cipher_block * cipher_block - 1
    if room < 1:
        raise BadInput(f"overhead {overhead}, cipher block {cipher_block}", where="LOAD block size",
                       expected="room for at least one byte of data")
    return room


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def load_commands(lfdb: bytes, *, block_size: int = MAX_SHORT_DATA, dap_blocks: Sequence[DapBlock] = (),
                  cla: int = CLA_GP) -> list[CommandApdu]:
    """The LOAD commands (GP v2.3 §11.6.2): P1 '80' on the last block, P2 = block number from 00."""
    if not 1 <= block_size <= MAX_SHORT_DATA:
        raise BadInput(f"{block_size}", where="LOAD block size", expected="1..255 bytes")
    blocks = _chunks(load_file_stream(lfdb, dap_blocks), block_size)
    if len(blocks) > 256:
        raise BadInput(f"{len(blocks)} blocks of {block_size} bytes", where="LOAD",
                       expected="at most 256 blocks (P2 is one byte); use larger blocks")
    last = len(blocks) - 1
    return [CommandApdu(cla, 0xE8, 0x80 if i == last else 0x00, i, block, le=LE_MAX)
            for i, block in enumerate(blocks)]


class LoadBlock(NamedTuple):
    number: int
    last: bool
    data: bytes


def parse_load(command: CommandApdu | bytes) -> LoadBlock:
    apdu = _apdu(command)
    _expect_ins(apdu, 0xE8, "LOAD")
    if apdu.p1 & 0x7F:
        raise DecodeError(f"P1 {apdu.p1:02X}", where="LOAD", expected="00 (more blocks) or 80 (last block)")
    return LoadBlock(apdu.p2, bool(apdu.p1 & 0x80), apdu.data)


@dataclass(frozen=True)
class LoadFile:
    dap_blocks: tuple[DapBlock, ...]
    lfdb: bytes


def reassemble_load(blocks: Iterable[LoadBlock]) -> LoadFile:
    """Join LOAD blocks (numbers must run 0, 1, ... and end with the last-block flag) and split the stream."""
    stream = bytearray()
    expected, finished = 0, False
    for block in blocks:
        if finished or block.number != expected:
            raise DecodeError(f"block {block.number}", where="LOAD sequence",
                              expected=f"block {expected}" if not finished else "no block after the last one")
        stream += block.data
        expected, finished = expected + 1, block.last
    if not finished:
        raise DecodeError("no last block", where="LOAD sequence", expected="a final block with P1 = 80")
    return parse_load_file(bytes(stream))


def parse_load_file(stream: bytes) -> LoadFile:
    """Split the LOAD stream into DAP blocks ('E2') and the Load File Data Block ('C4')."""
    daps: list[DapBlock] = []
    items = ber_decode(stream, where="LOAD stream", skip_padding=False)
    for index, item in enumerate(items):
        where = f"LOAD stream object {index}"
        if item.tag == 0xC4:
            if index != len(items) - 1:
                raise DecodeError("data after C4", where=where, expected="C4 as the last object")
            return LoadFile(tuple(daps), item.value)
        if item.tag != 0xE2:
            raise DecodeError(f"tag {item.tag:02X}", where=where, expected="E2 (DAP block) or C4 (load file)")
        aid, signature = item.find(0x4F), item.find(0xC3)
        if aid is None or signature is None:
            raise DecodeError("DAP block without 4F or C3", where=where, expected="E2 { 4F SD AID, C3 signature }")
        daps.append(DapBlock(aid.value, signature.value))
    raise DecodeError("no C4 object", where="LOAD stream", expected="a C4 Load File Data Block")


# --------------------------------------------------------------------------------------------- DELETE

def delete(aid: bytes, *, related: bool = False, cla: int = CLA_GP) -> CommandApdu:
    """DELETE [card content] (GP v2.3 §11.2.2): P2 '80' also deletes related objects."""
    data = ber_encode(0x4F, _check_aid(aid, "DELETE AID"))
    return CommandApdu(cla, 0xE4, 0x00, 0x80 if related else 0x00, data, le=LE_MAX)


def delete_key(*, kvn: int | None = None, kid: int | None = None, cla: int = CLA_GP) -> CommandApdu:
    """DELETE [key] (GP v2.3 §11.2.2.3): 'D0' key identifier and/or 'D2' key version number."""
    if kvn is None and kid is None:
        raise BadInput("neither KVN nor KID", where="DELETE key", expected="a key version number and/or key id")
    data = b""
    for tag, value, name in ((0xD0, kid, "KID"), (0xD2, kvn, "KVN")):
        if value is not None:
            if not 0 <= value <= 0xFF:
                raise BadInput(f"{name} {value}", where="DELETE key", expected="00..FF")
            data += ber_encode(tag, bytes((value,)))
    return CommandApdu(cla, 0xE4, 0x00, 0x00, data, le=LE_MAX)


@dataclass(frozen=True)
class DeleteCommand:
    aid: bytes | None = None
    related: bool = False
    kid: int | None = None
    kvn: int | None = None
    other: tuple[BerTlv, ...] = ()  # e.g. a delete token (9E) or control reference template (B6)


def parse_delete(command: CommandApdu | bytes) -> DeleteCommand:
    apdu = _apdu(command)
    _expect_ins(apdu, 0xE4, "DELETE")
    aid = kid = kvn = None
    other = []
    for item in ber_decode(apdu.data, where="DELETE data", skip_padding=False):
        if item.tag == 0x4F:
            aid = _check_parsed_aid(item.value, "DELETE 4F")
        elif item.tag in (0xD0, 0xD2) and len(item.value) == 1:
            kid, kvn = (item.value[0], kvn) if item.tag == 0xD0 else (kid, item.value[0])
        else:
            other.append(item)
    if aid is None and kid is None and kvn is None:
        raise DecodeError("nothing to delete", where="DELETE data", expected="4F AID, or D0/D2 key references")
    return DeleteCommand(aid, bool(apdu.p2 & 0x80), kid, kvn, tuple(other))


# --------------------------------------------------------------------------------------------- SET STATUS

class StatusType(enum.IntEnum):
    """SET STATUS P1 (GP v2.3 §11.10.2.1); '60' as GPShell's globalplatform library has it (pySim writes 'C0')."""

    ISSUER_SECURITY_DOMAIN = 0x80
    APPLICATION = 0x40
    SECURITY_DOMAIN_AND_APPLICATIONS = 0x60


def set_status(status_type: StatusType, state: int, aid: bytes = b"", *, cla: int = CLA_GP) -> CommandApdu:
    """SET STATUS (GP v2.3 §11.10.2): P2 = the new life cycle state; AID of the target (optional for the ISD)."""
    if not 0 <= state <= 0xFF:
        raise BadInput(f"state {state}", where="SET STATUS", expected="a life cycle byte 00..FF")
    target = _check_aid(aid, "SET STATUS AID", optional=status_type == StatusType.ISSUER_SECURITY_DOMAIN)
    return CommandApdu(cla, 0xF0, int(StatusType(status_type)), state, target)


class SetStatusCommand(NamedTuple):
    status_type: int
    state: int
    aid: bytes


def parse_set_status(command: CommandApdu | bytes) -> SetStatusCommand:
    apdu = _apdu(command)
    _expect_ins(apdu, 0xF0, "SET STATUS")
    if apdu.p1 not in set(StatusType):
        raise DecodeError(f"P1 {apdu.p1:02X}", where="SET STATUS", expected="80, 40 or 60")
    aid = _check_parsed_aid(apdu.data, "SET STATUS AID", optional=apdu.p1 == StatusType.ISSUER_SECURITY_DOMAIN)
    return SetStatusCommand(apdu.p1, apdu.p2, aid)


# --------------------------------------------------------------------------------------------- STORE DATA

class StoreDataEncryption(enum.IntEnum):
    """STORE DATA P1 b7b6 (GP v2.3 §11.11.2.1, Table 11-89 as pySim cites it)."""

    NONE = 0x00
    APPLICATION_DEPENDENT = 0x20
    ENCRYPTED = 0x60


class StoreDataStructure(enum.IntEnum):
    """STORE DATA P1 b5b4."""

    NONE = 0x00
    DGI = 0x08
    BER_TLV = 0x10


LAST_BLOCK = 0x80
RESPONSE_EXPECTED = 0x01


class _DgiLength(cs.Construct):
    """DGI length (GP v2.3 §11.11.2.2, EMV CPS): one byte 00..FE, or 'FF' followed by two bytes."""

    def _parse(self, stream, context, path):  # type: ignore[no-untyped-def]
        first = cs.stream_read(stream, 1, path)[0]
        return first if first != 0xFF else int.from_bytes(cs.stream_read(stream, 2, path), "big")

    def _build(self, obj, stream, context, path):  # type: ignore[no-untyped-def]
        data = bytes((obj,)) if obj < 0xFF else b"\xff" + obj.to_bytes(2, "big")
        cs.stream_write(stream, data, len(data), path)
        return obj


DGI = cs.Struct("tag" / cs.Int16ub, "length" / cs.Rebuild(_DgiLength(), cs.len_(cs.this.value)),
                "value" / cs.Bytes(cs.this.length))
DGI_SEQUENCE = cs.Struct("items" / cs.GreedyRange(DGI), cs.Terminated)


def encode_dgi(tag: int, value: bytes) -> bytes:
    return build_struct(DGI, {"tag": tag, "value": value}, f"DGI {tag:04X}",
                        expected="a 2-byte DGI tag and at most 65535 bytes")


def decode_dgis(data: bytes) -> list[tuple[int, bytes]]:
    parsed = parse_struct(DGI_SEQUENCE, data, "DGI sequence", "2-byte tag, 1- or 3-byte length, value")
    return [(item.tag, bytes(item.value)) for item in parsed["items"]]


def _pack(items: Sequence[bytes], size: int) -> list[bytes]:
    """Fill blocks of at most `size` bytes, never splitting an item that fits into one block."""
    blocks: list[bytes] = []
    current = b""
    for item in items:
        if current and len(current) + len(item) > size:
            blocks.append(current)
            current = b""
        current += item
        while len(current) > size:
            blocks.append(current[:size])
            current = current[size:]
    return blocks + [current] if current or not blocks else blocks


def store_data_commands(items: Sequence[bytes] | bytes, *,
                        structure: StoreDataStructure = StoreDataStructure.NONE,
                        encryption: StoreDataEncryption = StoreDataEncryption.NONE,
                        response_expected: bool = False, block_size: int = MAX_SHORT_DATA,
                        first_block: int = 0, cla: int = CLA_GP) -> list[CommandApdu]:
    """STORE DATA commands for `items` (encoded DGIs or TLVs, or one bytes object), chained with block numbers.

    Items go whole into blocks of at most `block_size` bytes; only an item larger than a block is split.
    P1 b8 marks the last block, P2 counts blocks from `first_block`.
    """
    if not 1 <= block_size <= MAX_SHORT_DATA:
        raise BadInput(f"{block_size}", where="STORE DATA block size", expected="1..255 bytes")
    blocks = _pack([items] if isinstance(items, bytes) else list(items), block_size)
    if first_block + len(blocks) > 256:
        raise BadInput(f"{len(blocks)} blocks from {first_block}", where="STORE DATA",
                       expected="block numbers up to 255")
    p1 = int(StoreDataStructure(structure)) | int(StoreDataEncryption(encryption)) | \
        (RESPONSE_EXPECTED if response_expected else 0)
    last = len(blocks) - 1
    return [CommandApdu(cla, 0xE2, p1 | (LAST_BLOCK if i == last else 0), first_block + i, block,
                        le=LE_MAX if response_expected else None)
            for i, block in enumerate(blocks)]


class StoreDataBlock(NamedTuple):
    number: int
    last: bool
    encryption: int
    structure: int
    response_expected: bool
    data: bytes


def parse_store_data(command: CommandApdu | bytes) -> StoreDataBlock:
    apdu = _apdu(command)
    _expect_ins(apdu, 0xE2, "STORE DATA")
    return StoreDataBlock(apdu.p2, bool(apdu.p1 & LAST_BLOCK), apdu.p1 & 0x60, apdu.p1 & 0x18,
                          bool(apdu.p1 & RESPONSE_EXPECTED), apdu.data)


# --------------------------------------------------------------------------------------------- PUT KEY

@dataclass(frozen=True)
class NewKey:
    """One key of a PUT KEY command, in clear."""

    key_type: KeyType
    value: bytes = field(repr=False)


def _key_algorithm(key_type: int) -> KeyAlgorithm:
    if key_type == KeyType.AES:
        return KeyAlgorithm.AES
    if key_type == KeyType.DES:
        return KeyAlgorithm.DES3
    raise UnsupportedError(f"key type {key_type:02X}", where="PUT KEY", expected="80 (DES) or 88 (AES)")


def _check_dek(dek: bytes, algorithm: KeyAlgorithm) -> None:
    sizes = (16, 24, 32) if algorithm is KeyAlgorithm.AES else (16, 24)
    if len(dek) not in sizes:
        raise BadInput(f"{len(dek)}-byte DEK", where="PUT KEY DEK",
                       expected=" or ".join(map(str, sizes)) + f" bytes for {algorithm.value}")


def encrypt_key_data(key: bytes, dek: bytes, dek_algorithm: KeyAlgorithm,
                     rng: Callable[[int], bytes] = os.urandom) -> bytes:
    """The key data block of PUT KEY: the key encrypted under the DEK.

    3DES DEK (SCP02/SCP80 KIK): 3DES-ECB of the key (GP v2.3 §11.8.2.3).  AES DEK (SCP03, GP Amendment D; DIGEST §5.4):
    `len(key) || AES-CBC(DEK, zero IV, key || padding)`, the padding up to 16 bytes coming from `rng` (its value
    does not matter: the length byte tells the card where the key ends), as GlobalPlatformPro and openjavacard do.
    """
    _check_dek(dek, dek_algorithm)
    if dek_algorithm is KeyAlgorithm.DES3:
        if len(key) % 8:
            raise BadInput(f"{len(key)}-byte key", where="PUT KEY", expected="a multiple of 8 bytes under a 3DES DEK")
        return des3_ecb_encrypt(dek, key)
    return bytes((len(key),)) + aes_cbc_encrypt(dek, key + rng(-len(key) % 16))


def decrypt_key_data(data: bytes, dek: bytes, dek_algorithm: KeyAlgorithm, where: str = "PUT KEY") -> bytes:
    """Inverse of `encrypt_key_data` (the card side)."""
    _check_dek(dek, dek_algorithm)
    if dek_algorithm is KeyAlgorithm.DES3:
        if not data or len(data) % 8:
            raise DecodeError(f"{len(data)} bytes", where=where, expected="whole 8-byte blocks")
        return des3_ecb_decrypt(dek, data)
    if len(data) < 17 or (len(data) - 1) % 16 or data[0] > len(data) - 1:
        raise DecodeError(f"{len(data)} bytes of key data", where=where,
                          expected="a length byte and whole 16-byte blocks holding at least that many bytes")
    return aes_cbc_decrypt(dek, data[1:])[:data[0]]


# GP v2.3 §11.8.2.3 Table 11-68 (basic format): new KVN, then per key: type, LV(key data), LV(KCV).  Key data of
# DES/AES keys is at most 33 bytes, so its BER length is always one byte.
PUT_KEY_DATA = cs.Struct(
    "new_kvn" / cs.Int8ub,
    "keys" / cs.GreedyRange(cs.Struct("key_type" / cs.Int8ub, "key_data" / _LV, "kcv" / _LV)),
    cs.Terminated,
)


@dataclass(frozen=True)
class PutKeyCommand:
    """PUT KEY (GP v2.3 §11.8): replace key set `old_kvn` (00 = add a new set) with `keys` as `new_kvn`."""

    new_kvn: int
    keys: tuple[NewKey, ...]
    old_kvn: int = 0
    first_kid: int = 1

    def expected_response(self) -> bytes:
        """What the card answers (GP v2.3 §11.8.3.1): the new KVN, then the KCV of each key."""
        return bytes((self.new_kvn,)) + b"".join(kcv(k.value, _key_algorithm(k.key_type)) for k in self.keys)

    def to_apdu(self, dek: bytes, dek_algorithm: KeyAlgorithm | None = None, *, cla: int = CLA_GP,
                rng: Callable[[int], bytes] = os.urandom) -> CommandApdu:
        """The command with each key encrypted under `dek` (algorithm: that of the first key, unless given)."""
        if not self.keys:
            raise BadInput("no keys", where="PUT KEY", expected="at least one key")
        for name, value, top in (("new KVN", self.new_kvn, 0xFF), ("old KVN", self.old_kvn, 0xFF),
                                 ("first KID", self.first_kid, 0x7F)):
            if not 0 <= value <= top:
                raise BadInput(f"{name} {value}", where="PUT KEY", expected=f"00..{top:02X}")
        algorithm = dek_algorithm or _key_algorithm(self.keys[0].key_type)
        keys = [{"key_type": int(k.key_type),
                 "key_data": encrypt_key_data(k.value, dek, algorithm, rng),
                 "kcv": kcv(k.value, _key_algorithm(k.key_type))} for k in self.keys]
        data = build_struct(PUT_KEY_DATA, {"new_kvn": self.new_kvn, "keys": keys}, "PUT KEY")
        p2 = self.first_kid | (0x80 if len(self.keys) > 1 else 0)
        return CommandApdu(cla, 0xD8, self.old_kvn, p2, data, le=LE_MAX)


def verify_put_key_response(response: bytes, expected: PutKeyCommand | bytes) -> None:
    """Raise BadChecksum unless the card's answer carries the expected KVN and key check values (constant time)."""
    want = expected.expected_response() if isinstance(expected, PutKeyCommand) else bytes(expected)
    if not ct_equal(bytes(response), want):
        raise BadChecksum("the card's KVN or key check values differ from the keys sent", where="PUT KEY response",
                          expected=f"KVN {want[0]:02X} and {(len(want) - 1) // 3} matching KCVs" if want else None)


def decode_put_key(command: CommandApdu | bytes, dek: bytes, dek_algorithm: KeyAlgorithm) -> PutKeyCommand:
    """Card side: decrypt the keys of a PUT KEY command and check each KCV sent with them (BadChecksum)."""
    apdu = _apdu(command)
    _expect_ins(apdu, 0xD8, "PUT KEY")
    parsed = parse_struct(PUT_KEY_DATA, apdu.data, "PUT KEY data", "new KVN, then type, LV key data, LV KCV")
    if not parsed["keys"]:
        raise DecodeError("no key", where="PUT KEY data", expected="at least one key")
    if (len(parsed["keys"]) > 1) != bool(apdu.p2 & 0x80):
        raise DecodeError(f"P2 {apdu.p2:02X} with {len(parsed['keys'])} keys", where="PUT KEY",
                          expected="P2 b8 set exactly when several keys follow")
    keys = []
    for index, item in enumerate(parsed["keys"]):
        where = f"PUT KEY key {index}"
        algorithm = _key_algorithm(item.key_type)
        value = decrypt_key_data(item.key_data, dek, dek_algorithm, where)
        if item.kcv:
            try:
                verify_kcv(value, algorithm, item.kcv)
            except BadChecksum:
                raise BadChecksum("key check value does not match the decrypted key", where=where) from None
        keys.append(NewKey(KeyType(item.key_type), value))
    return PutKeyCommand(parsed.new_kvn, tuple(keys), apdu.p1, apdu.p2 & 0x7F)
