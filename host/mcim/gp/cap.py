"""Java Card CAP files: the components, the package and applet AIDs, and the Load File Data Block GP loads.

A CAP file is a ZIP archive holding `<package path>/javacard/<Component>.cap` files (JCVM 2.2.2/3.0.5 §6.1, Table 6-2);
each component is `u1 tag, u2 size, u1 info[size]` (§6.1, component_compact).  The same components concatenated
in load order (the ".ijc" form pySim's saip-tool extracts from profiles) are accepted too.

The Load File Data Block is the components in the install order of JCVM §6.2, as GlobalPlatformPro's
`CAPFile.getCode` and pySim concatenate them: Header, Directory, Import, Applet, Class, Method, StaticField,
Export, ConstantPool, RefLocation, then optionally Descriptor (pySim includes it, GlobalPlatformPro does not;
Debug is never loaded).
The extended format of CAP 2.3 (JCVM 3.1, header flag ACC_EXTENDED) is not supported.
"""

from __future__ import annotations

import enum
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import construct as cs

from ..errors import BadInput, DecodeError, UnsupportedError
from .ccm import HashAlgorithm, lfdb_hash
from .install_params import parse_struct


class ComponentTag(enum.IntEnum):
    """JCVM §6.1 Table 6-1 component tags (StaticResources from JCVM 3.1)."""

    HEADER = 1
    DIRECTORY = 2
    APPLET = 3
    IMPORT = 4
    CONSTANT_POOL = 5
    CLASS = 6
    METHOD = 7
    STATIC_FIELD = 8
    REFERENCE_LOCATION = 9
    EXPORT = 10
    DESCRIPTOR = 11
    DEBUG = 12
    STATIC_RESOURCES = 13


# JCVM §6.1 Table 6-2: component file names.
FILE_NAMES = {
    ComponentTag.HEADER: "Header", ComponentTag.DIRECTORY: "Directory", ComponentTag.APPLET: "Applet",
    ComponentTag.IMPORT: "Import", ComponentTag.CONSTANT_POOL: "ConstantPool", ComponentTag.CLASS: "Class",
    ComponentTag.METHOD: "Method", ComponentTag.STATIC_FIELD: "StaticField",
    ComponentTag.REFERENCE_LOCATION: "RefLocation", ComponentTag.EXPORT: "Export",
    ComponentTag.DESCRIPTOR: "Descriptor", ComponentTag.DEBUG: "Debug",
    ComponentTag.STATIC_RESOURCES: "StaticResources",
}
_BY_FILE_NAME = {name: tag for tag, name in FILE_NAMES.items()}

LOAD_ORDER = (ComponentTag.HEADER, ComponentTag.DIRECTORY, ComponentTag.IMPORT, ComponentTag.APPLET,
              ComponentTag.CLASS, ComponentTag.METHOD, ComponentTag.STATIC_FIELD, ComponentTag.EXPORT,
              ComponentTag.CONSTANT_POOL, ComponentTag.REFERENCE_LOCATION)

MAGIC = b"\xde\xca\xff\xed"
ACC_INT, ACC_EXPORT, ACC_APPLET, ACC_EXTENDED = 0x01, 0x02, 0x04, 0x08  # JCVM 3.1 §6.4 Table 6-3
_FLAG_NAMES = {ACC_INT: "int", ACC_EXPORT: "export", ACC_APPLET: "applet", ACC_EXTENDED: "extended"}
MAX_COMPONENT = 3 + 0xFFFF  # tag, u2 size, info

# JCVM §6.1 component (component_compact in JCVM 3.1): the size is derived from the info on build.
COMPONENT = cs.Struct("tag" / cs.Int8ub, "size" / cs.Rebuild(cs.Int16ub, cs.len_(cs.this.info)),
                      "info" / cs.Bytes(cs.this.size))

_AID = cs.Prefixed(cs.Int8ub, cs.GreedyBytes)
# JCVM 3.0.5 §6.3 package_info
PACKAGE_INFO = cs.Struct("minor" / cs.Int8ub, "major" / cs.Int8ub, "aid" / _AID)
# JCVM 3.0.5 §6.3 header_component info: magic, CAP format minor/major, flags, package, package_name (CAP >= 2.2).
HEADER_INFO = cs.Struct(
    cs.Const(MAGIC), "cap_minor" / cs.Int8ub, "cap_major" / cs.Int8ub, "flags" / cs.Int8ub,
    "package" / PACKAGE_INFO, "package_name" / cs.Optional(cs.Prefixed(cs.Int8ub, cs.GreedyBytes)),
    cs.Terminated)
# JCVM 3.0.5 §6.5 applet_component info
APPLET_INFO = cs.Struct(
    "applets" / cs.PrefixedArray(cs.Int8ub, cs.Struct("aid" / _AID, "install_method_offset" / cs.Int16ub)),
    cs.Terminated)
# JCVM 3.0.5 §6.6 import_component info
IMPORT_INFO = cs.Struct("packages" / cs.PrefixedArray(cs.Int8ub, PACKAGE_INFO), cs.Terminated)


@dataclass(frozen=True)
class Package:
    aid: bytes
    major: int
    minor: int

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"


@dataclass(frozen=True)
class Applet:
    aid: bytes
    install_method_offset: int


@dataclass(frozen=True)
class Header:
    cap_major: int
    cap_minor: int
    flags: int
    package: Package
    package_name: str | None

    @property
    def flag_names(self) -> list[str]:
        return [name for bit, name in _FLAG_NAMES.items() if self.flags & bit]


def parse_header_component(info: bytes) -> Header:
    """The info bytes of a Header component (after tag and size)."""
    h = parse_struct(HEADER_INFO, info, "Header component", "magic DECAFFED, versions, flags, package info")
    if h.cap_major == 2 and h.cap_minor >= 3 and h.flags & ACC_EXTENDED:
        raise UnsupportedError("extended CAP format (JCVM 3.1)", where="Header component",
                               expected="a compact-format CAP file")
    name = h.package_name
    return Header(h.cap_major, h.cap_minor, h.flags, Package(bytes(h.package.aid), h.package.major,
                                                            h.package.minor),
                  None if name is None else bytes(name).decode("ascii", errors="replace"))


@dataclass(frozen=True)
class CapFile:
    """A parsed CAP file: components by tag (each with its tag and size header) and what they declare."""

    components: dict[ComponentTag, bytes]
    header: Header
    applets: tuple[Applet, ...]
    imports: tuple[Package, ...]
    package_path: str | None = None  # the ZIP directory of the package, e.g. "com/example/hello"

    @property
    def package(self) -> Package:
        return self.header.package

    @property
    def package_name(self) -> str | None:
        """Dotted package name, from the Header (CAP >= 2.2, internal form with '/') or the ZIP directory."""
        name = self.header.package_name or self.package_path
        return name.replace("/", ".") if name else None

    def load_file_data_block(self, include_descriptor: bool = False) -> bytes:
        order = LOAD_ORDER + ((ComponentTag.DESCRIPTOR,) if include_descriptor else ())
        return b"".join(self.components[tag] for tag in order if tag in self.components)

    def lfdb_hash(self, algorithm: HashAlgorithm | str = HashAlgorithm.SHA256,
                  include_descriptor: bool = False) -> bytes:
        return lfdb_hash(self.load_file_data_block(include_descriptor), algorithm)

    def component_sizes(self) -> dict[str, int]:
        """Size of each component file (tag and size bytes included), in tag order."""
        return {FILE_NAMES[tag]: len(data) for tag, data in sorted(self.components.items())}


def _split_component(data: bytes, tag: ComponentTag, where: str) -> bytes:
    """Check one component file: its tag and that its u2 size covers exactly the rest."""
    if len(data) < 3:
        raise DecodeError(f"{len(data)} bytes", where=f"{where} at offset 0", expected="tag and u2 size")
    if data[0] != tag:
        raise DecodeError(f"tag {data[0]}", where=f"{where} at offset 0", expected=f"tag {int(tag)} ({tag.name})")
    size = int.from_bytes(data[1:3], "big")
    if size != len(data) - 3:
        raise DecodeError(f"size field says {size} bytes but {len(data) - 3} follow", where=f"{where} at offset 1",
                          expected="a component size matching its contents")
    return data[3:]


def _from_components(components: dict[ComponentTag, bytes], package_path: str | None) -> CapFile:
    if ComponentTag.HEADER not in components:
        raise DecodeError("missing Header component", where="CAP file", expected="Header.cap (tag 1)")
    header = parse_header_component(_split_component(components[ComponentTag.HEADER], ComponentTag.HEADER, "Header"))
    applets: tuple[Applet, ...] = ()
    imports: tuple[Package, ...] = ()
    if ComponentTag.APPLET in components:
        parsed = parse_struct(APPLET_INFO, components[ComponentTag.APPLET][3:], "Applet component",
                              "a count, then LV(AID) and u2 install method offset per applet")
        applets = tuple(Applet(bytes(a.aid), a.install_method_offset) for a in parsed.applets)
    if ComponentTag.IMPORT in components:
        parsed = parse_struct(IMPORT_INFO, components[ComponentTag.IMPORT][3:], "Import component",
                              "a count, then package_info per imported package")
        imports = tuple(Package(bytes(p.aid), p.major, p.minor) for p in parsed.packages)
    return CapFile(components, header, applets, imports, package_path)


def parse_concatenated(data: bytes) -> CapFile:
    """Components back to back (the .ijc form), starting with the Header."""
    components: dict[ComponentTag, bytes] = {}
    offset = 0
    while offset < len(data):
        if len(data) - offset < 3:
            raise DecodeError(f"{len(data) - offset} trailing bytes", where=f"component stream at offset {offset}",
                              expected="a component tag and u2 size")
        try:
            tag = ComponentTag(data[offset])
        except ValueError:
            raise DecodeError(f"tag {data[offset]}", where=f"component stream at offset {offset}",
                              expected="a component tag 1..13") from None
        size = int.from_bytes(data[offset + 1:offset + 3], "big")
        where = f"{FILE_NAMES[tag]} component at offset {offset}"
        if offset + 3 + size > len(data):
            raise DecodeError(f"size field says {size} bytes but {len(data) - offset - 3} follow", where=where,
                              expected="the whole component")
        if tag in components:
            raise DecodeError("appears twice", where=where, expected="each component once")
        if not components and tag != ComponentTag.HEADER:
            raise DecodeError(f"{tag.name} first", where=where, expected="the Header component first")
        components[tag] = data[offset:offset + 3 + size]
        offset += 3 + size
    return _from_components(components, None)


def _zip_components(archive: zipfile.ZipFile) -> tuple[dict[ComponentTag, bytes], str]:
    found: dict[str, dict[ComponentTag, bytes]] = {}
    for info in archive.infolist():
        path = info.filename
        directory, separator, leaf = ("/" + path).rpartition("/javacard/")
        if not separator or "/" in leaf:
            continue
        if leaf.endswith(".capx"):
            raise UnsupportedError(f"{path}", where="CAP file", expected="compact-format .cap components")
        tag = _BY_FILE_NAME.get(leaf.removesuffix(".cap")) if leaf.endswith(".cap") else None
        if tag is None:
            continue  # custom components and other files are not part of the Load File Data Block
        if info.file_size > MAX_COMPONENT:
            raise DecodeError(f"{info.file_size} bytes", where=path, expected=f"at most {MAX_COMPONENT} bytes")
        with archive.open(info) as member:
            data = member.read(MAX_COMPONENT + 1)
        _split_component(data, tag, path)
        found.setdefault(directory.lstrip("/"), {})[tag] = data
    packages = [d for d, comps in found.items() if ComponentTag.HEADER in comps]
    if len(packages) > 1:
        raise DecodeError(f"{len(packages)} packages ({', '.join(packages)})", where="CAP file",
                          expected="one package per CAP file")
    directory = packages[0] if packages else next(iter(found), "")
    return found.get(directory, {}), directory


def parse_cap(data: bytes) -> CapFile:
    """A CAP file as bytes: a ZIP archive, or the concatenated components."""
    if data[:1] == b"\x01" and data[3:7] == MAGIC:
        return parse_concatenated(data)
    if data[:2] != b"PK":
        raise DecodeError("neither a ZIP archive nor a component stream", where="CAP file at offset 0",
                          expected="'PK' (ZIP) or a Header component (01 xx xx DECAFFED)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            components, directory = _zip_components(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
            ValueError, OSError) as exc:
        raise DecodeError(f"bad ZIP archive ({exc})", where="CAP file", expected="a readable ZIP archive") from None
    return _from_components(components, directory or None)


def read_cap(path: str | Path) -> CapFile:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror}", where=str(path)) from None
    return parse_cap(data)
