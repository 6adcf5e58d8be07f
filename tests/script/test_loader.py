"""Includes (relative paths, other dialects, cycles) and the checks that run before a script is sent."""

from pathlib import Path

import pytest
from mcim.errors import BadInput
from mcim.script import ScriptErrors, check_script, load_script
from mcim.script.ast import Command, Include, Step


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_include_is_relative_to_the_including_file(tmp_path):
    main = write(tmp_path, "main.apdu", "step main\ninclude lib/mf.apdu\n00 B0 00 00 01\n")
    write(tmp_path, "lib/mf.apdu", "include sel.apdu\n")
    write(tmp_path, "lib/sel.apdu", "00 A4 00 04 02 3F00\n")
    loaded = load_script(main)
    kinds = [type(s) for s, _ in loaded.walk()]
    assert kinds == [Step, Include, Include, Command, Command]
    assert check_script(loaded).commands == 2


def test_a_file_included_twice_is_not_a_cycle(tmp_path):
    main = write(tmp_path, "main.apdu", "include a.apdu\ninclude a.apdu\n")
    write(tmp_path, "a.apdu", "00 B0 00 00 01\n")
    assert check_script(load_script(main)).commands == 2


def test_include_cycle_is_reported_at_the_include_line(tmp_path):
    main = write(tmp_path, "main.apdu", "# top\ninclude b.apdu\n")
    write(tmp_path, "b.apdu", "00 B0 00 00 01\n  include ./main.apdu\n")
    with pytest.raises(ScriptErrors) as err:
        load_script(main)
    (error,) = err.value.errors
    assert error.where == f"{tmp_path}/b.apdu:2:3"
    assert "include cycle: main.apdu -> b.apdu -> main.apdu" in error.message


def test_missing_include_and_errors_in_several_files_come_together(tmp_path):
    main = write(tmp_path, "main.apdu", "include nothere.apdu\ninclude bad.apdu\n00 0G\n")
    write(tmp_path, "bad.apdu", "step\n")
    with pytest.raises(ScriptErrors) as err:
        load_script(main)
    wheres = sorted(e.where for e in err.value.errors)
    assert wheres == sorted([f"{tmp_path}/main.apdu:3:5", f"{tmp_path}/main.apdu:1:1", f"{tmp_path}/bad.apdu:1:5"])


def test_missing_root_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="cannot read"):
        load_script(str(tmp_path / "none.apdu"))


def test_include_of_another_dialect(tmp_path):
    main = write(tmp_path, "main.apdu", "include perso.pcom\n")
    write(tmp_path, "perso.pcom", "A0A4 0000 02 3F00 (9F22) ; select MF\n")
    assert check_script(load_script(main)).commands == 1


@pytest.mark.parametrize("text, where, message", [
    (".frobnicate now", "1:1", "unknown directive .frobnicate"),
    (".reset hard", "1:1", ".reset takes 0 arguments, got 1"),
    (".expect maybe", "1:1", "unknown policy 'maybe'"),
    (".expect", "1:1", ".expect takes 1 argument, got 0"),
    ("capture X = data", "1:1", "capture X does not follow a command"),
    ("00 B0 00 00 01\nstep s\ncapture X = data", "3:1", "does not follow a command"),
])
def test_check_errors(tmp_path, text, where, message):
    main = write(tmp_path, "c.apdu", text + "\n")
    with pytest.raises(ScriptErrors) as err:
        check_script(load_script(main))
    (error,) = err.value.errors
    assert error.where == f"{main}:{where}" and message in error.message


def test_check_lists_variables_that_must_come_from_outside(tmp_path):
    main = write(tmp_path, "v.apdu", "set A = 01\n00 A4 04 00 ${L} ${A} ${B}\ncapture C = sw\n"
                                     "00 B0 00 00 ${C} => 9000 data ${D}\n")
    assert check_script(load_script(main)).external_variables == ("L", "B", "D")


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "apdu" / "examples").glob("*.apdu"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_check(example):
    assert check_script(load_script(str(example))).commands
