"""Reports: JUnit XML (parsed back with xml.etree), JSON, and the console."""

import io
import json
import xml.etree.ElementTree as ET

from mcim.cli.console import print_console
from mcim.runner import junit_xml, result_to_json, run_script
from mcim.script import parse_script, resolve_includes
from rich.console import Console

from .test_engine import TableCard

SCRIPT = """\
00 B0 00 00 01 => 9000
section Files
step good
00 B0 00 00 01 => 9000
.echo all good
step bad
00 B0 00 00 02 => 9000
step worse
00 B0 00 00 02 => 9000 data 01
section Later
step never
00 B0 00 00 01
"""
ANSWERS = {"00b0000001": "019000", "00b0000002": "6a82"}


def result(policy="continue", answers=ANSWERS):
    script = resolve_includes(parse_script(f".expect {policy}\n" + SCRIPT, "suite.apdu"))
    return run_script(script, TableCard(answers))


def test_junit_counts_and_failure_details():
    root = ET.fromstring(junit_xml(result()))
    assert root.tag == "testsuites" and root.get("tests") == "5" and root.get("failures") == "2"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["suite.apdu", "Files", "Later"]
    files = suites[1]
    assert (files.get("tests"), files.get("failures"), files.get("errors")) == ("3", "2", "0")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"suite.apdu", "good", "bad", "worse", "never"}
    assert cases["good"].get("classname") == "suite.apdu.Files"
    assert cases["good"].find("system-out").text == "all good"
    failure = cases["bad"].find("failure")
    assert failure.get("message") == "status word 6A82 (file or application not found), expected 9000"
    assert "suite.apdu:8:1" in failure.text and "expected: 9000" in failure.text and "got: 6A82" in failure.text


def test_junit_marks_steps_after_a_stop_as_skipped_and_errors_as_errors():
    root = ET.fromstring(junit_xml(result("stop")))
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("5", "1", "2")
    errored = ET.fromstring(junit_xml(result(answers={})))
    assert errored.get("errors") == "0"  # 6D00 answers are failures, not errors
    broken = resolve_includes(parse_script("step s\n00 B0 00 00 ${X}\n", "e.apdu"))
    root = ET.fromstring(junit_xml(run_script(broken, TableCard({}))))
    assert root.get("errors") == "1" and root.find(".//error").get("message").startswith("e.apdu:2:13")


def test_json_report():
    report = result_to_json(result())
    json.dumps(report)
    assert report["passed"] is False and report["exit_code"] == 1
    assert report["counts"]["steps"] == {"passed": 3, "failed": 2, "error": 0, "skipped": 0}
    assert report["counts"]["outcomes"] == {"passed": 3, "failed": 2, "error": 0}
    bad = next(s for s in report["steps"] if s["name"] == "bad")
    assert bad["status"] == "failed" and bad["outcomes"][0]["got"] == "6A82"


def test_console_report_is_plain_when_not_a_terminal():
    out = io.StringIO()
    print_console(result(), Console(file=out, soft_wrap=True))
    text = out.getvalue()
    assert "\x1b[" not in text
    assert "FAIL Files / bad" in text and "PASS Files / good" in text and "got:      6A82" in text
    assert text.rstrip().splitlines()[-1].startswith("FAILED: 3 of 5 step(s) passed")
