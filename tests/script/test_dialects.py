"""Other tools' script formats in and out.

The PCOM sample follows the syntax of the public PCOM executors SIMSHELL (Intergalaxy, C `pcom` engine: `;`
comments, `\\` continuation, `(SW, SW)`, `[DATA]` prefix match with X wildcards, `.DEFINE %NAME`, W/R buffers
with 1-based `(pos;len)`) and sim_reader (`PcomExecutor` and its "PCOM Script Format Specification":
`.POWER_ON /COLD`, `.ALLUNDEFINE`, `.CALL`).  The GPShell samples follow kaoh/globalplatform's gpshell manual page
and its example scripts (helloInstall.txt, get_data_var.txt).  pySim-shell's `apdu` options are from
osmocom/pysim pySim-shell.py; the apdutool syntax from licel/jcardsim utils/APDUScriptTool.java.
"""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcim.errors import McimError
from mcim.runner import run_script
from mcim.script import check_script, load_script, parse_script, resolve_includes
from mcim.script.ast import (
    Capture,
    CaptureSource,
    Command,
    Comment,
    DataPattern,
    Directive,
    EnvRef,
    Expect,
    Masked,
    SetVar,
    SwPattern,
    Template,
    Var,
)
from mcim.script.dialects import UnsupportedConstructs, dialect_named, gpshell, pcom, writer

DATA = Path(__file__).parent / "data"
OK = SwPattern(0x9000)


def convert(text, to):
    return writer(dialect_named(to))(resolve_includes(parse_script(text, "s.apdu")))


def test_pcom_import():
    script = load_script(str(DATA / "perso.pcom")).root
    iccid = bytes.fromhex("98100000000000000010")
    assert script.statements == (
        Comment("; Personalise EF.ICCID on a GSM SIM"),
        Comment(" pcom: .ALLUNDEFINE (no effect in mcim: variables are not cleared)"),
        SetVar("ICCID", Template((iccid,))),
        Directive("reset", (), " .POWER_ON /COLD"),
        Command(Template((bytes.fromhex("a0a40000023f00"),)), Expect((SwPattern(0x9F22),)), comment=" select MF"),
        Capture("PCOM_W2_1", CaptureSource.SW, None, 1, 2),
        Command(Template((bytes.fromhex("a0c00000"), Var("PCOM_W2_1"))), Expect((OK,))),
        Command(Template((bytes.fromhex("a0a40000022fe2"),)), Expect((SwPattern(0x9F00, 0xFF00), OK))),
        Command(Template((bytes.fromhex("a0d600000a"), Var("ICCID"))), Expect((OK,))),
        Command(Template((bytes.fromhex("a0b000000a"),)), Expect((OK,), DataPattern((Var("ICCID"),), True))),
        Capture("FIRST", CaptureSource.DATA, None, 0, 2),
        Command(Template((bytes.fromhex("a0b000000a"),)),
                Expect((OK,), DataPattern((Masked(b"\x98\x10\x00", b"\xff\xff\x00"),), True))),
    )


class GsmSim:
    """A card that answers the PCOM sample like a GSM SIM (TS 51.011 §9.4: 9Fxx then GET RESPONSE)."""

    def __init__(self):
        self.sent = []
        self.ef = bytes(10)

    def transmit(self, command):
        self.sent.append(command.hex())
        if command[1] == 0xA4:
            return b"\x9f\x22"
        if command[1] == 0xC0:
            return bytes(command[4]) + b"\x90\x00"
        if command[1] == 0xD6:
            self.ef = command[5:]
        return (self.ef if command[1] == 0xB0 else b"") + b"\x90\x00"

    def reset(self):
        return bytes.fromhex("3b00")

    def close(self):
        pass


def test_imported_pcom_runs_with_w_taken_from_the_status_word():
    card = GsmSim()
    result = run_script(load_script(str(DATA / "perso.pcom")), card, procedure_bytes=False)
    assert result.passed, result
    assert card.sent[1] == "a0c0000022"  # GET RESPONSE with Le = SW2 of the SELECT
    assert dict(result.steps[0].outcomes[-2].captures) == {"FIRST": "9810"}


def test_pcom_unsupported_lines_are_listed():
    text = ".SET_BUFFER J 00\nA0A4 (9000) (6A82)\n.DEFINE %X R(1;2)\n.DEFINE 1X 00\n"
    with pytest.raises(UnsupportedConstructs) as err:
        pcom.read(text, "bad.pcom")
    assert [w for w, _ in err.value.problems] == ["bad.pcom:1:1", "bad.pcom:2:1", "bad.pcom:3:1", "bad.pcom:4:1"]
    assert "two expected status word groups" in str(err.value)


def test_pcom_export():
    text = ("# perso\nset IMSI = 08 29 ${X}\nstep write\n00 D6 00 00 09 ${IMSI} => 9000 | 91XX  # write\n"
            "00 B0 00 00 09 => 9000 data 08 29 XX ...\ncapture TAIL = data[2:9]\n.reset\n")
    conversion = convert(text, "pcom")
    assert conversion.text == (
        "; perso\n.DEFINE %IMSI 08 29 %X\n; step: write\n00 D6 00 00 09 %IMSI (9000,91XX)  ; write\n"
        "00 B0 00 00 09 [0829XX] (9000)\n.DEFINE %TAIL R(3;7)\n.POWER_ON\n")
    assert conversion.notes == ("steps and sections became comments",)


def test_pcom_export_reports_what_pcom_cannot_check():
    text = ("set K = file k.hex\n00 B0 00 00 02 => 9000 data 01 02\n00 B0 00 00 02 => 9000 data ~ /^01/\n"
            "capture X = data\n.expect continue\n")
    with pytest.raises(UnsupportedConstructs) as err:
        convert(text, "pcom")
    assert [w for w, _ in err.value.problems] == [f"s.apdu:{n}:1" for n in (1, 2, 3, 4, 5)]


def test_gpshell_import():
    script = load_script(str(DATA / "cplc.gpsh")).root
    source = str(DATA / "cplc.gpsh")
    assert script.statements[0] == SetVar("TAG", EnvRef("TAG"))
    assert script.statements[1:5] == tuple(Comment(f" gpshell: {c}") for c in
                                           ("mode_211", "enable_trace", "establish_context", "card_connect"))
    assert script.statements[5:8] == (
        Command(Template((bytes.fromhex("00a4040008a000000003000000"),)), Expect((OK,))),
        Command(Template((bytes.fromhex("80ca9f7f00"),)), Expect((OK,)), comment=" CPLC"),
        Command(Template((bytes.fromhex("80ca"), Var("TAG"), b"\x00")), None,
                comment=" gpshell: send_apdu_nostop, response not checked"),
    )
    assert str(script.statements[6].pos) == f"{source}:6:1"


def test_gpshell_secure_channel_and_card_management_are_listed():
    with pytest.raises(UnsupportedConstructs) as err:
        load_script(str(DATA / "install.gpsh"))
    lines = [int(where.split(":")[-2]) for where, _ in err.value.problems]
    assert lines == [4, 5, 6, 7]
    assert "'open_sc' has no mcim equivalent" in err.value.problems[0][1]
    assert "-sc 1 needs GPShell's secure channel" in err.value.problems[3][1]


def test_pysim_export():
    text = ("set AID = A0000000871002\n# select\n00 A4 04 04 07 ${AID} [00] => 61xx\n"
            "00 B0 00 00 04 => 9000 data 98 XX ...  # iccid\n00 B0 00 00 02 => 9000 data 01 0X\n"
            "00 B2 01 04 00 => 9000 data ~ /4f10/\n.reset\n.echo done\n")
    assert convert(text, "pysim").text == (
        "# select\napdu 00a4040407a000000087100200 --expect-sw 61xx\n# iccid\n"
        "apdu 00b0000004 --expect-sw 9000 --expect-response-regex '^98..'\n"
        "apdu 00b0000002 --expect-sw 9000 --expect-response-regex '^010.$'\n"
        "apdu 00b2010400 --expect-sw 9000 --expect-response-regex '(?i).*(?:4f10)'\n"
        "reset\necho done\n")


def test_pysim_export_lists_each_unsupported_line():
    text = "00 B0 00 00 01 => 9000 | 6282\ncapture X = data\n00 B0 00 00 ${L}\n.expect continue\n"
    with pytest.raises(UnsupportedConstructs) as err:
        convert(text, "pysim")
    assert [w for w, _ in err.value.problems] == [f"s.apdu:{n}:1" for n in (1, 2, 3, 4)]
    assert "${L} is not defined in the script" in err.value.problems[2][1]


def test_apdutool_export():
    text = "# cplc\n80 CA 9F 7F [00] => 9000\n00 A4 04 00 02 3F00\n.reset\n00 D6 00 00 01 AA  # one\n"
    conversion = convert(text, "apdutool")
    assert conversion.text == (
        "powerup;\n// cplc\n0x80 0xCA 0x9F 0x7F 0x00 0x100;\n// expect: 9000\n"
        "0x00 0xA4 0x04 0x00 0x02 0x3F 0x00 0x00;\npowerdown;\npowerup;\n"
        "// one\n0x00 0xD6 0x00 0x00 0x01 0xAA 0x00;\npowerdown;\n")
    assert "expectations were kept as // expect: comments" in conversion.notes[0]


def test_apdutool_export_needs_well_formed_apdus():
    with pytest.raises(UnsupportedConstructs, match="needs a well-formed APDU"):
        convert("raw 00 A4 04\n", "apdutool")


def test_native_and_jsonl_exports_keep_includes(tmp_path):
    text = "include other.apdu\n00 B0 00 00 [01]\n"
    (tmp_path / "other.apdu").write_text("00 B0 00 00 02\n")
    (tmp_path / "main.apdu").write_text(text)
    loaded = load_script(str(tmp_path / "main.apdu"))
    assert writer(dialect_named("apdu"))(loaded).text == text
    assert '"type": "include", "path": "other.apdu"' in writer(dialect_named("jsonl"))(loaded).text
    assert writer(dialect_named("pysim"))(loaded).text == "apdu 00b0000002\napdu 00b0000001\n"


def test_unknown_dialect():
    with pytest.raises(McimError, match="unknown script dialect"):
        dialect_named("tcl")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_readers_raise_only_mcim_errors(text):
    for read in (pcom.read, gpshell.read, dialect_named("jsonl").read):
        try:
            read(text, "fuzz")
        except McimError:
            pass


def test_check_accepts_imported_scripts():
    assert check_script(load_script(str(DATA / "perso.pcom"))).commands == 6
