"""The canonical writer and the JSON Lines form round-trip every valid AST (hypothesis)."""

from hypothesis import given, settings
from mcim.script import parse_script
from mcim.script.dialects import jsonl
from mcim.script.loader import LoadedScript
from mcim.script.writer import format_script

from .strategies import scripts


@settings(max_examples=300, deadline=None)
@given(scripts)
def test_ast_text_ast(script):
    assert parse_script(format_script(script), script.source) == script


@settings(max_examples=200, deadline=None)
@given(scripts)
def test_ast_jsonl_ast(script):
    text = jsonl.write(LoadedScript(script)).text
    assert jsonl.read(text, script.source) == script


@settings(max_examples=100, deadline=None)
@given(scripts)
def test_writer_is_a_fixed_point(script):
    text = format_script(script)
    assert format_script(parse_script(text, "x.apdu")) == text
