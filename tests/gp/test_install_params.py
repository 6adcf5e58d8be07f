"""Install/load parameters (GP v2.3 Tables 11-48/11-49, ETSI TS 102 226 §8.2.1.3) against public examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.errors import DecodeError, McimError
from mcim.gp.install_params import (
    FULL_ACCESS,
    NO_ACCESS,
    AccessDomain,
    FileSystemAccess,
    InstallParameters,
    MenuEntry,
    MinimumSecurityLevel,
    SimToolkitParameters,
    SystemParameters,
    UiccAccessParameters,
    UiccSystemParameters,
    UiccToolkitParameters,
    encode_load_parameters,
    parse_load_parameters,
)
from mcim.tlv import BerTlv

from ..conftest import load_vectors

EXAMPLES = {e["what"]: e["hex"] for e in load_vectors()["gp_install_parameter_examples"]["examples"]}
PYSIM_QUOTAS = "gen_install_parameters(nv quota 256, v quota 256, TS102226 CA param)"
PYSIM_EMPTY = "gen_install_parameters() (mandatory empty C9 only)"
SAIP_TOOLKIT = "SAIP default MNO-SD uiccToolkitApplicationSpecificParametersField (pySim comment: TAR B20100, MSL 12)"
# pySim docs/cap-tutorial.rst: the STK parameter of its HelloSTK example (kept raw: it lacks the TAR length byte).
HELLOSTK_CA = bytes.fromhex("010001001505000000000000000000000000")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_vector_parses_and_reencodes_byte_for_byte(name: str) -> None:
    data = bytes.fromhex(EXAMPLES[name])
    parse = UiccToolkitParameters.parse if name == SAIP_TOOLKIT else InstallParameters.parse
    assert parse(data).to_bytes() == data


def test_build_pysim_quota_example_from_typed_values() -> None:
    params = InstallParameters(system=SystemParameters(non_volatile_memory=256, volatile_memory=256,
                                                       sim_toolkit=HELLOSTK_CA))
    assert params.to_bytes().hex() == EXAMPLES[PYSIM_QUOTAS]


def test_build_empty_c9() -> None:
    assert InstallParameters().to_bytes().hex() == EXAMPLES[PYSIM_EMPTY]


def test_build_saip_toolkit_from_typed_values() -> None:
    toolkit = UiccToolkitParameters(priority=1, menu_entries=(MenuEntry(0, 0),),
                                    minimum_security_level=MinimumSecurityLevel(0x01, b"\x12"),
                                    tars=(bytes.fromhex("b20100"),), max_services=0)
    assert toolkit.to_bytes().hex() == EXAMPLES[SAIP_TOOLKIT]
    assert UiccToolkitParameters.parse(toolkit.to_bytes()) == toolkit


def test_pysim_cap_tutorial_install_parameters() -> None:
    # pySim docs/cap-tutorial.rst: quotas 255/255 plus the HelloSTK STK parameter give this install-parameters field.
    params = InstallParameters(system=SystemParameters(non_volatile_memory=255, volatile_memory=255,
                                                       sim_toolkit=HELLOSTK_CA))
    assert params.to_bytes().hex() == "c900ef1cc80200ffc70200ffca12010001001505000000000000000000000000"


def test_malformed_ca_is_kept_raw_and_well_formed_ca_is_typed() -> None:
    parsed = InstallParameters.parse(bytes.fromhex(EXAMPLES[PYSIM_QUOTAS]))
    assert parsed.system is not None and parsed.system.sim_toolkit == HELLOSTK_CA
    typed = SimToolkitParameters(access_domain=FULL_ACCESS, priority=1, max_menu_text_length=0x15,
                                 menu_entries=(MenuEntry(1, 1),), tars=(bytes.fromhex("b00010"),))
    params = InstallParameters(system=SystemParameters(sim_toolkit=typed))
    assert InstallParameters.parse(params.to_bytes()).system.sim_toolkit == typed


def test_etsi_ts_102_268_uicc_parameters() -> None:
    # ETSI TS 102 268 UICC API test suite, Test_Api_4_Afv_Crtf.java: the 'EA' content its installApplet sends.
    adf1 = bytes.fromhex("a0000000090005ffffffff89e0000002")
    access = UiccAccessParameters((FileSystemAccess(b"", FULL_ACCESS), FileSystemAccess(adf1, FULL_ACCESS)))
    uicc = UiccSystemParameters(toolkit=UiccToolkitParameters(priority=1, max_menu_text_length=0x0A, max_services=0),
                                access=access, administrative_access=access)
    expected = ("8008" "01000a0000000000"
                "8118" "00" "0100" "00" "10a0000000090005ffffffff89e0000002" "0100" "00"
                "8218" "00" "0100" "00" "10a0000000090005ffffffff89e0000002" "0100" "00")
    assert uicc.to_bytes() == bytes.fromhex("ea") + bytes((len(expected) // 2,)) + bytes.fromhex(expected)
    assert InstallParameters.parse(InstallParameters(uicc=uicc).to_bytes()).uicc == uicc


def test_sgp02_isd_p_application_specific_parameters() -> None:
    # SGP.02 "Create ISD-P" (njiwa, DIGEST §9): C9 { 81 02 03 70 } and EF { 83 02 <memory> } (tag 83 kept as extra).
    data = bytes.fromhex("c904810203 70ef0483020400".replace(" ", ""))
    parsed = InstallParameters.parse(data)
    assert parsed.application_specific == bytes.fromhex("81020370")
    assert parsed.system is not None and parsed.system.extra == (BerTlv(0x83, bytes.fromhex("0400")),)
    assert parsed.to_bytes() == data


def test_four_byte_quota_and_load_parameters() -> None:
    load = SystemParameters(non_volatile_code=0x12345, volatile_memory=0x100, non_volatile_memory=0x2000)
    encoded = encode_load_parameters(load)
    assert encoded.hex() == "ef0ec60400012345c8022000c7020100"
    assert parse_load_parameters(encoded) == load
    assert parse_load_parameters(b"") is None and encode_load_parameters(None) == b""


@pytest.mark.parametrize("bad", ["ef03c80101", "c900c900", "c901", "c900ff"])
def test_malformed_install_parameters_raise_decode_errors(bad: str) -> None:
    with pytest.raises(DecodeError):
        InstallParameters.parse(bytes.fromhex(bad))


@pytest.mark.parametrize("bad", ["ca00", "ef00ef00", "ef02c800"])
def test_malformed_load_parameters_raise_decode_errors(bad: str) -> None:
    with pytest.raises(DecodeError):
        parse_load_parameters(bytes.fromhex(bad))


def test_access_domain_and_out_of_range_values() -> None:
    assert AccessDomain.parse(b"\x02\x00\x00\x01") == AccessDomain(0x02, b"\x00\x00\x01")
    assert NO_ACCESS.to_bytes() == b"\xff"
    with pytest.raises(McimError):
        UiccToolkitParameters(priority=256).to_bytes()
    with pytest.raises(McimError):
        UiccToolkitParameters(tars=(b"\x01\x02",)).to_bytes()
    with pytest.raises(McimError):
        SystemParameters(volatile_memory=-1).to_bytes()


byte = st.integers(0, 255)
tar = st.binary(min_size=3, max_size=3)
toolkits = st.builds(
    UiccToolkitParameters, byte, byte, byte, st.lists(st.builds(MenuEntry, byte, byte), max_size=4).map(tuple),
    byte, st.none() | st.builds(MinimumSecurityLevel, byte, st.binary(max_size=4)),
    st.lists(tar, max_size=3).map(tuple), st.none() | byte)
accesses = st.builds(UiccAccessParameters, st.lists(st.builds(
    FileSystemAccess, st.binary(max_size=16), st.builds(AccessDomain, byte, st.binary(max_size=3)),
    st.binary(max_size=8)), max_size=3).map(tuple))


@given(toolkits, accesses)
def test_typed_uicc_parameters_round_trip(toolkit: UiccToolkitParameters, access: UiccAccessParameters) -> None:
    params = InstallParameters(b"\x01", SystemParameters(volatile_memory=7),
                               UiccSystemParameters(toolkit=toolkit, access=access))
    assert InstallParameters.parse(params.to_bytes()) == params


@given(st.binary(max_size=80))
def test_any_bytes_give_typed_values_or_mcim_errors(data: bytes) -> None:
    for parse in (InstallParameters.parse, UiccToolkitParameters.parse, SimToolkitParameters.parse,
                  UiccAccessParameters.parse, parse_load_parameters):
        try:
            parse(data)
        except McimError:
            pass
