"""DPF download and the refusal paths of TR 33.812 subcase 2b on the reference UICC, driven through the library:
a third party's keys (PoR 01), an SPI below the TAR's minimum security level (0A), a rolled-back counter (02) and
a replayed ENVELOPE (02).  Each refusal is read from the PoR by the decoder below, written from the spec text
(DIGEST §1.6-1.7, TS 102 225 §5.2) without mcim's OTA code, and the card's state before and after is equal.

Then the bad input of `mcim provision`, `mcim validate` and `mcim register`: one line on stderr, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from mcim.gp.keys import StaticKeys
from mcim.ota import Address, CounterScope, CounterStore, FixedCounter, OtaWrapper, SmsOptions, send_sms_pp
from mcim.refcard import RefCard, open_card
from mcim.transport.inprocess import InProcessTransport
from mcim.workflows.demo import Demo, read_iccid
from mcim.workflows.provision import OtaSession

from tests.conftest import load_vectors

MCIM = [sys.executable, "-m", "mcim.cli"]
TAR_RAM, TAR_SHARED_FS = "000000", "B00000"  # TS 101 220 §6: ISD RAM; the demo's RFM TAR of the UICC file system
SELECT_EF_DIR = bytes.fromhex("00A4000C022F00")
SPARE_DIR_RECORD = 4  # EF.DIR has 4 records in the card profile; the demo uses 1 (PCID) and 2 (MCIM)
POR_OK, RC_CC_DS_FAILED, CNTR_LOW, INSUFFICIENT_SECURITY_LEVEL = 0x00, 0x01, 0x02, 0x0A  # TS 102 225 table 5.5
READABLE_PORS = [v for v in load_vectors()["ts102225_secured_packets"]["response_packets"]
            if v["kic"] == "22" or v["spi"].endswith("01")]


# ------------------------------------------------------------------------------------------ an independent PoR reader

@dataclass(frozen=True)
class Por:
    status: int
    cntr: int
    data: bytes
    secured: bool


def read_por(user_data: bytes, kic: bytes | None = None, kid: bytes | None = None) -> Por:
    """An SMS PoR `02 71 00 | RPL | RHL | TAR | CNTR | PCNTR | RSC | CC | data | padding` (DIGEST §1.7).

    RHL 0A: no CC, nothing ciphered.  RHL 12: an 8-byte AES CC, and (SPI2 b5, as every SPI used here asks)
    everything after TAR ciphered with AES-CBC, zero IV, under KIc; the CC is AES-CMAC under KID, leftmost 8 bytes,
    over UDH..RSC and data with padding (DIGEST §1.6)."""
    assert user_data[:3] == b"\x02\x71\x00", user_data.hex()
    assert int.from_bytes(user_data[3:5], "big") == len(user_data) - 5, "RPL counts from RHL to the end"
    rhl, head, body = user_data[5], user_data[:9], user_data[9:]
    if rhl == 0x0A:
        return Por(body[6], int.from_bytes(body[:5], "big"), body[7:len(body) - body[5]], False)
    assert rhl == 0x12 and kic is not None and kid is not None, f"RHL {rhl:02x}"
    decryptor = Cipher(algorithms.AES(kic), modes.CBC(bytes(16))).decryptor()
    plain = decryptor.update(body) + decryptor.finalize()
    cmac = CMAC(algorithms.AES(kid))
    cmac.update(head + plain[:7] + plain[15:])
    assert cmac.finalize()[:8] == plain[7:15], "PoR CC does not verify"
    return Por(plain[6], int.from_bytes(plain[:5], "big"), plain[15:len(plain) - plain[5]], True)


@pytest.mark.parametrize("vector", READABLE_PORS, ids=lambda v: v["name"])
def test_the_por_reader_on_public_pors(vector):
    """The reader itself, on pySim's card PoRs (AES ciphered with CC, and clear without CC)."""
    keys = {"kic": bytes.fromhex(vector["kic_key"]), "kid": bytes.fromhex(vector["kid_key"])} \
        if "kic_key" in vector else {}
    por = read_por(bytes.fromhex(vector["user_data"]), **keys)
    assert por.status == int(vector["expected_response_status"], 16)
    assert por.data == bytes.fromhex(vector["expected_additional_data"])


# ------------------------------------------------------------------------------------------ the provisioned card

@dataclass
class Provisioned:
    card: RefCard
    transport: InProcessTransport
    demo: Demo

    @property
    def holder(self) -> OtaSession:
        return self.demo.holder

    def next_counter(self, session: OtaSession) -> int:
        """The counter a well-behaved sender uses: the next one of the DPF's counter store for this key set."""
        assert session.counter_store is not None
        with CounterStore(session.counter_store) as store:
            return store.allocate(CounterScope(self.demo.card.iccid, session.keys.kvn))

    def send(self, session: OtaSession, tar: str, apdus: list[bytes], counter: int | None = None,
             envelopes: tuple[bytes, ...] | None = None) -> tuple[tuple[bytes, ...], int, Por]:
        """One secured packet through SMS-PP download; its ENVELOPEs, counter and the PoR as read here."""
        cntr = self.next_counter(self.holder) if counter is None else counter
        if envelopes is None:
            wrapper = OtaWrapper(session.context(tar), FixedCounter(cntr), SmsOptions(Address.from_digits("0000")))
            envelopes = wrapper.wrap(apdus).envelopes
        outcome = send_sms_pp(self.transport.transmit, envelopes)
        assert outcome.por is not None, f"no PoR (ENVELOPE answered {outcome.sw:04X})"
        return envelopes, cntr, read_por(outcome.por.user_data, session.keys.enc, session.keys.mac)


@pytest.fixture
def provisioned(tmp_path: Path) -> Provisioned:
    """A factory card after the demo's bootstrap, registration and download of SHO A's MCIM: SHO A now holds
    the OTA key set (KVN 2), its counter store in the demo's work directory."""
    card = open_card("factory")
    transport = InProcessTransport(card)
    demo = Demo(transport, tmp_path, read_iccid(transport), snapshot=card.to_state)
    for step in ("bootstrap", "register", "download"):
        ok, detail, _ = getattr(demo, step)()
        assert ok, f"{step}: {detail}"
    return Provisioned(card, transport, demo)


def update_spare_dir_record(content: bytes) -> list[bytes]:
    """RFM: UPDATE RECORD (absolute, TS 102 221 §11.1.6: P2 04) of a spare EF.DIR record."""
    record = content.ljust(38, b"\xff")
    return [SELECT_EF_DIR, bytes((0x00, 0xDC, SPARE_DIR_RECORD, 0x04, len(record))) + record]


def delete_mcim(p: Provisioned) -> list[bytes]:
    """RAM: DELETE of SHO A's MCIM instance (GP v2.3 §11.2.2: tag 4F, the AID), which a refused packet carries."""
    aid = p.demo.sho_a.instance_aid or p.demo.mcim.instance_aid
    return [bytes((0x80, 0xE4, 0x00, 0x00, len(aid) + 2, 0x4F, len(aid))) + aid]


def dir_record(label: bytes) -> bytes:
    """An EF.DIR application template (TS 102 221 §13.1): 61 | 4F AID | 50 label."""
    aid = bytes.fromhex("A0000000871002FFFFFFFF8907090003")
    body = bytes((0x4F, len(aid))) + aid + bytes((0x50, len(label))) + label
    return bytes((0x61, len(body))) + body


def mcim_selectable(p: Provisioned) -> bool:
    aid = p.demo.sho_a.instance_aid or p.demo.mcim.instance_aid
    answer = p.transport.transmit(bytes((0x00, 0xA4, 0x04, 0x0C, len(aid))) + aid)
    return answer[-2:] == b"\x90\x00"


def assert_holder_still_accepted(p: Provisioned) -> None:
    """A refusal leaves the holder's channel working: its next packet is executed."""
    _, cntr, por = p.send(p.holder, TAR_SHARED_FS, [bytes.fromhex("00A4000C022FE2")])
    assert (por.status, por.cntr, por.secured) == (POR_OK, cntr, True)


# ------------------------------------------------------------------------------------------ accepted, then refused

def test_an_accepted_packet_is_proven_and_changes_the_card(provisioned):
    """The control for every refusal below: the same kind of packet from the key holder is executed, its PoR is
    ciphered and carries a valid CC, and the card snapshot sees the change."""
    p = provisioned
    before = p.card.to_state()
    _, cntr, por = p.send(p.holder, TAR_SHARED_FS, update_spare_dir_record(dir_record(b"A")))
    assert (por.status, por.cntr, por.secured) == (POR_OK, cntr, True)
    assert por.data == b"\x02\x90\x00"  # compact response (TS 102 226 §5.1.2): 2 commands run, last SW 9000
    assert p.card.to_state() != before


def test_a_third_partys_keys_are_refused_with_por_01(provisioned):
    p = provisioned
    third = OtaSession(StaticKeys(p.holder.keys.kvn, os.urandom(16), os.urandom(16), os.urandom(16)), "-")
    before = p.card.to_state()
    _, _, por = p.send(third, TAR_RAM, delete_mcim(p))  # a counter the card would accept from the holder
    assert por.status == RC_CC_DS_FAILED
    assert not por.secured  # the card cannot know whose keys these are (DIGEST §1.7: error PoRs may be clear)
    assert p.card.to_state() == before and mcim_selectable(p)
    assert_holder_still_accepted(p)


def test_an_spi_below_the_minimum_security_level_is_refused_with_por_0a(provisioned):
    """SPI 12 01: CC and counter, but no ciphering; PoR always, unsecured (TS 102 225 §5.1.1)."""
    p = provisioned
    weak = OtaSession(p.holder.keys, "-", "1201")
    before = p.card.to_state()
    _, cntr, por = p.send(weak, TAR_RAM, delete_mcim(p))
    assert (por.status, por.cntr) == (INSUFFICIENT_SECURITY_LEVEL, cntr)
    assert p.card.to_state() == before and mcim_selectable(p)
    assert_holder_still_accepted(p)


def test_a_rolled_back_counter_is_refused_with_por_02(provisioned):
    p = provisioned
    for _ in range(2):
        _, accepted, por = p.send(p.holder, TAR_SHARED_FS, [bytes.fromhex("00A4000C022FE2")])
        assert por.status == POR_OK
    before = p.card.to_state()
    _, _, por = p.send(p.holder, TAR_RAM, delete_mcim(p), counter=accepted - 1)
    assert (por.status, por.cntr) == (CNTR_LOW, accepted - 1)
    assert por.secured  # the packet is authentic, so the card secures the PoR as the SPI asks
    assert p.card.to_state() == before and mcim_selectable(p)
    assert_holder_still_accepted(p)


def test_a_replayed_envelope_is_refused_with_por_02(provisioned):
    """An eavesdropper keeps the ENVELOPE that wrote A; after B was written, replaying it would write A back."""
    p = provisioned
    kept, first, por = p.send(p.holder, TAR_SHARED_FS, update_spare_dir_record(dir_record(b"A")))
    assert por.status == POR_OK
    _, _, por = p.send(p.holder, TAR_SHARED_FS, update_spare_dir_record(dir_record(b"B")))
    assert por.status == POR_OK
    before = p.card.to_state()
    _, _, por = p.send(p.holder, TAR_SHARED_FS, [], counter=first, envelopes=kept)
    assert (por.status, por.cntr) == (CNTR_LOW, first)
    assert p.card.to_state() == before
    assert_holder_still_accepted(p)


def test_the_download_scripts_hold_no_secret_in_clear(provisioned):
    """Per-card ISD keys, PCID and SHO K/OPc and the handed-over key set travel only enciphered."""
    demo = provisioned.demo
    text = "".join(path.read_text() for path in sorted((demo.work / "scripts").glob("*.apdu")))
    text = "".join(text.split()).lower()
    secrets = (demo.creds.isd.enc, demo.creds.isd.mac, demo.creds.isd.dek, demo.creds.k, demo.creds.opc,
               demo.sho_a.k, demo.sho_a.opc, demo.sho_a_keys.enc, demo.sho_a_keys.mac, demo.sho_a_keys.dek)
    assert [s.hex() for s in secrets if s.hex() in text] == []


# ------------------------------------------------------------------------------------------ bad input on the CLI

@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "sub.yaml").write_text('sho: SHO-A\nimsi: "001019000000001"\nspn: SHO A\n')
    (tmp_path / "bad.yaml").write_text("sho: [SHO-A\nimsi: 001019000000001\n")
    (tmp_path / "no-imsi.yaml").write_text("sho: SHO-A\n")
    (tmp_path / "sub.keys").write_text(f"k = {os.urandom(16).hex()}\nopc = {os.urandom(16).hex()}\n")
    (tmp_path / "ota.keys").write_text("".join(f"{n} = {os.urandom(16).hex()}\n" for n in ("kic", "kid", "kik")))
    return tmp_path


PROVISION = ["provision", "--iccid", "8988200000000000014", "--out", "out"]
VALIDATE = ["validate"]
SUBSCRIPTION = ["--subscription", "sub.yaml", "--subscription-keys", "sub.keys"]
BAD_INPUT = {
    "provision-missing-ota-keys": ([*PROVISION, *SUBSCRIPTION, "--ota-keys", "missing.keys"], 2, "missing.keys"),
    "provision-missing-subscription-keys": ([*PROVISION, "--subscription", "sub.yaml", "--subscription-keys",
                                             "missing.keys", "--ota-keys", "ota.keys"], 2, "missing.keys"),
    "provision-malformed-yaml": ([*PROVISION, "--subscription", "bad.yaml", "--subscription-keys", "sub.keys",
                                  "--ota-keys", "ota.keys"], 2, "bad.yaml"),
    "provision-yaml-without-imsi": ([*PROVISION, "--subscription", "no-imsi.yaml", "--subscription-keys",
                                     "sub.keys", "--ota-keys", "ota.keys"], 2, "no-imsi.yaml"),
    "provision-unknown-reader": ([*PROVISION, *SUBSCRIPTION, "--ota-keys", "ota.keys", "--reader",
                                  "No Such Reader 00 00"], 3, ""),
    "validate-missing-subscription-keys": ([*VALIDATE, "--subscription", "sub.yaml", "--subscription-keys",
                                            "missing.keys"], 2, "missing.keys"),
    "validate-malformed-yaml": ([*VALIDATE, "--subscription", "bad.yaml", "--subscription-keys", "sub.keys"], 2,
                                "bad.yaml"),
    "validate-unknown-reader": ([*VALIDATE, *SUBSCRIPTION, "--reader", "No Such Reader 00 00"], 3, ""),
    "register-bad-iccid": (["register", "--db", "r.sqlite", "--iccid", "8988200000000000015", "--sho", "A"], 2,
                           "--iccid"),
    "register-unopenable-db": (["register", "--db", "no-such-dir/r.sqlite", "--iccid", "8988200000000000014",
                                "--sho", "A"], 2, "no-such-dir/r.sqlite"),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=str)
def test_bad_input_gives_one_line_and_no_traceback(inputs, case):
    args, code, where = BAD_INPUT[case]
    run = subprocess.run([*MCIM, *args], cwd=inputs, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "MCIM_PIN1": "1234"})
    lines = run.stderr.strip().splitlines()
    assert (run.returncode, len(lines)) == (code, 1), run.stderr
    assert lines[0].startswith("mcim: error: ") and where in lines[0], lines[0]
    if code == 2:  # refused before anything was written
        assert not (inputs / "out").exists()
