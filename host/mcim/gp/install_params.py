"""Install and load parameters of GlobalPlatform INSTALL, with the UICC parameters of ETSI TS 102 226.

GP Card Spec v2.3 §11.5.2.3: the install parameters field is `C9 <application specific> [EF <system specific>]
[EA <UICC system specific>]` (Table 11-49); the load parameters field is `EF {C6, C7, C8, ...}` (Table 11-48).
Inside EF, `CA` carries the TS 102 226 §8.2.1.3.2.1 "SIM file access and toolkit application specific parameters";
inside EA, TS 102 226 §8.2.1.3.2.2/.3 put the UICC toolkit (80), UICC access (81) and UICC administrative access
(82) application specific parameters.  Tag numbers as pySim `InstallParameters`/SAIP and the ETSI TS 102 268 UICC
API test suite (`installApplet(..., "8008...8118...8218...")`) use them.

Cards accept toolkit fields that do not follow TS 102 226 to the letter (pySim's HelloSTK example sends a CA value
without its TAR length byte), so a CA/80/81/82 value that does not decode is kept as raw bytes, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import construct as cs

from ..errors import BadInput, DecodeError
from ..tlv import BerTlv, ber_decode, ber_encode

T = TypeVar("T")

_LV = cs.Prefixed(cs.Int8ub, cs.GreedyBytes)

# TS 102 226 §8.2.1.3.2.1: each menu entry is "position" then "identifier" ('00' = do not care); the ETSI TS 102 268
# test suite writes them in that order ("0101 // Position and Id of the first item").
_MENU_ENTRY = cs.Struct("position" / cs.Int8ub, "identifier" / cs.Int8ub)

# TS 102 226 §8.2.1.3.2.1 SIM file access and toolkit application specific parameters (GP install tag 'CA').
SIM_TOOLKIT_PARAMETERS = cs.Struct(
    "access_domain" / _LV,
    "priority" / cs.Int8ub,
    "max_timers" / cs.Int8ub,
    "max_menu_text_length" / cs.Int8ub,
    "menu_entries" / cs.PrefixedArray(cs.Int8ub, _MENU_ENTRY),
    "max_channels" / cs.Int8ub,
    "minimum_security_level" / _LV,
    "tar_values" / _LV,
    cs.Terminated,
)

# TS 102 226 §8.2.1.3.2.2 UICC toolkit application specific parameters (tag '80' in 'EA'): the same fields without the
# access domain, followed by the maximum number of services (absent in older releases, so optional here).
UICC_TOOLKIT_PARAMETERS = cs.Struct(
    "priority" / cs.Int8ub,
    "max_timers" / cs.Int8ub,
    "max_menu_text_length" / cs.Int8ub,
    "menu_entries" / cs.PrefixedArray(cs.Int8ub, _MENU_ENTRY),
    "max_channels" / cs.Int8ub,
    "minimum_security_level" / _LV,
    "tar_values" / _LV,
    "max_services" / cs.Optional(cs.Int8ub),
    cs.Terminated,
)

# TS 102 226 §8.2.1.3.2.3 UICC (administrative) access application specific parameters (tags '81'/'82' in 'EA'):
# for each file system, LV(AID; empty = UICC shared file system under the MF), LV(access domain), LV(access domain
# DAP).  Layout as in the ETSI TS 102 268 test suite ("00 | 0100 | 00" = MF, full access, no DAP).
_FILE_SYSTEM_ACCESS = cs.Struct("aid" / _LV, "access_domain" / _LV, "dap" / _LV)
UICC_ACCESS_PARAMETERS = cs.Struct("file_systems" / cs.GreedyRange(_FILE_SYSTEM_ACCESS), cs.Terminated)


def _construct_reason(exc: Exception) -> str:
    text = str(exc).splitlines()[-1].strip()
    if "stream read less than specified" in text:
        return "truncated"
    return text


def parse_struct(fmt: cs.Construct, data: bytes, where: str, expected: str = "the layout of the cited clause") -> Any:
    """Parse with a construct definition; any failure is a DecodeError naming the field."""
    try:
        return fmt.parse(data)
    except (cs.ConstructError, ValueError) as exc:
        path = getattr(exc, "path", None) or ""
        field = path.removeprefix("(parsing)").strip(" ->")
        raise DecodeError(_construct_reason(exc), where=f"{where}, field {field}" if field else where,
                          expected=expected) from None


def build_struct(fmt: cs.Construct, obj: dict, where: str,
                 expected: str = "byte-sized counts and values, fields of at most 255 bytes") -> bytes:
    """Build with a construct definition; values that do not fit are a BadInput."""
    try:
        return fmt.build(obj)
    except (cs.ConstructError, ValueError, OverflowError) as exc:
        raise BadInput(f"cannot encode ({_construct_reason(exc)})", where=where, expected=expected) from None


class AccessDomain(NamedTuple):
    """TS 102 226 §8.2.1.3.2.1 access domain: parameter byte + data (e.g. key reference bitmap for '02')."""

    parameter: int
    data: bytes = b""

    def to_bytes(self) -> bytes:
        return bytes((self.parameter,)) + self.data

    @classmethod
    def parse(cls, data: bytes, where: str = "access domain") -> AccessDomain:
        if not data:
            raise DecodeError("empty access domain", where=where, expected="at least the parameter byte")
        return cls(data[0], bytes(data[1:]))


# Access domain parameters, TS 102 226 §8.2.1.3.2.1 (values also used by SAIP ADFRFMAccess).
FULL_ACCESS = AccessDomain(0x00)
UICC_ACCESS_MECHANISM = 0x02
NO_ACCESS = AccessDomain(0xFF)


class MinimumSecurityLevel(NamedTuple):
    """TS 102 226 §8.2.1.3.2.1.1 MSL field: MSL parameter byte ('01' = minimum SPI1) and MSL data."""

    parameter: int
    data: bytes = b""

    def to_bytes(self) -> bytes:
        return bytes((self.parameter,)) + self.data


class MenuEntry(NamedTuple):
    position: int
    identifier: int = 0


def _split_tars(data: bytes, where: str) -> tuple[bytes, ...]:
    if len(data) % 3:
        raise DecodeError(f"{len(data)} bytes of TAR values", where=where, expected="a multiple of 3 bytes")
    return tuple(bytes(data[i:i + 3]) for i in range(0, len(data), 3))


def _join_tars(tars: tuple[bytes, ...], where: str) -> bytes:
    if any(len(tar) != 3 for tar in tars):
        raise BadInput("a TAR is not 3 bytes", where=where, expected="3-byte TAR values")
    return b"".join(tars)


def _msl_from(data: bytes) -> MinimumSecurityLevel | None:
    return MinimumSecurityLevel(data[0], bytes(data[1:])) if data else None


@dataclass(frozen=True)
class UiccToolkitParameters:
    """TS 102 226 §8.2.1.3.2.2 (tag '80' in 'EA')."""

    priority: int = 1
    max_timers: int = 0
    max_menu_text_length: int = 0
    menu_entries: tuple[MenuEntry, ...] = ()
    max_channels: int = 0
    minimum_security_level: MinimumSecurityLevel | None = None
    tars: tuple[bytes, ...] = ()
    max_services: int | None = 0

    def _common(self, where: str) -> dict:
        return {"priority": self.priority, "max_timers": self.max_timers,
                "max_menu_text_length": self.max_menu_text_length,
                "menu_entries": [e._asdict() for e in self.menu_entries], "max_channels": self.max_channels,
                "minimum_security_level": self.minimum_security_level.to_bytes()
                if self.minimum_security_level else b"",
                "tar_values": _join_tars(self.tars, where)}

    def to_bytes(self) -> bytes:
        where = "UICC toolkit parameters"
        return build_struct(UICC_TOOLKIT_PARAMETERS, {**self._common(where), "max_services": self.max_services}, where)

    @classmethod
    def parse(cls, data: bytes) -> UiccToolkitParameters:
        where = "UICC toolkit parameters (TS 102 226 §8.2.1.3.2.2)"
        p = parse_struct(UICC_TOOLKIT_PARAMETERS, data, where)
        return cls(p.priority, p.max_timers, p.max_menu_text_length,
                   tuple(MenuEntry(e.position, e.identifier) for e in p.menu_entries), p.max_channels,
                   _msl_from(p.minimum_security_level), _split_tars(p.tar_values, where), p.max_services)


@dataclass(frozen=True)
class SimToolkitParameters:
    """TS 102 226 §8.2.1.3.2.1 SIM file access and toolkit parameters (tag 'CA' in 'EF')."""

    access_domain: AccessDomain = FULL_ACCESS
    priority: int = 1
    max_timers: int = 0
    max_menu_text_length: int = 0
    menu_entries: tuple[MenuEntry, ...] = ()
    max_channels: int = 0
    minimum_security_level: MinimumSecurityLevel | None = None
    tars: tuple[bytes, ...] = ()

    def to_bytes(self) -> bytes:
        where = "SIM file access and toolkit parameters"
        toolkit = UiccToolkitParameters(self.priority, self.max_timers, self.max_menu_text_length,
                                        self.menu_entries, self.max_channels, self.minimum_security_level,
                                        self.tars)
        fields = {**toolkit._common(where), "access_domain": self.access_domain.to_bytes()}
        return build_struct(SIM_TOOLKIT_PARAMETERS, fields, where)

    @classmethod
    def parse(cls, data: bytes) -> SimToolkitParameters:
        where = "SIM file access and toolkit parameters (TS 102 226 §8.2.1.3.2.1)"
        p = parse_struct(SIM_TOOLKIT_PARAMETERS, data, where)
        return cls(AccessDomain.parse(p.access_domain, where), p.priority, p.max_timers, p.max_menu_text_length,
                   tuple(MenuEntry(e.position, e.identifier) for e in p.menu_entries), p.max_channels,
                   _msl_from(p.minimum_security_level), _split_tars(p.tar_values, where))


@dataclass(frozen=True)
class FileSystemAccess:
    """One file system in the UICC (administrative) access parameters; `aid` empty = UICC shared file system."""

    aid: bytes = b""
    access_domain: AccessDomain = FULL_ACCESS
    dap: bytes = b""


@dataclass(frozen=True)
class UiccAccessParameters:
    """TS 102 226 §8.2.1.3.2.3 (tags '81' and '82' in 'EA')."""

    file_systems: tuple[FileSystemAccess, ...] = (FileSystemAccess(),)

    def to_bytes(self) -> bytes:
        items = [{"aid": fs.aid, "access_domain": fs.access_domain.to_bytes(), "dap": fs.dap}
                 for fs in self.file_systems]
        return build_struct(UICC_ACCESS_PARAMETERS, {"file_systems": items}, "UICC access parameters")

    @classmethod
    def parse(cls, data: bytes) -> UiccAccessParameters:
        where = "UICC access parameters (TS 102 226 §8.2.1.3.2.3)"
        p = parse_struct(UICC_ACCESS_PARAMETERS, data, where)
        return cls(tuple(FileSystemAccess(bytes(fs.aid), AccessDomain.parse(fs.access_domain, where), bytes(fs.dap))
                         for fs in p.file_systems))


def _typed_or_raw(parse: Callable[[bytes], T], value: bytes) -> T | bytes:
    """Decode a toolkit/access field; keep what does not follow TS 102 226 as raw bytes (cards accept such)."""
    try:
        return parse(value)
    except DecodeError:
        return value


def _raw_of(value: Any) -> bytes:
    return value if isinstance(value, bytes) else value.to_bytes()


def _children(data: bytes, where: str) -> list[BerTlv]:
    items = ber_decode(data, where=where, skip_padding=False)
    seen: set[int] = set()
    for item in items:
        if item.tag in seen:
            raise DecodeError(f"tag {item.tag:02x} appears twice", where=where, expected="each tag once")
        seen.add(item.tag)
    return items


def _encode_quota(value: int, where: str) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise BadInput(f"{value}", where=where, expected="0..4294967295 bytes")
    return value.to_bytes(2 if value <= 0xFFFF else 4, "big")


def _decode_quota(value: bytes, where: str) -> int:
    if len(value) not in (2, 4):
        raise DecodeError(f"{len(value)}-byte value", where=where, expected="2 or 4 bytes (GP v2.3 Table 11-49)")
    return int.from_bytes(value, "big")


# 'EF' members holding a memory size (GP v2.3 Tables 11-48 and 11-49), in the order they are written.  pySim's
# gen_install_parameters writes C8 before C7; keeping that order reproduces its output byte for byte.
_QUOTA_TAGS = {
    0xC6: "non_volatile_code",      # load: non-volatile code minimum memory requirement
    0xC8: "non_volatile_memory",    # load: non-volatile data minimum requirement; install: non-volatile quota
    0xC7: "volatile_memory",        # load: volatile data minimum requirement; install: volatile quota
    0xD8: "non_volatile_reserved",  # install: non-volatile reserved memory
    0xD7: "volatile_reserved",      # install: volatile reserved memory
}
_OPAQUE_TAGS = {0xCB: "global_service", 0xCF: "implicit_selection", 0xCD: "lfdb_format", 0xDD: "lfdb_parameters"}


@dataclass(frozen=True)
class SystemParameters:
    """The 'EF' template: system specific install parameters or load parameters."""

    non_volatile_code: int | None = None
    non_volatile_memory: int | None = None
    volatile_memory: int | None = None
    non_volatile_reserved: int | None = None
    volatile_reserved: int | None = None
    global_service: bytes | None = None
    implicit_selection: bytes | None = None
    lfdb_format: bytes | None = None
    lfdb_parameters: bytes | None = None
    sim_toolkit: SimToolkitParameters | bytes | None = None
    extra: tuple[BerTlv, ...] = ()

    def value_bytes(self) -> bytes:
        out = [ber_encode(tag, _encode_quota(getattr(self, name), f"EF/{tag:02X} {name}"))
               for tag, name in _QUOTA_TAGS.items() if getattr(self, name) is not None]
        out += [ber_encode(tag, getattr(self, name)) for tag, name in _OPAQUE_TAGS.items()
                if getattr(self, name) is not None]
        if self.sim_toolkit is not None:
            out.append(ber_encode(0xCA, _raw_of(self.sim_toolkit)))
        out += [item.to_bytes() for item in self.extra]
        return b"".join(out)

    def to_bytes(self) -> bytes:
        return ber_encode(0xEF, self.value_bytes())

    @classmethod
    def parse_value(cls, data: bytes) -> SystemParameters:
        fields: dict[str, Any] = {}
        extra = []
        for item in _children(data, "EF (system specific parameters)"):
            if item.tag in _QUOTA_TAGS:
                fields[_QUOTA_TAGS[item.tag]] = _decode_quota(item.value, f"EF/{item.tag:02X}")
            elif item.tag in _OPAQUE_TAGS:
                fields[_OPAQUE_TAGS[item.tag]] = item.value
            elif item.tag == 0xCA:
                fields["sim_toolkit"] = _typed_or_raw(SimToolkitParameters.parse, item.value)
            else:
                extra.append(item)
        return cls(**fields, extra=tuple(extra))


_UICC_FIELDS = {0x80: "toolkit", 0x81: "access", 0x82: "administrative_access"}


@dataclass(frozen=True)
class UiccSystemParameters:
    """The 'EA' template of TS 102 226 §8.2.1.3.1."""

    toolkit: UiccToolkitParameters | bytes | None = None
    access: UiccAccessParameters | bytes | None = None
    administrative_access: UiccAccessParameters | bytes | None = None
    extra: tuple[BerTlv, ...] = ()

    def to_bytes(self) -> bytes:
        out = [ber_encode(tag, _raw_of(getattr(self, name))) for tag, name in _UICC_FIELDS.items()
               if getattr(self, name) is not None]
        return ber_encode(0xEA, b"".join(out) + b"".join(item.to_bytes() for item in self.extra))

    @classmethod
    def parse_value(cls, data: bytes) -> UiccSystemParameters:
        fields: dict[str, Any] = {}
        extra = []
        for item in _children(data, "EA (UICC system specific parameters)"):
            if item.tag == 0x80:
                fields["toolkit"] = _typed_or_raw(UiccToolkitParameters.parse, item.value)
            elif item.tag in _UICC_FIELDS:
                fields[_UICC_FIELDS[item.tag]] = _typed_or_raw(UiccAccessParameters.parse, item.value)
            else:
                extra.append(item)
        return cls(**fields, extra=tuple(extra))


@dataclass(frozen=True)
class InstallParameters:
    """The install parameters field of INSTALL [for install] (GP v2.3 Table 11-49).

    `application_specific` is the C9 value (C9 is mandatory: an empty C9 is written unless this is None).
    """

    application_specific: bytes | None = b""
    system: SystemParameters | None = None
    uicc: UiccSystemParameters | None = None
    extra: tuple[BerTlv, ...] = ()

    def to_bytes(self) -> bytes:
        out = b"" if self.application_specific is None else ber_encode(0xC9, self.application_specific)
        out += self.system.to_bytes() if self.system is not None else b""
        out += self.uicc.to_bytes() if self.uicc is not None else b""
        return out + b"".join(item.to_bytes() for item in self.extra)

    @classmethod
    def parse(cls, data: bytes) -> InstallParameters:
        application_specific = None
        system = uicc = None
        extra = []
        for item in _children(data, "install parameters"):
            if item.tag == 0xC9:
                application_specific = item.value
            elif item.tag == 0xEF:
                system = SystemParameters.parse_value(item.value)
            elif item.tag == 0xEA:
                uicc = UiccSystemParameters.parse_value(item.value)
            else:
                extra.append(item)
        return cls(application_specific, system, uicc, tuple(extra))


def encode_load_parameters(params: SystemParameters | None) -> bytes:
    """The load parameters field of INSTALL [for load] (GP v2.3 Table 11-48): `EF {...}` or empty."""
    return b"" if params is None else params.to_bytes()


def parse_load_parameters(data: bytes) -> SystemParameters | None:
    if not data:
        return None
    items = _children(data, "load parameters")
    if len(items) != 1 or items[0].tag != 0xEF:
        raise DecodeError(f"tags {', '.join(f'{t.tag:02X}' for t in items)}", where="load parameters",
                          expected="one EF template (GP v2.3 Table 11-48)")
    return SystemParameters.parse_value(items[0].value)
