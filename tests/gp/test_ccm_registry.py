"""Registry entries (GP v2.3 §11.1, §11.4.3) and the response parsers of GET DATA / SELECT on arbitrary bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.apdu import CommandApdu
from mcim.errors import BadInput, DecodeError, McimError
from mcim.gp.ccm import (
    decode_dgis,
    parse_card_data,
    parse_cplc,
    parse_delete,
    parse_key_information,
    parse_load,
    parse_select_response,
    parse_set_status,
    parse_store_data,
)
from mcim.gp.registry import (
    Privilege,
    RegistryEntry,
    StatusSubset,
    decode_privileges,
    encode_privileges,
    encode_status_legacy,
    encode_status_tlv,
    life_cycle_name,
    parse_status_legacy,
    parse_status_tlv,
    privilege_names,
)


def test_privilege_encodings_and_names() -> None:
    # GP v2.3 §11.1.2: byte 1 b8 security domain ... b1 mandated DAP; byte 2 b7 authorized management.
    sd = Privilege.SECURITY_DOMAIN | Privilege.CARD_RESET
    assert encode_privileges(sd) == b"\x84" and encode_privileges(sd, 3) == b"\x84\x00\x00"
    assert decode_privileges(b"\x80\xc0\x00") == Privilege.SECURITY_DOMAIN | Privilege.TRUSTED_PATH | \
        Privilege.AUTHORIZED_MANAGEMENT
    assert privilege_names(Privilege(0x800001)) == ["security_domain", "rfu-000001"]
    with pytest.raises(BadInput):
        encode_privileges(Privilege.GLOBAL_DELETE, 1)
    with pytest.raises(DecodeError):
        decode_privileges(b"\x80\x00")


@pytest.mark.parametrize(("subset", "value", "sd", "name"), [
    (StatusSubset.ISD, 0x0F, True, "SECURED"), (StatusSubset.ISD, 0x7F, True, "CARD_LOCKED"),
    (StatusSubset.ISD, 0x01, True, "OP_READY"), (StatusSubset.LOAD_FILES, 0x01, False, "LOADED"),
    (StatusSubset.APPLICATIONS, 0x07, False, "SELECTABLE"), (StatusSubset.APPLICATIONS, 0x03, False, "INSTALLED"),
    (StatusSubset.APPLICATIONS, 0x0F, True, "PERSONALIZED"), (StatusSubset.APPLICATIONS, 0x83, False,
                                                             "LOCKED (INSTALLED)"),
    (StatusSubset.APPLICATIONS, 0x1F, False, "SELECTABLE, application specific state 3"),
])
def test_life_cycle_names(subset: StatusSubset, value: int, sd: bool, name: str) -> None:
    # GP v2.3 §11.1.1 Tables 11-3 to 11-6.
    assert life_cycle_name(subset, value, sd) == name


def test_tlv_entry_with_all_fields() -> None:
    # GP v2.3 Table 11-36: E3 { 4F, 9F70, C5, CF, C4, CE, 84*, CC }
    body = bytes.fromhex("4f05d07002ca44" "9f700101" "ce020100" "c405d07002ca44" "8408d07002ca44900101"
                         "8408d07002ca44900102" "cc08a000000003000000")
    data = b"\xe3" + bytes((len(body),)) + body
    [entry] = parse_status_tlv(data, StatusSubset.LOAD_FILES_AND_MODULES)
    assert entry.version == b"\x01\x00" and entry.life_cycle_name == "LOADED"
    assert entry.module_aids == (bytes.fromhex("d07002ca44900101"), bytes.fromhex("d07002ca44900102"))
    assert entry.to_json()["associated_sd"] == "a000000003000000"


@pytest.mark.parametrize("bad", ["e3034f0100", "e1024f00", "e3079f7002010100", "e3034f01"])
def test_malformed_tlv_entries(bad: str) -> None:
    with pytest.raises(DecodeError):
        parse_status_tlv(bytes.fromhex(bad), StatusSubset.APPLICATIONS)


aid = st.binary(min_size=0, max_size=16)
entries = st.builds(
    RegistryEntry, st.sampled_from(list(StatusSubset)), aid, st.integers(0, 255),
    st.none() | st.integers(0, 0xFFFFFF).map(Privilege), st.none() | aid, st.none() | st.binary(max_size=4),
    st.lists(aid, max_size=3).map(tuple), st.none() | aid, st.lists(st.binary(max_size=2), max_size=2).map(tuple))


@given(st.lists(entries, max_size=4))
def test_tlv_entries_round_trip(items: list[RegistryEntry]) -> None:
    for subset in StatusSubset:
        typed = [RegistryEntry(subset, *[getattr(e, f) for f in list(e.__dataclass_fields__)[1:]]) for e in items]
        data = b"".join(encode_status_tlv(e) for e in typed)
        assert parse_status_tlv(data, subset) == typed


@given(st.lists(st.tuples(aid, st.integers(0, 255), st.integers(0, 255), st.lists(aid, max_size=3)), max_size=4))
def test_legacy_entries_round_trip(items: list[tuple[bytes, int, int, list[bytes]]]) -> None:
    for subset in StatusSubset:
        with_modules = subset == StatusSubset.LOAD_FILES_AND_MODULES
        typed = [RegistryEntry(subset, a, lc, Privilege(p << 16), module_aids=tuple(m) if with_modules else ())
                 for a, lc, p, m in items]
        assert parse_status_legacy(encode_status_legacy(typed, subset), subset) == typed


@given(st.binary(max_size=120))
def test_response_parsers_on_arbitrary_bytes(data: bytes) -> None:
    parsers = [lambda d, s=s: parse_status_tlv(d, s) for s in StatusSubset]
    parsers += [lambda d, s=s: parse_status_legacy(d, s) for s in StatusSubset]
    parsers += [parse_select_response, parse_card_data, parse_key_information, parse_cplc, decode_dgis]
    for parse in parsers:
        try:
            parse(data)
        except McimError:
            pass


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.binary(max_size=40))
def test_card_side_command_parsers_on_arbitrary_commands(ins: int, p1: int, p2: int, data: bytes) -> None:
    command = CommandApdu(0x80, ins, p1, p2, data)
    for parse in (parse_delete, parse_set_status, parse_store_data, parse_load):
        try:
            parse(command)
        except McimError:
            pass
