"""`.ota begin ... / .ota end`, run by the real runner.

Known answers (vectors file, `ts102225_secured_packets`): the pySim and asterix command packets must be what the
directive puts in its ENVELOPE, and the pySim PoRs (osmocom/pysim tests/unittests/test_ota.py) recorded from
cards must verify and hand the command its status word.  Everything else runs against an in-test UICC built from
the real card-side classes: ENVELOPE parsing, SMS reassembly, `ReceivingEntity`, the TS 102 226 script formats.
"""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcim.apdu import CommandApdu
from mcim.errors import DecodeError, ExpectationFailed, McimError
from mcim.ota import KeySets, OtaKeys, ReceivingEntity, TarPolicy
from mcim.ota.cat import parse_envelope, send_short_message
from mcim.ota.errors import Rejection
from mcim.ota.remote import (
    CompactResponse,
    ExpandedResponse,
    RApdu,
    decode_command_script,
    split_compact,
)
from mcim.ota.sms import RESPONSE_PACKET_IEI, Address, SmsSubmit, packet_user_data, parse_sms_deliver, reassemble
from mcim.ota.spi import KeyRef, Spi
from mcim.runner import Kind, Status, junit_xml, result_to_json, run_script, trace_lines
from mcim.script import Directive, ScriptErrors, parse_script, resolve_includes
from mcim.script.ast import Pos
from mcim.script.directives import directive_handlers
from mcim.script.ota_directives import answers

from tests.conftest import load_vectors

PACKETS = load_vectors()["ts102225_secured_packets"]
TAR = bytes.fromhex("B00001")
KIC, KID, KIK = bytes(range(0x10, 0x20)), bytes(range(0x20, 0x30)), bytes(range(0x30, 0x40))
BEGIN = ".ota begin tar=B00001 spi=1619 kvn=1 kic-alg=aes kid-alg=aes keys=ota.keys"


class Uicc:
    """A UICC's OTA side: ENVELOPE -> SMS-DELIVER -> (concatenated) command packet -> ReceivingEntity -> the
    remote command script on a two-file file system -> PoR in the ENVELOPE response, or by SEND SHORT MESSAGE."""

    def __init__(self, keys: OtaKeys, *, kvn: int = 1, tars=(TAR,), mode: str = "direct", tamper: bool = False):
        self.entity = ReceivingEntity(KeySets({kvn: keys}), {tar: TarPolicy() for tar in tars})
        self.files = {0x2F05: bytearray(b"en\xff\xff"), 0x6F07: bytearray(bytes.fromhex("080910101032547698"))}
        self.selected: int | None = None
        self.mode, self.tamper = mode, tamper
        self.parts: list[bytes] = []
        self.packets: list[bytes] = []
        self.counters: list[int] = []
        self.proactive: list[bytes] = []
        self.envelopes = 0

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\x80\xc2":
            return self.envelope(apdu)
        if apdu[:2] == b"\x80\x12":
            return self.proactive.pop(0) + b"\x90\x00"
        if apdu[:2] == b"\x80\x14":
            return bytes((0x91, len(self.proactive[0]))) if self.proactive else b"\x90\x00"
        return b"\x6d\x00"

    def envelope(self, apdu: bytes) -> bytes:
        self.envelopes += 1
        self.parts.append(parse_sms_deliver(parse_envelope(apdu).tpdu).user_data)
        try:
            packet = reassemble(self.parts).packet
        except DecodeError:
            return b"\x90\x00"  # more parts to come
        self.parts = []
        self.packets.append(packet)
        try:
            command = self.entity.receive(packet)
        except Rejection as exc:
            por = self.entity.error_por(exc)
        else:
            self.counters.append(command.cntr)
            por = self.entity.por(command, self.execute(command.secured_data))
        assert por is not None
        if self.tamper:
            por = por[:-1] + bytes((por[-1] ^ 1,))
        if self.mode == "direct":
            return por + b"\x90\x00"
        submits = [SmsSubmit(Address.from_digits("1234"), ud).to_bytes()
                   for ud in packet_user_data(por[3:], RESPONSE_PACKET_IEI, reference=5)]
        self.proactive = [send_short_message(s, number=n + 1).to_bytes() for n, s in enumerate(submits)]
        return bytes((0x91, len(self.proactive[0])))

    def execute(self, script: bytes) -> bytes:
        """Run the commands until one fails; answer in the script's format (TS 102 226 §5.1.2, §5.2.2)."""
        expanded = script[:1] in (b"\xaa", b"\xae")
        commands = decode_command_script(script).apdus if expanded else split_compact(script)
        results: list[RApdu] = []
        for command in commands:
            results.append(self.run(CommandApdu.parse(command)))
            if results[-1].sw != 0x9000:
                break
        if expanded:
            return ExpandedResponse(len(results), tuple(results)).to_bytes()
        return CompactResponse(len(results), results[-1].sw, results[-1].data).to_bytes()

    def run(self, apdu: CommandApdu) -> RApdu:
        if apdu.ins == 0xA4:
            fid = int.from_bytes(apdu.data, "big")
            if fid not in self.files:
                return RApdu(b"", 0x6A82)
            self.selected = fid
            return RApdu(bytes.fromhex("6204") + bytes.fromhex("8002") + len(self.files[fid]).to_bytes(2, "big"),
                         0x9000)
        if self.selected is None:
            return RApdu(b"", 0x6986)
        content, offset = self.files[self.selected], apdu.p1 << 8 | apdu.p2
        if apdu.ins == 0xB0:
            return RApdu(bytes(content[offset:offset + (apdu.le or 0)]), 0x9000)
        if apdu.ins == 0xD6:
            content[offset:offset + len(apdu.data)] = apdu.data
            return RApdu(b"", 0x9000)
        return RApdu(b"", 0x6D00)


class Recorded:
    """A card that answers every ENVELOPE with one recorded PoR."""

    def __init__(self, por: bytes) -> None:
        self.por, self.envelopes = por, []

    def transmit(self, apdu: bytes) -> bytes:
        self.envelopes.append(apdu)
        return self.por + b"\x90\x00"


def setup(tmp_path, keys: dict[str, bytes] | None = None) -> None:
    keys = {"kic": KIC, "kid": KID, "kik": KIK} if keys is None else keys
    (tmp_path / "ota.keys").write_text("# TEST VALUES\n" + "".join(f"{k} = {v.hex()}\n" for k, v in keys.items()))


def run(tmp_path, text: str, card, **options):
    path = tmp_path / "t.apdu"
    path.write_text(text)
    return run_script(resolve_includes(parse_script(text, str(path))), card, **options)


def report_text(result) -> str:
    return trace_lines(result.trace) + json.dumps(result_to_json(result)) + junit_xml(result)


def packet_sent(envelope: bytes) -> bytes:
    return reassemble([parse_sms_deliver(parse_envelope(envelope).tpdu).user_data]).packet


def algorithm_names(vector: dict) -> tuple[str, str]:
    spi = Spi.from_hex(vector["spi"])
    kic, kid = KeyRef.from_byte(int(vector["kic"], 16)), KeyRef.from_byte(int(vector["kid"], 16))
    integrity = spi.integrity or spi.por_integrity  # one KID serves both directions
    kid_alg = kid.cc_algorithm() if integrity == 2 else kid.rc_algorithm() if integrity == 1 else None
    return kic.cipher_algorithm().value, kid_alg.value if kid_alg is not None else "none"


def runnable(vector: dict) -> bool:
    """Vectors whose packet the directive can produce: one C-APDU as secured data and a PoR asked for always."""
    try:
        command = bytes.fromhex(vector["secured_data"])
        CommandApdu.parse(command)
        return split_compact(command) == [command] and bytes.fromhex(vector["spi"])[1] & 0x03 == 0x01
    except McimError:
        return False


COMMAND_VECTORS = [v for v in PACKETS["command_packets"] if runnable(v)]


# -- known answers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", COMMAND_VECTORS, ids=lambda v: v["name"])
def test_command_packets_are_the_published_ones(tmp_path, vector):
    # Without security the packet needs no key; the PoR the in-test card signs then uses random ones.
    keys = OtaKeys(*(bytes.fromhex(vector[name]) if name in vector else os.urandom(16)
                     for name in ("kic_key", "kid_key")))
    setup(tmp_path, {"kic": keys.kic, "kid": keys.kid})
    kic_alg, kid_alg = algorithm_names(vector)
    kic, kid = int(vector["kic"], 16) >> 4, int(vector["kid"], 16) >> 4
    text = (f".ota begin tar={vector['tar']} spi={vector['spi']} kic={kic} kid={kid} kic-alg={kic_alg} "
            f"kid-alg={kid_alg} keys=ota.keys counter={int(vector['cntr'], 16)}\n"
            f"{vector['secured_data']}\n.ota end\n")
    card = Uicc(keys, kvn=kid, tars=(bytes.fromhex(vector["tar"]),))
    result = run(tmp_path, text, card)
    assert card.packets == [bytes.fromhex(vector["expected_packet"])]
    assert result.passed, [o.message for o in result.outcomes]


@pytest.mark.parametrize("vector", PACKETS["response_packets"], ids=lambda v: v["name"])
def test_recorded_pors_verify_and_answer_the_command(tmp_path, vector):
    setup(tmp_path, {"kic": bytes.fromhex(vector.get("kic_key", "00" * 16)),
                     "kid": bytes.fromhex(vector.get("kid_key", "00" * 16))})
    kic_alg, kid_alg = algorithm_names(vector)
    additional = bytes.fromhex(vector["expected_additional_data"])
    text = (f".ota begin tar=B00011 spi={vector['spi']} kvn={int(vector['kic'], 16) >> 4} kic-alg={kic_alg} "
            f"kid-alg={kid_alg} keys=ota.keys counter=0\n"
            f"00 A4 00 04 02 3F00 => {additional[1:].hex()}\n.ota end\n")
    result = run(tmp_path, text, Recorded(bytes.fromhex(vector["user_data"])))
    assert result.passed, [o.message for o in result.outcomes]
    assert result.outcomes[0].response == additional[1:].hex()
    assert "PoR 00 POR_OK" in result.steps[0].messages[0]


# -- an in-test UICC ----------------------------------------------------------------------------------------------


RFM = """\
00 A4 00 04 02 2F05 => 9000
00 D6 00 00 02 6465 => 9000
00 B0 00 00 04 => 9000 data 64 65 FF FF
capture PL = data[0:2]
.ota end
00 A4 04 00 02 ${PL}
"""


@pytest.mark.parametrize("fmt", ["compact", "expanded"])
@pytest.mark.parametrize("mode", ["direct", "submit"])
def test_an_rfm_batch_answers_each_command(tmp_path, fmt, mode):
    setup(tmp_path)
    card = Uicc(OtaKeys(KIC, KID), mode=mode)
    result = run(tmp_path, f"{BEGIN} counter=5 format={fmt}\n" + RFM, card)
    assert result.passed, [o.message for o in result.outcomes]
    assert card.files[0x2F05] == bytearray(b"deFF".replace(b"FF", b"\xff\xff")) and card.counters == [5]
    select, update, read, after = result.outcomes
    assert read.response == "6465ffff9000" and read.captures == (("PL", "6465"),)
    assert select.response == ("9000" if fmt == "compact" else "620480020004" + "9000")
    assert select.command == "00a40004022f05" and select.where.endswith("t.apdu:2:1")
    assert after.command == "00a40400026465"
    message = result.steps[0].messages[0]
    assert message.startswith("OTA packet CNTR 0000000005 to TAR B00001: 3 command(s) in 1 SMS; PoR 00 POR_OK")
    assert message.endswith("integrity verified")
    assert not any(key.hex() in report_text(result) for key in (KIC, KID, KIK))


def test_commands_after_a_failing_one_are_not_executed(tmp_path):
    setup(tmp_path)
    text = (f".expect continue\n{BEGIN} counter=1\n00 A4 00 04 02 2F05 => 9000\n00 A4 00 04 02 4F00 => 9000\n"
            "00 B0 00 00 02 => 9000\n.ota end\n")
    result = run(tmp_path, text, Uicc(OtaKeys(KIC, KID)))
    assert [o.status for o in result.outcomes] == [Status.PASSED, Status.FAILED, Status.FAILED]
    assert result.outcomes[1].got == "6A82" and "not executed" in result.outcomes[2].message
    assert result.exit_code == 1


def test_a_long_script_goes_as_concatenated_sms(tmp_path):
    setup(tmp_path)
    card = Uicc(OtaKeys(KIC, KID))
    card.files[0x6F07] = bytearray(600)
    updates = "".join(f"00 D6 {offset >> 8:02X} {offset & 0xFF:02X} C8 {'A5' * 200} => 9000\n"
                      for offset in (0, 200, 400))
    text = f"{BEGIN} counter=1\n00 A4 00 04 02 6F07 => 9000\n{updates}.ota end\n"
    result = run(tmp_path, text, card, random=os.urandom)
    assert result.passed and card.envelopes > 2 and card.files[0x6F07] == bytearray(b"\xa5" * 600)


def test_counters_come_from_the_store_and_are_never_reused(tmp_path):
    setup(tmp_path)
    card = Uicc(OtaKeys(KIC, KID))
    batch = f"{BEGIN} counter-store=counters.db card=8988200000000000014\n00 A4 00 04 02 2F05 => 9000\n.ota end\n"
    assert run(tmp_path, batch * 2, card).passed
    assert run(tmp_path, batch, card).passed
    assert card.counters == [1, 2, 3]
    with sqlite3.connect(tmp_path / "counters.db") as db:
        assert db.execute("SELECT next_value FROM ota_counter").fetchall() == [(4,)]


def test_a_tampered_por_fails_the_run(tmp_path):
    setup(tmp_path)
    result = run(tmp_path, f"{BEGIN} counter=1\n00 A4 00 04 02 2F05 => 9000\n.ota end\n",
                 Uicc(OtaKeys(KIC, KID), tamper=True))
    assert result.exit_code == 1
    assert any(o.status is Status.FAILED and o.where.endswith(":3:1") for o in result.outcomes)


def test_a_por_with_an_error_status_fails_unless_expected(tmp_path):
    setup(tmp_path)
    card = Uicc(OtaKeys(KIC, KID), tars=(bytes.fromhex("B00002"),))
    failed = run(tmp_path, f"{BEGIN} counter=1\n00 A4 00 04 02 2F05\n.ota end\n", card)
    assert failed.exit_code == 1
    assert "PoR status 09 TAR_UNKNOWN (expected 00 POR_OK)" in failed.outcomes[-1].message
    expected = run(tmp_path, f"{BEGIN} counter=2 expect-por=09\n.ota end\n", card)
    assert expected.passed and "PoR 09 TAR_UNKNOWN, integrity none" in expected.steps[0].messages[0]
    # the commands of a batch refused as expected are reported as not executed, not as failures
    carrying = run(tmp_path, f"{BEGIN} counter=3 expect-por=09\n00 A4 00 04 02 2F05 => 9000\n.ota end\n", card)
    assert carrying.passed
    assert [o.status for o in carrying.outcomes if o.kind is Kind.COMMAND] == [Status.SKIPPED]


def test_a_missing_por_is_reported_with_the_status_word(tmp_path):
    setup(tmp_path)

    class Silent:
        def transmit(self, apdu: bytes) -> bytes:
            return b"\x6f\x00"

    result = run(tmp_path, f"{BEGIN} counter=1\n00 A4 00 04 02 2F05\n.ota end\n", Silent())
    assert result.exit_code == 1 and "no PoR came back; the ENVELOPE got 6F00" in result.outcomes[-1].message


@pytest.mark.parametrize("text, message, line", [
    (f"{BEGIN} counter=1\n00 A4 00 04 02 2F05 00\n.ota end\n", "a case 4 command without its Le byte", 2),
    (".ota begin tar=B00001 spi=1619 kvn=1 kic-alg=aes kid-alg=aes keys=none.keys counter=1\n",
     "none.keys: cannot read key file", 1),
    (f"{BEGIN} counter=1\n.put-key kvn=01 type=aes keys=ota.keys\n", "no secure channel is open", 2),
    (".ota end\n", "no OtaBatch is open", 1),
])
def test_bad_input_at_run_time_is_exit_2_where_it_is(tmp_path, text, message, line):
    setup(tmp_path, {"kic": KIC, "kid": KID})
    result = run(tmp_path, text, Uicc(OtaKeys(KIC, KID)))
    assert result.exit_code == 2 and message in str(result.error)
    assert str(result.error).startswith(f"{tmp_path}/t.apdu:{line}:1: ")


def test_a_key_file_without_the_kid_key(tmp_path):
    setup(tmp_path, {"kic": KIC})
    result = run(tmp_path, f"{BEGIN} counter=1\n.ota end\n", Uicc(OtaKeys(KIC, KID)))
    assert result.exit_code == 2 and "has no 'kid' key" in str(result.error)


@pytest.mark.parametrize("line, message", [
    (".ota", "no sub-command"),
    (".ota end now", "unexpected word 'now'"),
    (".ota begin spi=1619 kvn=1 kic-alg=aes kid-alg=aes keys=k counter=1", "spi= and tar= are needed"),
    (".ota begin tar=B00001 spi=1618 kvn=1 kic-alg=aes kid-alg=aes keys=k counter=1", "asks for no PoR on success"),
    (".ota begin tar=B00001 spi=1619 kid-alg=aes kic-alg=aes keys=k counter=1", "no key set"),
    (".ota begin tar=B00001 spi=1619 kvn=16 kic-alg=aes kid-alg=aes keys=k counter=1", "kvn=16 is out of range"),
    (".ota begin tar=B00001 spi=1619 kvn=1 kid-alg=aes keys=k counter=1", "the SPI asks for ciphering"),
    (".ota begin tar=B00001 spi=1619 kvn=1 kic-alg=aes kid-alg=crc16 keys=k counter=1", "the SPI asks for CC"),
    (".ota begin tar=B00001 spi=1319 kvn=1 kic-alg=aes kid-alg=aes keys=k counter=1", "digital signature"),
    (".ota begin tar=B00001 spi=1619 kvn=1 kic-alg=aes kid-alg=aes keys=k", "counter mode higher"),
    (".ota begin tar=B00001 spi=1619 kvn=1 kic-alg=aes kid-alg=aes keys=k counter=1 counter-store=c",
     "counter= and counter-store= together"),
    (".ota begin tar=B00001 spi=1619 kvn=1 kic-alg=aes kid-alg=aes keys=k counter-store=c", "go together"),
    (".ota begin tar=B00001 spi=1619 kvn=1 kic-alg=aes kid-alg=aes counter=1", "needs keys"),
    (".ota begin tar=B00001 spi=1619 kvn=1 kic-alg=aes kid-alg=aes keys=k counter=1 format=tlv", "format=tlv"),
    (".ota begin tar=B00001 spi=1619 kvn=1 kic-alg=aes kid-alg=aes keys=k counter=1 originator=12x",
     "address '12x'"),
    (".ota begin tar=B00001 spi=1619 kvn=1 kic-alg=aes kid-alg=aes keys=k counter=0x1G", "is not a number"),
    (".ota begin tar=B00001 spi=1619 kvn=1 kic-alg=aes kid-alg=aes keys=k counter=1 cntr=2", "unknown option cntr="),
])
def test_begin_is_checked_before_anything_is_sent(line, message):
    with pytest.raises(ScriptErrors, match="t.apdu:1:1") as caught:
        run_script(resolve_includes(parse_script(line + "\n", "t.apdu")), Recorded(b""))
    assert message in str(caught.value)


# -- properties ---------------------------------------------------------------------------------------------------


OPTION_WORDS = st.builds(lambda k, v: f"{k}={v}",
                         st.sampled_from(["tar", "spi", "kvn", "kic", "kid", "kic-alg", "kid-alg", "keys", "counter",
                                          "counter-store", "card", "format", "originator", "expect-por"]),
                         st.text("0123456789ABCDEFabcdefx+aes3dcr", max_size=10))


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.one_of(st.sampled_from(["begin", "end"]), OPTION_WORDS, st.text(max_size=6)), max_size=10))
def test_checks_take_any_words(words):
    try:
        directive_handlers()["ota"].check(Directive("ota", tuple(words), pos=Pos("t.apdu", 1, 1)))
    except McimError as exc:
        assert exc.where == "t.apdu:1:1"


RESPONSES = st.one_of(
    st.none(),
    st.builds(CompactResponse, st.integers(0, 255), st.integers(0, 0xFFFF), st.binary(max_size=8)),
    st.builds(ExpandedResponse, st.none(), st.lists(st.builds(RApdu, st.binary(max_size=4), st.integers(0, 0xFFFF)),
                                                    max_size=6).map(tuple)))


@given(remote=RESPONSES, count=st.integers(0, 5))
def test_answers_fit_the_commands_or_fail_clearly(remote, count):
    try:
        found = answers(remote, count, "PoR")
    except ExpectationFailed:
        return
    assert len(found) == count and all(a is None or len(a) >= 2 for a in found)


# -- end to end on the reference UICC -----------------------------------------------------------------------------

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "apdu", "examples")
EXAMPLE_KEYS = ("200102030405060708090a0b0c0d0e0f", "201102030405060708090a0b0c0d0e0f",
                "202102030405060708090a0b0c0d0e0f")  # apdu/examples/keys/ota-test.keys
PUT_OTA_KEYS = f"""\
00 A4 04 00 08 A000000151000000 [00] => 9000
.scp03 open kvn=30 level=33 keys={EXAMPLES}/keys/gp-test.keys
.put-key kvn=01 type=aes keys={EXAMPLES}/keys/ota-test.keys names=kic,kid,kik
.scp03 close
"""
OTA_BEGIN = f".ota begin spi=1619 kvn=1 kic-alg=aes kid-alg=aes keys={EXAMPLES}/keys/ota-test.keys"


class TamperedPor:
    """The reference UICC with the PoR (the data GET RESPONSE fetches after an ENVELOPE) altered."""

    def __init__(self, inner) -> None:
        self.inner, self.after_envelope = inner, False

    def transmit(self, command: bytes) -> bytes:
        response = self.inner.transmit(command)
        if self.after_envelope and command[:2] == b"\x00\xc0" and len(response) > 2:
            response = response[:-3] + bytes((response[-3] ^ 1,)) + response[-2:]
        self.after_envelope = command[:2] == b"\x80\xc2" or (self.after_envelope and command[:2] == b"\x00\xc0")
        return response

    def reset(self) -> bytes:
        return self.inner.reset()

    def close(self) -> None:
        self.inner.close()


def refcard():
    pytest.importorskip("mcim.refcard.ota")
    from mcim.refcard import load_profile, open_transport

    if "ota" not in load_profile():
        pytest.skip("the default profile serves no OTA TARs yet")
    return open_transport()


def test_the_rfm_example_on_the_reference_uicc():
    from mcim.script import load_script

    result = run_script(load_script(os.path.join(EXAMPLES, "ota_rfm.apdu")), refcard())
    assert result.passed, [(o.where, o.message) for o in result.outcomes if o.message]
    assert not any(key in report_text(result) for key in EXAMPLE_KEYS)


@pytest.mark.parametrize("fmt", ["compact", "expanded"])
def test_an_rfm_batch_on_the_adf_of_the_reference_uicc(tmp_path, fmt):
    text = (PUT_OTA_KEYS + f"{OTA_BEGIN} tar=B00001 counter=1 format={fmt}\n"
            "00 A4 00 04 02 6F07 => 9000\n00 B0 00 00 09 => 9000 data 08 XX XX XX XX XX XX XX XX\n.ota end\n")
    result = run(tmp_path, text, refcard())
    assert result.passed, [(o.where, o.message) for o in result.outcomes if o.message]


def test_a_tampered_por_from_the_reference_uicc_fails_the_run(tmp_path):
    text = PUT_OTA_KEYS + f"{OTA_BEGIN} tar=B00000 counter=1\n00 A4 00 04 02 2F05 => 9000\n.ota end\n"
    result = run(tmp_path, text, TamperedPor(refcard()))
    assert result.exit_code == 1 and result.outcomes[-1].status is Status.FAILED


@pytest.mark.parametrize("begin, status", [
    (f"{OTA_BEGIN} tar=B0FFFF counter=1 expect-por=09", "09 TAR_UNKNOWN"),
    (f"{OTA_BEGIN} tar=B00000 counter=0 expect-por=02", "02 CNTR_LOW"),
])
def test_negative_batches_on_the_reference_uicc(tmp_path, begin, status):
    result = run(tmp_path, PUT_OTA_KEYS + f"{begin}\n.ota end\n", refcard())
    assert result.passed, [(o.where, o.message) for o in result.outcomes if o.message]
    assert f"PoR {status}" in result.steps[0].messages[-1]
