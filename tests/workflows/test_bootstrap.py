"""EUM bootstrap: identities, per-card derivation, factory scripts, the vendor output file, batches and resume."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
from mcim.errors import BadInput
from mcim.gp.keys import StaticKeys, diversify, kcv
from mcim.keystore import SoftKeySource, parse_key_text
from mcim.script.loader import load_script
from mcim.workflows.bootstrap import (
    OUTPUT_COLUMNS,
    BatchJob,
    BootstrapProfile,
    derive_credentials,
    run_batch,
)
from mcim.workflows.identity import CardIdentity, eid_ok, luhn_ok, make_iccid, read_batch

MASTERS = {name: os.urandom(16) for name in ("isd_master", "dpf_master", "ro_k_master", "ro_op", "output_kek")}


def test_luhn_and_eid_checks():
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")  # the classic Luhn example (ISO/IEC 7812-1)
    assert eid_ok("89049032123451234512345678901235")  # the example EID of GSMA SGP.22 §2.2.2
    assert not eid_ok("89049032123451234512345678901234")
    assert luhn_ok(make_iccid("8988", 12345))


def test_batch_csv_errors_name_the_line(tmp_path):
    batch = tmp_path / "cards.csv"
    batch.write_text(f"iccid,eid\n{make_iccid('8988', 1)},\n8988000000000000001,\n")
    cards = read_batch(batch)
    next(cards)
    with pytest.raises(BadInput, match=r"cards.csv:3.*Luhn"):
        next(cards)
    batch.write_text("serial\n1\n")
    with pytest.raises(BadInput, match="header"):
        list(read_batch(batch))


def test_credentials_follow_the_documented_derivation():
    """ISD/OTA keys are GP kdf3 of the masters with the EF.ICCID bytes as KDD; K and OPc per SP 800-108/Milenage."""
    profile = BootstrapProfile.load()
    keys = SoftKeySource(MASTERS)
    card = CardIdentity("8988200000000000014")
    creds = derive_credentials(profile, keys, card)
    assert card.kdd.hex() == "988802000000000010f4"  # EF.ICCID coding: swapped BCD, F filler (TS 102 221 §13.2)
    assert creds.isd == diversify(MASTERS["isd_master"], card.kdd, "kdf3", kvn=profile.card_kvn)
    assert creds.imsi == "001010000000001" and len(creds.k) == 16 and creds.k != creds.opc
    assert creds.isd.enc.hex() not in repr(creds)


def _job(tmp_path):
    transport = StaticKeys(0x30, *(bytes(range(0x40, 0x50)),) * 3)
    (tmp_path / "transport.keys").write_text("enc = 404142434445464748494a4b4c4d4e4f\n")
    return BatchJob(BootstrapProfile.load(), SoftKeySource(MASTERS), transport, str(tmp_path / "transport.keys"),
                    tmp_path / "scripts")


def test_batch_writes_scripts_and_rows_without_clear_secrets(tmp_path):
    cards = [CardIdentity(make_iccid("8988", n)) for n in range(40)]
    result = run_batch(_job(tmp_path), cards, tmp_path / "vendor.out", workers=2, chunk=7)
    assert result.cards == 40
    rows = [line.split() for line in (tmp_path / "vendor.out").read_text().splitlines() if line[0].isdigit()]
    assert [r[0] for r in rows] == [c.iccid for c in cards] and all(len(r) == len(OUTPUT_COLUMNS) for r in rows)
    creds = derive_credentials(BootstrapProfile.load(), SoftKeySource(MASTERS), cards[3])
    text = (tmp_path / "vendor.out").read_text() + (tmp_path / "scripts" / f"{cards[3].iccid}.apdu").read_text()
    for secret in (creds.k, creds.opc, creds.isd.enc, creds.isd.dek, creds.ota.mac):
        assert secret.hex() not in text.lower()
    row = dict(zip(OUTPUT_COLUMNS, rows[3], strict=True))
    assert aes_key_unwrap_with_padding(MASTERS["output_kek"], bytes.fromhex(row["WRAPPED_K"])) == creds.k
    assert row["KCV_ENC"].lower() == kcv(creds.isd.enc, "aes").hex()
    load_script(str(tmp_path / "scripts" / f"{cards[3].iccid}.apdu"))  # the factory script parses and checks


def test_resume_continues_after_a_torn_row(tmp_path):
    cards = [CardIdentity(make_iccid("8988", n)) for n in range(20)]
    job = _job(tmp_path)
    run_batch(job, cards[:8], tmp_path / "first.out", workers=1)
    partial = tmp_path / "vendor.out.partial"
    partial.write_bytes((tmp_path / "first.out").read_bytes() + b"8988000")  # a crash mid-row
    result = run_batch(job, cards, tmp_path / "vendor.out", workers=1, resume=True)
    assert (result.resumed, result.cards) == (8, 20)
    rows = [line.split()[0] for line in (tmp_path / "vendor.out").read_text().splitlines() if line[0].isdigit()]
    assert rows == [c.iccid for c in cards] and not partial.exists()


def test_cli_bootstrap_and_bad_input(tmp_path):
    keys = tmp_path / "masters.keys"
    keys.write_text("".join(f"{n} = {v.hex()}\n" for n, v in MASTERS.items()))
    transport = tmp_path / "transport.keys"
    transport.write_text("".join(f"{n} = 404142434445464748494a4b4c4d4e4f\n" for n in ("enc", "mac", "dek")))
    batch = tmp_path / "cards.csv"
    batch.write_text("iccid\n" + "".join(make_iccid("8988", n) + "\n" for n in range(5)))
    mcim = [sys.executable, "-m", "mcim.cli"]
    ok = subprocess.run([*mcim, "bootstrap", "--batch", str(batch), "--key-file", str(keys), "--transport-keys",
                         str(transport), "--out", str(tmp_path / "out"), "--json"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert len(list((tmp_path / "out" / "scripts").glob("*.apdu"))) == 5
    keys.write_text("isd_master = 00\n")
    bad = subprocess.run([*mcim, "bootstrap", "--batch", str(batch), "--key-file", str(keys), "--transport-keys",
                          str(transport), "--out", str(tmp_path / "out2")], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_key_files():
    assert parse_key_text("a = 0011\n# c\nB: 22 33\n", "f") == {"a": b"\x00\x11", "b": b"\x22\x33"}
    with pytest.raises(BadInput, match="twice"):
        parse_key_text("a = 00\na = 11\n", "f")
    with pytest.raises(BadInput):
        parse_key_text("a = 0g\n", "f")


@pytest.mark.parametrize("schema_break,field", [
    ("pcid: {mcc: '1'}", "pcid.mcc"),
    ("ota: {kvn: 16}", "ota.kvn"),
    ("isd: {aid: A0}", "isd.aid"),
])
def test_a_bad_bootstrap_profile_names_the_field(tmp_path, schema_break, field):
    import yaml
    from mcim.workflows.bootstrap import DEFAULT_BOOTSTRAP_PROFILE

    doc = yaml.safe_load(DEFAULT_BOOTSTRAP_PROFILE.read_text())
    section, change = schema_break.split(":", 1)
    doc[section].update(yaml.safe_load(change))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(BadInput) as err:
        BootstrapProfile.load(bad)
    assert f"bad.yaml: {field}" in str(err.value)


def test_a_bad_mcim_profile_names_the_field(tmp_path):
    import yaml
    from mcim.workflows.provision import DEFAULT_MCIM_PROFILE, McimProfile

    doc = yaml.safe_load(DEFAULT_MCIM_PROFILE.read_text())
    doc["files"][2]["content"] = {"colour": "blue"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(BadInput, match=r"bad.yaml: files.2.content"):
        McimProfile.load(bad)
