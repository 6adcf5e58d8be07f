"""CAP files: parsing, the Load File Data Block, malformed input, and `mcim cap info`.

No Java Card converter is available, so the test CAPs are built here from the JCVM 3.0.5 chapter 6 layouts:
every component is `u1 tag, u2 size, info`; Header (§6.3), Directory (§6.4), Applet (§6.5) and Import (§6.6)
are filled in properly, the other components carry placeholder bodies (the parser never interprets them).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from mcim.cli.main import cli
from mcim.errors import DecodeError, McimError, UnsupportedError
from mcim.gp.cap import parse_cap, parse_header_component, read_cap

PACKAGE_AID = bytes.fromhex("a00000015141434c")
APPLET_AID = bytes.fromhex("a00000015141434c00")
JAVACARD_FRAMEWORK = bytes.fromhex("a0000000620101")
JAVA_LANG = bytes.fromhex("a0000000620001")
PACKAGE_DIR = "com/example/hello"


def component(tag: int, info: bytes) -> bytes:
    return bytes((tag,)) + len(info).to_bytes(2, "big") + info


def package_info(aid: bytes, major: int, minor: int) -> bytes:
    return bytes((minor, major, len(aid))) + aid


def build_components(*, flags: int = 0x04, cap_version: tuple[int, int] = (2, 2)) -> dict[str, bytes]:
    """A plausible one-applet package, component name -> component bytes."""
    name = b"com/example/hello"
    header = component(1, b"\xde\xca\xff\xed" + bytes((cap_version[1], cap_version[0], flags))
                       + package_info(PACKAGE_AID, 1, 0) + bytes((len(name),)) + name)
    applet = component(3, b"\x01" + bytes((len(APPLET_AID),)) + APPLET_AID + b"\x00\x10")
    imports = component(4, b"\x02" + package_info(JAVACARD_FRAMEWORK, 1, 3) + package_info(JAVA_LANG, 1, 0))
    bodies = {"ConstantPool": (5, bytes(range(1, 21))), "Class": (6, b"\x00\x01" + bytes(12)),
              "Method": (7, b"\x00" + bytes(range(40))), "StaticField": (8, bytes(10)),
              "RefLocation": (9, b"\x00\x02\x01\x05\x00\x01\x07"), "Descriptor": (11, b"\x01" + bytes(30)),
              "Debug": (12, bytes(8))}
    comps = {"Header": header, "Applet": applet, "Import": imports}
    comps.update({n: component(tag, body) for n, (tag, body) in bodies.items()})
    sizes = [len(comps.get(n, b"")) - 3 if n in comps else 0 for n in
             ("Header", "Directory", "Applet", "Import", "ConstantPool", "Class", "Method", "StaticField",
              "RefLocation", "Export", "Descriptor", "Debug")]
    sizes[1] = 2 * 12 + 6 + 3
    directory = component(2, b"".join(s.to_bytes(2, "big") for s in sizes) + bytes(6) + b"\x02\x01\x00")
    return {"Directory": directory, **comps}


def build_zip(comps: dict[str, bytes], directory: str = PACKAGE_DIR) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n")
        for name, data in comps.items():
            archive.writestr(f"{directory}/javacard/{name}.cap", data)
    return out.getvalue()


# GlobalPlatformPro CAPFile.componentNames order, Descriptor left out by default (capfile `_getCode`).
GP_ORDER = ("Header", "Directory", "Import", "Applet", "Class", "Method", "StaticField", "Export", "ConstantPool",
            "RefLocation")


def expected_lfdb(comps: dict[str, bytes], descriptor: bool = False) -> bytes:
    names = GP_ORDER + (("Descriptor",) if descriptor else ())
    return b"".join(comps[n] for n in names if n in comps)


def test_zip_cap_package_applets_imports_and_sizes() -> None:
    comps = build_components()
    cap = parse_cap(build_zip(comps))
    assert cap.package.aid == PACKAGE_AID and cap.package.version == "1.0"
    assert cap.package_name == "com.example.hello" and cap.package_path == PACKAGE_DIR
    assert [(a.aid, a.install_method_offset) for a in cap.applets] == [(APPLET_AID, 0x10)]
    assert [(p.aid, p.version) for p in cap.imports] == [(JAVACARD_FRAMEWORK, "1.3"), (JAVA_LANG, "1.0")]
    assert (cap.header.cap_major, cap.header.cap_minor, cap.header.flag_names) == (2, 2, ["applet"])
    assert cap.component_sizes() == {n: len(comps[n]) for n in (
        "Header", "Directory", "Applet", "Import", "ConstantPool", "Class", "Method", "StaticField",
        "RefLocation", "Descriptor", "Debug")}


def test_load_file_data_block_order_and_hashes() -> None:
    comps = build_components()
    cap = parse_cap(build_zip(comps))
    assert cap.load_file_data_block() == expected_lfdb(comps)
    assert cap.load_file_data_block(include_descriptor=True) == expected_lfdb(comps, descriptor=True)
    assert cap.lfdb_hash("sha256") == hashlib.sha256(expected_lfdb(comps)).digest()
    assert cap.lfdb_hash("sha1", include_descriptor=True) == hashlib.sha1(expected_lfdb(comps, True)).digest()


def test_concatenated_form_parses_like_the_zip() -> None:
    comps = build_components()
    stream = expected_lfdb(comps, descriptor=True)
    cap = parse_cap(stream)
    assert cap.package.aid == PACKAGE_AID and cap.applets[0].aid == APPLET_AID
    assert cap.load_file_data_block(include_descriptor=True) == stream


def test_header_of_pysim_hellostk_load_block() -> None:
    # pySim docs/saip-tool.rst: the loadBlockObject of its HelloSTK example starts 01000fdecaffed010204000105d07002ca44.
    header = parse_header_component(bytes.fromhex("01000fdecaffed010204000105d07002ca44")[3:])
    assert (header.cap_major, header.cap_minor, header.flag_names) == (2, 1, ["applet"])
    assert header.package.aid == bytes.fromhex("d07002ca44") and header.package.version == "1.0"
    assert header.package_name is None


def test_missing_header() -> None:
    comps = build_components()
    del comps["Header"]
    with pytest.raises(DecodeError, match="Header"):
        parse_cap(build_zip(comps))


def test_truncated_component_names_component_and_offset() -> None:
    comps = build_components()
    comps["Method"] = comps["Method"][:-5]
    with pytest.raises(DecodeError, match=r"Method\.cap at offset 1.*size field says 41 bytes but 36 follow"):
        parse_cap(build_zip(comps))
    stream = expected_lfdb(build_components())
    with pytest.raises(DecodeError, match="RefLocation component at offset"):
        parse_cap(stream[:-2])


def test_wrong_tag_and_trailing_bytes() -> None:
    comps = build_components()
    comps["Class"] = b"\x07" + comps["Class"][1:]
    with pytest.raises(DecodeError, match="Class.cap"):
        parse_cap(build_zip(comps))
    comps = build_components()
    comps["Import"] += b"\x00"
    with pytest.raises(DecodeError, match="Import.cap"):
        parse_cap(build_zip(comps))


def test_bad_zip_and_unknown_format() -> None:
    with pytest.raises(DecodeError, match="ZIP"):
        parse_cap(b"PK\x03\x04" + bytes(40))
    with pytest.raises(DecodeError, match="neither"):
        parse_cap(b"\x00\x01\x02")


def test_extended_format_is_unsupported() -> None:
    with pytest.raises(UnsupportedError):
        parse_cap(build_zip(build_components(flags=0x0C, cap_version=(2, 3))))


def test_two_packages_are_rejected() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for directory in ("a/b", "c/d"):
            for name, data in build_components().items():
                archive.writestr(f"{directory}/javacard/{name}.cap", data)
    with pytest.raises(DecodeError, match="one package"):
        parse_cap(out.getvalue())


@given(st.binary(max_size=400))
def test_random_bytes_never_escape_as_other_exceptions(data: bytes) -> None:
    for candidate in (data, b"PK" + data, b"\x01" + data[:2] + b"\xde\xca\xff\xed" + data[2:]):
        try:
            parse_cap(candidate)
        except McimError:
            pass


VALID_ZIP = build_zip(build_components())
VALID_STREAM = expected_lfdb(build_components(), descriptor=True)


@given(st.integers(0, len(VALID_ZIP) - 1), st.integers(0, len(VALID_STREAM) - 1))
def test_truncated_valid_caps_raise_mcim_errors(cut_zip: int, cut_stream: int) -> None:
    for data in (VALID_ZIP[:cut_zip], VALID_STREAM[:cut_stream]):
        try:
            parse_cap(data)
        except McimError:
            continue
        # A cut exactly between components leaves a shorter but well-formed stream.
        assert data == VALID_STREAM[:cut_stream]


@pytest.fixture
def cap_path(tmp_path: Path) -> Path:
    path = tmp_path / "hello.cap"
    path.write_bytes(VALID_ZIP)
    return path


def test_cli_cap_info_json(cap_path: Path) -> None:
    result = CliRunner().invoke(cli, ["cap", "info", str(cap_path), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    comps = build_components()
    assert info["package"] == {"aid": PACKAGE_AID.hex(), "version": "1.0", "name": "com.example.hello"}
    assert [a["aid"] for a in info["applets"]] == [APPLET_AID.hex()]
    assert info["components"]["Method"] == len(comps["Method"])
    assert info["load_file_data_block"]["sha256"] == hashlib.sha256(expected_lfdb(comps)).hexdigest()
    assert info["load_file_data_block"]["sha1"] == hashlib.sha1(expected_lfdb(comps)).hexdigest()
    assert read_cap(cap_path).package.aid == PACKAGE_AID


def test_cli_cap_info_human(cap_path: Path) -> None:
    result = CliRunner().invoke(cli, ["cap", "info", str(cap_path), "--with-descriptor"])
    assert result.exit_code == 0
    assert APPLET_AID.hex().upper() in result.output and "with Descriptor" in result.output


def test_cli_bad_cap_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.cap"
    path.write_bytes(VALID_ZIP[:100])
    result = CliRunner().invoke(cli, ["cap", "info", str(path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    missing = CliRunner().invoke(cli, ["cap", "info", str(tmp_path / "none.cap")])
    assert missing.exit_code == 2
