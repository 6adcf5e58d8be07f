"""`mcim kcv`, `mcim diversify`, `mcim scp03 trace`, `mcim scp02 trace`, `mcim bench scp03`; and the shared
contract checker's `kcv` and `scp03` sections run against the installed `mcim`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from mcim.cli import gp
from mcim.cli.main import cli

from tests.conftest import SHARED, load_vectors

VECTORS = load_vectors()
SCP03 = VECTORS["scp03"]
PLAIN = SCP03["pysim_plain_apdus"]
ISD_R_AID = "A0000005591010FFFFFFFF8900000100"  # GSMA SGP.02/SGP.22 ISD-R


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env)


def as_json(*args, env=None):
    result = run(*args, "--json", env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("v", VECTORS["gp_key_check_values"]["vectors"], ids=lambda v: v["name"])
def test_kcv(v, tmp_path):
    algo = "aes" if v["key_type"] == "aes" else "3des"
    assert as_json("kcv", "--insecure-key-arg", "--key", v["key"], "--algo", algo) == {"kcv": v["kcv"]}
    key_file = tmp_path / "key.hex"
    key_file.write_text(v["key"] + "  # a test key\n")
    assert as_json("kcv", "--key-file", str(key_file), "--algo", algo)["kcv"] == v["kcv"]
    assert as_json("kcv", "--key-env", "K", "--algo", algo, env={"K": v["key"]})["kcv"] == v["kcv"]


def test_kcv_refuses_a_literal_key_without_the_flag():
    result = run("kcv", "--key", "404142434445464748494a4b4c4d4e4f", "--algo", "aes")
    assert result.exit_code == 2 and "4041" not in result.output


@pytest.mark.parametrize(("scheme", "kcvs"), [
    ("emv", ("c33013", "6f4ca6", "bb8179")), ("visa2", ("2be598", "58da38", "3c328e")),
    ("kdf3", ("e79c05", "d1bd77", "3fde8c"))])
def test_diversify_globalplatformpro_vectors(scheme, kcvs):
    # GlobalPlatformPro TestPlaintextKeys (martinpaljak/GlobalPlatformPro@7f524e3), master 4041..4F, KDD 00..09.
    out = as_json("diversify", "--scheme", scheme, "--master-key-env", "MK", "--kdd", "00010203040506070809",
                  env={"MK": "404142434445464748494A4B4C4D4E4F"})
    assert (out["kcv"]["enc"], out["kcv"]["mac"], out["kcv"]["dek"]) == kcvs
    assert len(out["enc"]) == len(out["mac"]) == len(out["dek"]) == 32


def trace_args(t):
    ks = SCP03["pysim_keysets"][t["keyset"]]
    response = bytes.fromhex(t["init_update_rsp"])
    args = ["scp03", "trace", "--insecure-key-arg", "--enc", ks["enc"], "--mac", ks["mac"], "--dek", ks["dek"],
            "--kvn", ks["kvn"], "--host-challenge", t["init_update_cmd"][10:26],
            "--card-challenge", response[13:21].hex(), "--seq-counter", response[29:32].hex(),
            "--kdd", response[:10].hex(), "--level", t["ext_auth_cmd"][4:6], "--sd-aid", ISD_R_AID,
            "--apdu", PLAIN["get_eid_cmd"] + ":" + t["get_eid_rsp"] + "9000"]
    for case in ("case_1", "case_2", "case_3", "case_4"):
        args += ["--apdu", PLAIN[case]]
    return args


@pytest.mark.parametrize("t", SCP03["pysim_card_traces"], ids=lambda t: t["name"])
def test_scp03_trace_pysim(t):
    out = as_json(*trace_args(t))
    assert out["initialize_update"] == t["init_update_cmd"]
    assert out["initialize_update_response"] == t["init_update_rsp"]
    assert out["external_authenticate"] == t["ext_auth_cmd"]
    assert [c["wrapped"] for c in out["commands"]] == [t["get_eid_cmd"]] + [t[c] for c in
                                                                           ("case_1", "case_2", "case_3", "case_4")]
    assert [c["enc_counter"] for c in out["commands"]] == [1, 2, 3, 4, 5]
    assert out["responses"] == [{"command": 0, "wrapped": t["get_eid_rsp"] + "9000",
                                 "plain": PLAIN["get_eid_rsp"] + "9000",
                                 "verified": bool(int(t["ext_auth_cmd"][4:6], 16) & 0x10)}]


def test_scp03_trace_human_output_and_bad_rmac():
    t = SCP03["pysim_card_traces"][2]  # level 33
    result = run(*trace_args(t))
    assert result.exit_code == 0 and "EXTERNAL AUTHENTICATE" in result.output and "R-MAC verified" in result.output
    args = trace_args(t)
    args[args.index("--apdu") + 1] = PLAIN["get_eid_cmd"] + ":" + t["get_eid_rsp"][:-2] + "009000"
    result = run(*args)
    assert result.exit_code == 1 and "R-MAC" in result.output


def test_scp03_trace_needs_a_counter_for_pseudo_random_challenges():
    args = trace_args(SCP03["pysim_card_traces"][0])
    del args[args.index("--seq-counter"):args.index("--seq-counter") + 2]
    assert run(*args, "--i", "70").exit_code == 2
    # Without a counter the card is taken to use random challenges (i=60): the session itself is the same.
    out = as_json(*args)
    assert out["initialize_update_response"] == SCP03["pysim_card_traces"][0]["init_update_rsp"][:58].replace(
        "300370", "300360")
    assert out["responses"][0]["verified"]


def test_scp02_trace_pysim():
    # pySim SCP02_Test (osmocom/pysim@078ac2b): KVN 20 asked, the card's answer is rebuilt with KVN 20.
    out = as_json("scp02", "trace", "--insecure-key-arg", "--enc", "100102030405060708090a0b0c0d0e0f",
                  "--mac", "101102030405060708090a0b0c0d0e0f", "--dek", "102102030405060708090a0b0c0d0e0f",
                  "--kvn", "20", "--host-challenge", "40A62C37FA6304F8", "--card-challenge", "6B4524ABEE7C",
                  "--seq-counter", "0001", "--i", "15", "--apdu", "80F22002", "--apdu", "80ca006600",
                  "--apdu", "80F220020a4f0212345c054f9f70c5", "--apdu", "80f28002024f0000:9000")
    assert out["initialize_update"] == "805020000840a62c37fa6304f800"
    assert out["card_cryptogram"] == "f32ea3838bc148f3"
    assert out["external_authenticate"] == "8482010010ba6961667737c5bcebece14c7d6a4376"
    assert [c["wrapped"] for c in out["commands"]] == [
        "84f220020814db34fa4341dca8", "84ca00660855ed7c5ff069512b00",
        "84f22002124f0212345c054f9f70c58fc1b380c4228af8", "84f280020a4f003b95f09317de6a4e00"]
    assert out["responses"] == [{"command": 3, "wrapped": "9000", "plain": "9000", "verified": False}]


def test_bench_scp03_json():
    out = as_json("bench", "scp03", "--count", "50", "--level", "33")
    assert isinstance(out["apdus_per_second"], float) and out["count"] == 50 and out["level"] == "33"


def test_register_reuses_an_existing_bench_group():
    root = click.Group("root")
    existing = click.Group("bench")
    existing.add_command(click.Command("ota"))
    root.add_command(existing)
    gp.register(root)
    assert root.commands["bench"] is existing and set(existing.commands) == {"ota", "scp03"}


@pytest.mark.skipif(not (SHARED / "contract" / "check_cli_contract.py").exists(), reason="no contract checker")
def test_contract_checker_kcv_and_scp03():
    mcim = shutil.which("mcim", path=str(Path(sys.executable).parent))
    assert mcim is not None
    done = subprocess.run([sys.executable, str(SHARED / "contract" / "check_cli_contract.py"), "--mcim", mcim,
                           "kcv", "scp03"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
