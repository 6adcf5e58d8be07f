"""The reference UICC's OTA side against the host library: RFM and RAM scripts over SMS-PP ENVELOPEs, PoRs
verified with `PorVerifier` (inside `OtaWrapper.verify`), concatenated SMS, the PoR transports, the RFM context."""

from __future__ import annotations

import pytest
from mcim.apdu import ResponseApdu
from mcim.gp.ccm import InstallForInstall
from mcim.gp.install_params import (
    FULL_ACCESS,
    FileSystemAccess,
    InstallParameters,
    MinimumSecurityLevel,
    UiccAccessParameters,
    UiccSystemParameters,
    UiccToolkitParameters,
)
from mcim.ota import (
    CounterMode,
    OtaWrapper,
    PorRequest,
    PorSource,
    PorStatus,
    PorTransport,
    RemoteFormat,
    SmsOptions,
    Spi,
    parse_proactive,
    terminal_response,
)
from mcim.ota.cat import ProactiveType, SmsPpDownload
from mcim.ota.remote import BadFormat, ScriptChainingResult, decode_expanded_response
from mcim.ota.sms import parse_sms_submit
from mcim.refcard import RefCard, card_from_profile
from mcim.usim import Fcp, FileDescriptor, FileType, Structure, decode_iccid

from .helpers import PIN1, USIM_AID, Terminal, h
from .test_ota_kit import (
    ISD_TAR,
    MF_TAR,
    ORIGINATOR,
    SECURE_SPI,
    USIM_TAR,
    Counter,
    OtaServer,
    context,
    ota_card,
    ota_profile,
    snapshot,
    t0,
)

USIM_LOAD_FILE = h("A0000000871002")  # the default profile's native USIM module
USIM_MODULE = h("A000000087100201")
NEW_USIM = h("A0000000871002FFFFFFFF8907090001")
NEW_USIM_TAR = h("B00002")
SUBMIT_SPI = Spi(SECURE_SPI.integrity, True, CounterMode.HIGHER, PorRequest.ALWAYS, SECURE_SPI.por_integrity, True,
                 PorTransport.SMS_SUBMIT)


def create_transparent(fid: int, size: int, arr_record: int = 2, arr_fid: int = 0x2F06) -> bytes:
    """CREATE FILE (TS 102 222 §6.3) of a transparent EF, access rule from EF.ARR."""
    descriptor = FileDescriptor.for_file(FileType.WORKING_EF, Structure.TRANSPARENT)
    fcp = Fcp(descriptor, fid=fid, arr=(arr_fid, arr_record), file_size=size).to_bytes()
    return bytes((0x00, 0xE0, 0x00, 0x00, len(fcp))) + fcp


def update_binary(data: bytes, offset: int = 0) -> bytes:
    return bytes((0x00, 0xD6, offset >> 8, offset & 0xFF, len(data))) + data


def read_binary(length: int, offset: int = 0) -> bytes:
    return bytes((0x00, 0xB0, offset >> 8, offset & 0xFF, length & 0xFF))


def install_usim(aid: bytes, tar: bytes) -> bytes:
    """INSTALL [for install and make selectable] of the native USIM module, with the UICC parameters of TS 102 226
    §8.2.1.3: its TAR and minimum security level, and full RFM access to its own ADF."""
    uicc = UiccSystemParameters(
        toolkit=UiccToolkitParameters(minimum_security_level=MinimumSecurityLevel(0x01, b"\x16"), tars=(tar,)),
        administrative_access=UiccAccessParameters((FileSystemAccess(aid, FULL_ACCESS),)))
    command = InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, aid, install_parameters=InstallParameters(uicc=uicc))
    return t0(command.to_apdu())


@pytest.fixture
def card() -> RefCard:
    return ota_card()


# --- acceptance: an RFM + RAM script built with the host library ------------------------------------------------


def test_rfm_and_ram_scripts_create_write_read_and_install(card):
    rfm = OtaServer(card, context(MF_TAR))
    content = bytes(range(16))
    por = rfm.run([create_transparent(0x2F10, 16), update_binary(content), read_binary(16)])
    assert (por.remote.count, por.remote.sw, por.remote.data) == (3, 0x9000, content)
    term = Terminal(card)
    term.ok("00A40004022F10")
    assert term.ok("00B0000010") == content  # written for good, seen by the terminal

    ram = OtaServer(card, context(ISD_TAR), counter=rfm.counter)  # one key set, one counter
    por = ram.run([install_usim(NEW_USIM, NEW_USIM_TAR)])
    assert (por.remote.count, por.remote.sw, por.remote.data) == (1, 0x9000, b"\x00")
    assert card.find_adf(NEW_USIM) is not None
    assert Terminal(card).send(f"00A40404 10 {NEW_USIM.hex()}")[1] == 0x9000

    # the TAR from the install parameters reaches the new ADF by RFM, with the access domain they granted
    imsi = h("080910100000000020")
    new = OtaServer(card, context(NEW_USIM_TAR), counter=rfm.counter)
    por = new.run([create_transparent(0x6F07, 9, arr_record=2), update_binary(imsi), read_binary(9)])
    assert (por.remote.count, por.remote.sw, por.remote.data) == (3, 0x9000, imsi)
    assert card.find_adf(NEW_USIM).child(0x6F07).data == imsi


def test_expanded_format_answers_every_command(card):
    server = OtaServer(card, context(MF_TAR), fmt=RemoteFormat.EXPANDED)
    por = server.run([h("00A40004022FE2"), read_binary(10)])
    responses = por.remote.responses
    assert por.remote.executed == 2 and [r.sw for r in responses] == [0x9000, 0x9000]
    assert responses[0].data[:1] == b"\x62"  # the FCP comes with the command in the expanded format
    assert decode_iccid(responses[1].data) == "8988200000000000014"


def test_indefinite_expanded_script_gets_an_indefinite_response(card):
    server = OtaServer(card, context(MF_TAR))
    script = bytes.fromhex("AE80") + bytes((0x22, 7)) + h("00A4000C022FE2") + bytes((0x22, 5)) + read_binary(10) \
        + b"\x00\x00"
    por = server.verify(server.send_secured(script))
    response = decode_expanded_response(por.response.data)
    assert not response.definite and [r.sw for r in response.responses] == [0x9000, 0x9000]


@pytest.mark.parametrize("script,bad", [("AA 03 99 01 00", BadFormat.UNKNOWN_TAG),
                                        ("AA 05 22 05 00A4", BadFormat.WRONG_LENGTH),
                                        ("AA 02 81 00", BadFormat.UNKNOWN_TAG)])
def test_expanded_script_with_a_bad_format(card, script, bad):
    server = OtaServer(card, context(MF_TAR))
    response = decode_expanded_response(server.verify(server.send_secured(h(script))).response.data)
    assert (response.executed, response.bad_format) == (0, bad)


def test_script_chaining_is_not_supported(card):
    server = OtaServer(card, context(MF_TAR))
    script = h("AA 0C 22 07 00A4000C022FE2 83 01 01")
    response = decode_expanded_response(server.verify(server.send_secured(script)).response.data)
    assert response.executed == 1 and response.script_chaining_response is ScriptChainingResult.NOT_SUPPORTED


# --- execution semantics ------------------------------------------------------------------------------------------


def test_execution_stops_at_the_first_failing_command(card):
    before = bytes(card.mf.child(0x2FE2).data)
    por = OtaServer(card, context(MF_TAR)).run([h("00A4000C022FE2"), update_binary(b"\x11" * 10), read_binary(10)])
    # EF.ICCID has no UPDATE rule: never, whatever the access domain grants (TS 102 221 §9.2.7)
    assert (por.remote.count, por.remote.sw, por.remote.data) == (2, 0x6982, b"")
    assert bytes(card.mf.child(0x2FE2).data) == before


def test_answers_waiting_for_get_response_follow_t0(card):
    server = OtaServer(card, context(MF_TAR))
    por = server.run([h("00A40004022FE2")])
    assert por.remote.count == 1 and por.remote.sw >> 8 == 0x61 and por.remote.data == b""
    fcp_length = por.remote.sw & 0xFF
    por = server.run([h("00A40004022FE2"), h("00C0000000")])
    assert (por.remote.count, por.remote.sw) == (1, 0x9000)  # GET RESPONSE counts with the SELECT
    assert len(por.remote.data) == fcp_length and por.remote.data[:1] == b"\x62"
    por = server.run([h("00A40004022FE2"), h("00C0000004"), h("00C0000000")])
    assert (por.remote.count, por.remote.sw, len(por.remote.data)) == (1, 0x9000, fcp_length - 4)
    por = server.run([h("00C0000000")])
    assert (por.remote.count, por.remote.sw) == (1, 0x6985)  # nothing waits


def test_malformed_compact_script_runs_nothing(card):
    before = snapshot(card)
    server = OtaServer(card, context(MF_TAR))
    exchange = server.send_secured(update_binary(b"\x11" * 4)[:-2])
    por = server.verify(exchange)
    assert (por.remote.count, por.remote.sw) == (0, 0x6700)
    counters = before["adfs"][-1]["app"]["ota_counters"]
    counters["kvn:01"] = exchange.wrapped.cntr  # the packet was authentic: only its counter moved on
    assert snapshot(card) == before


def test_rfm_access_domain_replaces_pin_verification(card):
    server = OtaServer(card, context(USIM_TAR))
    loci = h("11223344 00F110 0001 FF 00")
    # EF.LOCI (SFI 0B) needs PIN1 for UPDATE: full access stands in for it; the TAR starts in ADF.USIM
    por = server.run([h("00D68B000B") + loci])
    assert (por.remote.count, por.remote.sw) == (1, 0x9000)
    assert bytes(card.find_adf(h(USIM_AID)).child(0x6F7E).data) == loci


def test_no_access_domain_grants_nothing():
    card = ota_card(tars=[{"tar": "B00000", "service": "rfm", "msl": "0116", "access_domain": "FF"}])
    server = OtaServer(card, context(MF_TAR))
    update_dir = h("00DC0104 26") + bytes(38)
    por = server.run([h("00A4000C022F00"), update_dir])
    assert (por.remote.count, por.remote.sw) == (2, 0x6982)  # EF.DIR update needs ADM1
    por = server.run([h("0020000A08") + b"88888888", h("00A4000C022F00"), update_dir])
    assert (por.remote.count, por.remote.sw) == (3, 0x9000)  # a PIN verified in the script counts there
    term = Terminal(card)
    term.ok("00A4000C022F00")
    assert term.sw("00DC0104 26" + "00" * 38) == 0x6982  # and nowhere else


def test_rfm_runs_on_its_own_context(card):
    term = Terminal(card)
    term.select_usim()
    term.ok(f"00200001 08 {PIN1}")
    term.ok("00A4000C026F07")
    imsi = term.ok("00B0000009")
    por = OtaServer(card, context(MF_TAR)).run([h("00A4000C022FE2"), read_binary(10)])
    assert por.remote.sw == 0x9000
    assert term.ok("00B0000009") == imsi  # the terminal's current EF and PIN verification are as they were
    assert term.ok("80F2000000")[:1] == b"\x62"  # STATUS: still in ADF.USIM


@pytest.mark.parametrize("command", ["00880081 22 10" + "00" * 16 + "10" + "00" * 16,  # AUTHENTICATE
                                     "0070000000",  # MANAGE CHANNEL
                                     "80C20000 02 D100",  # ENVELOPE
                                     "80E60C00 00"])  # a GP command is RAM's, not RFM's
def test_rfm_runs_file_and_pin_commands_only(card, command):
    por = OtaServer(card, context(USIM_TAR)).run([h(command)])
    assert (por.remote.count, por.remote.sw) == (1, 0x6D00)


# --- concatenated SMS ------------------------------------------------------------------------------------------------


def _long_script() -> list[bytes]:
    """About 300 bytes of script: three SMS."""
    return [create_transparent(0x2F11, 250), update_binary(bytes(range(250))), read_binary(16)]


def test_concatenated_message_in_any_order(card):
    server = OtaServer(card, context(MF_TAR))
    wrapped = server.wrapper().wrap(_long_script())
    assert len(wrapped.envelopes) >= 3
    responses = [card.process(apdu) for apdu in reversed(wrapped.envelopes[1:])]
    assert responses == [b"\x90\x00"] * (len(wrapped.envelopes) - 1)  # nothing but the SW until the last part
    por = server.verify(server.send_wrapped(wrapped, wrapped.envelopes[:1]))
    assert por.remote.sw == 0x9000 and card.mf.child(0x2F11).data == bytearray(range(250))


def test_repeated_segment_is_a_retransmission(card):
    server = OtaServer(card, context(MF_TAR))
    wrapped = server.wrapper().wrap(_long_script())
    envelopes = list(wrapped.envelopes)
    exchange = server.send_wrapped(wrapped, [envelopes[0], envelopes[0], *envelopes[1:]])
    assert server.verify(exchange).remote.sw == 0x9000


def test_inconsistent_segment_discards_the_message(card):
    before = snapshot(card)
    server = OtaServer(card, context(MF_TAR))
    wrapped = server.wrapper().wrap(_long_script())
    first, second, *rest = wrapped.envelopes
    card.process(first)
    tampered = second[:-1] + bytes((second[-1] ^ 1,))
    assert card.process(tampered) == b"\x90\x00"  # part 2 again, other content: the whole message goes
    for apdu in (second, *rest):
        assert card.process(apdu) == b"\x90\x00"
    assert snapshot(card) == before


def test_missing_segment_means_no_por_and_a_reset_forgets(card):
    before = snapshot(card)
    server = OtaServer(card, context(MF_TAR))
    wrapped = server.wrapper().wrap(_long_script())
    for apdu in wrapped.envelopes[:-1]:
        assert card.process(apdu) == b"\x90\x00"
    card.reset()
    assert card.process(wrapped.envelopes[-1]) == b"\x90\x00"
    assert snapshot(card) == before


def test_another_concatenated_message_replaces_a_partial_one(card):
    partial = OtaServer(card, context(MF_TAR)).wrapper().wrap(_long_script())
    card.process(partial.envelopes[0])
    other = OtaServer(card, context(MF_TAR), counter=Counter.starting(2), reference=0x43)
    assert other.run(_long_script()).remote.sw == 0x9000
    for apdu in partial.envelopes[1:]:
        assert card.process(apdu) == b"\x90\x00"  # part 1 of that message is gone: it never completes


def test_a_single_sms_leaves_a_partial_message_alone(card):
    server = OtaServer(card, context(MF_TAR))
    single = server.wrapper().wrap([h("00A4000C022FE2")])
    long = server.wrapper().wrap(_long_script())
    card.process(long.envelopes[0])
    assert server.verify(server.send_wrapped(single)).remote.sw == 0x9000
    assert server.verify(server.send_wrapped(long, long.envelopes[1:])).remote.sw == 0x9000


def test_message_too_long_for_the_buffer_is_refused_with_07():
    card = ota_card(max_message=200)
    before = snapshot(card)
    server = OtaServer(card, context(MF_TAR))
    wrapped = server.wrapper().wrap(_long_script())
    exchange = server.send_wrapped(wrapped, wrapped.envelopes[:1])
    assert server.status(exchange) is PorStatus.INSUFFICIENT_MEMORY
    for apdu in wrapped.envelopes[1:]:
        assert card.process(apdu) == b"\x90\x00"
    assert snapshot(card) == before


# --- where the PoR goes --------------------------------------------------------------------------------------------


def test_por_by_sms_submit_when_the_spi_asks(card):
    server = OtaServer(card, context(MF_TAR, SUBMIT_SPI))
    exchange = server.send([h("00A4000C022FE2"), read_binary(10)])
    outcome = exchange.outcome
    assert [p.source for p in outcome.pors] == [PorSource.SEND_SHORT_MESSAGE]
    assert [c.details.type for c in outcome.proactive] == [ProactiveType.SEND_SHORT_MESSAGE]
    submit = parse_sms_submit(outcome.proactive[0].sms_tpdu)
    assert submit.destination == ORIGINATOR and (submit.pid, submit.dcs) == (0x7F, 0xF6)
    assert [apdu[:2] for apdu in server.log] == [b"\x80\xc2", b"\x80\x12", b"\x80\x14"]
    assert server.verify(exchange).remote.sw == 0x9000


@pytest.mark.parametrize("delivery,spi,sources", [
    ("envelope_response", SUBMIT_SPI, [PorSource.GET_RESPONSE]),
    ("proactive", SECURE_SPI, [PorSource.GET_RESPONSE, PorSource.SEND_SHORT_MESSAGE]),
    ("as_spi", SECURE_SPI, [PorSource.GET_RESPONSE]),
])
def test_por_delivery_is_a_profile_choice(delivery, spi, sources):
    card = ota_card(por_delivery=delivery)
    server = OtaServer(card, context(MF_TAR, spi))
    exchange = server.send([h("00A4000C022FE2")])
    assert [p.source for p in exchange.outcome.pors] == sources
    statuses = server.statuses(exchange)
    assert statuses[-1] is PorStatus.POR_OK
    assert statuses[:-1] == [PorStatus.RESPONSE_VIA_SMS_SUBMIT] * (len(statuses) - 1)  # the 0B notice
    assert server.verify(exchange).remote.count == 1


@pytest.mark.parametrize("notice", [False, True])
def test_submit_notice_when_the_spi_asked_for_sms_submit(notice):
    card = ota_card(submit_notice=notice)
    server = OtaServer(card, context(MF_TAR, SUBMIT_SPI))
    exchange = server.send([h("00A4000C022FE2")])
    expected = [PorSource.GET_RESPONSE] * notice + [PorSource.SEND_SHORT_MESSAGE]
    assert [p.source for p in exchange.outcome.pors] == expected
    assert server.verify(exchange).response.status is PorStatus.POR_OK


def test_long_por_goes_by_concatenated_sms_submit(card):
    server = OtaServer(card, context(MF_TAR))
    server.run([create_transparent(0x2F12, 250), update_binary(bytes(range(250)))])
    exchange = server.send([h("00A4000C022F12"), read_binary(250)])
    outcome = exchange.outcome
    assert len(outcome.proactive) == 3  # 250 bytes of data and the PoR header need three SMS
    assert [p.source for p in outcome.pors] == [PorSource.GET_RESPONSE, PorSource.SEND_SHORT_MESSAGE]
    por = server.verify(exchange)
    assert por.remote.data == bytes(range(250))


def test_no_por_when_none_is_asked(card):
    quiet = Spi(SECURE_SPI.integrity, True, CounterMode.HIGHER, PorRequest.NONE)
    exchange = OtaServer(card, context(MF_TAR, quiet)).send([h("00A4000C022FE2")])
    assert exchange.outcome.pors == () and exchange.outcome.sw == 0x9000
    on_error = Spi(SECURE_SPI.integrity, True, CounterMode.HIGHER, PorRequest.ON_ERROR)
    exchange = OtaServer(card, context(MF_TAR, on_error), counter=Counter.starting(5)).send([h("00A4000C022FE2")])
    assert exchange.outcome.pors == ()


def test_toolkit_busy_until_the_terminal_fetched_and_answered(card):
    server = OtaServer(card, context(MF_TAR, SUBMIT_SPI))
    first = server.wrapper().wrap([h("00A4000C022FE2")])
    assert card.process(first.envelopes[0]) == bytes((0x91, len(card.toolkit.pending())))
    second = server.wrapper().wrap([h("00A4000C022FE2")])
    before = snapshot(card)
    assert card.process(second.envelopes[0]) == b"\x93\x00"
    assert snapshot(card) == before
    assert card.process(h("80F2000C"))[-2:-1] == b"\x91"  # every 9000 announces the pending command
    command = card.process(bytes((0x80, 0x12, 0, 0, len(card.toolkit.pending()))))
    assert ResponseApdu.parse(command).sw == 0x9000
    assert card.process(second.envelopes[0]) == b"\x93\x00"  # fetched, not yet answered
    details = parse_proactive(command[:-2]).details
    assert card.process(terminal_response(details)) == b"\x90\x00"
    assert card.process(second.envelopes[0])[:1] == b"\x91"


def test_fetch_and_terminal_response_refusals(card):
    assert card.process(h("8012000010")) == b"\x69\x85"  # nothing to fetch
    server = OtaServer(card, context(MF_TAR, SUBMIT_SPI))
    card.process(server.wrapper().wrap([h("00A4000C022FE2")]).envelopes[0])
    length = len(card.toolkit.pending())
    assert card.process(bytes((0x80, 0x12, 0, 0, length - 1))) == bytes((0x6C, length))
    command = parse_proactive(card.process(bytes((0x80, 0x12, 0, 0, length)))[:-2])
    wrong = terminal_response(type(command.details)(command.details.number + 1, command.details.type, 0))
    assert card.process(wrong) == b"\x6a\x80"
    assert card.process(terminal_response(command.details)) == b"\x90\x00"
    assert card.process(terminal_response(command.details)) == b"\x69\x85"


# --- what the card takes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pid,dcs,taken", [(0x7F, 0xF6, True), (0x7F, 0x16, True), (0x00, 0xF6, False),
                                           (0x7F, 0xF5, False), (0x7F, 0x04, False)])
def test_only_usim_data_download_class_2_is_taken(card, pid, dcs, taken):
    server = OtaServer(card, context(MF_TAR))
    wrapper = OtaWrapper(server.ctx, server.counter, SmsOptions(ORIGINATOR, pid=pid, dcs=dcs))
    before = snapshot(card)
    response = card.process(wrapper.wrap([h("00A4000C022FE2")]).envelopes[0])
    assert (response[-2:] != b"\x6a\x80") is taken
    if not taken:
        assert snapshot(card) == before


def test_sms_in_the_gsm_alphabet_is_not_taken(card):
    tpdu = h("44 04 912143 7F 00 00000000000000 05") + bytes(5)  # DCS 00: GSM 7-bit default alphabet
    apdu = SmsPpDownload(tpdu).envelope()
    assert card.process(apdu) == b"\x6a\x80"


@pytest.mark.parametrize("apdu", ["80C2000100", "80C20000 03 D60100", "80C20000 04 D1028281", "00C2000000"])
def test_envelopes_that_are_no_sms_pp_download(card, apdu):
    before = snapshot(card)
    assert card.process(h(apdu))[-2:] in (b"\x6a\x80", b"\x6a\x86", b"\x6d\x00", b"\x6e\x00")
    assert snapshot(card) == before


# --- counters and persistence ----------------------------------------------------------------------------------------


def test_counters_persist_with_the_card_state(tmp_path):
    path = tmp_path / "card.json"
    card = card_from_profile(ota_profile(), state_path=path)
    server = OtaServer(card, context(MF_TAR))
    exchange = server.send([h("00A4000C022FE2")])
    assert server.verify(exchange).remote.sw == 0x9000
    again = RefCard.load(path)
    assert again.to_state()["ota"] == card.to_state()["ota"]
    replay = OtaServer(again, context(MF_TAR))
    assert replay.status(replay.send_wrapped(exchange.wrapped)) is PorStatus.CNTR_LOW


@pytest.mark.parametrize("mode", [CounterMode.NONE, CounterMode.NO_CHECK])
def test_counter_modes_without_checks_accept_replays(card, mode):
    spi = Spi(SECURE_SPI.integrity, True, mode, PorRequest.ALWAYS, SECURE_SPI.por_integrity, True)
    card = ota_card(tars=[{"tar": "B00000", "service": "rfm", "msl": "0102", "access_domain": "00"}])
    server = OtaServer(card, context(MF_TAR, spi), counter=Counter.starting(7))
    exchange = server.send([h("00A4000C022FE2")])
    assert server.verify(exchange).remote.sw == 0x9000
    assert server.status(server.send_wrapped(exchange.wrapped)) is PorStatus.POR_OK
    assert card.to_state()["adfs"][-1]["app"]["ota_counters"] == {}


def test_counters_per_tar():
    card = ota_card(counters="tar")
    mf = OtaServer(card, context(MF_TAR), counter=Counter.starting(10))
    mf.run([h("00A4000C022FE2")])
    usim = OtaServer(card, context(USIM_TAR), counter=Counter.starting(1))  # its own counter, still at 0
    usim.run([h("00A4000C026F07")])
    counters = next(a["app"]["ota_counters"] for a in card.to_state()["adfs"] if a["app"]["kind"] == "isd")
    assert counters == {"tar:b00000": 10, "tar:b00001": 1}


def test_exactly_one_higher(card):
    spi = Spi(SECURE_SPI.integrity, True, CounterMode.ONE_HIGHER, PorRequest.ALWAYS, SECURE_SPI.por_integrity, True)
    server = OtaServer(card, context(MF_TAR, spi))
    for _ in range(3):
        server.run([h("00A4000C022FE2")])
