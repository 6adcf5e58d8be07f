"""Every TS 102 225 / SMS-PP / ENVELOPE vector of ../shared/vectors reproduced byte for byte (sources: pySim
tests/unittests/test_ota.py, asterix SecurePacket.py tests, onomondo-uicc tests; see each vector's `source`)."""

from __future__ import annotations

import pytest
from mcim.ota._crypto import checksum_function, crc32
from mcim.ota.cat import SmsPpDownload, parse_envelope, parse_proactive, terminal_response
from mcim.ota.counters import FixedCounter
from mcim.ota.errors import PorStatus
from mcim.ota.exchange import send_sms_pp
from mcim.ota.keys import OtaContext, OtaKeys
from mcim.ota.packet import build_command_packet, open_command_packet
from mcim.ota.por import PorIntegrity, verify_response_packet
from mcim.ota.remote import CompactResponse, decode_compact_response, split_compact
from mcim.ota.sms import Address, SmsDeliver, parse_sms_deliver, parse_sms_submit, parse_user_data
from mcim.ota.spi import Algorithm, KeyRef, Spi
from mcim.ota.wrap import OtaWrapper, SmsOptions, WrappedCommand

from tests.conftest import load_vectors

V = load_vectors()
PACKETS = V["ts102225_secured_packets"]
SMS_PP = V["sms_pp_envelope_examples"]


def _hex(value: str | None) -> bytes | None:
    return bytes.fromhex(value.replace(" ", "")) if value else None


def _context(t: dict, tar: str | None = None) -> OtaContext:
    return OtaContext(Spi.from_hex(t["spi"]), KeyRef.from_byte(int(t["kic"], 16)),
                      KeyRef.from_byte(int(t["kid"], 16)), bytes.fromhex(tar or t["tar"]),
                      OtaKeys(_hex(t.get("kic_key")), _hex(t.get("kid_key"))))


@pytest.mark.parametrize("t", PACKETS["command_packets"], ids=lambda t: t["name"])
def test_command_packet_is_reproduced(t: dict) -> None:
    packet = build_command_packet(_context(t), int(t["cntr"], 16), bytes.fromhex(t["secured_data"]))
    assert packet.hex() == t["expected_packet"]


@pytest.mark.parametrize("t", PACKETS["command_packets"], ids=lambda t: t["name"])
def test_command_packet_opens(t: dict) -> None:
    ctx = _context(t)
    command = open_command_packet(bytes.fromhex(t["expected_packet"]), ctx.keys)
    assert command.secured_data.hex() == t["secured_data"]
    assert command.cntr == int(t["cntr"], 16)
    assert command.header.tar.hex() == t["tar"]


@pytest.mark.parametrize("t", PACKETS["response_packets"], ids=lambda t: t["name"])
def test_response_packet_verifies(t: dict) -> None:
    por = verify_response_packet(bytes.fromhex(t["user_data"]), _context(t, "b00011"), expected_cntr=0)
    assert por.status == int(t["expected_response_status"], 16)
    assert por.data.hex() == t["expected_additional_data"]
    spi = Spi.from_hex(t["spi"])
    assert por.integrity is (PorIntegrity.VERIFIED if spi.por_integrity else PorIntegrity.NONE)
    assert por.ciphered is spi.por_ciphered


def test_crc32_example() -> None:
    example = PACKETS["crc32_example"]
    assert crc32(bytes.fromhex(example["input"])).hex() == example["crc32"]


def test_crc16_check_value() -> None:
    # CRC-16/IBM-SDLC (ISO/IEC 13239, "X-25") check value of "123456789" from the RevEng CRC catalogue.
    assert checksum_function(Algorithm.CRC16, None, 2)(b"123456789").hex() == "906e"


@pytest.mark.parametrize("v", PACKETS["onomondo_cc_primitive"]["vectors"], ids=lambda v: f"{v['alg']}-{v['cc']}")
def test_onomondo_cc_primitive(v: dict) -> None:
    prim = PACKETS["onomondo_cc_primitive"]
    mac = checksum_function(Algorithm(v["alg"]), bytes.fromhex(prim["key"]), 8)
    assert mac(bytes.fromhex(prim["data1"] + v["data2"])).hex() == v["cc"]


# --- SMS-PP and ENVELOPE ----------------------------------------------------------------------------------------

ASTERIX = SMS_PP["asterix_envelope_and_send_sm_por"]
ONOMONDO = SMS_PP["onomondo_softsim_envelope_aes"]


def _asterix_context() -> OtaContext:
    return OtaContext(Spi.from_hex(ASTERIX["spi"]), KeyRef.from_byte(0x15), KeyRef.from_byte(0x15),
                      bytes.fromhex(ASTERIX["tar"]), OtaKeys(bytes.fromhex(ASTERIX["kic_key"])))


def test_asterix_envelope_round_trip_and_command() -> None:
    data = bytes.fromhex(ASTERIX["envelope_data"])
    download = parse_envelope(data)
    assert SmsPpDownload(download.tpdu, download.smsc).envelope()[5:] == data
    deliver = parse_sms_deliver(download.tpdu)
    assert deliver.to_bytes() == download.tpdu
    packet = parse_user_data(deliver.user_data).body
    ctx = _asterix_context()
    command = open_command_packet(packet, ctx.keys)
    assert command.secured_data.hex() == ASTERIX["decrypted_secured_data"]
    assert command.cntr == int(ASTERIX["cntr"], 16)
    assert build_command_packet(ctx, command.cntr, command.secured_data) == packet
    assert split_compact(command.secured_data) == [bytes.fromhex("80ca00e000"), bytes.fromhex("00c0000000")]


def test_asterix_por_in_send_short_message() -> None:
    raw = bytes.fromhex(ASTERIX["send_sm_proactive_command"])
    command = parse_proactive(raw)
    assert command.to_bytes() == raw
    submit = parse_sms_submit(command.sms_tpdu)
    assert submit.to_bytes() == command.sms_tpdu
    por = verify_response_packet(submit.user_data, _asterix_context(), expected_cntr=int(ASTERIX["cntr"], 16))
    assert por.status is PorStatus.POR_OK and por.integrity is PorIntegrity.VERIFIED
    assert por.data.hex() == ASTERIX["por_additional_data"]
    assert decode_compact_response(por.data) == CompactResponse(1, 0x9000, por.data[3:])


def _onomondo_context() -> OtaContext:
    return OtaContext(Spi.from_hex(ONOMONDO["spi"]), KeyRef.from_byte(int(ONOMONDO["kic"], 16)),
                      KeyRef.from_byte(int(ONOMONDO["kid"], 16)), bytes.fromhex(ONOMONDO["tar"]),
                      OtaKeys(bytes.fromhex(ONOMONDO["kic_key"]), bytes.fromhex(ONOMONDO["kid_key"])))


def test_onomondo_envelope_command() -> None:
    apdu = bytes.fromhex(ONOMONDO["c_apdu"])
    download = parse_envelope(apdu)
    assert download.envelope() == apdu
    deliver = parse_sms_deliver(download.tpdu)
    assert deliver.to_bytes() == download.tpdu
    command = open_command_packet(parse_user_data(deliver.user_data).body, _onomondo_context().keys)
    assert command.secured_data.hex() == ONOMONDO["decrypted_secured_data_computed_here"]
    assert command.cntr == int(ONOMONDO["cntr_in_packet"], 16)
    assert command.padding[:1].hex() == ONOMONDO["command_padding"]  # 80 00..: stripped, never checked


def test_onomondo_proactive_exchange_and_pors() -> None:
    answers = {
        bytes.fromhex(ONOMONDO["c_apdu"]): bytes.fromhex(ONOMONDO["envelope_response_data"] + ONOMONDO["envelope_sw"]),
        bytes.fromhex(ONOMONDO["fetch_c_apdu"]): bytes.fromhex(ONOMONDO["fetch_response_send_sm"] +
                                                              ONOMONDO["fetch_sw"]),
        bytes.fromhex(ONOMONDO["terminal_response_c_apdu"]): bytes.fromhex("9000"),
    }
    outcome = send_sms_pp(answers.__getitem__, [bytes.fromhex(ONOMONDO["c_apdu"])])
    assert [p.source.value for p in outcome.pors] == ["envelope response", "send short message"]
    ctx = _onomondo_context()
    first = verify_response_packet(outcome.pors[0].user_data, ctx, expected_cntr=1)
    assert first.status is PorStatus.RESPONSE_VIA_SMS_SUBMIT and first.integrity is PorIntegrity.VERIFIED
    wrapper = OtaWrapper(ctx, FixedCounter(1), SmsOptions(Address.from_digits("1234")))
    wrapped = WrappedCommand(1, b"", b"", (), (), ())
    final = wrapper.verify(wrapped, outcome)
    assert final.response.status is PorStatus.POR_OK
    assert final.remote == CompactResponse(3, 0x9000, bytes.fromhex("00112233445566778899"))
    assert final.response.padding[:1] == b"\x80"  # onomondo pads PoRs with 80 00..; accepted as is


def test_onomondo_terminal_response() -> None:
    command = parse_proactive(bytes.fromhex(ONOMONDO["fetch_response_send_sm"]))
    assert terminal_response(command.details).hex() == ONOMONDO["terminal_response_c_apdu"]


@pytest.mark.parametrize("tpdu", SMS_PP["pysim_sms_deliver_tpdus"]["tpdus"])
def test_pysim_sms_deliver_with_corrected_udl(tpdu: str) -> None:
    # pySim built these with TP-UDL 03 (its test passes tp_udl=3, DIGEST §10.2).  The UDL is byte 16 here:
    # first octet, TP-OA (7 bytes), PID, DCS, SCTS (7 bytes).
    raw = bytes.fromhex(tpdu)
    assert raw[16] == 3
    user_data = raw[17:]
    corrected = raw[:16] + bytes((len(user_data),)) + user_data
    built = SmsDeliver(Address.from_digits("12345678", 0x81), bytes.fromhex("22705200000000"), user_data,
                       no_more_messages=False).to_bytes()
    assert built == corrected
    assert parse_sms_deliver(corrected).user_data == user_data


def test_onomondo_sms_deliver_decode() -> None:
    case = SMS_PP["onomondo_sms_deliver_decode"]
    deliver = parse_sms_deliver(bytes.fromhex(case["tpdu"]))
    decoded = case["decoded"]
    assert deliver.udhi and not deliver.no_more_messages
    assert deliver.originator.digits == "55667788" and deliver.originator.ton_npi == 0x81
    assert deliver.pid == int(decoded["tp_pid"], 16) and deliver.dcs == int(decoded["tp_dcs"], 16)
    assert deliver.scts.hex() == decoded["tp_scts"]
    assert len(deliver.user_data) == decoded["tp_udl"]
