"""PC/SC transport: a card in a reader, through pcscd (pcsc-lite) and pyscard.

pyscard is imported here only, and only when a reader is used, so the rest of mcim works without it.

Timeouts.  A PC/SC call that reaches a card which stopped answering blocks inside pcsc-lite: vpcd
(vsmartcard `vpcd.c` `recvFromVICC`) and most reader drivers wait for the card without a deadline, and the
pcsc-lite client waits for pcscd.  So every PC/SC call of a transport runs on one worker thread of its own,
and the caller waits at most `timeout` seconds for it.  When that passes, `CardTimeout` is raised and the
transport is dead: the worker is abandoned (a daemon thread; it finishes its call if the card ever answers,
then releases the connection) because a second call on the same PC/SC context would queue behind the
blocked one.  Open a new transport to carry on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from ..errors import BadInput, CardTimeout, TransportError

T = TypeVar("T")

# pcsc-lite's pcsclite.h / winscard.h values, spelled out here because pyscard is imported only when needed.
# Return codes, each with what it means for the caller:
SCARD_S_SUCCESS = 0x00000000
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E
_WHAT_WENT_WRONG = {
    0x8010000C: "no card in the reader",  # SCARD_E_NO_SMARTCARD
    0x80100069: "the card was removed",  # SCARD_W_REMOVED_CARD
    0x80100067: "the card is not powered",  # SCARD_W_UNPOWERED_CARD
    0x80100068: "the card was reset by another application",  # SCARD_W_RESET_CARD
    0x80100066: "the card does not answer",  # SCARD_W_UNRESPONSIVE_CARD
    0x80100065: "the card's ATR is not supported",  # SCARD_W_UNSUPPORTED_CARD
    0x8010000B: "the card is in use by another application",  # SCARD_E_SHARING_VIOLATION
    0x8010000F: "the card does not speak the requested protocol",  # SCARD_E_PROTO_MISMATCH
    0x80100009: "the reader is gone",  # SCARD_E_UNKNOWN_READER
    0x80100017: "the reader is gone",  # SCARD_E_READER_UNAVAILABLE
    SCARD_E_NO_READERS_AVAILABLE: "no readers are connected",
    0x8010001D: "the PC/SC service is not running (is pcscd started?)",  # SCARD_E_NO_SERVICE
    0x8010001E: "the PC/SC service stopped",  # SCARD_E_SERVICE_STOPPED
    0x80100016: "the reader could not complete the exchange (card removed?)",  # SCARD_E_NOT_TRANSACTED
    0x80100013: "the reader could not complete the exchange",  # SCARD_F_COMM_ERROR
}
_CARD_TIMEOUTS = {0x80100066, 0x8010000A}  # SCARD_W_UNRESPONSIVE_CARD, SCARD_E_TIMEOUT

_PROTOCOLS = {"any": 0x3, "t0": 0x1, "t1": 0x2}  # SCARD_PROTOCOL_T0 = 1, SCARD_PROTOCOL_T1 = 2
SCARD_SCOPE_USER = 0
SCARD_SHARE_EXCLUSIVE = 1  # a secure channel must not see another application's APDUs in between
SCARD_LEAVE_CARD = 0
SCARD_RESET_CARD = 1


def _scard() -> Any:
    """pyscard's PC/SC binding, imported on first use."""
    try:
        import smartcard.scard as scard
    except ImportError as exc:
        raise TransportError("pyscard is not installed", expected="mcim installed with the [pcsc] extra") from exc
    return scard


def _check(hresult: int, action: str) -> None:
    if hresult == SCARD_S_SUCCESS:
        return
    code = hresult & 0xFFFFFFFF
    what = _WHAT_WENT_WRONG.get(code) or _scard().SCardGetErrorMessage(hresult).rstrip(". ")
    error = CardTimeout if code in _CARD_TIMEOUTS else TransportError
    raise error(f"{action}: {what} (PC/SC 0x{code:08X})")


class _Worker:
    """A daemon thread that makes every PC/SC call of one transport, so a call that never returns can be left."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, future = job
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to the waiting caller, who re-raises it
                future.set_exception(exc)

    def submit(self, call: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((call, future))
        return future

    def stop(self) -> None:
        self._jobs.put(None)


def _wait(future: Future[T], timeout: float, action: str) -> T:
    try:
        return future.result(timeout)
    except TimeoutError:
        raise CardTimeout(f"{action}: no answer within {timeout:g} s") from None


def list_readers(timeout: float = 5.0) -> list[str]:
    """Names of the PC/SC readers pcscd knows, in its order; empty when there are none."""
    worker = _Worker("mcim-pcsc-list")
    try:
        return _wait(worker.submit(_list_readers), timeout, "listing PC/SC readers")
    finally:
        worker.stop()


def _list_readers() -> list[str]:
    scard = _scard()
    hresult, context = scard.SCardEstablishContext(SCARD_SCOPE_USER)
    _check(hresult, "connecting to the PC/SC service")
    try:
        return _readers_of(context)
    finally:
        scard.SCardReleaseContext(context)


def _readers_of(context: Any) -> list[str]:
    hresult, readers = _scard().SCardListReaders(context, [])
    if hresult & 0xFFFFFFFF == SCARD_E_NO_READERS_AVAILABLE:
        return []
    _check(hresult, "listing PC/SC readers")
    return list(readers)


def select_reader(wanted: str | int, available: list[str]) -> str:
    """The reader `wanted` names: its index, its exact name, or a substring (any case) of exactly one name."""
    if isinstance(wanted, str) and wanted in available:
        return wanted
    if isinstance(wanted, int) or wanted.isdecimal():
        index = int(wanted)
        if 0 <= index < len(available):
            return available[index]
        raise TransportError(f"no reader #{index}; {_listing(available)}")
    matches = [name for name in available if wanted.casefold() in name.casefold()]
    if len(matches) == 1:
        return matches[0]
    problem = "matches several readers" if matches else "matches no reader"
    raise TransportError(f"reader {wanted!r} {problem}; {_listing(available)}",
                         expected="an exact name, a unique part of one, or an index")


def _listing(available: list[str]) -> str:
    if not available:
        return "no readers are connected"
    return "available: " + ", ".join(f"#{i} {name!r}" for i, name in enumerate(available))


class PcscTransport:
    """A card in a PC/SC reader, connected exclusively; see the module notes on timeouts."""

    def __init__(self, reader: str | int, *, timeout: float = 5.0, protocol: str = "any") -> None:
        if not timeout > 0:
            raise BadInput(f"timeout {timeout}", where="PC/SC transport", expected="a positive number of seconds")
        if protocol.lower() not in _PROTOCOLS:
            raise BadInput(f"protocol {protocol!r}", where="PC/SC transport", expected="any, t0 or t1")
        self.timeout = timeout
        self.reader = str(reader)
        self._protocols = _PROTOCOLS[protocol.lower()]
        self._worker = _Worker(f"mcim-pcsc {reader}")
        self._context: Any = None
        self._card: Any = None
        self._active_protocol = 0
        self._dead = False
        self._closed = False
        self.atr = b""
        try:
            self._call(self._open, f"opening reader {reader!r}", wanted=reader)
        except BaseException:
            self.close()
            raise

    @property
    def protocol(self) -> str:
        """The protocol pcscd negotiated with the card: 'T=0' or 'T=1'."""
        return "T=0" if self._active_protocol == _PROTOCOLS["t0"] else "T=1"

    def transmit(self, command: bytes) -> bytes:
        return self._call(lambda: self._transmit(command), f"reader {self.reader!r}: sending a command")

    def reset(self) -> bytes:
        """Warm reset (SCardReconnect with SCARD_RESET_CARD); the ATR the card answers with."""
        return self._call(self._reset, f"reader {self.reader!r}: resetting the card")

    def close(self) -> None:
        """Release the card and the PC/SC context; safe to call twice, never blocks on a dead card."""
        if self._closed:
            return
        self._closed = True
        released = self._worker.submit(self._release)
        self._worker.stop()
        if not self._dead:
            _wait(released, self.timeout, f"reader {self.reader!r}: closing")

    def __enter__(self) -> PcscTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, call: Callable[..., T], action: str, **kwargs: Any) -> T:
        if self._closed:
            raise TransportError(f"{action}: the transport is closed")
        if self._dead:
            raise TransportError(f"{action}: the card stopped answering earlier",
                                 expected="a new transport (reconnect)")
        try:
            return _wait(self._worker.submit(lambda: call(**kwargs)), self.timeout, action)
        except CardTimeout:
            self._dead = True
            raise

    # Everything below runs on the worker thread.

    def _open(self, wanted: str | int) -> None:
        scard = _scard()
        hresult, context = scard.SCardEstablishContext(SCARD_SCOPE_USER)
        _check(hresult, "connecting to the PC/SC service")
        self._context = context
        self.reader = select_reader(wanted, _readers_of(context))
        hresult, card, protocol = scard.SCardConnect(context, self.reader, SCARD_SHARE_EXCLUSIVE, self._protocols)
        _check(hresult, f"reader {self.reader!r}: connecting to the card")
        self._card, self._active_protocol = card, protocol
        self.atr = self._status_atr()

    def _status_atr(self) -> bytes:
        hresult, _reader, _state, _protocol, atr = _scard().SCardStatus(self._card)
        _check(hresult, f"reader {self.reader!r}: reading the ATR")
        return bytes(atr)

    def _transmit(self, command: bytes) -> bytes:
        hresult, response = _scard().SCardTransmit(self._card, self._active_protocol, list(command))
        _check(hresult, f"reader {self.reader!r}: sending a command")
        return bytes(response)

    def _reset(self) -> bytes:
        hresult, protocol = _scard().SCardReconnect(self._card, SCARD_SHARE_EXCLUSIVE, self._protocols,
                                                    SCARD_RESET_CARD)
        _check(hresult, f"reader {self.reader!r}: resetting the card")
        self._active_protocol = protocol
        self.atr = self._status_atr()
        return self.atr

    def _release(self) -> None:
        if self._context is None:
            return
        scard = _scard()
        if self._card is not None:
            scard.SCardDisconnect(self._card, SCARD_LEAVE_CARD)
            self._card = None
        scard.SCardReleaseContext(self._context)
        self._context = None
