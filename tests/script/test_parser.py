"""The .apdu parser: what each statement means, and every error kind with its file:line:column."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcim.errors import McimError
from mcim.script import ScriptErrors, parse_script
from mcim.script.ast import (
    Blank,
    Capture,
    CaptureSource,
    Command,
    Comment,
    DataPattern,
    DataRegex,
    Directive,
    EnvRef,
    Expect,
    FileRef,
    Include,
    Masked,
    Section,
    SetVar,
    Step,
    SwPattern,
    Template,
    Var,
)


def one(text):
    (statement,) = parse_script(text, "t.apdu").statements
    return statement


def test_command_with_le_marker_and_sw_alternatives():
    cmd = one("00 A4 04 00 07 A0000000871002 [00]  => 61XX | 9000  # select USIM")
    assert cmd == Command(Template((bytes.fromhex("00a4040007a000000087100200"),)),
                          Expect((SwPattern(0x6100, 0xFF00), SwPattern(0x9000))), comment=" select USIM")
    assert str(cmd.pos) == "t.apdu:1:1"


def test_sw_written_as_two_bytes_and_lowercase_wildcards():
    assert one("00B0000001 => 90 00 | 6x8?").expect.sw == (SwPattern(0x9000), SwPattern(0x6080, 0xF0F0))


def test_data_pattern_with_wildcards_variables_and_open_end():
    expect = one("00B0000005 => 9000 data 62 XX ${T} 6x ...").expect
    assert expect.data == DataPattern((Masked(b"\x62\x00", b"\xff\x00"), Var("T"), Masked(b"\x60", b"\xf0")),
                                      open_end=True)
    assert one("00B0000000 => 9000 data").expect.data == DataPattern(())


def test_regex_keeps_everything_but_slash_escapes():
    assert one(r"00B0000002 => 9000 data ~ /^98\/1\d/").expect.data == DataRegex(r"^98/1\d")


def test_variables_and_raw():
    cmd = one("raw ${CLA} A4 ${P1}")
    assert cmd.raw and cmd.apdu == Template((Var("CLA"), b"\xa4", Var("P1")))


def test_continuation_lines_keep_positions():
    script = parse_script("00 D6 00 00 \\\n  04 01020304 => 9000\n", "t.apdu")
    assert str(script.statements[0].pos) == "t.apdu:1:1"
    assert script.statements[0].apdu == Template((bytes.fromhex("00d600000401020304"),))
    with pytest.raises(ScriptErrors) as err:
        parse_script("00 B0 00 00 \\\n 01 ZZ\n", "t.apdu")
    assert err.value.where == "t.apdu:2:5"


@pytest.mark.parametrize("text, statement", [
    ("set AID = A0 00 ${X}", SetVar("AID", Template((b"\xa0\x00", Var("X"))))),
    ("set secret K = env MCIM_K", SetVar("K", EnvRef("MCIM_K"), secret=True)),
    ('set K = file "my keys/k.hex"', SetVar("K", FileRef("my keys/k.hex"), secret=True)),
    ("capture FCP = data[2:4]", Capture("FCP", CaptureSource.DATA, None, 2, 4)),
    ("capture S = sw", Capture("S", CaptureSource.SW)),
    ("capture secret B = response[3]", Capture("B", CaptureSource.RESPONSE, index=3, secret=True)),
    ("capture T = data[:4]", Capture("T", CaptureSource.DATA, stop=4)),
    ("capture T = data[0:]", Capture("T", CaptureSource.DATA)),
    ("include common/mf.apdu", Include("common/mf.apdu")),
    ("step Select MF  # why", Step("Select MF", " why")),
    ('section "EF #1"', Section("EF #1")),
    ('.scp03 open keyset=1 "two words" enc=${K}', Directive("scp03", ("open", "keyset=1", "two words", "enc=${K}"))),
    (".RESET", Directive("reset")),
    ("   # indented comment", Comment(" indented comment")),
    ("   ", Blank()),
])
def test_statements(text, statement):
    assert one(text) == statement


def test_directive_options():
    directive = one(".ota begin tar=B00001 spi=1621")
    assert directive.positional == ("begin",) and directive.options == {"tar": "B00001", "spi": "1621"}


ERRORS = [
    ("00 A4 0 00", "1:7", "odd number of hex digits"),
    ("00 A4 0G 00", "1:8", "'G' is not a hex digit"),
    ("SELECT 3F00", "1:1", "unknown statement 'SELECT'"),
    ("00 A4 ${1X}", "1:7", "malformed variable reference"),
    ("00 A4 ${X", "1:7", "malformed variable reference"),
    ("00B00000 [0A", "1:10", "unclosed ["),
    ("00B00000 []", "1:10", "empty []"),
    ("00B00000 [0A] 00", "1:15", "after [Le]"),
    ("=> 9000", "1:1", "expected the command in hex"),
    ("00 A4 04 00 07 A000", "1:1", "not a valid APDU"),
    ("00 A4 04 00 02 3F [00 00]", "1:1", "is not the Le field"),
    ("00B0000001 => 90", "1:15", "expected a status word"),
    ("00B0000001 => 9000 | ", "1:22", "expected a status word"),
    ("00B0000001 => 9000 bogus", "1:20", "unexpected 'bogus'"),
    ("00B0000001 => 9000 data 6Z", "1:26", "'Z' is not a hex digit or wildcard"),
    ("00B0000001 => 9000 data 621", "1:25", "odd number of digits"),
    ("00B0000001 => 9000 data ... 62", "1:29", "after ..."),
    ("00B0000001 => 9000 data ~ 98", "1:27", "expected /regex/"),
    ("00B0000001 => 9000 data ~ /98", "1:27", "unterminated regular expression"),
    ("00B0000001 => 9000 data ~ /(98/", "1:28", "bad regular expression"),
    ("set = 00", "1:5", "expected a variable name"),
    ("set X 00", "1:7", "expected '='"),
    ("set X =", "1:8", "expected a value"),
    ("set X = file", "1:13", "expected a file name"),
    ("set X = env 9", "1:13", "expected an environment variable name"),
    ("capture X = header", "1:13", "unknown capture source 'header'"),
    ("capture X = data[2", "1:19", "unexpected end of line"),
    ("capture X = data[]", "1:18", "expected a byte offset"),
    ("include", "1:8", "expected a file name"),
    ("step   # nothing", "1:8", "expected a title"),
    (".1x", "1:2", "malformed directive name"),
    (".echo! hi", "1:2", "malformed directive name"),
    ('.echo "open', "1:7", "unterminated string"),
]


@pytest.mark.parametrize("text, where, message", ERRORS)
def test_error_positions(text, where, message):
    with pytest.raises(ScriptErrors) as err:
        parse_script(text + "\n", "t.apdu")
    (error,) = err.value.errors
    assert error.where == f"t.apdu:{where}" and message in error.message, str(error)
    assert error.expected


def test_all_errors_reported_at_once():
    with pytest.raises(ScriptErrors) as err:
        parse_script("00 A4 0G\n00 B0 00 00 01\nstep\n.1\n", "t.apdu")
    assert [e.where for e in err.value.errors] == ["t.apdu:1:8", "t.apdu:3:5", "t.apdu:4:2"]
    assert "(and 2 more)" in str(err.value)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_any_text_parses_or_raises_an_mcim_error(text):
    try:
        parse_script(text, "fuzz.apdu")
    except McimError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["00", "A4", "${X}", "[", "]", "=>", "9000", "|", "61XX", "data", "~", "/9./",
                                 "...", "XX", "#", "set", "capture", "=", "step", ".echo", '"', "\\", " ", "\n",
                                 "raw", "sw[1:]", "env", "file", "include"]), max_size=25))
def test_token_soup_parses_or_raises_an_mcim_error(tokens):
    try:
        parse_script(" ".join(tokens), "fuzz.apdu")
    except McimError:
        pass
