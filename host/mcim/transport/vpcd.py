"""The card side of vsmartcard's vpcd protocol: puts a Python card object into a PC/SC reader.

vpcd is the pcscd reader driver of frankmorgner/vsmartcard (Debian `vsmartcard-vpcd`).  Each of its slots
listens on a TCP port (the reader.conf `DEVICENAME /dev/null:<port>`, slot n on port+n); the virtual card
connects to it and answers.  Protocol, as implemented in vsmartcard `virtualsmartcard/src/vpcd/vpcd.c`
(`sendToVICC`/`recvFromVICC`, `VPCD_CTRL_*` in `vpcd.h`) and served by `vpicc/virtualsmartcard/VirtualSmartcard.py`
(`VirtualICC.run`):

- every message is a 2-byte big-endian length followed by that many bytes, in both directions;
- a 1-byte message from vpcd is a control code: 0 power off, 1 power on, 2 reset, 4 get ATR; only "get ATR"
  is answered (with the ATR as one message);
- any longer message is a command APDU, answered with the response APDU (data || SW1 SW2);
- vpcd polls for card presence by asking for the ATR (`vicc_present`), so "get ATR" arrives several times a second.

APDU contents are never logged: they may carry keys.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from enum import IntEnum

from construct import GreedyBytes, Int16ub, Prefixed

from ..errors import TransportError
from .inprocess import Card

log = logging.getLogger(__name__)

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963  # vpcd.h VPCDPORT; slot 1 of the Debian reader listens on 35964

# vpcd.c sendToVICC/recvFromVICC: a uint16 length in network byte order, then the payload.
LENGTH = Int16ub
FRAME = Prefixed(LENGTH, GreedyBytes)

# The answer when the card object fails or gives a response that does not fit in a frame:
# ISO/IEC 7816-4 §5.6, '6F00' = no precise diagnosis.
NO_PRECISE_DIAGNOSIS = b"\x6f\x00"

POLL_INTERVAL = 0.2  # how often a blocked receive or connect looks at the stop event, seconds
RETRY_INTERVAL = 0.5  # pause between connection attempts while vpcd is not there, seconds


class Control(IntEnum):
    """vpcd.h VPCD_CTRL_*: the 1-byte messages."""

    POWER_OFF = 0
    POWER_ON = 1
    RESET = 2
    ATR = 4


class _Stopped(Exception):
    """The stop event was set while waiting on the socket."""


def serve_vpcd(card: Card, host: str = VPCD_HOST, port: int = VPCD_PORT, stop: threading.Event | None = None,
               reconnect: bool = True) -> None:
    """Serve `card` to the vpcd slot at host:port until `stop` is set (or SIGTERM/SIGINT in the main thread).

    With `reconnect`, waits for vpcd to appear and reconnects whenever it goes away (pcscd restarted); without
    it, returns when the connection ends and raises TransportError when vpcd cannot be reached at all.
    Closing the connection is how the card leaves the reader: pcscd then reports it removed.
    """
    stop = stop or threading.Event()
    with _stop_on_signals(stop):
        while not stop.is_set():
            sock = _connect(host, port, stop, reconnect)
            if sock is None:
                return
            with sock:
                log.info("virtual card connected to vpcd at %s:%d", host, port)
                try:
                    _serve_connection(sock, card, stop)
                except _Stopped:
                    return
                finally:
                    card.power_off()
            log.info("vpcd at %s:%d closed the connection", host, port)
            if not reconnect:
                return


def _connect(host: str, port: int, stop: threading.Event, reconnect: bool) -> socket.socket | None:
    """A connection to vpcd, or None once `stop` is set."""
    while not stop.is_set():
        try:
            sock = socket.create_connection((host, port), timeout=POLL_INTERVAL)
        except OSError as exc:
            if not reconnect:
                raise TransportError(f"cannot reach vpcd at {host}:{port}: {exc.strerror or exc}",
                                     expected="pcscd running with the vpcd reader driver on that port") from exc
            stop.wait(RETRY_INTERVAL)
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    return None


def _serve_connection(sock: socket.socket, card: Card, stop: threading.Event) -> None:
    """Answer vpcd's messages until it closes the connection."""
    while True:
        header = _receive(sock, LENGTH.sizeof(), stop)
        if header is None:
            return
        payload = _receive(sock, LENGTH.parse(header), stop)
        if payload is None:
            return
        answer = _handle(card, payload)
        if answer is None:
            continue
        try:
            sock.sendall(FRAME.build(answer))
        except OSError:
            return  # vpcd went away while the card was answering


def _handle(card: Card, payload: bytes) -> bytes | None:
    """The answer to one vpcd message, None for control codes that take none."""
    if len(payload) != 1:
        return _process(card, payload) if payload else None
    code = payload[0]
    if code == Control.ATR:
        return card.atr()
    if code == Control.POWER_ON:
        card.power_on()
    elif code == Control.POWER_OFF:
        card.power_off()
    elif code == Control.RESET:
        card.reset()
    else:
        log.warning("ignoring unknown vpcd control code %d", code)
    return None


def _process(card: Card, command: bytes) -> bytes:
    """The card's response; a failing card object answers '6F00' so the reader and the host carry on."""
    try:
        response = card.process(command)
    except Exception:
        log.exception("card object failed on a %d-byte command; answering 6F00", len(command))
        return NO_PRECISE_DIAGNOSIS
    if not 2 <= len(response) <= 0xFFFF:
        log.error("card object gave a %d-byte response; answering 6F00", len(response))
        return NO_PRECISE_DIAGNOSIS
    return response


def _receive(sock: socket.socket, size: int, stop: threading.Event) -> bytes | None:
    """Exactly `size` bytes, or None when the peer closed the connection."""
    buffer = bytearray()
    while len(buffer) < size:
        if stop.is_set():
            raise _Stopped
        try:
            chunk = sock.recv(size - len(buffer))
        except TimeoutError:
            continue
        except ConnectionError:
            return None
        if not chunk:
            return None
        buffer += chunk
        _ack_now(sock)
    return bytes(buffer)


def _ack_now(sock: socket.socket) -> None:
    """Acknowledge at once.  vpcd writes a message's length and its payload in two send() calls (vsmartcard
    `vpcd.c` `sendToVICC` up to the version Debian ships; later versions send one buffer) without TCP_NODELAY, so
    Nagle holds the payload until the length is acknowledged; with Linux's 40 ms delayed ACK that capped a
    reader at about 20 APDUs per second (measured).  TCP_QUICKACK is not sticky, hence after every receive."""
    if hasattr(socket, "TCP_QUICKACK"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """In the main thread, SIGTERM and SIGINT set `stop` (a clean card removal) instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
