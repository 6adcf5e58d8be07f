"""GlobalPlatform card content management commands (GP Card Spec v2.3 §11) against public examples."""

from __future__ import annotations

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st
from mcim.apdu import CommandApdu
from mcim.errors import BadChecksum, BadInput, DecodeError, ExpectationFailed, McimError, UnsupportedError
from mcim.gp.ccm import (
    CPLC_FIELDS,
    DapBlock,
    DataObject,
    DeleteCommand,
    InstallForExtradition,
    InstallForInstall,
    InstallForLoad,
    InstallForMakeSelectable,
    InstallForPersonalization,
    InstallForRegistryUpdate,
    KeyAlgorithm,
    KeyComponent,
    KeyInfo,
    KeyType,
    LoadBlock,
    NewKey,
    PutKeyCommand,
    StatusType,
    StoreDataEncryption,
    StoreDataStructure,
    block_size_for,
    decode_dgis,
    decode_oid,
    decode_put_key,
    delete,
    delete_key,
    encode_dgi,
    get_data,
    get_status,
    get_status_flow,
    lfdb_hash,
    load_commands,
    load_file_stream,
    parse_card_data,
    parse_cin,
    parse_cplc,
    parse_delete,
    parse_iin,
    parse_install,
    parse_key_information,
    parse_load,
    parse_load_file,
    parse_select_response,
    parse_set_status,
    parse_store_data,
    read_registry,
    reassemble_load,
    select,
    set_status,
    store_data_commands,
    sw_meaning,
    verify_put_key_response,
)
from mcim.gp.install_params import InstallParameters, SystemParameters
from mcim.gp.registry import (
    Privilege,
    RegistryEntry,
    StatusSubset,
    encode_privileges,
    encode_status_legacy,
    encode_status_tlv,
)

from ..conftest import load_vectors

ISD = bytes.fromhex("a000000003000000")
KCVS = {v["name"]: v for v in load_vectors()["gp_key_check_values"]["vectors"]}


def h(apdu: CommandApdu) -> str:
    return apdu.to_bytes().hex()


# ------------------------------------------------------------------------------------------- SELECT, GET DATA

def test_select_by_aid_and_default() -> None:
    # GP v2.3 §11.9.2: 00 A4 04 00 Lc AID 00 (pySim's tutorial sends the same with the UICC-style P2 04).
    aid = bytes.fromhex("a0000005591010ffffffff8900001000")
    assert h(select(aid)) == "00a4040010" + aid.hex() + "00"
    assert h(select(aid, next_occurrence=True))[:8] == "00a40402"
    assert h(select()) == "00a4040000"
    with pytest.raises(BadInput):
        select(b"\x01\x02")


def test_select_response_of_isd_p() -> None:
    # pySim docs/put_key-tutorial.rst: "RESP: 6f188410a0000005591010ffffffff8900001000a5049f6501ff".
    fci = parse_select_response(bytes.fromhex("6f188410a0000005591010ffffffff8900001000a5049f6501ff"))
    assert fci.aid == bytes.fromhex("a0000005591010ffffffff8900001000")
    assert fci.max_command_length == 255


def test_card_recognition_data() -> None:
    # pySim pySim/global_platform/__init__.py: GET DATA 66 sample answer of a GP 2.1.1 / SCP02 i=15 card.
    data = bytes.fromhex("6631732f06072a864886fc6b01600c060a2a864886fc6b02020101630906072a864886fc6b03"
                         "640b06092a864886fc6b040215")
    card = parse_card_data(data)
    assert card.gp_version == "2.1.1"
    assert card.secure_channels == ((2, 0x15),)
    assert card.identification_scheme == "1.2.840.114283.3"
    assert decode_oid(bytes.fromhex("2a864886fc6b")) == "1.2.840.114283"


def test_key_information_template() -> None:
    # pySim KeyInformationData._test_de_encode: c00401708010 (KID 1, KVN 0x70, DES 16) ... c00402038810 (AES).
    data = bytes.fromhex("e012" "c00401708010" "c00402018010" "c00402038810")
    assert parse_key_information(data) == (
        KeyInfo(1, 0x70, (KeyComponent(KeyType.DES, 16),)), KeyInfo(2, 0x01, (KeyComponent(KeyType.DES, 16),)),
        KeyInfo(2, 0x03, (KeyComponent(KeyType.AES, 16),)))
    with pytest.raises(UnsupportedError):
        parse_key_information(bytes.fromhex("e008c006017fff880010"))


def test_get_data_commands_and_simple_objects() -> None:
    assert h(get_data(DataObject.CPLC)) == "80ca9f7f00"
    assert h(get_data(DataObject.KEY_INFORMATION)) == "80ca00e000"
    assert parse_iin(bytes.fromhex("4203123456")) == bytes.fromhex("123456")
    assert parse_cin(bytes.fromhex("4502abcd")) == bytes.fromhex("abcd")
    with pytest.raises(DecodeError):
        parse_iin(bytes.fromhex("4502abcd"))


def test_cplc_field_layout() -> None:
    # GlobalPlatformPro CPLC.Field: 18 fields, 2 bytes each except the IC serial number and both equipment ids (4).
    lengths = [2, 2, 2, 2, 2, 2, 4, 2, 2, 2, 2, 2, 2, 2, 4, 2, 2, 4]
    value = bytes(range(42))
    cplc = parse_cplc(b"\x9f\x7f\x2a" + value)
    assert parse_cplc(value) == cplc and list(cplc) == list(CPLC_FIELDS)
    offsets = [sum(lengths[:i]) for i in range(len(lengths))]
    assert [cplc[f] for f in CPLC_FIELDS] == [value[o:o + n] for o, n in zip(offsets, lengths, strict=True)]
    with pytest.raises(DecodeError):
        parse_cplc(value[:40])


# ------------------------------------------------------------------------------------------- GET STATUS

def test_get_status_commands() -> None:
    # DIGEST §5.4 / pySim get_status: 80 F2 P1 P2 Lc 4F 00 [5C taglist] 00; P2 02 TLV, 03 next.
    assert h(get_status(StatusSubset.APPLICATIONS)) == "80f24002024f0000"
    assert h(get_status(StatusSubset.ISD, next_occurrence=True)) == "80f28003024f0000"
    assert h(get_status(StatusSubset.LOAD_FILES, tlv=False)) == "80f22000024f0000"
    with_tags = get_status(StatusSubset.APPLICATIONS, tag_list=bytes.fromhex("4f9f70c5cc"))
    assert h(with_tags) == "80f24002094f005c054f9f70c5cc00"


APPS = [RegistryEntry(StatusSubset.APPLICATIONS, ISD, 0x0F, Privilege(0x9E0000)),
        RegistryEntry(StatusSubset.APPLICATIONS, bytes.fromhex("d07002ca44900101"), 0x07, Privilege(0),
                      load_file_aid=bytes.fromhex("d07002ca44"), associated_sd=ISD)]


class FakeCard:
    """Answers GET STATUS from a list of canned responses and records what it was sent."""

    def __init__(self, *responses: bytes) -> None:
        self.responses = list(responses)
        self.sent: list[bytes] = []

    def transmit(self, command: bytes) -> bytes:
        self.sent.append(command)
        return self.responses.pop(0)


def test_get_status_follows_6310() -> None:
    card = FakeCard(encode_status_tlv(APPS[0]) + b"\x63\x10", encode_status_tlv(APPS[1]) + b"\x90\x00")
    assert read_registry(card.transmit, StatusSubset.APPLICATIONS) == APPS
    assert [c[:4].hex() for c in card.sent] == ["80f24002", "80f24003"]


def test_get_status_legacy_format_and_empty_registry() -> None:
    card = FakeCard(encode_status_legacy(APPS, StatusSubset.APPLICATIONS) + b"\x90\x00")
    entries = read_registry(card.transmit, StatusSubset.APPLICATIONS, tlv=False)
    assert [(e.aid, e.life_cycle, e.privileges) for e in entries] == [(a.aid, a.life_cycle, a.privileges) for a in APPS]
    assert read_registry(FakeCard(b"\x6a\x88").transmit, StatusSubset.LOAD_FILES) == []


def test_get_status_error_sw() -> None:
    with pytest.raises(ExpectationFailed, match="6982.*security status not satisfied"):
        read_registry(FakeCard(b"\x69\x82").transmit, StatusSubset.ISD)


def test_flow_is_sans_io() -> None:
    flow = get_status_flow(StatusSubset.ISD)
    first = next(flow)
    assert isinstance(first, CommandApdu) and first.p1 == 0x80
    with pytest.raises(StopIteration) as done:
        flow.send(encode_status_tlv(RegistryEntry(StatusSubset.ISD, ISD, 0x0F, Privilege(0x9E0000))) + b"\x90\x00")
    assert done.value.value[0].life_cycle_name == "SECURED"


# ------------------------------------------------------------------------------------------- INSTALL

ELF_ISDP = bytes.fromhex("a0000005591010ffffffff8900000d00")
MODULE_ISDP = bytes.fromhex("a0000005591010ffffffff8900000e00")
ISDP = bytes.fromhex("a0000005591010ffffffff8900001000")


def test_sgp02_create_isd_p() -> None:
    # DIGEST §9 (njiwa): 80 E6 0C 00 LV(ELF) LV(module) LV(ISD-P) 03 80C000 LV(C9 {81 02 03 70}) 00.
    params = InstallParameters.parse(bytes.fromhex("c90481020370"))
    command = InstallForInstall(ELF_ISDP, MODULE_ISDP, ISDP, Privilege(0x80C000), params, privileges_length=3)
    data = ("10" + ELF_ISDP.hex() + "10" + MODULE_ISDP.hex() + "10" + ISDP.hex() + "0380c000" + "06c90481020370"
            + "00")
    assert h(command.to_apdu()) == "80e60c00" + f"{len(data) // 2:02x}" + data + "00"
    assert parse_install(command.to_apdu()).command == command
    assert Privilege.AUTHORIZED_MANAGEMENT in command.privileges


def test_install_for_personalization_layout() -> None:
    # pySim install_for_personalization: P1 20, data "0000" LV(AID) "000000".
    data = "0000" + "10" + ISDP.hex() + "000000"
    assert h(InstallForPersonalization(ISDP).to_apdu()) == "80e62000" + f"{len(data) // 2:02x}" + data + "00"


def test_install_for_load_with_hash_and_parameters() -> None:
    lfdb = bytes(569)
    command = InstallForLoad(bytes.fromhex("d07002ca44"), ISD, lfdb_hash(lfdb, "sha1"),
                             SystemParameters(non_volatile_code=0x0400), b"")
    apdu = command.to_apdu()
    assert apdu.p1 == 0x02 and apdu.data.startswith(bytes.fromhex("05d07002ca4408") + ISD + b"\x14")
    assert parse_install(apdu).command == command


ALL_INSTALLS = [
    InstallForLoad(bytes.fromhex("d07002ca44")),
    InstallForInstall(ELF_ISDP, MODULE_ISDP, ISDP, make_selectable=False),
    InstallForMakeSelectable(ISDP, Privilege.CARD_RESET, b"\x01\x02"),
    InstallForExtradition(ISD, ISDP, b"\xc9\x00"),
    InstallForPersonalization(ISDP),
    InstallForRegistryUpdate(ISD, ISDP, Privilege(0x000080), b"", b""),
    InstallForRegistryUpdate(application_aid=ISDP),
]


@pytest.mark.parametrize("command", ALL_INSTALLS, ids=lambda c: type(c).__name__)
def test_install_round_trip(command: object) -> None:
    apdu = command.to_apdu(more=True)  # type: ignore[attr-defined]
    parsed = parse_install(CommandApdu.parse(apdu.to_bytes()))
    assert parsed.more and apdu.p1 & 0x80
    expected = command
    if getattr(command, "privileges_length", 0) is None and getattr(command, "privileges", None) is not None:
        length = len(encode_privileges(command.privileges))  # type: ignore[attr-defined]
        expected = type(command)(**{**command.__dict__, "privileges_length": length})  # type: ignore[arg-type]
    assert parsed.command == expected


@pytest.mark.parametrize("raw", ["80e60100", "80e6020003010203", "80e60c0003000000", "80e62000050000000000",
                                 "80e602000505010203040500000000", "80d8000000"])
def test_malformed_install_commands(raw: str) -> None:
    with pytest.raises(DecodeError):
        parse_install(bytes.fromhex(raw))


aids = st.binary(min_size=5, max_size=16)


@given(aids, aids, aids, st.integers(0, 0xFFFFFF), st.binary(max_size=20), st.booleans())
def test_install_for_install_round_trip_property(elf: bytes, module: bytes, app: bytes, privileges: int,
                                                 token: bytes, selectable: bool) -> None:
    command = InstallForInstall(elf, module, app, Privilege(privileges), InstallParameters(b"\x01\x02"), token,
                                selectable, 3)
    assert parse_install(command.to_apdu()).command == command


@given(st.sampled_from([0x02, 0x04, 0x08, 0x0C, 0x10, 0x20, 0x40, 0x82, 0x00, 0x03]), st.binary(max_size=120))
def test_install_parser_on_random_data(p1: int, data: bytes) -> None:
    try:
        parse_install(CommandApdu(0x80, 0xE6, p1, 0x00, data))
    except McimError:
        pass


# ------------------------------------------------------------------------------------------- LOAD

def test_load_stream_matches_pysim_hellostk() -> None:
    # pySim docs/cap-tutorial.rst: "load-file: 569 bytes" ... "Loaded a total of 573 bytes in 3 blocks" (SCP02,
    # security level 1 = C-MAC only, 8 bytes of overhead per command).
    lfdb = bytes(569)
    assert load_file_stream(lfdb)[:4] == bytes.fromhex("c4820239") and len(load_file_stream(lfdb)) == 573
    commands = load_commands(lfdb, block_size=block_size_for(overhead=8))
    assert [(c.p1, c.p2, len(c.data)) for c in commands] == [(0x00, 0, 247), (0x00, 1, 247), (0x80, 2, 79)]
    assert all(c.to_bytes()[:2] == b"\x80\xe8" for c in commands)


def test_block_size_with_encryption() -> None:
    # SCP03 C-MAC (8) + C-DEC with '80' padding to 16: 239 data bytes pad to 240, +8 = 248 <= 255; 240 would not.
    assert block_size_for(8, 16) == 239
    assert block_size_for() == 255
    with pytest.raises(BadInput):
        block_size_for(255)


def test_load_with_dap_block_reassembles() -> None:
    lfdb = bytes(range(256)) * 3
    dap = DapBlock(ISD, bytes(range(0x40, 0x48)))
    stream = load_file_stream(lfdb, [dap])
    assert stream.startswith(bytes.fromhex("e214" "4f08") + ISD + bytes.fromhex("c308"))
    blocks = [parse_load(c) for c in load_commands(lfdb, block_size=100, dap_blocks=[dap])]
    assert reassemble_load(blocks) == parse_load_file(stream)
    assert reassemble_load(blocks).lfdb == lfdb and reassemble_load(blocks).dap_blocks == (dap,)
    with pytest.raises(DecodeError):
        reassemble_load(blocks[:-1])
    with pytest.raises(DecodeError):
        reassemble_load([blocks[1], blocks[0]])
    with pytest.raises(DecodeError):
        reassemble_load([LoadBlock(0, True, b"\xc4\x01\x00"), LoadBlock(1, True, b"")])


def test_too_many_load_blocks() -> None:
    with pytest.raises(BadInput):
        load_commands(bytes(300), block_size=1)


@given(st.binary(max_size=300))
def test_load_file_parser_on_random_data(data: bytes) -> None:
    try:
        parse_load_file(data)
    except McimError:
        pass


# ------------------------------------------------------------------------------------------- DELETE, SET STATUS

def test_delete_commands() -> None:
    # pySim delete_card_content / delete_key: 4F TLV, P2 80 for related objects; "d001%02x" + "d201%02x".
    assert h(delete(bytes.fromhex("d07002ca44"), related=True)) == "80e40080074f05d07002ca4400"
    assert h(delete_key(kvn=112, kid=1)) == "80e4000006d00101d2017000"
    assert parse_delete(delete(ISD)) == DeleteCommand(aid=ISD)
    assert parse_delete(delete_key(kvn=3)) == DeleteCommand(kvn=3)
    with pytest.raises(BadInput):
        delete_key()
    with pytest.raises(DecodeError):
        parse_delete(bytes.fromhex("80e4000000"))


def test_set_status() -> None:
    assert h(set_status(StatusType.APPLICATION, 0x83, ISD)) == "80f0408308" + ISD.hex()
    assert h(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x0F)) == "80f0800f"
    assert parse_set_status(set_status(StatusType.APPLICATION, 0x07, ISD)) == (0x40, 0x07, ISD)
    with pytest.raises(BadInput):
        set_status(StatusType.APPLICATION, 0x07)


# ------------------------------------------------------------------------------------------- STORE DATA

def test_dgi_encoding() -> None:
    # DGI: 2-byte tag, length 00..FE in one byte or FF + 2 bytes (GP v2.3 §11.11.2.2).
    assert encode_dgi(0x8010, b"\x01\x02") == bytes.fromhex("8010020102")
    long = encode_dgi(0x0101, bytes(300))
    assert long[:5] == bytes.fromhex("0101ff012c")
    assert decode_dgis(long + encode_dgi(0x0202, b"")) == [(0x0101, bytes(300)), (0x0202, b"")]
    with pytest.raises(DecodeError):
        decode_dgis(long[:-1])


def test_store_data_chaining() -> None:
    items = [encode_dgi(0x0100 + i, bytes(100)) for i in range(5)]  # 103 bytes each
    commands = store_data_commands(items, structure=StoreDataStructure.DGI, encryption=StoreDataEncryption.ENCRYPTED)
    # pySim ADF_SD.StoreData bit layout: b8 last block, b7b6 encryption (11), b5b4 structure (01 DGI), b1 response.
    assert [(c.p1, c.p2, len(c.data)) for c in commands] == [(0x68, 0, 206), (0x68, 1, 206), (0xE8, 2, 103)]
    single = store_data_commands(bytes(10), structure=StoreDataStructure.BER_TLV, response_expected=True)
    assert h(single[0]) == "80e29100" + "0a" + "00" * 10 + "00"
    big = store_data_commands([bytes(600)], block_size=255, first_block=3)
    assert [(c.p1 & 0x80, c.p2, len(c.data)) for c in big] == [(0, 3, 255), (0, 4, 255), (0x80, 5, 90)]
    block = parse_store_data(commands[-1])
    assert block.last and block.encryption == 0x60 and block.structure == 0x08 and block.number == 2


# ------------------------------------------------------------------------------------------- PUT KEY

AES_KEYS = tuple(bytes.fromhex(KCVS[f"pySim KEYSET_AES128.{n}"]["key"]) for n in ("enc", "mac", "dek"))
AES_KCVS = b"".join(bytes.fromhex(KCVS[f"pySim KEYSET_AES128.{n}"]["kcv"]) for n in ("enc", "mac", "dek"))
DEK = bytes.fromhex(KCVS["GP default key 4041..4F as AES (static DEK)"]["key"])


def _aes_decrypt(key: bytes, data: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor().update(data)


def _des_decrypt(key: bytes, data: bytes) -> bytes:
    return Cipher(TripleDES(key + key[:8]), modes.ECB()).decryptor().update(data)


def test_put_key_aes_key_set_under_aes_dek() -> None:
    command = PutKeyCommand(0x30, tuple(NewKey(KeyType.AES, k) for k in AES_KEYS))
    apdu = command.to_apdu(DEK)
    assert (apdu.cla, apdu.ins, apdu.p1, apdu.p2) == (0x80, 0xD8, 0x00, 0x81)
    data = apdu.data
    assert data[0] == 0x30
    for index, key in enumerate(AES_KEYS):
        entry = data[1 + 23 * index: 1 + 23 * (index + 1)]
        # openjavacard / GlobalPlatformPro: 88 11 10 <AES-CBC(DEK, zero IV, key)> 03 <KCV>
        assert entry[:3] == bytes.fromhex("881110") and _aes_decrypt(DEK, entry[3:19]) == key
        assert entry[19:] == b"\x03" + AES_KCVS[3 * index: 3 * index + 3]
    # The card answers the new KVN and the KCVs (GP v2.3 §11.8.3.1); KCVs from the vectors file.
    assert command.expected_response() == b"\x30" + AES_KCVS
    verify_put_key_response(b"\x30" + AES_KCVS, command)
    assert decode_put_key(apdu, DEK, KeyAlgorithm.AES) == command


def test_put_key_response_mismatch_raises() -> None:
    command = PutKeyCommand(0x30, tuple(NewKey(KeyType.AES, k) for k in AES_KEYS))
    with pytest.raises(BadChecksum):
        verify_put_key_response(b"\x31" + AES_KCVS, command)
    with pytest.raises(BadChecksum):
        verify_put_key_response(b"\x30" + AES_KCVS[:-1] + b"\x00", command)
    with pytest.raises(BadChecksum):
        verify_put_key_response(b"\x30" + AES_KCVS[:6], command)


def test_put_key_des_key_replaces_key_set_under_des_dek() -> None:
    des = bytes.fromhex(KCVS["GP default key 4041..4F as 2-key 3DES (static DEK)"]["key"])
    des_kcv = bytes.fromhex(KCVS["GP default key 4041..4F as 2-key 3DES (static DEK)"]["kcv"])
    command = PutKeyCommand(0x20, (NewKey(KeyType.DES, des),), old_kvn=0x20, first_kid=1)
    apdu = command.to_apdu(des, KeyAlgorithm.DES3)
    assert (apdu.p1, apdu.p2) == (0x20, 0x01)
    assert apdu.data[:3] == bytes.fromhex("208010") and apdu.data[19:] == b"\x03" + des_kcv
    assert _des_decrypt(des, apdu.data[3:19]) == des
    assert decode_put_key(apdu, des, KeyAlgorithm.DES3) == command


def test_put_key_aes_256_key_padding_and_aes_key_under_des_dek() -> None:
    key = bytes(range(32, 56))  # AES-192: padded to 32 bytes with the injected filler
    command = PutKeyCommand(0x31, (NewKey(KeyType.AES, key),))
    apdu = command.to_apdu(DEK, rng=lambda n: b"\xa5" * n)
    assert apdu.data[1:4] == bytes.fromhex("882118")
    assert _aes_decrypt(DEK, apdu.data[4:36]) == key + b"\xa5" * 8
    assert decode_put_key(apdu, DEK, KeyAlgorithm.AES) == command
    # pySim docs/put_key-tutorial.rst puts AES keys through an SCP02 channel: 3DES DEK, no length byte.
    des_dek = bytes.fromhex("5524f4becfe96fb63fc29d6baac6058b")
    under_des = PutKeyCommand(3, (NewKey(KeyType.AES, AES_KEYS[0]),)).to_apdu(des_dek, KeyAlgorithm.DES3)
    assert under_des.data[1:3] == bytes.fromhex("8810") and _des_decrypt(des_dek, under_des.data[3:19]) == AES_KEYS[0]


def test_card_side_rejects_wrong_kcv() -> None:
    apdu = PutKeyCommand(0x30, (NewKey(KeyType.AES, AES_KEYS[0]),)).to_apdu(DEK)
    tampered = CommandApdu(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data[:-1] + b"\x00", apdu.le)
    with pytest.raises(BadChecksum, match="PUT KEY key 0"):
        decode_put_key(tampered, DEK, KeyAlgorithm.AES)


def test_put_key_input_checks() -> None:
    with pytest.raises(BadInput):
        PutKeyCommand(0x30, ()).to_apdu(DEK)
    with pytest.raises(UnsupportedError):
        PutKeyCommand(0x30, (NewKey(KeyType.TLS_PSK, bytes(16)),)).to_apdu(DEK)
    with pytest.raises(BadInput):
        PutKeyCommand(0x30, (NewKey(KeyType.DES, bytes(12)),)).to_apdu(DEK, KeyAlgorithm.DES3)
    assert "value" not in repr(NewKey(KeyType.AES, AES_KEYS[0]))


@given(st.binary(max_size=80), st.integers(0, 255))
def test_put_key_decoder_on_random_data(data: bytes, p2: int) -> None:
    try:
        decode_put_key(CommandApdu(0x80, 0xD8, 0x00, p2, data), DEK, KeyAlgorithm.AES)
    except McimError:
        pass


# ------------------------------------------------------------------------------------------- status words

def test_status_word_tables() -> None:
    assert sw_meaning("PUT KEY", 0x9485) == "invalid key check value"
    assert sw_meaning("get status", 0x6310) == "more data available"
    assert sw_meaning("INSTALL", 0x6982) == "security status not satisfied"
    assert sw_meaning("LOAD", 0x6A84) == "not enough memory space"
    assert sw_meaning("SELECT", 0x6A82) == "selected application / file not found"
