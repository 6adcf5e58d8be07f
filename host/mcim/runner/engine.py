"""The one driver loop: runs a loaded script on a Transport and returns a typed, redacted `RunResult`.

Layers, from the script down to the card: the wrappers directives have opened (secure channels, OTA), then the
T=0 procedure-byte layer (GET RESPONSE after 61xx/9Fxx, re-issue after 6Cxx; on by default), then the recorder
that writes the trace, then the transport.  The script is checked in full before the first byte is sent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from ..errors import BadInput, ExpectationFailed, McimError, StateError, TransportError
from ..hexutil import parse_hex
from ..script.ast import (
    Blank,
    Capture,
    CaptureSource,
    Command,
    Comment,
    Directive,
    EnvRef,
    Expect,
    FileRef,
    Include,
    Script,
    Section,
    SetVar,
    Statement,
    Step,
    Template,
    Var,
)
from ..script.directives import NotExecuted, Policy, Send, Wrapper, handler_for
from ..script.loader import LoadedScript, check_script
from ..script.parser import apdu_problem, parse_template
from ..transport.base import Transport
from ..transport.t0 import T0Layer
from .expect import check_response
from .result import Kind, Outcome, RunResult, Status, StepResult
from .trace import Recorder, Redactor

Progress = Callable[[int, int], None]
"""Called before each statement runs with (statements done, statements in all)."""


def run_script(loaded: LoadedScript, transport: Transport, *, variables: Mapping[str, bytes] | None = None,
               secret_variables: Mapping[str, bytes] | None = None,
               environ: Mapping[str, str] | None = None, unsafe_trace: bool = False,
               procedure_bytes: bool = True, clock: Callable[[], float] = time.perf_counter,
               random: Callable[[int], bytes] = os.urandom, progress: Progress | None = None) -> RunResult:
    """Run `loaded` on `transport`.

    `variables` and `secret_variables` (redacted like key files) are known from the start, as with `--var` and
    `--var-file`; `environ` serves `set NAME = env VAR` (os.environ by default).  With `procedure_bytes` the
    T=0 layer follows 61xx/9Fxx/6Cxx.  Failed expectations and errors are in the result (its `exit_code` says
    which); only a script that does not check raises (ScriptErrors).
    """
    check_script(loaded)
    run = _Run(loaded, transport, dict(variables or {}), os.environ if environ is None else environ,
               Redactor(enabled=not unsafe_trace), clock, random, procedure_bytes)
    for name, value in (secret_variables or {}).items():
        run.define(name, value, secret=True)
    return run.run(progress)


@dataclass
class _Record:
    """An outcome while it is still being filled in (pending commands are completed when their batch closes)."""

    kind: Kind
    where: str
    status: Status = Status.PASSED
    command: bytes | None = None
    response: bytes | None = None
    expected: str | None = None
    got: bytes | int | None = None
    message: str | None = None
    duration: float = 0.0
    captures: list[tuple[str, bytes, bool]] = field(default_factory=list)


@dataclass
class _StepState:
    name: str
    section: str | None
    where: str
    implicit: bool = False
    skipped: bool = False
    records: list[_Record] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    """A command a wrapper deferred: its checks wait for the wrapper's close."""

    wrapper: Wrapper
    record: _Record
    expect: Expect | None
    captures: list[Capture] = field(default_factory=list)


class _Run:
    """One run; also the DirectiveContext handed to directive handlers."""

    def __init__(self, loaded: LoadedScript, transport: Transport, variables: dict[str, bytes],
                 environ: Mapping[str, str], redactor: Redactor, clock: Callable[[], float],
                 random: Callable[[int], bytes], procedure_bytes: bool) -> None:
        self.loaded = loaded
        self.clock = clock
        self.origin = clock()
        self.recorder = Recorder(transport, clock, self.origin)
        self.link: Transport = T0Layer(self.recorder) if procedure_bytes else self.recorder
        self.redactor = redactor
        self.vars = variables
        self.secret_names: set[str] = set()
        self.pending_names: dict[str, str] = {}  # variable -> where the batch that will deliver it was opened
        self.environ = environ
        self.random_source = random
        self.wrappers: list[Wrapper] = []
        self.opened_at: dict[int, str] = {}
        self.pending: list[_Pending] = []
        self.policy = Policy.STOP
        root = loaded.root.source
        self.steps = [_StepState(os.path.basename(root), None, f"{root}:1:1", implicit=True)]
        self.section: str | None = None
        self.last: bytes | _Pending | None = None
        self.last_record: _Record | None = None
        self.record: _Record | None = None
        self.stopped = False
        self.error: McimError | None = None
        self._where = f"{root}:1:1"

    # -- the loop ----------------------------------------------------------------------------------------

    def run(self, progress: Progress | None) -> RunResult:
        statements = list(self.loaded.walk())
        for done, (statement, script) in enumerate(statements):
            if isinstance(statement, (Step, Section)):
                self.open_step(statement)
            elif not self.stopped and not isinstance(statement, (Comment, Blank, Include)):
                if progress is not None:
                    progress(done, len(statements))
                self.execute(statement, script)
        if not self.stopped:
            self.guard(Kind.DIRECTIVE, self.close_all)
        return self.result()

    def execute(self, statement: Statement, script: Script) -> None:
        self._where = str(statement.pos)
        self.recorder.where = self._where
        self.record = None
        match statement:
            case Command():
                self.guard(Kind.COMMAND, lambda: self.command(statement))
            case Capture():
                self.guard(Kind.CAPTURE, lambda: self.capture(statement))
            case SetVar():
                self.guard(Kind.STATEMENT, lambda: self.set_var(statement, script))
            case Directive():
                self.guard(Kind.DIRECTIVE, lambda: handler_for(statement).run(statement, self))

    def guard(self, kind: Kind, action: Callable[[], None]) -> None:
        """Run `action`; an mcim error becomes the outcome of the statement (exit 1 errors are failures)."""
        try:
            action()
        except McimError as exc:
            record = self.record or self.new_record(kind)
            record.message = _describe(exc, record.where)
            if exc.exit_code == ExpectationFailed.exit_code:
                record.status = Status.FAILED
                self.after_failure()
            else:
                record.status = Status.ERROR
                self.error = exc
                self.stopped = True

    def after_failure(self) -> None:
        if self.policy is Policy.STOP:
            self.stopped = True

    def new_record(self, kind: Kind) -> _Record:
        self.record = _Record(kind, self._where)
        self.steps[-1].records.append(self.record)
        return self.record

    def open_step(self, statement: Step | Section) -> None:
        if isinstance(statement, Section):
            self.section = statement.title
        self.steps.append(_StepState(statement.title, self.section, str(statement.pos),
                                     implicit=isinstance(statement, Section), skipped=self.stopped))

    # -- statements --------------------------------------------------------------------------------------

    def command(self, statement: Command) -> None:
        record = self.new_record(Kind.COMMAND)
        apdu = self.resolve(statement.apdu)
        record.command = apdu
        if not statement.raw:
            problem = apdu_problem(Template.of(apdu))
            if problem:
                raise BadInput(problem, where=self._where, expected="a well-formed APDU once variables are "
                               "filled in, or 'raw' before the command")
        start = self.clock()
        response = self.transmit_top(apdu)
        record.duration = self.clock() - start
        if response is None:
            self.last = _Pending(self.wrappers[-1], record, statement.expect)
            self.pending.append(self.last)
            return
        self.last, self.last_record = response, record
        self.conclude(record, statement.expect, response)

    def conclude(self, record: _Record, expect: Expect | None, response: bytes) -> None:
        record.response = response
        if len(response) < 2:
            raise TransportError(f"the card answered {len(response)} byte(s)", where=record.where,
                                 expected="at least SW1 SW2")
        if expect is None:
            return
        mismatch = check_response(expect, response[:-2], int.from_bytes(response[-2:], "big"), self.value_of)
        if mismatch is not None:
            record.status = Status.FAILED
            record.message, record.expected, record.got = mismatch.message, mismatch.expected, mismatch.got
            self.after_failure()

    def capture(self, statement: Capture) -> None:
        if isinstance(self.last, _Pending):
            self.last.captures.append(statement)
            self.pending_names[statement.name] = self.opened_at.get(id(self.last.wrapper), "its batch")
            return
        if self.last is None or self.last_record is None:
            raise StateError(f"capture {statement.name}: no response to capture from", where=self._where)
        self.take(statement, self.last, self.last_record)

    def take(self, capture: Capture, response: bytes, owner: _Record) -> None:
        """Capture from `response`; the value is reported with the command that `owner` records."""
        source = {CaptureSource.DATA: response[:-2], CaptureSource.SW: response[-2:],
                  CaptureSource.RESPONSE: response}[capture.source]
        value = capture.select(source)
        if value is None:
            raise ExpectationFailed(f"capture {capture.name} = {capture.selector_text()}: the response has "
                                    f"{len(source)} {capture.source} byte(s)", where=str(capture.pos))
        self.define(capture.name, value, capture.secret)
        owner.captures.append((capture.name, value, capture.secret))

    def set_var(self, statement: SetVar, script: Script) -> None:
        value = statement.value
        if isinstance(value, EnvRef):
            text = self.environ.get(value.name)
            if text is None:
                raise BadInput(f"environment variable {value.name} is not set", where=self._where)
            self.define(statement.name, _secret_hex(text, f"environment variable {value.name}", self._where),
                        statement.secret)
        elif isinstance(value, FileRef):
            path = os.path.join(os.path.dirname(script.source), value.path)
            self.define(statement.name, _key_file(path, self._where), True)
        else:
            secret = statement.secret or any(v.name in self.secret_names for v in value.variables())
            self.define(statement.name, self.resolve(value), secret)

    def define(self, name: str, value: bytes, secret: bool) -> None:
        self.vars[name] = value
        self.pending_names.pop(name, None)
        if secret:
            self.secret_names.add(name)
            self.redactor.add(value)
        else:
            self.secret_names.discard(name)

    def resolve(self, template: Template) -> bytes:
        return b"".join(c if isinstance(c, bytes) else self.value_of(c) for c in template.chunks)

    def value_of(self, var: Var) -> bytes:
        if var.name in self.pending_names:
            raise BadInput(f"${{{var.name}}} comes from a response that only arrives when the batch opened at "
                           f"{self.pending_names[var.name]} closes", where=str(var.pos))
        if var.name not in self.vars:
            raise BadInput(f"undefined variable ${{{var.name}}}", where=str(var.pos),
                           expected="set NAME = ..., capture NAME = ... before this line, or --var NAME=HEX")
        return self.vars[var.name]

    # -- the wrapper stack -------------------------------------------------------------------------------

    def transmit_top(self, command: bytes) -> bytes | None:
        if not self.wrappers:
            return self.link.transmit(command)
        return self.wrappers[-1].transmit(command, self.sender(len(self.wrappers) - 1))

    def sender(self, level: int) -> Send:
        """Send through the wrappers below `level` (0: straight to the card link)."""
        if level == 0:
            return self.link.transmit
        wrapper, below = self.wrappers[level - 1], self.sender(level - 1)

        def send(command: bytes) -> bytes:
            response = wrapper.transmit(command, below)
            if response is None:
                raise StateError(f"{type(wrapper).__name__} deferred a command sent by a directive",
                                 where=self._where, expected="an immediate response")
            return response
        return send

    def close_wrapper(self, wrapper: Wrapper) -> None:
        mine = [p for p in self.pending if p.wrapper is wrapper]
        self.pending = [p for p in self.pending if p.wrapper is not wrapper]
        try:
            responses = list(wrapper.close(self.sender(len(self.wrappers))))
        except McimError:
            for pending in mine:  # the batch failed as a whole: none of its commands can count as passed
                self.settle(pending, None)
            raise
        if len(responses) > len(mine):
            raise StateError(f"{type(wrapper).__name__} returned {len(responses)} responses for {len(mine)} "
                             "deferred commands", where=self._where)
        for pending, response in zip_longest(mine, responses):
            self.settle(pending, response)
        if isinstance(self.last, _Pending):
            self.last = None

    def settle(self, pending: _Pending, response: bytes | NotExecuted | None) -> None:
        record = pending.record
        if isinstance(response, NotExecuted):
            record.status, record.message = Status.SKIPPED, f"not executed: {response.reason}"
            for capture in pending.captures:
                self.pending_names.pop(capture.name, None)
            return
        try:
            if response is None:
                raise ExpectationFailed("not executed: no response came back for this command",
                                        where=record.where)
            self.conclude(record, pending.expect, response)
            for capture in pending.captures:
                self.take(capture, response, record)
        except McimError as exc:
            record.status = Status.FAILED if exc.exit_code == ExpectationFailed.exit_code else Status.ERROR
            record.message = _describe(exc, record.where)
            for capture in pending.captures:
                self.pending_names.pop(capture.name, None)
            self.after_failure()

    def close_all(self) -> None:
        while self.wrappers:
            self.close_wrapper(self.wrappers.pop())

    # -- DirectiveContext --------------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return self._where

    def transmit(self, command: bytes) -> bytes:
        return self.sender(len(self.wrappers))(command)

    def reset(self) -> bytes:
        if self.wrappers:
            raise StateError("a reset would end the open secure channel or batch", where=self._where,
                             expected="the directive that closes it before .reset")
        record = self.new_record(Kind.RESET)
        start = self.clock()
        atr = self.link.reset()
        record.duration, record.response, self.last = self.clock() - start, atr, None
        return atr

    def push(self, wrapper: Wrapper) -> None:
        self.wrappers.append(wrapper)
        self.opened_at[id(wrapper)] = self._where

    def pop(self, kind: type) -> Wrapper:
        if not self.wrappers or not isinstance(self.wrappers[-1], kind):
            found = any(isinstance(w, kind) for w in self.wrappers)
            inner = type(self.wrappers[-1]).__name__ if self.wrappers else None
            raise StateError(f"{inner} opened later is still open" if found else f"no {kind.__name__} is open",
                             where=self._where)
        wrapper = self.wrappers.pop()
        self.close_wrapper(wrapper)
        return wrapper

    def value(self, text: str) -> bytes:
        return self.resolve(parse_template(text, self._where))

    def mark_secret(self, value: bytes) -> None:
        self.redactor.add(value)

    def random(self, length: int) -> bytes:
        return self.random_source(length)

    def say(self, text: str) -> None:
        self.steps[-1].messages.append(text)

    def set_policy(self, policy: Policy) -> None:
        self.policy = policy

    # -- the result --------------------------------------------------------------------------------------

    def result(self) -> RunResult:
        steps = tuple(self.step_result(s) for s in self.steps if not (s.implicit and not s.records
                                                                       and not s.messages))
        error = self.error
        if error is not None and (self.redactor.text(error.message) != error.message
                                  or self.redactor.text(error.expected or "") != (error.expected or "")):
            error = type(error)(self.redactor.text(error.message), where=error.where,
                                expected=error.expected and self.redactor.text(error.expected))
        return RunResult(self.loaded.root.source, steps, self.recorder.entries(self.redactor),
                         self.clock() - self.origin, error)

    def step_result(self, step: _StepState) -> StepResult:
        return StepResult(step.name, step.section, step.where, tuple(self.outcome(r) for r in step.records),
                          tuple(step.messages), step.skipped)

    def outcome(self, r: _Record) -> Outcome:
        hexed = self.redactor.hex
        got = r.got if r.got is None or isinstance(r.got, bytes) else r.got.to_bytes(2, "big")
        return Outcome(r.kind, r.where, r.status,
                       None if r.command is None else hexed(r.command),
                       None if r.response is None else hexed(r.response),
                       r.expected, None if got is None else hexed(got).upper(),
                       None if r.message is None else self.redactor.text(r.message), r.duration,
                       tuple((name, "(secret)" if secret else hexed(value)) for name, value, secret in r.captures))


def _describe(exc: McimError, where: str) -> str:
    """The error as text, without its position when that is the outcome's own."""
    text = exc.message + (f" (expected {exc.expected})" if exc.expected else "")
    return text if exc.where in (None, where) else f"{exc.where}: {text}"


def _secret_hex(text: str, what: str, where: str) -> bytes:
    """Hex from a value that may be secret: errors never quote it."""
    try:
        return parse_hex(text, where=what)
    except BadInput:
        raise BadInput(f"{what} is not hex", where=where, expected="hex digits (the value is not shown)") from None


def _key_file(path: str, where: str) -> bytes:
    """A key file: hex, with whitespace and # comments allowed (the form mcim's --NAME-file options read)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BadInput(f"cannot read key file {path}: {reason}", where=where) from None
    return _secret_hex("".join(line.split("#", 1)[0] for line in text.splitlines()), f"key file {path}", where)
