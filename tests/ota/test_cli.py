"""`mcim ota build|por`, `mcim decode envelope|sms|packet`, `mcim bench ota` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from mcim.cli.main import cli

from tests.conftest import load_vectors

V = load_vectors()
COMMANDS = V["ts102225_secured_packets"]["command_packets"]
RESPONSES = V["ts102225_secured_packets"]["response_packets"]
SMS_PP = V["sms_pp_envelope_examples"]
ALG = {0x1: "des", 0x5: "3des2", 0x9: "3des3", 0x2: "aes"}


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _keys(t: dict) -> list[str]:
    args = ["--insecure-key-arg"]
    for name in ("kic", "kid"):
        if t.get(f"{name}_key"):
            args += [f"--{name}", t[f"{name}_key"]]
    return args


def _build_args(t: dict) -> list[str]:
    kic, kid = int(t["kic"], 16), int(t["kid"], 16)
    spi = int(t["spi"], 16)
    kid_alg = "crc32" if spi >> 8 & 0x3 == 1 else ALG[kid & 0xF]  # the KID byte is sent even without integrity
    return ["ota", "build", *_keys(t), "--kic-alg", ALG[kic & 0xF], "--kid-alg", kid_alg,
            "--kic-index", str(kic >> 4), "--kid-index", str(kid >> 4), "--spi", t["spi"], "--tar", t["tar"],
            "--cntr", str(int(t["cntr"], 16)), "--apdu", t["secured_data"], "--originator", "1234",
            "--scts", "62408011934280", "--json"]


@pytest.mark.parametrize("t", [t for t in COMMANDS if t.get("kic_key")], ids=lambda t: t["name"])
def test_build_reproduces_vectors(t: dict) -> None:
    code, out, err = _run(*_build_args(t))
    assert code == 0, err
    result = json.loads(out)
    assert result["packet"] == t["expected_packet"]
    assert result["tp_ud"] == ["027000" + t["expected_packet"]]
    assert result["envelope"][0].startswith("80c20000") and result["sms_deliver"][0] in result["envelope"][0]


@pytest.mark.parametrize("t", RESPONSES, ids=lambda t: t["name"])
def test_por_verifies_vectors(t: dict) -> None:
    kic, kid = int(t["kic"], 16), int(t["kid"], 16)
    code, out, err = _run("ota", "por", *_keys(t), "--kic-alg", ALG[kic & 0xF], "--kid-alg", ALG[kid & 0xF],
                          "--spi", t["spi"], "--data", t["user_data"], "--cntr", "0", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == int(t["expected_response_status"], 16) and result["status_name"] == "POR_OK"
    assert result["data"] == t["expected_additional_data"]
    assert result["integrity"] == ("none" if t["spi"].endswith("01") else "verified")
    assert result["responses"]["count"] == 1


def test_por_with_wrong_key_reports_failed_and_exits_1() -> None:
    t = RESPONSES[0]
    code, out, err = _run("ota", "por", "--insecure-key-arg", "--kic", t["kic_key"], "--kid", "00" * 16,
                          "--kic-alg", "3des2", "--kid-alg", "3des2", "--spi", t["spi"], "--data", t["user_data"],
                          "--json")
    assert code == 1 and json.loads(out)["integrity"] == "failed"
    assert err.count("\n") == 1 and "CC does not verify" in err


def test_por_from_send_short_message() -> None:
    a = SMS_PP["asterix_envelope_and_send_sm_por"]
    code, out, err = _run("ota", "por", "--insecure-key-arg", "--kic", a["kic_key"], "--kic-alg", "3des2",
                          "--kid-alg", "crc32", "--spi", a["spi"], "--data", a["send_sm_proactive_command"],
                          "--cntr", str(int(a["cntr"], 16)), "--json")
    assert code == 0, err
    assert json.loads(out)["responses"] == {"count": 1, "sw": "9000", "data": a["por_additional_data"][6:]}


def test_build_with_counter_store_and_concatenation(tmp_path: Path) -> None:
    key = tmp_path / "kic.hex"
    key.write_text("# KIc\n" + "11" * 16 + "\n")
    args = ["ota", "build", "--kic-file", str(key), "--kid-file", str(key), "--kic-alg", "aes", "--kid-alg", "aes",
            "--spi", "1639", "--tar", "b00001", "--counter-store", str(tmp_path / "c.db"), "--card", "8949",
            "--format", "expanded", "--apdu", "00d60000ff" + "00" * 255, "--json"]
    first, second = (json.loads(_run(*args)[1]) for _ in range(2))
    assert (first["cntr"], second["cntr"]) == (1, 2)
    assert len(first["envelope"]) == 3 and first["secured_data"].startswith("aa")


def test_decode_commands() -> None:
    a = SMS_PP["asterix_envelope_and_send_sm_por"]
    code, out, err = _run("decode", "envelope", a["envelope_data"], "--insecure-key-arg", "--kic", a["kic_key"],
                          "--json")
    assert code == 0, err
    packet = json.loads(out)["user_data"]["command_packet"]
    assert packet["secured_data"] == a["decrypted_secured_data"] and packet["integrity"] == "verified"
    code, out, _ = _run("decode", "sms", SMS_PP["onomondo_sms_deliver_decode"]["tpdu"], "--json")
    assert json.loads(out)["sms_deliver"]["originator"] == "55667788"
    code, out, _ = _run("decode", "packet", COMMANDS[6]["expected_packet"], "--json")
    assert json.loads(out)["command_packet"]["secured_data"] == COMMANDS[6]["secured_data"]
    t = RESPONSES[3]
    code, out, err = _run("decode", "packet", t["user_data"], "--spi", t["spi"], "--insecure-key-arg", "--kic",
                          t["kic_key"], "--kid", t["kid_key"], "--kic-alg", "aes", "--kid-alg", "aes", "--json")
    assert code == 0, err
    assert json.loads(out)["response_packet"]["integrity"] == "verified"


def test_bench_ota() -> None:
    code, out, err = _run("bench", "ota", "--count", "50", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert {"packets_per_second", "por_per_second"} <= set(result)


@pytest.mark.parametrize("args", [
    ["ota", "build", "--spi", "16", "--tar", "b00001", "--apdu", "00a40000"],
    ["ota", "build", "--spi", "1639", "--tar", "b00001", "--apdu", "00a4", "--kic-alg", "aes", "--kid-alg", "aes",
     "--insecure-key-arg", "--kic", "00" * 16, "--kid", "00" * 16, "--cntr", "1"],
    ["ota", "build", "--spi", "1639", "--tar", "b00001", "--apdu", "00a40000", "--kic-alg", "aes", "--kid-alg",
     "aes", "--kic", "00" * 16, "--kid", "00" * 16, "--cntr", "1"],
    ["ota", "build", "--spi", "1639", "--tar", "b00001", "--apdu", "00a40000", "--kic-alg", "aes", "--kid-alg",
     "aes", "--insecure-key-arg", "--kic", "00" * 15, "--kid", "00" * 16, "--cntr", "1"],
    ["ota", "build", "--spi", "1639", "--tar", "b00001", "--apdu", "00a40000", "--kic-alg", "aes", "--kid-alg",
     "aes", "--insecure-key-arg", "--kic", "00" * 16, "--kid", "00" * 16],
    ["ota", "build", "--spi", "1539", "--tar", "b00001", "--apdu", "00a40000", "--kic-alg", "aes", "--kid-alg",
     "aes", "--insecure-key-arg", "--kic", "00" * 16, "--cntr", "1"],
    ["ota", "build", "--spi", "1639", "--tar", "b00001", "--apdu", "00a40000", "--kic-alg", "des", "--kid-alg",
     "aes", "--insecure-key-arg", "--kic", "00" * 8, "--kid", "00" * 16, "--cntr", "1"],
    ["ota", "build", "--spi", "1739", "--tar", "b00001", "--apdu", "00a40000", "--kic-alg", "aes", "--kid-alg",
     "aes", "--insecure-key-arg", "--kic", "00" * 16, "--kid", "00" * 16, "--cntr", "1"],
    ["ota", "por", "--spi", "0601", "--data", "027100zz"],
    ["ota", "por", "--spi", "0601", "--data", "0271000001"],
    ["ota", "por", "--spi", "0619", "--data", RESPONSES[0]["user_data"], "--kic-alg", "3des2", "--kid-alg", "3des2"],
    ["decode", "envelope", "d102"],
    ["decode", "sms", "43"],
    ["decode", "packet", "0010"],
    ["decode", "packet", COMMANDS[0]["expected_packet"], "--insecure-key-arg", "--kic", "00" * 16],
])
def test_malformed_input_exits_2_with_one_line(args: list[str]) -> None:
    code, out, err = _run(*args)
    assert code == 2, out + err
    assert err.startswith("mcim: error: ") and err.count("\n") == 1 and "Traceback" not in out + err
