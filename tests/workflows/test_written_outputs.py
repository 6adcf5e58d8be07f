"""The written outputs of the subcase 2b workflows, run by `mcim run` (a subprocess, as an operator would) on a fresh
reference UICC kept in a state file: the EUM's factory script from `mcim bootstrap`, then the DPF's download
campaign from `mcim provision`, then `mcim validate`, and a known-answer check of the downloaded MCIM.

The SHO's subscription is public test data: K/OP of pySim's AUTHENTICATE test (vectors `usim_authenticate_example`)
and an IMSI whose EF.IMSI coding the vectors give (`file_encoding_examples`), so what the card answers after the
download is checked against those files, not against mcim's own computations."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mcim.gp.keys import diversify
from mcim.keystore import read_key_file
from mcim.refcard import card_from_profile, load_profile

from tests.conftest import load_vectors

MCIM = [sys.executable, "-m", "mcim.cli"]
VECTORS = load_vectors()
AUTH = VECTORS["usim_authenticate_example"]
IMSI = "228062800000208"
EF_IMSI = next(e["hex"] for e in VECTORS["file_encoding_examples"]["examples"] if e["what"] == f"EF.IMSI = {IMSI}")
ICCID = "8988200000000000014"  # applet-spec/profiles/factory.yaml (from default.yaml)
KDD = bytes.fromhex("988802000000000010F4")  # EF.ICCID of that ICCID: swapped BCD, F filler (TS 102 221 §13.2)
GP_TEST_KEY = "404142434445464748494a4b4c4d4e4f"  # the public GP test key the factory card's ISD carries (KVN 30)
DPF_KVN = 1  # applet-spec/profiles/bootstrap.yaml ota.kvn
MCIM_AID = "A0000000871002FFFFFFFF8907090001"  # applet-spec/profiles/mcim.yaml usim.instance_aid
MASTER_NAMES = ("isd_master", "dpf_master", "ro_k_master", "ro_op", "output_kek")


def mcim(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MCIM, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def run_script(script: Path, state: Path) -> dict:
    """`mcim run SCRIPT --target refcard:STATE --json`: the card's changes go back to the state file."""
    done = mcim("run", str(script), "--target", f"refcard:{state}", "--json", cwd=script.parent)
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)
    assert (done.returncode, report["passed"]) == (0, True), json.dumps(report, indent=1)[-3000:] + done.stderr
    return report


def key_file(path: Path, **keys: bytes | str) -> Path:
    path.write_text("".join(f"{name} = {v if isinstance(v, str) else v.hex()}\n" for name, v in keys.items()))
    return path


@pytest.fixture
def factory(tmp_path: Path) -> Path:
    """Bootstrapped outputs of one card and a fresh factory card holding that card's ICCID, in a state file."""
    assert load_profile("factory")["identity"]["iccid"] == ICCID
    masters = {name: os.urandom(16) for name in MASTER_NAMES}
    key_file(tmp_path / "masters.keys", **masters)
    key_file(tmp_path / "transport.keys", enc=GP_TEST_KEY, mac=GP_TEST_KEY, dek=GP_TEST_KEY)
    (tmp_path / "cards.csv").write_text(f"iccid\n{ICCID}\n")
    done = mcim("bootstrap", "--batch", "cards.csv", "--key-file", "masters.keys", "--transport-keys",
                "transport.keys", "--out", "eum", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    card_from_profile("factory", state_path=tmp_path / "card.json")
    dpf = diversify(masters["dpf_master"], KDD, "kdf3", kvn=DPF_KVN)
    key_file(tmp_path / "dpf.keys", kic=dpf.enc, kid=dpf.mac, kik=dpf.dek)
    (tmp_path / "sub.yaml").write_text(f'sho: SHO-A\nimsi: "{IMSI}"\nspn: SHO A\n')
    key_file(tmp_path / "sub.keys", k=AUTH["K"], op=AUTH["OP"])
    return tmp_path


def provision(work: Path, *extra: str) -> dict:
    done = mcim("provision", "--iccid", ICCID, "--subscription", "sub.yaml", "--subscription-keys", "sub.keys",
                "--ota-keys", "dpf.keys", "--kvn", str(DPF_KVN), "--counter-store", "counters.sqlite",
                "--out", "dpf", "--json", *extra, cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def assert_every_por_verified(report: dict, script: Path) -> None:
    """Each `.ota` block's PoR was OK with a verified CC (the runner's line for it, one per packet)."""
    blocks = len(re.findall(r"^\.ota begin", script.read_text(), flags=re.M))
    said = [m for step in report["steps"] for m in step["messages"] if m.startswith("OTA packet")]
    assert blocks >= 4 and len(said) == blocks
    assert all(m.endswith("PoR 00 POR_OK, integrity verified") for m in said), said


def known_answer_script(path: Path) -> Path:
    """The downloaded MCIM answers as the public vectors say: EF.IMSI, EF.DIR and AUTHENTICATE (TS 31.102 §7.1.2)."""
    path.write_text(
        "step Select the MCIM and verify PIN1 (1234, TEST VALUE of the card profile)\n"
        f"00 A4 04 0C 10 {MCIM_AID} => 9000\n"
        "00 20 00 01 08 31323334FFFFFFFF => 9000\n"
        "step EF.IMSI (TS 31.102 §4.2.2)\n"
        "00 A4 00 0C 02 6F07 => 9000\n"
        f"00 B0 00 00 [09] => 9000 data {EF_IMSI}\n"
        "step AUTHENTICATE with the vectors' RAND and AUTN (SQN 20)\n"
        f"00 88 00 81 22 10 {AUTH['RAND']} 10 {AUTH['AUTN']} [00] => 9000 data {AUTH['response_data_computed_here']}\n"
        "step EF.DIR record 2 lists the MCIM (TS 102 221 §13.1)\n"
        "00 A4 00 0C 02 3F00 => 9000\n"
        "00 A4 00 0C 02 2F00 => 9000\n"
        f"00 B2 02 04 [26] => 9000 data 61 XX 4F 10 {MCIM_AID} ...\n")
    return path


def validate(work: Path) -> None:
    """`mcim validate`, after the known-answer check has used SQN 20: SQN 40 is the next fresh one."""
    done = mcim("validate", "--subscription", "sub.yaml", "--subscription-keys", "sub.keys", "--sqn", "64",
                "--target", f"refcard:{work / 'card.json'}", "--json", cwd=work, env={"MCIM_PIN1": "1234"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"] is True


def assert_no_secret_in(paths: list[Path], secrets: list[bytes]) -> None:
    text = "".join("".join(p.read_text().split()).lower() for p in paths)
    assert [s.hex() for s in secrets if s.hex() in text] == []


def test_factory_script_then_written_download_script_then_validation(factory):
    state = factory / "card.json"
    run_script(factory / "eum" / "scripts" / f"{ICCID}.apdu", state)
    result = provision(factory)
    script = Path(factory / result["script"])
    assert result["ran"] is False and script.parent == factory / "dpf"
    assert_every_por_verified(run_script(script, state), script)
    run_script(known_answer_script(factory / "known-answers.apdu"), state)
    validate(factory)
    written = [*(factory / "eum").rglob("*.apdu"), factory / "eum" / "vendor.out", script]
    masters = read_key_file(factory / "masters.keys")
    dpf = read_key_file(factory / "dpf.keys")
    opc = bytes.fromhex(AUTH["derived_computed_here"]["OPc"])
    assert_no_secret_in(written, [*masters.values(), *dpf.values(), bytes.fromhex(AUTH["K"]), opc])


def test_provision_on_a_target_verifies_every_por_and_hands_the_keys_over(factory):
    """`mcim provision --target` runs the campaign itself; with --hand-over-to, the SHO's key set then works."""
    state = factory / "card.json"
    run_script(factory / "eum" / "scripts" / f"{ICCID}.apdu", state)
    sho = {name: os.urandom(16) for name in ("kic", "kid", "kik")}
    key_file(factory / "sho.keys", **sho)
    result = provision(factory, "--hand-over-to", "sho.keys", "--new-kvn", "2", "--target", f"refcard:{state}")
    assert (result["ran"], result["passed"]) == (True, True)
    sho_packet = factory / "sho-packet.apdu"
    sho_packet.write_text(
        "step The SHO's key set (KVN 2) now opens packets\n"
        ".ota begin tar=B00000 spi=1639 kvn=2 kic-alg=aes kid-alg=aes keys=sho.keys counter=1\n"
        "00 A4 00 0C 02 2FE2 => 9000\n"
        ".ota end\n")
    report = run_script(sho_packet, state)
    assert [m for step in report["steps"] for m in step["messages"]] == [
        "OTA packet CNTR 0000000001 to TAR B00000: 1 command(s) in 1 SMS; PoR 00 POR_OK, integrity verified"]
    run_script(known_answer_script(factory / "known-answers.apdu"), state)
    validate(factory)
    assert_no_secret_in([Path(factory / result["script"])], list(sho.values()))


@pytest.mark.slow
def test_bootstrap_batches_run_in_flat_memory(tmp_path):
    """Peak memory of `mcim bench bootstrap` for 2,000 and 8,000 cards: four times the cards, the same memory
    (a few MB of allowance for allocator noise).  Speed is the benchmark's business, not asserted here."""
    peaks = []
    for cards in (2000, 8000):
        done = mcim("bench", "bootstrap", "--cards", str(cards), "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["cards"] == cards
        peaks.append(report["peak_rss_mb"])
    assert peaks[1] - peaks[0] < 4.0, peaks
