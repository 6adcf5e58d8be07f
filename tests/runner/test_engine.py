"""The driver loop over an in-test fake card (a table of answers): expectations, captures, variables, secrets,
policies, errors, the T=0 layer and directive wrappers."""

import itertools

import pytest
from mcim.errors import BadMac, TransportError
from mcim.runner import Kind, Status, run_script
from mcim.script import ScriptErrors, parse_script, register_directive, resolve_includes
from mcim.script.directives import check_arity


class TableCard:
    def __init__(self, answers, atr="3b00"):
        self.answers, self.atr, self.sent = answers, atr, []

    def transmit(self, command):
        self.sent.append(command.hex())
        answer = self.answers.get(command.hex(), "6d00")
        if isinstance(answer, Exception):
            raise answer
        return bytes.fromhex(answer)

    def reset(self):
        self.sent.append("reset")
        return bytes.fromhex(self.atr)

    def close(self):
        pass


ANSWERS = {"00a40004023f0000": "620382017800" + "9000", "00b000000a": "98101032547698103254" + "9000",
           "00b0000002": "6282", "00a4040402aabb00": "6a82"}


def run(text, answers=ANSWERS, **options):
    card = TableCard(answers)
    clock = itertools.count(0, 0.001).__next__
    return run_script(resolve_includes(parse_script(text, "t.apdu")), card, clock=clock, **options), card


def test_expectations_hold():
    result, card = run("00 A4 00 04 02 3F00 [00] => 61XX | 9000 data 62 03 82 01 78 ...\n"
                       "00 B0 00 00 0A => 9000 data ~ /^9810(10)?32/\n")
    assert result.passed and result.exit_code == 0
    assert card.sent == ["00a40004023f0000", "00b000000a"]
    assert [o.status for o in result.outcomes] == [Status.PASSED, Status.PASSED]


@pytest.mark.parametrize("expect, message, got", [
    ("=> 9000", "status word 6282 (end of file or record reached before reading Le bytes), expected 9000", "6282"),
    ("=> 62XX data 01 02", "response has 0 data bytes, expected 2", ""),
])
def test_failed_expectation_says_expected_and_got(expect, message, got):
    result, _ = run(f"00 B0 00 00 02 {expect}\n")
    (outcome,) = result.outcomes
    assert outcome.status is Status.FAILED and outcome.message == message and outcome.got == got
    assert outcome.where == "t.apdu:1:1" and result.exit_code == 1


def test_data_pattern_mismatch_names_the_first_byte():
    result, _ = run("00 B0 00 00 0A => 9000 data 98 10 10 33 ...\n")
    assert result.outcomes[0].message == "response data differs from byte 3 on"
    assert result.outcomes[0].expected == "data 98 10 10 33 ..."


def test_stop_policy_skips_the_rest_and_continue_goes_on():
    text = "step a\n00 B0 00 00 02 => 9000\nstep b\n00 B0 00 00 0A => 9000\n"
    stopped, card = run(text)
    assert [s.status for s in stopped.steps] == [Status.FAILED, Status.SKIPPED]
    assert card.sent == ["00b0000002"]
    going, card = run(".expect continue\n" + text)
    assert [s.status for s in going.steps] == [Status.FAILED, Status.PASSED]
    assert going.exit_code == 1 and len(card.sent) == 2


def test_captures_feed_later_commands_and_are_reported():
    result, card = run("00 B0 00 00 0A\ncapture HEAD = data[0:2]\ncapture SW2 = sw[1]\n"
                       "00 A4 04 04 02 ${HEAD} 00\n", {**ANSWERS, "00a4040402981000": "9000"})
    assert card.sent[-1] == "00a4040402981000" and result.passed
    assert result.outcomes[0].captures == (("HEAD", "9810"), ("SW2", "00"))


def test_capture_from_a_short_response_fails():
    result, _ = run("00 B0 00 00 02\ncapture X = data[0:4]\n")
    assert result.outcomes[-1].kind is Kind.CAPTURE and result.outcomes[-1].status is Status.FAILED
    assert "the response has 0 data byte(s)" in result.outcomes[-1].message


def test_variables_from_env_file_and_command_line(tmp_path):
    (tmp_path / "k.hex").write_text("# the key\n0A0B\n")
    text = "set E = env MY_P2\nset K = file k.hex\n00 D6 00 ${E} ${L} ${K}\n"
    script = parse_script(text, str(tmp_path / "t.apdu"))
    card = TableCard({"00d60001020a0b": "9000"})
    result = run_script(resolve_includes(script), card, environ={"MY_P2": "01"}, variables={"L": b"\x02"})
    assert card.sent == ["00d60001020a0b"] and result.passed
    assert result.outcomes[0].command == "00d6000102****"
    assert result.trace[0].command == "00d6000102****"


def test_secret_captures_and_secret_sets_are_redacted_unless_unsafe():
    text = "set secret PIN = 31323334\n00 20 00 01 04 ${PIN}\n00 B0 00 00 0A\ncapture secret KI = data[2:6]\n"
    answers = {"00200001043132333431": "9000", "002000010431323334": "9000", "00b000000a": ANSWERS["00b000000a"]}
    result, _ = run(text, answers)
    assert [e.command for e in result.trace] == ["0020000104********", "00b000000a"]
    assert result.trace[1].response == "9810********98103254" + "9000"
    assert result.outcomes[1].captures == (("KI", "(secret)"),)
    unsafe, _ = run(text, answers, unsafe_trace=True)
    assert unsafe.trace[0].command == "002000010431323334"


def test_secrets_are_masked_in_error_messages_too():
    script = resolve_includes(parse_script("set secret PIN = 31323334\n00 20 00 01 04 ${PIN}\n", "t.apdu"))
    card = TableCard({"002000010431323334": TransportError("card said 31323334 twice: 3132333431323334")})
    result = run_script(script, card)
    assert "3132" not in str(result.error) and "3132" not in result.outcomes[0].message
    assert str(result.error) == "card said ******** twice: ****************" and result.exit_code == 3


def test_secrets_from_outside():
    result, _ = run("00 20 00 01 02 ${K}\n", {"002000010299aa": "9000"}, secret_variables={"K": b"\x99\xaa"})
    assert result.trace[0].command == "0020000102****"


@pytest.mark.parametrize("text, message", [
    ("00 B0 00 00 ${NOPE}\n", "t.apdu:1:13: undefined variable ${NOPE}"),
    ("set X = env NOT_SET_ANYWHERE\n", "environment variable NOT_SET_ANYWHERE is not set"),
    ("set X = 0102\n00 A4 04 00 05 ${X}\n", "not a valid APDU"),
    ("set secret X = env BAD\n", "environment variable BAD is not hex"),
])
def test_bad_input_at_run_time_stops_with_exit_2(text, message):
    result, _ = run(text, environ={"BAD": "zz-secret"})
    assert result.exit_code == 2 and message in str(result.error) and "zz-secret" not in str(result.error)
    assert result.outcomes[-1].status is Status.ERROR


def test_unreachable_card_stops_with_exit_3():
    result, _ = run("step a\n00 B0 00 00 0A\nstep b\n00 B0 00 00 0A\n",
                    {"00b000000a": TransportError("reader gone")})
    assert result.exit_code == 3 and [s.status for s in result.steps] == [Status.ERROR, Status.SKIPPED]


def test_raw_commands_are_sent_as_written():
    result, card = run("raw 00 A4 04\n", {"00a404": "6700"})
    assert card.sent == ["00a404"] and result.passed


def test_a_script_that_does_not_check_sends_nothing():
    card = TableCard(ANSWERS)
    with pytest.raises(ScriptErrors, match="unknown directive .nosuch"):
        run_script(resolve_includes(parse_script("00 B0 00 00 0A\n.nosuch\n", "t.apdu")), card)
    assert card.sent == []


def test_reset_echo_and_trace_timings():
    result, card = run(".note starting\n.reset\n00 B0 00 00 0A => 9000\n")
    assert card.sent == ["reset", "00b000000a"]
    assert result.steps[0].messages == ("starting",)
    assert result.trace[0].atr == "3b00" and result.trace[0].command is None
    assert [o.kind for o in result.outcomes] == [Kind.RESET, Kind.COMMAND]
    assert result.trace[1].to_json()["where"] == "t.apdu:3:1"
    assert result.trace[1].duration == pytest.approx(0.001)


def test_procedure_bytes_are_followed_unless_asked_not_to():
    answers = {"00a40004023f0000": "6103", "00c0000003": "6201789000"}
    result, card = run("00 A4 00 04 02 3F00 [00] => 9000 data 62 01 78\n", answers)
    assert result.passed and card.sent == ["00a40004023f0000", "00c0000003"]
    assert result.outcomes[0].response == "6201789000"
    raw, card = run("00 A4 00 04 02 3F00 [00] => 61XX\n", answers, procedure_bytes=False)
    assert raw.passed and card.sent == ["00a40004023f0000"]


def test_steps_and_sections_group_outcomes():
    result, _ = run("00 B0 00 00 0A\nsection S\n00 B0 00 00 0A\nstep one\n00 B0 00 00 0A\nstep two\n")
    assert [(s.name, s.section, len(s.outcomes)) for s in result.steps] == [
        ("t.apdu", None, 1), ("S", "S", 1), ("one", "S", 1), ("two", "S", 0)]


# -- directive wrappers: a test-only immediate wrapper (appends a tag) and a deferring one (a batch) ----------


class TagWrapper:
    """Wraps like a MAC would: adds bytes on the way out and checks them on the way back."""

    def transmit(self, command, send):
        response = send(command + b"\xee")
        if not response.startswith(b"\xee"):
            raise BadMac("response tag missing")
        return response[1:]

    def close(self, send):
        return []


class Tag:
    def check(self, directive):
        check_arity(directive, positional=1, usage=".test-tag on|off")

    def run(self, directive, ctx):
        if directive.args[0] == "on":
            ctx.push(TagWrapper())
        else:
            ctx.pop(TagWrapper)


class BatchWrapper:
    """Collects commands and sends them as one when closed; answers each from the concatenated reply."""

    def __init__(self, drop_last):
        self.commands, self.drop_last = [], drop_last

    def transmit(self, command, send):
        self.commands.append(command)
        return None

    def close(self, send):
        reply = send(b"\x80\xe0\x00\x00" + bytes((sum(map(len, self.commands)),)) + b"".join(self.commands))
        answers = [reply[k:k + 2] for k in range(0, len(reply) - 2, 2)]
        return answers[:-1] if self.drop_last else answers


class Batch:
    def check(self, directive):
        check_arity(directive, positional=1, options=("drop",), usage=".test-batch begin|end [drop=1]")

    def run(self, directive, ctx):
        if directive.args[0] == "begin":
            ctx.push(BatchWrapper("drop" in directive.options))
            ctx.say(f"batch begins with {ctx.random(2).hex()}")
        else:
            ctx.pop(BatchWrapper)


register_directive("test-tag", Tag())
register_directive("test-batch", Batch())


def test_wrapper_wraps_commands_until_popped_and_integrity_failures_fail():
    answers = {"00b0000001ee": "ee019000", "00b0000002ee": "019000", "00b0000003": "9000"}
    result, card = run(".test-tag on\n00 B0 00 00 01 => 9000 data 01\n00 B0 00 00 02\n.test-tag off\n"
                       "00 B0 00 00 03\n", answers)
    assert card.sent == ["00b0000001ee", "00b0000002ee"]
    assert result.outcomes[0].status is Status.PASSED
    assert result.outcomes[1].status is Status.FAILED and "response tag missing" in result.outcomes[1].message


def test_deferred_commands_are_checked_when_the_batch_closes():
    text = (".test-batch begin\n00 B0 00 00 01 => 9000\n00 B0 00 00 02 => 6A82\ncapture A = sw\n"
            ".test-batch end\n00 A4 04 00 02 ${A} => 9000\n")
    answers = {"80e000000a00b000000100b0000002": "90006a829000", "00a40400026a82": "9000"}
    result, card = run(text, answers, random=lambda n: b"\x5a" * n)
    assert card.sent == ["80e000000a00b000000100b0000002", "00a40400026a82"]
    assert result.passed and len(result.outcomes) == 3 and result.outcomes[1].captures == (("A", "6a82"),)
    assert result.steps[0].messages == ("batch begins with 5a5a",)


def test_a_capture_from_a_batch_cannot_be_used_before_it_closes():
    text = ".test-batch begin\n00 B0 00 00 01\ncapture A = sw\n00 A4 04 00 02 ${A}\n.test-batch end\n"
    result, _ = run(text, {"80e000000500b0000001": "9000"})
    assert result.exit_code == 2 and "only arrives when the batch opened at t.apdu:1:1 closes" in str(result.error)


def test_a_command_the_batch_did_not_answer_fails():
    text = ".expect continue\n.test-batch begin drop=1\n00 B0 00 00 01\n00 B0 00 00 02\n.test-batch end\n"
    result, _ = run(text, {"80e000000a00b000000100b0000002": "900090009000"})
    assert [o.status for o in result.outcomes] == [Status.PASSED, Status.FAILED]
    assert "not executed" in result.outcomes[1].message


def test_open_wrappers_are_closed_at_the_end_and_reset_refuses_to_break_them():
    result, card = run(".test-batch begin\n00 B0 00 00 01 => 9000\n", {"80e000000500b0000001": "90009000"})
    assert result.passed and card.sent == ["80e000000500b0000001"]
    refused, _ = run(".test-tag on\n.reset\n")
    assert refused.exit_code == 2 and "a reset would end the open secure channel" in str(refused.error)


def test_popping_what_is_not_open_is_an_error():
    result, _ = run(".test-tag off\n")
    assert result.exit_code == 2 and "no TagWrapper is open" in str(result.error)
