"""`mcim milenage` (the contract checker covers set 1; these cover the other options and the errors)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from mcim.cli.main import cli

from tests.conftest import load_vectors

SETS = load_vectors()["milenage_ts35208"]["test_sets"]


def run(*args, env=None):
    return CliRunner().invoke(cli, ["milenage", *args], env=env)


def base(t, key_args):
    return [*key_args, "--rand", t["RAND"], "--sqn", t["SQN"], "--amf", t["AMF"], "--json"]


@pytest.mark.parametrize("t", SETS, ids=lambda t: f"set{t['set']}")
def test_opc_from_file_and_env(t, tmp_path):
    kfile = tmp_path / "k.hex"
    kfile.write_text(t["K"] + "  # subscriber key\n")
    result = run(*base(t, ["--k-file", str(kfile), "--opc-env", "OPC"]), env={"OPC": t["OPc"]})
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["res"], out["ck"], out["ik"], out["ak"], out["ak_star"], out["mac_s"]) == (
        t["f2"], t["f3"], t["f4"], t["f5"], t["f5star"], t["f1star"])
    assert len(out["auts"]) == 28


def test_human_output_lists_every_value():
    t = SETS[0]
    result = run("--insecure-key-arg", "--k", t["K"], "--op", t["OP"], "--rand", t["RAND"], "--sqn", t["SQN"],
                 "--amf", t["AMF"])
    assert result.exit_code == 0
    assert f"res      {t['f2']}" in result.output


def test_explicit_default_constants_give_the_same_result():
    t = SETS[1]
    args = base(t, ["--insecure-key-arg", "--k", t["K"], "--opc", t["OPc"]])
    plain = json.loads(run(*args).output)
    explicit = json.loads(run(*args, "--c1", "00" * 16, "--c3", "00" * 15 + "02", "--r1", "64", "--r5", "96").output)
    assert plain == explicit
    other = json.loads(run(*args, "--r2", "8").output)
    assert other["res"] != plain["res"]


@pytest.mark.parametrize("extra", [
    [],  # neither OP nor OPc
    ["--op", "00" * 16, "--opc", "00" * 16],
    ["--opc", "00" * 15],
    ["--opc", "00" * 16, "--c2", "0102"],
    ["--opc", "00" * 16, "--r2", "200"],
])
def test_bad_input_exits_2(extra):
    t = SETS[0]
    result = run("--insecure-key-arg", "--k", t["K"], *extra, "--rand", t["RAND"], "--sqn", t["SQN"], "--amf",
                 t["AMF"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_literal_key_needs_insecure_flag():
    t = SETS[0]
    result = run("--k", t["K"], "--opc", t["OPc"], "--rand", t["RAND"], "--sqn", t["SQN"], "--amf", t["AMF"])
    assert result.exit_code == 2
    assert t["K"] not in result.output
