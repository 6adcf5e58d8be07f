"""Codecs for the UICC/USIM files the provisioning flow writes and checks; shared by the host and the card.

Sources: ETSI TS 102 221 (FCP §11.1.1.4, EF.DIR §13.1, EF.ARR §13.4 with access rules §9.2/ISO 7816-4 §9.3),
3GPP TS 31.102 §4.2 (USIM EFs), 3GPP TS 24.008 §10.5.1.3 (PLMN coding), 3GPP TS 23.038 §6.2.1 (GSM alphabet).
Every decoder takes bytes and returns a typed value or raises DecodeError; encoders check their input (BadInput).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from construct import Bytes, ConstructError, GreedyBytes, Int8ub, Int16ub, Optional, Struct, Terminated

from .errors import BadInput, DecodeError
from .tlv import BerTlv, ber_decode, ber_decode_one, ber_encode


def _parse(construct: Struct, data: bytes, where: str):
    try:
        return construct.parse(bytes(data))
    except ConstructError:
        raise DecodeError(f"{len(data)} bytes do not fit the layout", where=where,
                          expected="the coding of the cited clause") from None


def _digits(text: str, where: str, lengths: range) -> str:
    if not text.isascii() or not text.isdigit() or len(text) not in lengths:
        raise BadInput(f"{text!r}", where=where, expected=f"{lengths.start}..{lengths.stop - 1} decimal digits")
    return text


# --- PLMN (TS 24.008 §10.5.1.3): MCC2 MCC1 | MNC3 MCC3 | MNC2 MNC1, MNC3 = F for 2-digit MNCs -------------

@dataclass(frozen=True)
class Plmn:
    mcc: str
    mnc: str

    def __post_init__(self) -> None:
        _digits(self.mcc, "MCC", range(3, 4))
        _digits(self.mnc, "MNC", range(2, 4))

    def __str__(self) -> str:
        return f"{self.mcc}-{self.mnc}"


def encode_plmn(plmn: Plmn | None) -> bytes:
    if plmn is None:
        return b"\xff\xff\xff"
    mcc, mnc = [int(d) for d in plmn.mcc], [int(d) for d in plmn.mnc]
    mnc3 = mnc[2] if len(mnc) == 3 else 0xF
    return bytes((mcc[1] << 4 | mcc[0], mnc3 << 4 | mcc[2], mnc[1] << 4 | mnc[0]))


def decode_plmn(data: bytes, where: str = "PLMN") -> Plmn | None:
    if len(data) != 3:
        raise DecodeError(f"{len(data)} bytes", where=where, expected="3 bytes")
    if data == b"\xff\xff\xff":
        return None
    nibbles = [data[0] & 0xF, data[0] >> 4, data[1] & 0xF, data[2] & 0xF, data[2] >> 4, data[1] >> 4]
    if any(n > 9 for n in nibbles[:5]) or nibbles[5] not in (*range(10), 0xF):
        raise DecodeError(f"{data.hex()}", where=where, expected="BCD digits (MNC digit 3 may be F)")
    mnc = "".join(map(str, nibbles[3:5])) + ("" if nibbles[5] == 0xF else str(nibbles[5]))
    return Plmn("".join(map(str, nibbles[:3])), mnc)


# --- EF.IMSI (TS 31.102 §4.2.2): length, then digit 1 with parity nibble, then swapped BCD, F filled ---------

IMSI_FILE_SIZE = 9


def encode_imsi(imsi: str) -> bytes:
    digits = _digits(imsi, "IMSI", range(6, 16))
    parity = 0x9 if len(digits) % 2 else 0x1  # b4 = odd number of digits, b3..b1 = 001 (IMSI)
    nibbles = [parity, *map(int, digits)]
    if len(nibbles) % 2:
        nibbles.append(0xF)
    body = bytes(nibbles[i + 1] << 4 | nibbles[i] for i in range(0, len(nibbles), 2))
    return (bytes((len(body),)) + body).ljust(IMSI_FILE_SIZE, b"\xff")


def decode_imsi(data: bytes) -> str:
    if not data or data[0] in (0, 0xFF) or data[0] + 1 > len(data) or data[0] > 8:
        raise DecodeError(f"length byte {data[:1].hex() or 'missing'}", where="EF.IMSI byte 1",
                          expected="1..8, not beyond the file")
    body = data[1:1 + data[0]]
    nibbles = [n for b in body for n in (b & 0xF, b >> 4)]
    if nibbles[0] & 0x7 != 1:
        raise DecodeError(f"identity type {nibbles[0] & 7}", where="EF.IMSI byte 2", expected="001 (IMSI)")
    odd = bool(nibbles[0] & 0x8)
    digits = nibbles[1:] if odd else nibbles[1:-1]
    if (not odd and nibbles[-1] != 0xF) or any(d > 9 for d in digits):
        raise DecodeError(body.hex(), where="EF.IMSI", expected="BCD digits with F filler on even length")
    return "".join(map(str, digits))


# --- EF.ICCID (TS 102 221 §13.2): swapped BCD, F filled to 10 bytes ------------------------------------

ICCID_FILE_SIZE = 10


def encode_iccid(iccid: str) -> bytes:
    digits = [int(d) for d in _digits(iccid, "ICCID", range(18, 21))]
    digits += [0xF] * (2 * ICCID_FILE_SIZE - len(digits))
    return bytes(digits[i + 1] << 4 | digits[i] for i in range(0, len(digits), 2))


def decode_iccid(data: bytes) -> str:
    if len(data) != ICCID_FILE_SIZE:
        raise DecodeError(f"{len(data)} bytes", where="EF.ICCID", expected=f"{ICCID_FILE_SIZE} bytes")
    nibbles = [n for b in data for n in (b & 0xF, b >> 4)]
    digits = nibbles[:nibbles.index(0xF)] if 0xF in nibbles else nibbles
    if any(d > 9 for d in digits) or any(n != 0xF for n in nibbles[len(digits):]) or len(digits) < 18:
        raise DecodeError(data.hex(), where="EF.ICCID", expected="18-20 BCD digits, F filled")
    return "".join(map(str, digits))


# --- EF.AD (TS 31.102 §4.2.18) ----------------------------------------------------------------------------

AD = Struct("ue_mode" / Int8ub, "info" / Int16ub, "mnc_length" / Optional(Int8ub), "rest" / GreedyBytes)


@dataclass(frozen=True)
class AdministrativeData:
    ue_mode: int = 0  # 00 normal operation, 80 type approval, 01 normal + specific facilities ...
    info: int = 0  # b1 of byte 3: ciphering indicator
    mnc_length: int | None = 2
    rest: bytes = b""

    def to_bytes(self) -> bytes:
        if self.mnc_length is None and self.rest:
            raise BadInput("extra bytes without an MNC length", where="EF.AD", expected="mnc_length set")
        return AD.build({"ue_mode": self.ue_mode, "info": self.info, "mnc_length": self.mnc_length,
                         "rest": self.rest})

    @classmethod
    def from_bytes(cls, data: bytes) -> AdministrativeData:
        ad = _parse(AD, data, "EF.AD")
        return cls(ad.ue_mode, ad.info, ad.mnc_length, ad.rest)


# --- EF.UST (TS 31.102 §4.2.8): service n is bit (n-1)%8 of byte (n-1)//8 ------------------------------------

class UstService(IntEnum):
    """The services this project cares about (TS 31.102 §4.2.8 list)."""

    SPN = 19
    GSM_ACCESS = 27  # Kc is returned by AUTHENTICATE
    DATA_DOWNLOAD_SMS_PP = 28
    DATA_DOWNLOAD_SMS_CB = 29
    EST = 34


@dataclass(frozen=True)
class ServiceTable:
    services: frozenset[int]
    size: int  # bytes in the file

    def __post_init__(self) -> None:
        bad = [n for n in self.services if not 1 <= n <= self.size * 8]
        if bad:
            raise BadInput(f"services {sorted(bad)}", where="EF.UST", expected=f"1..{self.size * 8}")

    def __contains__(self, service: object) -> bool:
        return service in self.services

    def to_bytes(self) -> bytes:
        out = bytearray(self.size)
        for n in self.services:
            out[(n - 1) // 8] |= 1 << ((n - 1) % 8)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> ServiceTable:
        if not data:
            raise DecodeError("empty", where="EF.UST", expected="at least 1 byte")
        return cls(frozenset(i * 8 + b + 1 for i, byte in enumerate(data) for b in range(8) if byte >> b & 1),
                   len(data))


# --- EF.ACC (TS 31.102 §4.2.15): 16 bits, bit n = access class n (byte 1 b8 = ACC15 ... byte 2 b1 = ACC0) --

def encode_acc(classes: frozenset[int] | set[int]) -> bytes:
    if any(not 0 <= c <= 15 for c in classes):
        raise BadInput(f"{sorted(classes)}", where="EF.ACC", expected="access classes 0..15")
    return sum(1 << c for c in classes).to_bytes(2, "big")


def decode_acc(data: bytes) -> frozenset[int]:
    if len(data) != 2:
        raise DecodeError(f"{len(data)} bytes", where="EF.ACC", expected="2 bytes")
    value = int.from_bytes(data, "big")
    return frozenset(c for c in range(16) if value >> c & 1)


# --- Text in SIM files: GSM default alphabet, unpacked (TS 23.038 §6.2.1) or UCS2 with '80' (TS 102 221 Annex A)

_GSM_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_CODES = {ch: i for i, ch in enumerate(_GSM_ALPHABET) if ch != "\x1b"}


def encode_alpha(text: str, size: int, where: str) -> bytes:
    """GSM default alphabet when every character has a code there, else UCS2 prefixed by '80'; FF padded."""
    if all(ch in _GSM_CODES for ch in text):
        raw = bytes(_GSM_CODES[ch] for ch in text)
    else:
        raw = b"\x80" + text.encode("utf-16-be")
    if len(raw) > size:
        raise BadInput(f"{text!r} needs {len(raw)} bytes", where=where, expected=f"at most {size} bytes")
    return raw.ljust(size, b"\xff")


def decode_alpha(data: bytes, where: str) -> str:
    if data[:1] == b"\x80":
        body = data[1:]
        end = next((i for i in range(0, len(body) - 1, 2) if body[i:i + 2] == b"\xff\xff"), len(body) & ~1)
        try:
            return body[:end].decode("utf-16-be")
        except UnicodeDecodeError:
            raise DecodeError("bad UCS2", where=where, expected="UTF-16BE after '80'") from None
    text = data.split(b"\xff", 1)[0]
    if any(b >= 0x80 or b == 0x1B for b in text):
        raise DecodeError(f"{text.hex()}", where=where, expected="GSM default alphabet codes 00..7F (no escape)")
    return "".join(_GSM_ALPHABET[b] for b in text)


# --- EF.SPN (TS 31.102 §4.2.12): display condition, 16 bytes of name ----------------------------------------

SPN = Struct("display_condition" / Int8ub, "name" / Bytes(16), Terminated)


@dataclass(frozen=True)
class ServiceProviderName:
    name: str
    display_condition: int = 0  # b1: display of registered PLMN name required when registered in HPLMN...

    def to_bytes(self) -> bytes:
        return SPN.build({"display_condition": self.display_condition,
                          "name": encode_alpha(self.name, 16, "EF.SPN name")})

    @classmethod
    def from_bytes(cls, data: bytes) -> ServiceProviderName:
        spn = _parse(SPN, data, "EF.SPN")
        return cls(decode_alpha(spn.name, "EF.SPN name"), spn.display_condition)


# --- EF.LOCI (TS 31.102 §4.2.17): TMSI, LAI (PLMN + LAC), RFU, location update status ---------------------

LOCI = Struct("tmsi" / Bytes(4), "plmn" / Bytes(3), "lac" / Int16ub, "rfu" / Int8ub, "status" / Int8ub, Terminated)


class UpdateStatus(IntEnum):
    UPDATED = 0
    NOT_UPDATED = 1
    PLMN_NOT_ALLOWED = 2
    LOCATION_AREA_NOT_ALLOWED = 3


@dataclass(frozen=True)
class LocationInformation:
    tmsi: bytes = b"\xff" * 4
    plmn: Plmn | None = None
    lac: int = 0xFFFE  # TS 24.008 §10.5.1.3: LAC FFFE marks a deleted LAI
    rfu: int = 0xFF
    status: int = UpdateStatus.NOT_UPDATED

    def to_bytes(self) -> bytes:
        return LOCI.build({"tmsi": self.tmsi, "plmn": encode_plmn(self.plmn), "lac": self.lac, "rfu": self.rfu,
                           "status": self.status})

    @classmethod
    def from_bytes(cls, data: bytes) -> LocationInformation:
        loci = _parse(LOCI, data, "EF.LOCI")
        return cls(loci.tmsi, decode_plmn(loci.plmn, "EF.LOCI LAI"), loci.lac, loci.rfu, loci.status)


# --- EF.HPPLMN (TS 31.102 §4.2.6): search period in units of 6 minutes (2G/3G), 0 = no search ---------------

def encode_hpplmn(period: int) -> bytes:
    if not 0 <= period <= 0xFF:
        raise BadInput(f"{period}", where="EF.HPPLMN", expected="0..255")
    return bytes((period,))


def decode_hpplmn(data: bytes) -> int:
    if len(data) != 1:
        raise DecodeError(f"{len(data)} bytes", where="EF.HPPLMN", expected="1 byte")
    return data[0]


# --- EF.FPLMN (TS 31.102 §4.2.16): n PLMNs, unused entries FF FF FF -----------------------------------------

def encode_fplmn(plmns: list[Plmn] | tuple[Plmn, ...], entries: int = 4) -> bytes:
    if len(plmns) > entries:
        raise BadInput(f"{len(plmns)} PLMNs", where="EF.FPLMN", expected=f"at most {entries}")
    return b"".join(encode_plmn(p) for p in plmns).ljust(3 * entries, b"\xff")


def decode_fplmn(data: bytes) -> tuple[Plmn, ...]:
    if len(data) % 3 or not data:
        raise DecodeError(f"{len(data)} bytes", where="EF.FPLMN", expected="a multiple of 3 bytes")
    plmns = (decode_plmn(data[i:i + 3], f"EF.FPLMN entry {i // 3 + 1}") for i in range(0, len(data), 3))
    return tuple(p for p in plmns if p is not None)


# --- EF.DIR records (TS 102 221 §13.1): 61 L {4F AID, 50 label, ...}, FF padded -------------------------------

TAG_APP_TEMPLATE, TAG_AID, TAG_LABEL = 0x61, 0x4F, 0x50


@dataclass(frozen=True)
class DirRecord:
    aid: bytes
    label: str | None = None
    extra: tuple[BerTlv, ...] = ()  # other application template objects (e.g. 73 discretionary), kept as is

    def __post_init__(self) -> None:
        if not 5 <= len(self.aid) <= 16:
            raise BadInput(f"{len(self.aid)}-byte AID", where="EF.DIR AID", expected="5..16 bytes")

    def to_bytes(self, record_length: int | None = None) -> bytes:
        children = [BerTlv(TAG_AID, self.aid)]
        if self.label is not None:
            children.append(BerTlv(TAG_LABEL, self.label.encode("ascii", "replace")))
        raw = ber_encode(TAG_APP_TEMPLATE, [*children, *self.extra])
        if record_length is None:
            return raw
        if len(raw) > record_length:
            raise BadInput(f"{len(raw)} bytes", where="EF.DIR record", expected=f"at most {record_length}")
        return raw.ljust(record_length, b"\xff")

    @classmethod
    def from_bytes(cls, data: bytes) -> DirRecord | None:
        """One record; None for an empty (all FF) record."""
        if not data.rstrip(b"\xff"):
            return None
        template = ber_decode_one(data.rstrip(b"\xff"), where="EF.DIR record")
        if template.tag != TAG_APP_TEMPLATE:
            raise DecodeError(f"tag {template.tag:02x}", where="EF.DIR record", expected="61 (application template)")
        children = template.children
        aid = next((c.value for c in children if c.tag == TAG_AID), None)
        if aid is None or not 5 <= len(aid) <= 16:
            raise DecodeError("no valid 4F", where="EF.DIR record", expected="an AID of 5..16 bytes")
        label = next((c.value for c in children if c.tag == TAG_LABEL), None)
        extra = tuple(c for c in children if c.tag not in (TAG_AID, TAG_LABEL))
        return cls(aid, None if label is None else label.decode("latin-1"), extra)


# --- FCP template (TS 102 221 §11.1.1.4) ----------------------------------------------------------------------

class FileType(IntEnum):
    """FDB b6..b4 (TS 102 221 §11.1.1.4.3)."""

    WORKING_EF = 0
    INTERNAL_EF = 1
    DF = 7


class Structure(IntEnum):
    """FDB b3..b1 (TS 102 221 §11.1.1.4.3); BER_TLV stands for the whole FDB value 39."""

    NO_INFO = 0
    TRANSPARENT = 1
    LINEAR_FIXED = 2
    CYCLIC = 6
    BER_TLV = 0x39


class Lcsi(IntEnum):
    """Life cycle status integer (TS 102 221 §11.1.1.4.9, ISO 7816-4 §5.3.3.2); 05/04 also with b2 set."""

    NO_INFO = 0x00
    CREATION = 0x01
    INITIALISATION = 0x03
    DEACTIVATED = 0x04
    ACTIVATED = 0x05
    TERMINATED = 0x0C


def lcsi_state(value: int) -> Lcsi:
    """Classify an LCSI byte (TS 102 221 §11.1.1.4.9): 0000 01x1 activated, 0000 01x0 deactivated, 0000 11xx
    terminated."""
    if value in (0x00, 0x01, 0x03):
        return Lcsi(value)
    if value & 0xFC == 0x0C:
        return Lcsi.TERMINATED
    if value & 0xFD == 0x05:
        return Lcsi.ACTIVATED
    if value & 0xFD == 0x04:
        return Lcsi.DEACTIVATED
    raise DecodeError(f"LCSI {value:02x}", where="FCP tag 8A", expected="an LCSI of TS 102 221 §11.1.1.4.9")


# TS 102 221 §11.1.1.4.3: FDB, data coding byte (21), and for record EFs record length (2) + number of records.
FILE_DESCRIPTOR = Struct("fdb" / Int8ub, "coding" / Int8ub, "record_length" / Optional(Int16ub),
                         "record_count" / Optional(Int8ub), Terminated)


@dataclass(frozen=True)
class FileDescriptor:
    fdb: int
    record_length: int | None = None
    record_count: int | None = None
    coding: int = 0x21

    @classmethod
    def for_file(cls, file_type: FileType, structure: Structure, *, shareable: bool = True,
                 record_length: int | None = None, record_count: int | None = None) -> FileDescriptor:
        fdb = structure if structure == Structure.BER_TLV else file_type << 3 | structure
        return cls((0x40 if shareable else 0) | fdb, record_length, record_count)

    @property
    def shareable(self) -> bool:
        return bool(self.fdb & 0x40)

    @property
    def file_type(self) -> FileType | None:
        if self.fdb & 0x3F == Structure.BER_TLV:
            return FileType.WORKING_EF
        try:
            return FileType(self.fdb >> 3 & 7)
        except ValueError:
            return None

    @property
    def structure(self) -> Structure | None:
        if self.fdb & 0x3F == Structure.BER_TLV:
            return Structure.BER_TLV
        try:
            return Structure(self.fdb & 7)
        except ValueError:
            return None

    def to_bytes(self) -> bytes:
        return FILE_DESCRIPTOR.build({"fdb": self.fdb, "coding": self.coding, "record_length": self.record_length,
                                      "record_count": self.record_count if self.record_length is not None else None})

    @classmethod
    def from_bytes(cls, data: bytes) -> FileDescriptor:
        d = _parse(FILE_DESCRIPTOR, data, "FCP tag 82")
        if d.fdb & 0x80 or (d.record_length is not None) != (d.record_count is not None):
            raise DecodeError(data.hex(), where="FCP tag 82", expected="FDB b8 = 0 and 2 or 5 bytes")
        return cls(d.fdb, d.record_length, d.record_count, d.coding)


NO_SFI = 0  # tag 88 present and empty: the file has no SFI (TS 102 221 §11.1.1.4.8)

TAG_FCP = 0x62
_FCP_TAGS = {0x82, 0x83, 0x84, 0xA5, 0x8A, 0x8B, 0x8C, 0xAB, 0xC6, 0x80, 0x81, 0x88}


def _int_value(value: bytes, where: str) -> int:
    if not value:
        raise DecodeError("empty", where=where, expected="at least one byte")
    return int.from_bytes(value, "big")


@dataclass(frozen=True)
class Fcp:
    """An FCP template.  `sfi` is None when tag 88 is absent (SFI = FID's low 5 bits then), NO_SFI when empty.

    `arr` is the referenced security attribute (tag 8B) as (EF.ARR FID, record number); compact (8C) and
    expanded (AB) attributes are kept as raw bytes.
    """

    descriptor: FileDescriptor
    fid: int | None = None
    df_name: bytes | None = None
    lcsi: int | None = Lcsi.ACTIVATED
    arr: tuple[int, int] | None = None
    security_compact: bytes | None = None
    security_expanded: bytes | None = None
    pin_status: bytes | None = None
    file_size: int | None = None
    total_size: int | None = None
    sfi: int | None = None
    proprietary: bytes | None = None
    unknown: tuple[BerTlv, ...] = field(default=())

    def to_bytes(self) -> bytes:
        parts = [BerTlv(0x82, self.descriptor.to_bytes())]
        if self.fid is not None:
            parts.append(BerTlv(0x83, self.fid.to_bytes(2, "big")))
        if self.df_name is not None:
            parts.append(BerTlv(0x84, self.df_name))
        if self.proprietary is not None:
            parts.append(BerTlv(0xA5, self.proprietary))
        if self.lcsi is not None:
            parts.append(BerTlv(0x8A, bytes((self.lcsi,))))
        if self.arr is not None:
            parts.append(BerTlv(0x8B, self.arr[0].to_bytes(2, "big") + bytes((self.arr[1],))))
        if self.security_compact is not None:
            parts.append(BerTlv(0x8C, self.security_compact))
        if self.security_expanded is not None:
            parts.append(BerTlv(0xAB, self.security_expanded))
        if self.pin_status is not None:
            parts.append(BerTlv(0xC6, self.pin_status))
        if self.file_size is not None:
            parts.append(BerTlv(0x80, self.file_size.to_bytes(2, "big")))
        if self.total_size is not None:
            parts.append(BerTlv(0x81, self.total_size.to_bytes(2, "big")))
        if self.sfi is not None:
            parts.append(BerTlv(0x88, b"" if self.sfi == NO_SFI else bytes((self.sfi << 3,))))
        return ber_encode(TAG_FCP, [*parts, *self.unknown])

    @classmethod
    def from_bytes(cls, data: bytes) -> Fcp:
        template = ber_decode_one(data, where="FCP template")
        if template.tag != TAG_FCP:
            raise DecodeError(f"tag {template.tag:02x}", where="FCP template", expected="62")
        return cls.from_children(ber_decode(template.value, where="FCP template", skip_padding=False))

    @classmethod
    def from_children(cls, children: list[BerTlv]) -> Fcp:
        found: dict[int, bytes] = {}
        for child in children:
            if child.tag in _FCP_TAGS and child.tag in found:
                raise DecodeError(f"tag {child.tag:02x} twice", where="FCP template", expected="each tag once")
            found.setdefault(child.tag, child.value)
        if 0x82 not in found:
            raise DecodeError("no tag 82", where="FCP template", expected="a file descriptor (82)")
        return cls(
            descriptor=FileDescriptor.from_bytes(found[0x82]),
            fid=_fid(found.get(0x83)),
            df_name=found.get(0x84),
            lcsi=_lcsi(found.get(0x8A)),
            arr=_arr_ref(found.get(0x8B)),
            security_compact=found.get(0x8C),
            security_expanded=found.get(0xAB),
            pin_status=found.get(0xC6),
            file_size=None if 0x80 not in found else _int_value(found[0x80], "FCP tag 80"),
            total_size=None if 0x81 not in found else _int_value(found[0x81], "FCP tag 81"),
            sfi=_sfi(found.get(0x88)),
            proprietary=found.get(0xA5),
            unknown=tuple(c for c in children if c.tag not in _FCP_TAGS),
        )


def _fid(value: bytes | None) -> int | None:
    if value is None:
        return None
    if len(value) != 2:
        raise DecodeError(f"{len(value)} bytes", where="FCP tag 83", expected="a 2-byte file ID")
    return int.from_bytes(value, "big")


def _lcsi(value: bytes | None) -> int | None:
    if value is None:
        return None
    if len(value) != 1:
        raise DecodeError(f"{len(value)} bytes", where="FCP tag 8A", expected="1 byte")
    lcsi_state(value[0])
    return value[0]


def _arr_ref(value: bytes | None) -> tuple[int, int] | None:
    if value is None:
        return None
    if len(value) != 3:
        raise DecodeError(f"{len(value)} bytes", where="FCP tag 8B",
                          expected="EF.ARR file ID and record number (3 bytes; the SEID form is not supported)")
    return int.from_bytes(value[:2], "big"), value[2]


def _sfi(value: bytes | None) -> int | None:
    if value is None:
        return None
    if not value:
        return NO_SFI
    if len(value) != 1 or value[0] & 0x07 or not 1 <= value[0] >> 3 <= 30:
        raise DecodeError(value.hex(), where="FCP tag 88", expected="empty or one byte SFI<<3 with SFI 1..30")
    return value[0] >> 3


# --- EF.ARR access rules (TS 102 221 §9.2.7 / §13.4, ISO/IEC 7816-4 §9.3 expanded format) ---------------------

class AccessMode(IntEnum):
    """AM byte bits for EFs (ISO 7816-4 Table 18) and, in parentheses, for DFs (Table 17)."""

    READ = 0x01  # (DF: delete child)
    UPDATE = 0x02  # (DF: create EF)
    WRITE = 0x04  # (DF: create DF)
    DEACTIVATE = 0x08
    ACTIVATE = 0x10
    TERMINATE = 0x20
    DELETE = 0x40


DF_DELETE_CHILD, DF_CREATE_EF, DF_CREATE_DF = 0x01, 0x02, 0x04


@dataclass(frozen=True)
class Always:
    pass


@dataclass(frozen=True)
class Never:
    pass


@dataclass(frozen=True)
class KeyReference:
    """A user verification condition: CRT A4 {83 key reference, 95 usage qualifier}."""

    key_ref: int
    usage: int = 0x08  # user authentication, knowledge based (PIN)


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Unsupported:
    """A security condition this implementation does not evaluate (e.g. secure messaging); never satisfied."""

    raw: bytes


Condition = Always | Never | KeyReference | AnyOf | AllOf | Unsupported


@dataclass(frozen=True)
class AccessRule:
    """One AM_DO with its security condition(s); several SC_DOs after one AM_DO are alternatives (OR)."""

    condition: Condition
    mode: int | None = None  # AM byte (tag 80)
    ins: int | None = None  # command header AM_DO (tags 81..8F), only INS is matched
    header: bytes = b""  # the command header AM_DO as coded (tag and value), kept for round trips

    def covers(self, mode: int | None = None, ins: int | None = None) -> bool:
        if self.mode is not None and mode is not None:
            return bool(self.mode & mode)
        return self.ins is not None and self.ins == ins


def _decode_condition(item: BerTlv) -> Condition:
    if item.tag == 0x90 and not item.value:
        return Always()
    if item.tag == 0x97 and not item.value:
        return Never()
    if item.tag == 0xA4:
        inner = {c.tag: c.value for c in item.children}
        if len(inner.get(0x83, b"")) == 1 and len(inner.get(0x95, b"\x08")) == 1:
            return KeyReference(inner[0x83][0], inner.get(0x95, b"\x08")[0])
    if item.tag in (0xA0, 0xAF):
        conditions = tuple(_decode_condition(c) for c in item.children)
        return AnyOf(conditions) if item.tag == 0xA0 else AllOf(conditions)
    return Unsupported(item.to_bytes())


def _encode_condition(condition: Condition) -> bytes:
    match condition:
        case Always():
            return b"\x90\x00"
        case Never():
            return b"\x97\x00"
        case KeyReference(key_ref, usage):
            return ber_encode(0xA4, bytes((0x83, 1, key_ref, 0x95, 1, usage)))
        case AnyOf(conditions):
            return ber_encode(0xA0, b"".join(map(_encode_condition, conditions)))
        case AllOf(conditions):
            return ber_encode(0xAF, b"".join(map(_encode_condition, conditions)))
        case Unsupported(raw):
            return raw
    raise BadInput(f"{condition!r}", where="access rule", expected="a security condition")


def _header_ins(item: BerTlv) -> int | None:
    """The INS of a command header AM_DO; tag b4..b1 say which of CLA/INS/P1/P2 follow (ISO 7816-4 §9.3.3)."""
    present = [bit for bit in (8, 4, 2, 1) if item.tag & bit]
    if len(item.value) != len(present):
        raise DecodeError(item.value.hex(), where=f"EF.ARR AM_DO {item.tag:02x}", expected=f"{len(present)} bytes")
    return item.value[present.index(4)] if 4 in present else None


def decode_arr_record(data: bytes) -> tuple[AccessRule, ...]:
    """An EF.ARR record: AM_DO (SC_DO)+ ... (FF padding allowed)."""
    rules: list[AccessRule] = []
    pending: tuple[int | None, int | None, bytes] | None = None
    alternatives: list[Condition] = []

    def flush() -> None:
        if pending is not None:
            if not alternatives:
                raise DecodeError("access mode without condition", where="EF.ARR record",
                                  expected="an SC_DO after each AM_DO")
            condition = alternatives[0] if len(alternatives) == 1 else AnyOf(tuple(alternatives))
            rules.append(AccessRule(condition, pending[0], pending[1], pending[2]))

    for item in ber_decode(data, where="EF.ARR record"):
        if item.tag == 0x80 or 0x81 <= item.tag <= 0x8F:
            flush()
            alternatives = []
            if item.tag == 0x80:
                if len(item.value) != 1:
                    raise DecodeError(item.value.hex(), where="EF.ARR AM_DO 80", expected="1 access mode byte")
                pending = (item.value[0], None, b"")
            else:
                pending = (None, _header_ins(item), item.to_bytes())
        elif pending is None:
            raise DecodeError(f"tag {item.tag:02x} first", where="EF.ARR record", expected="an AM_DO (80..8F)")
        else:
            alternatives.append(_decode_condition(item))
    flush()
    return tuple(rules)


def encode_arr_record(rules: list[AccessRule] | tuple[AccessRule, ...], record_length: int | None = None) -> bytes:
    out = bytearray()
    for rule in rules:
        if rule.mode is not None:
            out += bytes((0x80, 1, rule.mode))
        elif rule.header:
            out += rule.header
        elif rule.ins is not None:
            out += bytes((0x84, 1, rule.ins))
        else:
            raise BadInput("rule without access mode", where="EF.ARR rule", expected="a mode or an INS")
        out += _encode_condition(rule.condition)
    if record_length is not None:
        if len(out) > record_length:
            raise BadInput(f"{len(out)} bytes", where="EF.ARR record", expected=f"at most {record_length}")
        out = out.ljust(record_length, b"\xff")
    return bytes(out)
