"""`.scp03`/`.scp02 open|close` and the card content management directives, run by the real runner.

Known answers: the pySim SCP03 card traces (vectors file, osmocom/pysim tests/unittests/test_globalplatform.py)
replayed byte for byte through `.scp03 open` and a wrapped command.  Everything else runs against an in-test
security domain built from the real card-side classes (`Scp03Card`/`Scp02Card`, the `mcim.gp.ccm` parsers) and
checks what the card received, what the run reports, and that keys never reach the trace or the reports.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcim.apdu import CommandApdu
from mcim.errors import IntegrityError, McimError
from mcim.gp.ccm import (
    InstallForInstall,
    InstallForMakeSelectable,
    InstallForPersonalization,
    KeyType,
    decode_put_key,
    parse_delete,
    parse_install,
    parse_set_status,
    parse_store_data,
)
from mcim.gp.keys import KeyAlgorithm, StaticKeys, diversify
from mcim.gp.registry import Privilege, RegistryEntry, StatusSubset, encode_status_tlv
from mcim.gp.scp02 import Scp02Card
from mcim.gp.scp03 import Scp03Card
from mcim.runner import Status, junit_xml, result_to_json, run_script, trace_lines
from mcim.script import Directive, ScriptErrors, parse_script, resolve_includes
from mcim.script.ast import Pos
from mcim.script.directives import directive_handlers

from tests.conftest import load_vectors

SCP03 = load_vectors()["scp03"]
ISD = bytes.fromhex("A000000151000000")
# The GlobalPlatform default test key 40..4F (public; GlobalPlatformPro's default), as development cards ship it.
GP_TEST_KEY = bytes(range(0x40, 0x50))
NEW_KEYS = {"enc": bytes(range(0x00, 0x10)), "mac": bytes(range(0x10, 0x20)), "dek": bytes(range(0x20, 0x30))}
APP_ENTRIES = [RegistryEntry(StatusSubset.APPLICATIONS, bytes.fromhex("A0000000871002FF"), 0x07, Privilege(0),
                             load_file_aid=bytes.fromhex("A0000000871002"))]


class Table:
    """A card that answers from a table (hex command -> hex response)."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers, self.sent = answers, []

    def transmit(self, command: bytes) -> bytes:
        self.sent.append(command.hex())
        return bytes.fromhex(self.answers.get(command.hex(), "6d00"))

    def reset(self) -> bytes:
        return b""

    def close(self) -> None:
        pass


class SecurityDomain:
    """A security domain from the real card-side classes; `received` holds the plain commands it executed."""

    def __init__(self, keys: StaticKeys, *, scp: str = "03", kdd: bytes = bytes(10), tamper: bool = False,
                 wrong_kcv: bool = False) -> None:
        card = Scp03Card if scp == "03" else Scp02Card
        self.channel = card(keys, sd_aid=ISD, kdd=kdd, **({"options": 0x70} if scp == "03" else {}))
        self.scp, self.tamper, self.wrong_kcv = scp, tamper, wrong_kcv
        self.received: list[CommandApdu] = []
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        if apdu[1] == 0x50:
            return self.channel.initialize_update(apdu)
        if apdu[1] == 0x82:
            try:
                return self.channel.external_authenticate(apdu)
            except IntegrityError:
                return b"\x63\x00"
        if apdu[0] & 0x0C == 0 and apdu[0] & 0x40 == 0:
            self.received.append(CommandApdu.parse(apdu))  # not on the session's channel: plain
            return b"\x90\x00"
        try:
            plain = CommandApdu.parse(self.channel.unwrap_command(apdu))
        except IntegrityError:
            return b"\x69\x82"
        self.received.append(plain)
        response = self.channel.wrap_response(*self.execute(plain))
        return response[:-3] + bytes((response[-3] ^ 1,)) + response[-2:] if self.tamper else response

    def execute(self, apdu: CommandApdu) -> tuple[bytes, int]:
        if apdu.ins == 0xD8:
            dek = self.channel.keys.dek if self.scp == "03" else self.channel.session_keys.dek
            answer = decode_put_key(apdu, dek, KeyAlgorithm.AES if self.scp == "03" else KeyAlgorithm.DES3)
            expected = answer.expected_response()
            return (expected[:-1] + bytes((expected[-1] ^ 1,)) if self.wrong_kcv else expected), 0x9000
        if apdu.ins == 0xF2:
            return b"".join(encode_status_tlv(e) for e in APP_ENTRIES), 0x9000
        return b"", 0x9000

    def dek_decrypt(self, data: bytes) -> bytes:
        return self.channel.dek_decrypt(data)


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def keyfile(tmp_path, name: str, keys: dict[str, bytes]) -> str:
    return write(tmp_path, name, "".join(f"{k} = {v.hex()}\n" for k, v in keys.items()))


def run(tmp_path, text: str, card, **options):
    script = write(tmp_path, "t.apdu", text)
    return run_script(resolve_includes(parse_script(text, script)), card, **options)


def report_text(result) -> str:
    return trace_lines(result.trace) + json.dumps(result_to_json(result)) + junit_xml(result)


TEST_KEYS = StaticKeys(0x30, GP_TEST_KEY, GP_TEST_KEY, GP_TEST_KEY)


@pytest.fixture
def gp_keys(tmp_path):
    return keyfile(tmp_path, "gp-test.keys", {"enc": GP_TEST_KEY, "mac": GP_TEST_KEY, "dek": GP_TEST_KEY})


# -- known answers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("trace", SCP03["pysim_card_traces"], ids=lambda t: t["name"])
def test_pysim_card_traces_through_the_directive(tmp_path, trace):
    """The pySim traces: INITIALIZE UPDATE, EXTERNAL AUTHENTICATE and a wrapped STORE DATA, byte for byte."""
    keyset = SCP03["pysim_keysets"][trace["keyset"]]
    plain = SCP03["pysim_plain_apdus"]
    level = trace["name"][-2:]
    text = (f".scp03 open kvn={keyset['kvn']} level={level} enc=${{ENC}} mac=${{MAC}} dek=${{DEK}}\n"
            f"{plain['get_eid_cmd']} => 9000 data {plain['get_eid_rsp']}\n.scp03 close\n")
    card = Table({trace["init_update_cmd"]: trace["init_update_rsp"] + "9000", trace["ext_auth_cmd"]: "9000",
                  trace["get_eid_cmd"]: trace["get_eid_rsp"] + "9000"})
    challenge = bytes.fromhex(trace["init_update_cmd"])[5:-1]
    keys = {name.upper(): bytes.fromhex(keyset[name]) for name in ("enc", "mac", "dek")}
    result = run(tmp_path, text, card, random=lambda n: challenge[:n], secret_variables=keys)
    assert result.passed, result.outcomes
    assert card.sent == [trace["init_update_cmd"], trace["ext_auth_cmd"], trace["get_eid_cmd"]]
    # The report holds the plain command, the trace the wrapped one, both at the command's position.
    command = result.outcomes[0]
    assert command.command == plain["get_eid_cmd"].lower() and command.where.endswith("t.apdu:2:1")
    assert result.trace[2].command == trace["get_eid_cmd"] and result.trace[2].where == command.where
    assert not any(key.hex() in report_text(result) for key in keys.values())


# -- sessions on an in-test security domain --------------------------------------------------------------------


def test_open_manage_close_at_level_33(tmp_path, gp_keys):
    keyfile(tmp_path, "new.keys", NEW_KEYS)
    card = SecurityDomain(TEST_KEYS)
    text = """\
.scp03 open kvn=30 level=33 keys=gp-test.keys sd=A000000151000000
80 CA 00 66 00 => 9000
.get-status apps
.put-key kvn=31 type=aes keys=new.keys
.install install elf=A0000000871002 module=A0000000871002AA aid=A0000000871002FF priv=80 params=0102
.install selectable aid=A0000000871002FF priv=000000
.install personalization aid=A0000000871002FF
.delete aid=A0000000871002FF related
.set-status scope=app state=0F aid=A0000000871002FF
.set-status scope=isd state=0F
.scp03 close
"""
    result = run(tmp_path, text, card)
    assert result.passed, [o.message for o in result.outcomes]
    get_data, get_status, put_key, install, selectable, perso, deleted, app_status, isd_status = card.received
    assert (get_data.cla, get_data.ins) == (0x80, 0xCA) and card.sent[2][0] == 0x84  # wrapped on the wire
    assert (get_status.ins, get_status.p1) == (0xF2, 0x40)
    assert put_key.p1 == 0x00 and put_key.p2 == 0x81
    installed = parse_install(install).command
    assert isinstance(installed, InstallForInstall) and installed.make_selectable
    assert installed.privileges == Privilege.SECURITY_DOMAIN and installed.install_parameters.to_bytes() == \
        bytes.fromhex("C9020102")
    assert isinstance(parse_install(selectable).command, InstallForMakeSelectable)
    assert isinstance(parse_install(perso).command, InstallForPersonalization)
    assert parse_delete(deleted).related and parse_delete(deleted).aid == bytes.fromhex("A0000000871002FF")
    assert tuple(parse_set_status(app_status)) == (0x40, 0x0F, bytes.fromhex("A0000000871002FF"))
    assert tuple(parse_set_status(isd_status)) == (0x80, 0x0F, b"")
    messages = result.steps[0].messages
    assert messages[0] == "SCP03 session open on logical channel 0: KVN 30, security level 33"
    assert "GET STATUS applications: 1 entry" in messages
    assert any("A0000000871002FF  SELECTABLE  privileges none  from A0000000871002" in m for m in messages)
    assert any("the card confirms KVN 31 and the check values of 3 keys" in m for m in messages)
    text = report_text(result)
    assert GP_TEST_KEY.hex() not in text and not any(k.hex() in text for k in NEW_KEYS.values())


def test_put_key_sends_the_file_keys_under_the_dek(tmp_path, gp_keys):
    keyfile(tmp_path, "ota.keys", {"kic": NEW_KEYS["enc"], "kid": NEW_KEYS["mac"], "kik": NEW_KEYS["dek"]})
    card = SecurityDomain(TEST_KEYS)
    result = run(tmp_path, ".scp03 open kvn=30 level=03 keys=gp-test.keys\n"
                           ".put-key kvn=01 replace=01 type=aes keys=ota.keys names=kic,kid,kik\n", card)
    assert result.passed
    command = decode_put_key(card.received[0], GP_TEST_KEY, KeyAlgorithm.AES)
    assert command.old_kvn == 1 and command.new_kvn == 1
    assert [k.value for k in command.keys] == [NEW_KEYS["enc"], NEW_KEYS["mac"], NEW_KEYS["dek"]]


def test_a_wrong_key_check_value_fails_the_run(tmp_path, gp_keys):
    new = keyfile(tmp_path, "new.keys", NEW_KEYS)
    result = run(tmp_path, f".scp03 open kvn=30 level=01 keys=gp-test.keys\n"
                           f".put-key kvn=31 type=aes keys={os.path.basename(new)}\n",
                 SecurityDomain(TEST_KEYS, wrong_kcv=True))
    assert result.exit_code == 1 and "key check values differ" in result.outcomes[-1].message


def test_store_data_counts_blocks_and_encrypts_under_the_dek(tmp_path, gp_keys):
    card = SecurityDomain(TEST_KEYS)
    secret = bytes(range(16))
    text = (".scp03 open kvn=30 level=03 keys=gp-test.keys\n"
            ".store-data dgi=0101 data=${S} encrypt\n.store-data tlv data=5A0101\n"
            ".store-data data=AABB last\n.store-data data=CC last\n")
    result = run(tmp_path, text, card, secret_variables={"S": secret})
    assert result.passed
    blocks = [parse_store_data(c) for c in card.received]
    assert [(b.number, b.last) for b in blocks] == [(0, False), (1, False), (2, True), (0, True)]
    assert (blocks[0].structure, blocks[0].encryption, blocks[1].structure) == (0x08, 0x60, 0x10)
    assert blocks[0].data[:3] == bytes.fromhex("010110") and card.dek_decrypt(blocks[0].data[3:]) == secret
    assert secret.hex() not in report_text(result)


def test_scp02_session_with_put_key_of_3des_keys(tmp_path):
    key = bytes(range(0x40, 0x50))
    keyfile(tmp_path, "scp02.keys", {"enc": key, "mac": key, "dek": key})
    keyfile(tmp_path, "new.keys", {"enc": NEW_KEYS["enc"], "mac": NEW_KEYS["mac"], "dek": NEW_KEYS["dek"]})
    card = SecurityDomain(StaticKeys(0x20, key, key, key, KeyAlgorithm.DES3), scp="02")
    result = run(tmp_path, ".scp02 open kvn=20 level=01 keys=scp02.keys\n80 CA 00 66 00 => 9000\n"
                           ".put-key kvn=21 type=3des keys=new.keys\n.scp02 close\n", card)
    assert result.passed, [o.message for o in result.outcomes]
    command = decode_put_key(card.received[1], card.channel.session_keys.dek, KeyAlgorithm.DES3)
    assert [k.key_type for k in command.keys] == [KeyType.DES] * 3


def test_diversified_keys_from_a_master_key(tmp_path):
    master = bytes(range(0x60, 0x70))
    kdd = bytes.fromhex("00010203040506070809")
    keyfile(tmp_path, "master.keys", {"master": master})
    card = SecurityDomain(diversify(master, kdd, "kdf3", kvn=0x30), kdd=kdd)
    result = run(tmp_path, ".scp03 open kvn=30 level=01 master=master.keys scheme=kdf3\n80 CA 00 66 00 => 9000\n",
                 card)
    assert result.passed
    assert master.hex() not in report_text(result)


def test_logical_channel_sessions_leave_other_channels_alone(tmp_path, gp_keys):
    card = SecurityDomain(TEST_KEYS)
    result = run(tmp_path, ".scp03 open kvn=30 level=01 keys=gp-test.keys channel=1\n"
                           "81 CA 00 66 00 => 9000\n00 A4 04 00 02 3F00 => 9000\n.get-status isd\n", card)
    assert result.passed
    assert card.sent[0][0] == 0x81 and card.sent[2][0] == 0x85 and card.sent[3].hex() == "00a40400023f00"
    assert card.sent[4][:2] == b"\x85\xf2"


def test_a_bad_card_cryptogram_fails_before_anything_is_wrapped(tmp_path, gp_keys):
    other = StaticKeys(0x30, bytes(16), bytes(16), bytes(16))
    card = SecurityDomain(other)
    result = run(tmp_path, ".scp03 open kvn=30 level=01 keys=gp-test.keys\n80 CA 00 66 00\n", card)
    assert result.exit_code == 1 and "card cryptogram" in result.outcomes[0].message
    assert len(card.sent) == 1


def test_a_tampered_response_fails_the_run(tmp_path, gp_keys):
    card = SecurityDomain(TEST_KEYS, tamper=True)
    result = run(tmp_path, ".scp03 open kvn=30 level=11 keys=gp-test.keys\n80 CA 00 66 00 => 9000\n", card)
    assert result.exit_code == 1 and result.outcomes[0].status is Status.FAILED
    assert "R-MAC" in result.outcomes[0].message


def test_an_error_status_on_initialize_update_names_it(tmp_path, gp_keys):
    result = run(tmp_path, ".scp03 open kvn=31 level=01 keys=gp-test.keys\n", Table({}))
    assert result.exit_code == 1 and "card answered 6D00 (invalid instruction)" in result.outcomes[0].message


def test_the_card_must_report_the_i_asked_for(tmp_path, gp_keys):
    result = run(tmp_path, ".scp03 open kvn=30 level=01 i=60 keys=gp-test.keys\n", SecurityDomain(TEST_KEYS))
    assert result.exit_code == 1 and "the card reports i=70" in result.outcomes[0].message


@pytest.mark.parametrize("text, message", [
    (".scp03 open kvn=30 level=01 keys=missing.keys\n", "missing.keys: cannot read key file"),
    (".scp03 open kvn=30 level=01 keys=partial.keys\n", "has no 'dek' key"),
    (".scp03 open kvn=30 level=01 keys=short.keys\n", "15-byte aes key"),
    (".scp03 open kvn=30 level=01 keys=gp-test.keys\n.put-key kvn=31 type=aes keys=missing.keys\n",
     "cannot read key file"),
    (".put-key kvn=31 type=aes keys=gp-test.keys\n", "no secure channel is open"),
    (".scp03 close\n", "no Scp03Session is open"),
    (".scp03 open kvn=30 level=01 keys=gp-test.keys\n.scp03 open kvn=30 level=01 keys=gp-test.keys\n",
     "a secure channel is already open on logical channel 0"),
])
def test_bad_input_at_run_time_is_exit_2_at_the_directive(tmp_path, gp_keys, text, message):
    keyfile(tmp_path, "partial.keys", {"enc": GP_TEST_KEY, "mac": GP_TEST_KEY})
    keyfile(tmp_path, "short.keys", {"enc": GP_TEST_KEY[:15], "mac": GP_TEST_KEY[:15], "dek": GP_TEST_KEY[:15]})
    result = run(tmp_path, text, SecurityDomain(TEST_KEYS))
    line = text.count("\n")
    assert result.exit_code == 2 and message in str(result.error)
    assert str(result.error).startswith(f"{tmp_path}/t.apdu:{line}:1: ")
    assert GP_TEST_KEY[:15].hex() not in str(result.error)


# -- checks before anything is sent ----------------------------------------------------------------------------


@pytest.mark.parametrize("line, message", [
    (".scp03", "no sub-command"),
    (".scp03 opened", "unknown sub-command 'opened'"),
    (".scp03 open level=01 keys=k", "kvn= and level= are needed"),
    (".scp03 open kvn=30 level=02 keys=k", "security level 02"),
    (".scp03 open kvn=30 level=01", "no keys"),
    (".scp03 open kvn=30 level=01 keys=k enc=${E}", "keys= and enc= together"),
    (".scp03 open kvn=30 level=01 master=k", "master= needs scheme="),
    (".scp03 open kvn=30 level=01 master=k scheme=emv", "scheme=emv is not known"),
    (".scp03 open kvn=3030 level=01 keys=k", "kvn= has 2 bytes"),
    (".scp03 open kvn=30 level=01 keys=k channel=20", "channel=20 is out of range"),
    (".scp03 open kvn=30 level=01 keys=k sd=A000", "sd= has 2 bytes"),
    (".scp03 open kvn=30 level=01 keys=k s16 s16", "unexpected word 's16'"),
    (".scp03 close now", "unexpected word 'now'"),
    (".scp02 open kvn=20 level=01 keys=k s16", "unexpected word 's16'"),
    (".scp02 open kvn=20 level=33 keys=k", "security level 33"),
    (".scp02 open kvn=20 level=01 i=0A keys=k", "SCP02 i=0A"),
    (".put-key kvn=31 type=des keys=k", "type=des is not known"),
    (".put-key kvn=31 type=aes keys=k names=enc,,dek", "names=enc,,dek"),
    (".install install aid=A0000000871002FF", "elf= is missing"),
    (".install selectable aid=A0000000871002FF elf=A000000087", "unknown option elf="),
    (".install install elf=A0000000871002 module=A000000087100201 aid=A000", "aid= has 2 bytes"),
    (".install install elf=A0000000871002 module=A000000087100201 aid=A0000000871002FF priv=0102",
     "priv= has 2 bytes"),
    (".install install elf=A0000000871002 module=A000000087100201 aid=A0000000871002FF params=00 "
     "install-params=C900", "params= and install-params= together"),
    (".delete", "aid= is missing"),
    (".set-status scope=app state=07", "scope=app needs aid="),
    (".set-status scope=card state=07", "scope=card is not known"),
    (".store-data dgi=0101 tlv data=00", "dgi= and tlv together"),
    (".store-data data=0G", "not a hex digit"),
    (".get-status everything", "unknown sub-command 'everything'"),
])
def test_directives_are_checked_before_anything_is_sent(line, message):
    card = Table({})
    with pytest.raises(ScriptErrors, match="t.apdu:1:1") as caught:
        run_script(resolve_includes(parse_script(line + "\n", "t.apdu")), card)
    assert message in str(caught.value) and card.sent == []


GP_DIRECTIVES = ["scp03", "scp02", "put-key", "install", "delete", "set-status", "store-data", "get-status"]
WORDS = st.lists(st.one_of(st.sampled_from(["open", "close", "install", "selectable", "apps", "s16", "related",
                                            "last", "tlv", "encrypt"]),
                           st.builds(lambda k, v: f"{k}={v}",
                                     st.sampled_from(["kvn", "level", "i", "sd", "keys", "enc", "master", "scheme",
                                                      "channel", "aid", "elf", "module", "priv", "params", "data",
                                                      "dgi", "scope", "state", "type", "names", "install-params"]),
                                     st.text("0123456789ABCDEFXZ${}_,", max_size=12)),
                           st.text(max_size=8)), max_size=8)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(GP_DIRECTIVES), words=WORDS)
def test_checks_take_any_words(name, words):
    handler = directive_handlers()[name]
    try:
        handler.check(Directive(name, tuple(words), pos=Pos("t.apdu", 1, 1)))
    except McimError as exc:
        assert exc.where == "t.apdu:1:1"



# -- end to end on the reference UICC -----------------------------------------------------------------------------

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "apdu", "examples")


class TamperAfterAuthentication:
    """The reference UICC with every GET RESPONSE answer altered once a session is open (a changed R-MAC)."""

    def __init__(self, inner) -> None:
        self.inner, self.open = inner, False

    def transmit(self, command: bytes) -> bytes:
        response = self.inner.transmit(command)
        self.open = self.open or command[1] == 0x82
        if self.open and command[:2] == b"\x00\xc0" and len(response) > 2:
            return response[:-3] + bytes((response[-3] ^ 1,)) + response[-2:]
        return response

    def reset(self) -> bytes:
        return self.inner.reset()

    def close(self) -> None:
        self.inner.close()


def refcard():
    pytest.importorskip("mcim.refcard.isd")
    from mcim.refcard import open_transport

    return open_transport()


def test_the_scp03_example_on_the_reference_uicc():
    from mcim.script import load_script

    result = run_script(load_script(os.path.join(EXAMPLES, "scp03_put_key.apdu")), refcard())
    assert result.passed, [(o.where, o.message) for o in result.outcomes if o.message]
    assert "PUT KEY: the card confirms KVN 31 and the check values of 3 keys" in result.steps[3].messages
    text = report_text(result)
    assert GP_TEST_KEY.hex() not in text and not any(k.hex() in text for k in NEW_KEYS.values())


def test_a_tampered_response_from_the_reference_uicc_fails_the_run():
    from mcim.script import load_script

    card = TamperAfterAuthentication(refcard())
    result = run_script(load_script(os.path.join(EXAMPLES, "scp03_put_key.apdu")), card)
    assert result.exit_code == 1 and "R-MAC" in " ".join(o.message or "" for o in result.outcomes)


def test_a_session_on_a_logical_channel_of_the_reference_uicc(tmp_path, gp_keys):
    text = """\
00 70 00 00 [01] => 9000 data 01
01 A4 04 00 08 A000000151000000 [00] => 9000 data 6F ...
.scp03 open kvn=30 level=33 keys=gp-test.keys channel=1
.get-status isd
81 CA 00 66 [00] => 9000 data 66 ...
00 A4 00 04 02 3F00 [00] => 9000
.scp03 close
"""
    result = run(tmp_path, text, refcard())
    assert result.passed, [(o.where, o.message) for o in result.outcomes if o.message]
    wire = [e.command for e in result.trace if e.command]
    assert wire[3].startswith("8150") and any(c.startswith("85ca0066") for c in wire)
    assert "00a40004023f0000" in wire  # channel 0 is left alone
