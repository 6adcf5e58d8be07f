"""`mcim script check`, `mcim script convert` and `mcim run`: the `.apdu` script format from the command line."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress

from ..errors import BadInput
from ..fileio import write_atomic
from ..hexutil import parse_hex
from ..runner import junit_xml, result_to_json, run_script, trace_lines
from ..runner.result import RunResult
from ..script import ScriptErrors, load_script
from ..script.ast import NAME_RE
from ..script.dialects import UnsupportedConstructs, dialect_named, dialect_names, writer
from ..script.loader import check_file
from ..targets import open_target
from ..transport.replay import ReplayDivergence, ReplayTransport
from .common import emit, json_option, read_single_key
from .console import print_console

FROM_HELP = "Dialect of FILE (default: from its extension, .apdu otherwise)."


def _from_option(f: Any) -> Any:
    return click.option("--from", "source_dialect", type=click.Choice(dialect_names(readable=True)),
                        help=FROM_HELP)(f)


@click.group("script")
def script_group() -> None:
    """Check and convert APDU scripts (.apdu, and other tools' formats)."""


@script_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@_from_option
@json_option
def check(file: str, source_dialect: str | None, as_json: bool) -> None:
    """Parse FILE and its includes and report every error (exit 2 when there is any)."""
    try:
        _, summary = check_file(file, source_dialect)
    except (ScriptErrors, UnsupportedConstructs) as exc:
        errors = _problems(exc)
        if as_json:
            emit({"file": file, "ok": False, "errors": errors}, True)
        else:
            for e in errors:
                expected = f" (expected {e['expected']})" if e["expected"] else ""
                click.echo(f"{e['where']}: {e['message']}{expected}", err=True)
            click.echo(f"{file}: {len(errors)} error(s)", err=True)
        sys.exit(2)
    result = {"file": file, "ok": True, "errors": [], **dataclasses.asdict(summary)}
    emit(result, as_json, human=lambda r: (
        f"{file}: ok, {r['commands']} command(s), {r['steps']} step(s), {r['directives']} directive(s) in "
        f"{len(r['files'])} file(s)" + (f"; needs --var {', '.join(r['external_variables'])}"
                                        if r["external_variables"] else "")))


def _problems(exc: ScriptErrors | UnsupportedConstructs) -> list[dict[str, str | None]]:
    if isinstance(exc, UnsupportedConstructs):
        return [{"where": where, "message": what, "expected": None} for where, what in exc.problems]
    return [{"where": e.where, "message": e.message, "expected": e.expected} for e in exc.errors]


@script_group.command("convert")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--to", "target_dialect", required=True, type=click.Choice(dialect_names(writable=True)),
              help="Dialect to write.")
@_from_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here (atomically) instead of stdout.")
def convert(file: str, target_dialect: str, source_dialect: str | None, output: str | None) -> None:
    """Convert FILE to another dialect; anything the target cannot express is an error, listed by line."""
    conversion = writer(dialect_named(target_dialect))(load_script(file, source_dialect))
    for note in conversion.notes:
        click.echo(f"note: {note}", err=True)
    if output is None:
        click.echo(conversion.text, nl=False)
    else:
        write_atomic(output, conversion.text)


def _variables(pairs: tuple[str, ...], option: str, read: Callable[[str, str], bytes]) -> dict[str, bytes]:
    values: dict[str, bytes] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not NAME_RE.fullmatch(name):
            raise BadInput(f"{pair.split('=')[0]!r} is not NAME=VALUE", where=option,
                           expected="NAME=VALUE with a name of letters, digits and _")
        values[name] = read(value, f"{option} {name}")
    return values


@click.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--reader", metavar="NAME|INDEX", help="PC/SC reader to use.")
@click.option("--target", metavar="SPEC", help="replay:TRACE or refcard[:PROFILE] (the default).")
@click.option("--report", "reports", multiple=True, metavar="FILE",
              help="Also write a report: FILE.xml is JUnit XML, FILE.json is JSON (repeatable).")
@click.option("--record", metavar="TRACE", help="Record the exchanges as JSON Lines (replayable).")
@click.option("--unsafe-trace", is_flag=True, help="Do not redact secrets in the trace and reports.")
@click.option("--var", "variables", multiple=True, metavar="NAME=HEX", help="Define a variable (repeatable).")
@click.option("--var-file", "secret_files", multiple=True, metavar="NAME=FILE",
              help="Define a secret variable from a key file (repeatable).")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="PC/SC response timeout, seconds.")
@click.option("--raw-procedure-bytes", is_flag=True,
              help="Do not follow 61xx/9Fxx with GET RESPONSE nor re-send after 6Cxx.")
@_from_option
@json_option
def run(file: str, reader: str | None, target: str | None, reports: tuple[str, ...], record: str | None,
        unsafe_trace: bool, variables: tuple[str, ...], secret_files: tuple[str, ...], timeout: float,
        raw_procedure_bytes: bool, source_dialect: str | None, as_json: bool) -> None:
    """Run an APDU script on a card and check every expectation (exit 1 when one fails)."""
    for path in reports:
        _report_format(path)
    plain = _variables(variables, "--var", lambda v, where: parse_hex(v, where=where))
    secret = _variables(secret_files, "--var-file", lambda v, where: read_single_key(v, where=where))
    loaded, _ = check_file(file, source_dialect)
    transport = open_target(target, reader, timeout=timeout)
    try:
        with _ProgressBar(as_json) as progress:
            result = run_script(loaded, transport, variables=plain, secret_variables=secret,
                                unsafe_trace=unsafe_trace, procedure_bytes=not raw_procedure_bytes,
                                progress=progress)
        result = _replay_complete(result, transport)
    finally:
        transport.close()
    if record is not None:
        write_atomic(record, trace_lines(result.trace))
    for path in reports:
        write_atomic(path, junit_xml(result) if _report_format(path) == "junit" else
                     json.dumps(result_to_json(result), indent=2) + "\n")
    if as_json:
        emit(result_to_json(result), True)
    else:
        print_console(result, Console(soft_wrap=True, highlight=False))
    if result.error is not None:
        raise result.error
    sys.exit(result.exit_code)


def _report_format(path: str) -> str:
    if path.endswith(".xml"):
        return "junit"
    if path.endswith(".json"):
        return "json"
    raise BadInput(f"unknown report format for {path}", where="--report", expected="a .xml (JUnit) or .json file")


def _replay_complete(result: RunResult, transport: object) -> RunResult:
    """A replay that passed must also have used the whole recording."""
    if isinstance(transport, ReplayTransport) and result.passed:
        try:
            transport.verify_complete()
        except ReplayDivergence as exc:
            return dataclasses.replace(result, error=exc)
    return result


class _ProgressBar:
    """A transient progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.bar = None if quiet or not sys.stderr.isatty() else Progress(
            console=Console(stderr=True), transient=True)
        self.task: Any = None

    def __enter__(self) -> Any:
        if self.bar is None:
            return None
        self.bar.start()
        self.task = self.bar.add_task("running", total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        assert self.bar is not None
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def register(root: click.Group) -> None:
    root.add_command(script_group)
    root.add_command(run)
