"""Loading a script with its includes, and checking it before it runs.

`include PATH` is relative to the including file; the included file's dialect follows its extension, so an
`.apdu` script can include a PCOM `.pcom` file.  Include cycles are errors.  Every file is parsed even when
another one has errors, so that `mcim script check` reports everything at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInput, DecodeError, McimError
from .ast import (
    Blank,
    Capture,
    Command,
    Comment,
    DataPattern,
    Directive,
    Include,
    Script,
    SetVar,
    Statement,
    Step,
    Template,
    Var,
)
from .directives import handler_for
from .parser import ScriptErrors


@dataclass(frozen=True)
class LoadedScript:
    """The root script and every file it includes, by source name."""

    root: Script
    files: Mapping[str, Script] = field(default_factory=dict)

    def included(self, parent: Script, include: Include) -> Script | None:
        """The included file; None only in the partial result of a load that failed."""
        return self.files.get(include_source(parent.source, include.path))

    def walk(self) -> Iterator[tuple[Statement, Script]]:
        """Every statement in execution order, included files expanded in place (after their Include)."""
        yield from self._walk(self.root)

    def _walk(self, script: Script) -> Iterator[tuple[Statement, Script]]:
        for statement in script.statements:
            yield statement, script
            if isinstance(statement, Include):
                included = self.included(script, statement)
                if included is not None:
                    yield from self._walk(included)


def include_source(parent_source: str, path: str) -> str:
    return os.path.normpath(os.path.join(os.path.dirname(parent_source), path))


def read_text(path: str, where: str | None = None) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is not text
    except UnicodeDecodeError:
        raise DecodeError("not UTF-8 text", where=where or path) from None
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}", where=where) from None


def read_script(path: str, dialect: str | None = None, where: str | None = None) -> Script:
    """One file, parsed by its dialect (from `dialect`, else from the extension; `.apdu` by default)."""
    from .dialects import dialect_for, reader

    return reader(dialect_for(path, dialect))(read_text(path, where), path)


def load_script(path: str, dialect: str | None = None) -> LoadedScript:
    errors: list[McimError] = []
    try:
        root = read_script(path, dialect)
    except ScriptErrors as exc:
        if exc.partial is None:
            raise
        root, errors = exc.partial, list(exc.errors)
    return _resolve(root, errors)


def resolve_includes(root: Script) -> LoadedScript:
    return _resolve(root, [])


def _resolve(root: Script, errors: list[McimError]) -> LoadedScript:
    """Load every file `root` includes; raise ScriptErrors with `errors` and all found on the way, if any."""
    files: dict[str, Script] = {root.source: root}
    failed: set[str] = set()

    def visit(script: Script, stack: tuple[str, ...]) -> None:
        for statement in script.statements:
            if not isinstance(statement, Include):
                continue
            target = include_source(script.source, statement.path)
            real = os.path.realpath(target)
            if real in stack:
                chain = " -> ".join((*(os.path.basename(s) for s in stack), os.path.basename(real)))
                errors.append(DecodeError(f"include cycle: {chain}", where=str(statement.pos),
                                          expected="includes that do not include their includer"))
                continue
            if target in failed:
                continue
            if target not in files:
                try:
                    files[target] = read_script(target, where=str(statement.pos))
                except ScriptErrors as exc:
                    errors.extend(exc.errors)
                    failed.add(target)
                    if exc.partial is not None:
                        files[target] = exc.partial
                        visit(exc.partial, (*stack, real))
                    continue
                except McimError as exc:
                    errors.append(exc)
                    failed.add(target)
                    continue
            visit(files[target], (*stack, real))

    visit(root, (os.path.realpath(root.source),))
    if errors:
        raise ScriptErrors(errors, loaded=LoadedScript(root, files))
    return LoadedScript(root, files)


# -- checking ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckSummary:
    files: tuple[str, ...]
    commands: int
    steps: int
    directives: int
    external_variables: tuple[str, ...]
    """Variables used before any `set`/`capture` defines them: they must come from `--var` when it runs."""


def check_file(path: str, dialect: str | None = None) -> tuple[LoadedScript, CheckSummary]:
    """Load and check; when parsing fails, the checks still run on what did parse so that every error is
    reported at once (ScriptErrors, sorted by file, line and column)."""
    try:
        loaded = load_script(path, dialect)
    except ScriptErrors as exc:
        partial = exc.loaded
        if not isinstance(partial, LoadedScript):
            raise
        errors = [*exc.errors, *_semantic(partial)[0]]
        errors.sort(key=lambda e: _order(partial, e))
        raise ScriptErrors(errors) from None
    return loaded, check_script(loaded)


def check_script(loaded: LoadedScript) -> CheckSummary:
    """Semantic checks on top of parsing: directives known and well-formed, captures placed after a command.
    Raises ScriptErrors listing every problem."""
    errors, summary = _semantic(loaded)
    if errors:
        errors.sort(key=lambda e: _order(loaded, e))
        raise ScriptErrors(errors)
    return summary


def _semantic(loaded: LoadedScript) -> tuple[list[McimError], CheckSummary]:
    errors: list[McimError] = []
    for script in loaded.files.values():
        errors.extend(_capture_placement(script))
    defined: set[str] = set()
    external: list[str] = []
    counts = {Command: 0, Step: 0, Directive: 0}
    for statement, _ in loaded.walk():
        if type(statement) in counts:
            counts[type(statement)] += 1
        if isinstance(statement, Directive):
            try:
                handler_for(statement).check(statement)
            except McimError as exc:
                errors.append(exc)
        for var in used_variables(statement):
            if var.name not in defined and var.name not in external:
                external.append(var.name)
        if isinstance(statement, (SetVar, Capture)):
            defined.add(statement.name)
    return errors, CheckSummary(tuple(loaded.files), counts[Command], counts[Step], counts[Directive],
                                tuple(external))


def used_variables(statement: Statement) -> Iterator[Var]:
    if isinstance(statement, Command):
        yield from statement.apdu.variables()
        data = statement.expect.data if statement.expect else None
        if isinstance(data, DataPattern):
            yield from (i for i in data.items if isinstance(i, Var))
    elif isinstance(statement, SetVar) and isinstance(statement.value, Template):
        yield from statement.value.variables()


def _capture_placement(script: Script) -> Iterator[McimError]:
    after_command = False
    for statement in script.statements:
        if isinstance(statement, Capture) and not after_command:
            yield DecodeError(f"capture {statement.name} does not follow a command", where=str(statement.pos),
                              expected="capture right after the command whose response it takes (comments and "
                                       "other captures may come between)")
        if isinstance(statement, Command):
            after_command = True
        elif not isinstance(statement, (Capture, Comment, Blank)):
            after_command = False


def _order(loaded: LoadedScript, error: McimError) -> tuple[int, int, int]:
    """Errors sorted by file (in load order), then line and column."""
    names = list(loaded.files)
    source, _, rest = (error.where or "").rpartition(":")
    source, _, line = source.rpartition(":")
    try:
        return names.index(source), int(line), int(rest)
    except ValueError:
        return len(names), 0, 0
