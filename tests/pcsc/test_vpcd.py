"""serve_vpcd against a peer that speaks vpcd's side of the protocol over a real TCP socket.

The peer sends what vsmartcard's `vpcd.c` sends (a 2-byte big-endian length, then the message; 1-byte messages
are the VPCD_CTRL_* codes 0 off, 1 on, 2 reset, 4 ATR) so that protocol corners pcscd rarely produces (a peer
that goes away, unknown control codes, a failing card object) can be driven on purpose.  The whole path through
the real vpcd is in test_pcsc_integration.py.
"""

import socket
import subprocess
import sys
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.cards.echo import ECHO_ATR, EchoCard
from mcim.errors import TransportError
from mcim.transport.vpcd import FRAME, serve_vpcd


class RecordingCard(EchoCard):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def power_on(self) -> None:
        self.events.append("on")
        super().power_on()

    def power_off(self) -> None:
        self.events.append("off")
        super().power_off()

    def reset(self) -> None:
        self.events.append("reset")
        super().reset()


class FailingCard(EchoCard):
    def process(self, command: bytes) -> bytes:
        raise RuntimeError("card object bug")


class VpcdPeer:
    """The reader side: listens like vpcd does and talks to the card that connects."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(10)

    def send(self, payload: bytes) -> None:
        self.conn.sendall(FRAME.build(payload))

    def exchange(self, payload: bytes) -> bytes:
        self.send(payload)
        length = int.from_bytes(self._read(2), "big")
        return self._read(length)

    def _read(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.conn.recv(n - len(data))
            assert chunk, "card closed the connection"
            data += chunk
        return data

    def hang_up(self) -> None:
        self.conn.close()

    def close(self) -> None:
        if self.conn:
            self.conn.close()
        self.listener.close()


@pytest.fixture
def peer():
    p = VpcdPeer()
    yield p
    p.close()


@pytest.fixture
def serve(peer):
    """Start serve_vpcd on a card in a thread; stop and join it afterwards."""
    stop = threading.Event()
    threads = []

    def start(card):
        thread = threading.Thread(target=serve_vpcd, args=(card,), kwargs={"port": peer.port, "stop": stop},
                                  daemon=True)
        thread.start()
        threads.append(thread)
        peer.accept()

    yield start
    stop.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def test_control_codes_and_apdus(peer, serve):
    card = RecordingCard()
    serve(card)
    assert peer.exchange(b"\x04") == ECHO_ATR
    peer.send(b"\x01")
    peer.send(b"\x02")
    peer.send(b"\x09")  # unknown control code: ignored, no answer
    assert peer.exchange(bytes.fromhex("00ca0000")).hex() == "6985"
    peer.send(b"\x00")
    assert peer.exchange(b"\x04") == ECHO_ATR  # the card still answers in order after the unanswered codes
    assert card.events == ["on", "reset", "off"]


def test_failing_card_object_answers_6f00(peer, serve):
    serve(FailingCard())
    assert peer.exchange(bytes.fromhex("00ca0000")).hex() == "6f00"


def test_reconnects_when_vpcd_goes_away(peer, serve):
    card = RecordingCard()
    serve(card)
    peer.hang_up()
    peer.accept()  # the card comes back by itself
    assert card.events == ["off"]  # losing the reader is losing power
    assert peer.exchange(b"\x04") == ECHO_ATR


def test_unreachable_vpcd_without_reconnect():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(TransportError, match=f"cannot reach vpcd at 127.0.0.1:{port}"):
        serve_vpcd(EchoCard(), port=port, reconnect=False)


def test_sigterm_removes_the_card_cleanly(peer):
    code = f"from mcim.cards.echo import EchoCard; from mcim.transport.vpcd import serve_vpcd; " \
           f"serve_vpcd(EchoCard(), port={peer.port})"
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    try:
        peer.accept()
        assert peer.exchange(b"\x04") == ECHO_ATR
        process.terminate()
        assert process.wait(10) == 0, process.stderr.read().decode()
        assert peer.conn.recv(1) == b""  # the card closed its end: pcscd sees it removed
    finally:
        process.kill()
        process.wait()


@given(st.binary(max_size=0xFFFF))
def test_frame_round_trip(payload):
    framed = FRAME.build(payload)
    assert framed[:2] == len(payload).to_bytes(2, "big")
    assert FRAME.parse(framed) == payload
