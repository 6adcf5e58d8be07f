"""TS 102 226 remote command formats and the TAR catalogue (examples from DIGEST §4.2-4.3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcim.errors import DecodeError, McimError
from mcim.ota.remote import (
    BadFormat,
    CommandScript,
    CompactResponse,
    ErrorAction,
    ExpandedResponse,
    ImmediateAction,
    RApdu,
    RemoteFormat,
    ScriptChaining,
    ScriptChainingResult,
    TarCatalogue,
    TarService,
    decode_command_script,
    decode_compact_response,
    decode_expanded_response,
    decode_response_data,
    encode_compact,
    encode_expanded,
    encode_script,
    split_compact,
)

ONOMONDO_SCRIPT = ["00a4000c023f00", "00a4000c022fe2", "00b000000a"]  # DIGEST §4.2 (onomondo test)


def test_compact_script() -> None:
    apdus = [bytes.fromhex(a) for a in ONOMONDO_SCRIPT]
    data = encode_compact(apdus)
    assert data.hex() == "".join(ONOMONDO_SCRIPT)
    assert split_compact(data) == apdus
    assert split_compact(bytes.fromhex("80e2900000") + bytes.fromhex("00a40000")) == \
        [bytes.fromhex("80e2900000"), bytes.fromhex("00a40000")]
    with pytest.raises(DecodeError, match="C-APDU 2"):
        encode_compact([apdus[0], b"\x00\xa4"])
    with pytest.raises(DecodeError):
        encode_compact([])
    with pytest.raises(DecodeError, match="P3 announces"):
        split_compact(bytes.fromhex("00d6000005aabb"))


def test_compact_response() -> None:
    # DIGEST §4.2: "03 9000 00112233445566778899" (onomondo), "01 612F" (pySim)
    assert decode_compact_response(bytes.fromhex("03900000112233445566778899")) == \
        CompactResponse(3, 0x9000, bytes.fromhex("00112233445566778899"))
    assert decode_compact_response(bytes.fromhex("01612f")).to_bytes().hex() == "01612f"
    with pytest.raises(DecodeError):
        decode_compact_response(b"\x01\x90")


def test_expanded_command_examples() -> None:
    # DIGEST §4.3: AA 07 22 05 80E2900000 and the indefinite form AE 80 22 05 80E2900000 00 00
    apdu = bytes.fromhex("80e2900000")
    assert encode_expanded([apdu]).hex() == "aa07220580e2900000"
    assert encode_expanded([apdu], definite=False).hex() == "ae80220580e29000000000"
    for data in ("aa07220580e2900000", "ae80220580e29000000000"):
        assert decode_command_script(bytes.fromhex(data)).apdus == (apdu,)


def test_expanded_command_items_round_trip() -> None:
    script = CommandScript((ScriptChaining.FIRST_KEEP_ON_RESET, bytes.fromhex("00a4000c023f00"),
                            ImmediateAction(b"\x01"), ErrorAction(b"\x02\x03"), bytes(300)), definite=True)
    assert decode_command_script(script.to_bytes()) == script
    indefinite = CommandScript(script.items, definite=False)
    assert decode_command_script(indefinite.to_bytes()) == indefinite
    assert ScriptChaining(0x42).name == "RESERVED_42"


def test_expanded_response_round_trip() -> None:
    response = ExpandedResponse(2, (RApdu(b"", 0x9000), RApdu(b"\x01\x02", 0x62F1)), BadFormat.WRONG_LENGTH,
                                b"\x01", ScriptChainingResult.NOT_SUPPORTED)
    encoded = response.to_bytes()
    assert encoded[:5] == bytes.fromhex("ab") + bytes((len(encoded) - 2,)) + bytes.fromhex("800102")
    decoded = decode_expanded_response(encoded)
    assert decoded == response and decoded.truncated
    indefinite = ExpandedResponse(None, (RApdu(b"\xaa", 0x9000),), definite=False)
    assert indefinite.to_bytes().hex() == "af80230 3aa9000 0000".replace(" ", "")
    assert decode_response_data(indefinite.to_bytes()) == indefinite
    assert decode_response_data(encoded, RemoteFormat.EXPANDED) == response
    assert decode_response_data(bytes.fromhex("019000")) == CompactResponse(1, 0x9000, b"")


def test_encode_script_by_format() -> None:
    apdu = bytes.fromhex("80e2900000")
    assert encode_script([apdu], RemoteFormat.COMPACT) == apdu
    assert encode_script([apdu], RemoteFormat.EXPANDED)[:1] == b"\xaa"


def test_malformed_templates() -> None:
    for data in ("ab03800101ff", "ae8022058000", "aa0381", "ab00", "aa02ff00", "0102"):
        with pytest.raises(DecodeError):
            (decode_expanded_response if data.startswith("ab") else decode_command_script)(bytes.fromhex(data))


def test_tar_catalogue() -> None:
    catalogue = TarCatalogue()
    assert catalogue.describe(bytes.fromhex("000000")).service is TarService.RAM
    assert catalogue.describe(bytes.fromhex("b00000")).name.startswith("UICC shared file system")
    assert catalogue.describe(bytes.fromhex("b00042")).service is TarService.RFM
    assert catalogue.describe(bytes.fromhex("c00000")).service is TarService.APPLICATION
    catalogue.register(bytes.fromhex("c00001"), "MCIM agent")
    assert catalogue.describe(bytes.fromhex("c00001")).name == "MCIM agent"
    with pytest.raises(DecodeError):
        catalogue.register(b"\x01", "short")


@settings(max_examples=300)
@given(raw=st.binary(max_size=120))
def test_remote_decoders_accept_any_bytes(raw: bytes) -> None:
    for decode in (split_compact, decode_compact_response, decode_command_script, decode_expanded_response,
                   decode_response_data):
        try:
            decode(raw)
        except McimError:
            pass


@settings(max_examples=100)
@given(apdus=st.lists(st.binary(min_size=0, max_size=300).map(lambda d: bytes.fromhex("80e20000") +
                                                               (bytes((len(d),)) + d if 0 < len(d) < 256 else b"")),
                      min_size=1, max_size=5), definite=st.booleans())
def test_expanded_scripts_round_trip(apdus: list[bytes], definite: bool) -> None:
    assert decode_command_script(encode_expanded(apdus, definite=definite)).apdus == tuple(apdus)
