"""Hypothesis strategies for valid script ASTs (what the parser can produce)."""

from __future__ import annotations

import re
import warnings

from hypothesis import strategies as st
from mcim.apdu import CommandApdu
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
    Script,
    Section,
    SetVar,
    Step,
    SwPattern,
    Template,
    Var,
)

# str.splitlines() breaks lines at these; no one-line text holds them
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"

one_line = st.text(st.characters(blacklist_characters=LINE_BREAKS, blacklist_categories=("Cs",)), max_size=20)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
comments = st.none() | one_line
variables = st.builds(Var, names)
literal = st.binary(min_size=1, max_size=10)


def _nibble_mask(flags: int, size: int) -> bytes:
    """A mask with whole nibbles only: bit k of `flags` keeps nibble k."""
    return bytes(((0xF0 if flags >> (2 * k) & 1 else 0) | (0x0F if flags >> (2 * k + 1) & 1 else 0))
                 for k in range(size))


templates = st.lists(literal | variables, min_size=1, max_size=4).map(lambda parts: Template.of(*parts))
with_variable = st.tuples(templates, variables, templates).map(
    lambda t: Template.of(*t[0].chunks, t[1], *t[2].chunks))

apdus = st.builds(
    CommandApdu, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
    st.binary(max_size=300), st.none() | st.integers(1, 65536), st.booleans(),
).map(lambda a: Template.of(a.to_bytes()))

sw_patterns = st.builds(lambda v, f: SwPattern(v, int.from_bytes(_nibble_mask(f, 2), "big")),
                        st.integers(0, 0xFFFF), st.integers(0, 15))
masked = st.builds(lambda v, f: Masked(v, _nibble_mask(f, len(v))), st.binary(min_size=1, max_size=20),
                   st.integers(0, 2**40))


def _compiles(pattern: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(pattern, re.IGNORECASE)
    except (re.error, OverflowError):
        return False
    return True


regexes = st.text(alphabet="0189af^$.*+?()[]|/\\{}", max_size=12).filter(_compiles).map(DataRegex)
patterns = st.builds(DataPattern.of, st.lists(masked | variables, max_size=4), st.booleans())
expects = st.builds(Expect, st.lists(sw_patterns, min_size=1, max_size=3).map(tuple),
                    st.none() | patterns | regexes)

commands = st.one_of(
    st.builds(Command, apdus, st.none() | expects, st.just(False), comments),
    st.builds(Command, with_variable, st.none() | expects, st.booleans(), comments),
    st.builds(Command, templates, st.none() | expects, st.just(True), comments),
)
offsets = st.none() | st.integers(0, 300)
captures = st.one_of(
    st.builds(Capture, names, st.sampled_from(CaptureSource), st.none(), st.none(), st.none(), st.booleans(),
              comments),
    st.builds(Capture, names, st.sampled_from(CaptureSource), st.integers(0, 300), st.none(), st.none(),
              st.booleans(), comments),
    st.builds(Capture, names, st.sampled_from(CaptureSource), st.none(), offsets, offsets, st.booleans(),
              comments),
)
sets = st.builds(SetVar, names, templates | st.builds(EnvRef, names) | st.builds(FileRef, one_line),
                 st.booleans(), comments)
directives = st.builds(Directive, st.from_regex(r"[a-z][a-z0-9_-]{0,6}", fullmatch=True),
                       st.lists(one_line, max_size=3).map(tuple), comments)
statements = st.one_of(
    commands, captures, sets, directives,
    st.builds(Include, one_line, comments),
    st.builds(Step, one_line, comments),
    st.builds(Section, one_line, comments),
    st.builds(Comment, one_line),
    st.builds(Blank),
)
scripts = st.lists(statements, max_size=8).map(lambda s: Script("prop.apdu", tuple(s)))
