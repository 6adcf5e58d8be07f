"""The differ's logic on two scripted fake cards: pairing, parts that differ, declarations and their scopes,
exit codes, reports, and `mcim diff` on the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from mcim.cli.main import cli
from mcim.diff import (
    Allowance,
    Part,
    Scope,
    TargetRun,
    compare_runs,
    declared_allowances,
    report_lines,
    report_to_json,
    run_diff,
)
from mcim.errors import BadInput, TransportError
from mcim.runner import run_script
from mcim.runner.result import Kind, Outcome, RunResult, Status, StepResult
from mcim.script import load_script
from mcim.script.loader import check_script, resolve_includes
from mcim.script.parser import parse_script

OK = "9000"


class ScriptedCard:
    """A fake transport answering each command from a table (hex -> hex response), 6D00 otherwise."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = {k.replace(" ", "").lower(): v.replace(" ", "").lower() for k, v in answers.items()}
        self.closed = False

    def transmit(self, command: bytes) -> bytes:
        return bytes.fromhex(self.answers.get(command.hex(), "6d00"))

    def reset(self) -> bytes:
        return bytes.fromhex("3b00")

    def close(self) -> None:
        self.closed = True


def loaded(text: str):
    script = resolve_includes(parse_script(text, "suite.apdu"))
    check_script(script)
    return script


def diff(text: str, first: dict[str, str], second: dict[str, str]):
    cards = ScriptedCard(first), ScriptedCard(second)
    report = run_diff(loaded(text), [("a", lambda: cards[0]), ("b", lambda: cards[1])])
    assert all(card.closed for card in cards)
    return report


SELECT = "00A4000C023F00"
READ = "00B0000002"


def test_identical_answers_make_no_difference():
    report = diff(f"{SELECT} => 9000\n{READ} => 9000\n", {SELECT: OK, READ: "12349000"},
                  {SELECT: OK, READ: "12349000"})
    assert report.compared == 2 and report.differences == () and report.passed and report.exit_code == 0


def test_an_undeclared_difference_fails_and_names_the_parts():
    report = diff(f"{SELECT}\n{READ}\n", {SELECT: OK, READ: "12349000"}, {SELECT: "6A82", READ: "12356982"})
    assert [(d.where, d.parts) for d in report.differences] == [
        ("suite.apdu:1:1", {Part.SW}), ("suite.apdu:2:1", {Part.SW, Part.DATA})]
    assert report.differences[1].responses == ("12349000", "12356982")
    assert not report.passed and report.exit_code == 1 and len(report.undeclared) == 2


def test_a_declaration_covers_the_next_command_only():
    text = f'.allow-difference data "serial numbers differ"\n{READ}\n{READ}\n'
    report = diff(text, {READ: "12349000"}, {READ: "56789000"})
    first, second = report.differences
    assert first.allowed and first.allowances[0].reason == "serial numbers differ"
    assert not second.allowed and second.allowances == ()
    assert report.exit_code == 1


def test_a_declaration_allows_only_the_parts_it_names():
    sw_only = diff(f'.allow-difference sw "x"\n{READ}\n', {READ: "12349000"}, {READ: "56786282"})
    assert sw_only.differences[0].parts == {Part.SW, Part.DATA} and not sw_only.passed
    both = diff(f'.allow-difference sw "x"\n.allow-difference data "y"\n{READ}\n', {READ: "12349000"},
                {READ: "56786282"})
    assert both.passed and len(both.differences[0].allowances) == 2
    response = diff(f'.allow-difference response "z"\n{READ}\n', {READ: "12349000"}, {READ: "56786282"})
    assert response.passed


def test_step_and_script_scopes():
    text = (f'step one\n.allow-difference sw "in this step" scope=step\n{SELECT}\n{READ}\n'
            f'step two\n{SELECT}\n')
    report = diff(text, {SELECT: OK, READ: OK}, {SELECT: "6A82", READ: "6A82"})
    assert [d.allowed for d in report.differences] == [True, True, False]
    everywhere = diff(f'{SELECT}\nstep later\n.allow-difference sw "always" scope=script\n{READ}\n',
                      {SELECT: OK, READ: OK}, {SELECT: "6A82", READ: "6A82"})
    assert everywhere.passed and all(d.allowed for d in everywhere.differences)


def test_a_command_one_target_did_not_run_is_never_allowed():
    text = f'.allow-difference response "anything" scope=script\n{SELECT} => 9000\n{READ}\n'
    report = diff(text, {SELECT: OK, READ: OK}, {SELECT: "6A82", READ: OK})
    select, read = report.differences
    assert select.allowed
    assert read.responses == ("9000", None) and not read.executed_by_both and not read.allowed
    assert not report.runs[1].result.passed and report.exit_code == 1


def test_a_failed_expectation_fails_the_report_without_a_difference():
    report = diff(f"{SELECT} => 6A82\n", {SELECT: OK}, {SELECT: OK})
    assert report.differences == () and not report.passed and report.exit_code == 1


def test_a_run_stopped_by_a_transport_error_gives_its_exit_code():
    class Unplugged(ScriptedCard):
        def transmit(self, command: bytes) -> bytes:
            raise TransportError("reader gone")

    report = run_diff(loaded(f"{SELECT}\n"), [("a", lambda: ScriptedCard({SELECT: OK})),
                                              ("b", lambda: Unplugged({}))])
    assert report.exit_code == 3 and "reader gone" in str(report.error)


def test_an_included_file_twice_pairs_by_occurrence(tmp_path):
    (tmp_path / "read.apdu").write_text(f"{READ}\n")
    (tmp_path / "suite.apdu").write_text("include read.apdu\ninclude read.apdu\n")
    script = load_script(str(tmp_path / "suite.apdu"))
    answers = iter(["12349000", "12349000", "12349000", "99999000"])

    class Sequenced(ScriptedCard):
        def transmit(self, command: bytes) -> bytes:
            return bytes.fromhex(next(answers))

    report = run_diff(script, [("a", lambda: Sequenced({})), ("b", lambda: Sequenced({}))])
    assert report.compared == 2 and len(report.differences) == 1
    assert report.differences[0].responses == ("12349000", "99999000")


@pytest.mark.parametrize("line, message", [
    ('.allow-difference atr "x"', "unknown part"),
    ('.allow-difference sw ""', "empty reason"),
    ('.allow-difference sw "x" scope=file', "unknown scope"),
    ('.allow-difference sw', "takes 2 arguments"),
    ('.allow-difference sw "x" when=never', "unknown option"),
])
def test_bad_declarations_are_refused_when_the_script_is_checked(line, message):
    with pytest.raises(Exception, match=message):
        loaded(f"{line}\n{READ}\n")


def test_a_declaration_with_no_command_after_it():
    with pytest.raises(BadInput, match="no command after it"):
        declared_allowances(loaded(f'{READ}\n.allow-difference sw "late"\n'))


def test_mcim_run_ignores_the_declaration():
    result = run_script(loaded(f'.allow-difference sw "x"\n{READ} => 9000\n'), ScriptedCard({READ: OK}))
    assert result.passed and [o.kind for o in result.outcomes] == ["command"]


def test_reports():
    report = diff(f'.allow-difference data "serials"\n{READ}\n{SELECT}\n', {READ: "12349000", SELECT: OK},
                  {READ: "56789000", SELECT: "6A82"})
    document = report_to_json(report)
    assert document["counts"] == {"differences": 2, "allowed": 1, "undeclared": 1}
    assert document["targets"] == ["a", "b"] and document["exit_code"] == 1
    assert document["differences"][0]["responses"] == {"a": "12349000", "b": "56789000"}
    assert document["differences"][0]["declarations"][0]["reason"] == "serials"
    assert document["differences"][1]["differs"] == ["sw"]
    lines = report_lines(report)
    assert lines[0].startswith("allowed suite.apdu:2:1") and any(line.startswith("DIFFERS suite.apdu:3:1")
                                                                  for line in lines)
    assert lines[-1].startswith("FAILED: a vs b: 2 command(s) compared, 2 differ (1 allowed, 1 undeclared)")


def test_two_targets_exactly():
    with pytest.raises(BadInput, match="exactly two targets"):
        run_diff(loaded(f"{READ}\n"), [("a", lambda: ScriptedCard({}))])


@given(st.lists(st.tuples(st.sampled_from(["9000", "6a82", "12349000", None]),
                          st.sampled_from(["9000", "6a82", "56789000", None])), max_size=6))
def test_compare_never_allows_a_missing_response(pairs):
    """Any pair of answers: equal ones make no difference, a missing one is never allowed."""
    def run(side: int) -> RunResult:
        outcomes = tuple(Outcome(Kind.COMMAND, f"s:{i}:1", Status.PASSED, "00", pair[side])
                         for i, pair in enumerate(pairs) if pair[side] is not None)
        return RunResult("s", (StepResult("s", None, "s:1:1", outcomes),), (), 0.0)

    allow_all = Allowance(frozenset(Part), "all", Scope.SCRIPT, "s:0:1")
    report = compare_runs("s", (TargetRun("a", run(0)), TargetRun("b", run(1))),
                          {f"s:{i}:1": (allow_all,) for i in range(len(pairs))})
    differing = {d.where for d in report.differences}
    for i, (a, b) in enumerate(pairs):
        assert (f"s:{i}:1" in differing) == (a != b)
    assert all(d.allowed == d.executed_by_both for d in report.differences)


# -- mcim diff -----------------------------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_cli_two_reference_cards_agree(tmp_path):
    suite = tmp_path / "s.apdu"
    suite.write_text("00 A4 00 04 02 3F00 [00] => 9000 data 62 ...\n")
    report = tmp_path / "r.json"
    result = invoke("diff", str(suite), "--target", "refcard", "--target", "refcard", "--report", str(report))
    assert result.exit_code == 0, result.output
    assert "PASSED: refcard (#1) vs refcard (#2): 1 command(s) compared, 0 differ" in result.output
    assert json.loads(report.read_text())["passed"] is True


def test_cli_reports_a_difference_with_a_replayed_target(tmp_path):
    suite = tmp_path / "s.apdu"
    suite.write_text("00 A4 00 0C 02 2FE2\n")
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"command": "00a4000c022fe2", "response": "6a82"}\n')
    result = invoke("diff", str(suite), "--target", "refcard", "--target", f"replay:{trace}", "--json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.output)
    assert document["differences"][0]["responses"] == {"refcard": "9000", f"replay:{trace}": "6a82"}
    assert document["differences"][0]["differs"] == ["sw"]


@pytest.mark.parametrize("args, message", [
    (["--target", "refcard"], "1 target(s)"),
    (["--target", "refcard", "--target", "refcard", "--target", "refcard"], "3 target(s)"),
    (["--target", "jcardsim", "--target", "jcardsim", "--reader", "0"], "two jcardsim targets"),
    (["--target", "refcard", "--target", "refcard", "--report", "r.xml"], "a .json file"),
])
def test_cli_usage_errors(tmp_path, args, message):
    suite = tmp_path / "s.apdu"
    suite.write_text("00 B0 83 00 [04]\n")
    result = invoke("diff", str(suite), *args)
    assert result.exit_code == 2 and message in result.output

