"""Real PC/SC for tests: a private pcscd with a vpcd reader, and virtual cards served into its slots.

Nothing is mocked: pcscd (pcsc-lite), the vpcd reader driver (vsmartcard) and pyscard run for real; only the
card is a Python object, served over vpcd's socket by `mcim.transport.vpcd.serve_vpcd` from a thread.

Isolation.  pcsc-lite 1.9.9's client library takes its socket path from PCSCLITE_CSOCK_NAME, but its daemon
does not (it always serves /run/pcscd/pcscd.comm; checked by starting `pcscd -f` with the variable set).  So the
private daemon runs in a mount namespace of its own (`unshare --mount`, plus `--user` when not root) where
/run/pcscd is a directory of this session; the tests' client points PCSCLITE_CSOCK_NAME there.  A system pcscd,
other test sessions and other vpcd users are untouched.  Where no namespace can be made, the daemon takes the
system socket instead, under a lock file, and only if no other pcscd is serving it.

The reader.conf.d given to pcscd (`-c`) holds one vpcd entry on a free port pair (vpcd slot n listens on
port+n).  Every process started here dies with the test process (PR_SET_PDEATHSIG) and is stopped at teardown.

Use from a conftest: `from tests.pcsc_harness import echo_reader, pcscd, spare_slot  # noqa: F401`
(or list "tests.pcsc_harness" in the root conftest's `pytest_plugins`).  The `pcscd` fixture gives the slots'
reader names and vpcd ports, for cards served from elsewhere (e.g. jCardSim's vpcd client).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from mcim.cards.echo import EchoCard
from mcim.errors import TransportError
from mcim.transport.inprocess import Card
from mcim.transport.pcsc import list_readers
from mcim.transport.vpcd import serve_vpcd

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
SYSTEM_RUN_DIR = Path("/run/pcscd")
SOCKET_NAME = "pcscd.comm"
READER_NAME = "mcim vpcd"  # pcscd names the slots "<FRIENDLYNAME> 00 00", "<FRIENDLYNAME> 00 01"
SLOTS = 2  # Debian's vpcd opens two slots per reader.conf entry
FALLBACK_LOCK = Path("/tmp/mcim-pcscd.lock")
START_DEADLINE = 20.0  # seconds for pcscd to serve its socket and list our readers
CARD_DEADLINE = 20.0  # seconds for pcscd to notice a card that connected (it polls every 0.4 s)
LOCK_DEADLINE = 600.0  # seconds to wait for another session using the system socket
PR_SET_PDEATHSIG = 1

# Inside the namespace: give the daemon our directory ($1) as /run/pcscd (made on a private tmpfs /run when it
# does not exist and cannot be created, i.e. when not root), then become pcscd (the rest of the arguments).
_NAMESPACE_SCRIPT = """
set -e
[ -d /run/pcscd ] || { mount -t tmpfs mcim-run /run; mkdir /run/pcscd; }
mount --bind "$1" /run/pcscd
shift 1
exec "$@"
"""


class HarnessUnavailable(Exception):
    """This machine cannot run the PC/SC harness; the message says why and what to install or change."""


def _pcscd_binary() -> str | None:
    return shutil.which("pcscd", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


def _pcscd_command(conf: Path) -> list[str]:
    """pcscd in the foreground on our reader.conf.d; MCIM_PCSCD_DEBUG=1 logs every APDU to pcscd.log."""
    debug = ["--debug", "--apdu"] if os.environ.get("MCIM_PCSCD_DEBUG") else []
    return [str(_pcscd_binary()), "--foreground", "--config", str(conf), *debug]


def missing_prerequisites() -> str | None:
    """Why the harness cannot run here, or None."""
    missing = [name for name, present in (("pcscd", _pcscd_binary()), ("vsmartcard-vpcd", VPCD_DRIVER.exists()))
               if not present]
    if missing:
        return f"PC/SC harness needs the Debian packages {' '.join(missing)} (run scripts/system-deps.sh)"
    try:
        import smartcard.scard  # noqa: F401
    except ImportError:
        return "PC/SC harness needs pyscard (pip install -e '.[test]')"
    return None


def unavailable(reason: str) -> NoReturn:
    """Under CI a missing harness is a failure; on a developer machine the PC/SC tests are skipped."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends it SIGTERM if the test process dies first."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port_pair() -> int:
    """A port p with p and p+1 free (vpcd binds INADDR_ANY), below Linux's ephemeral range."""
    for _ in range(100):
        port = random.randrange(20000, 32000)
        try:
            for candidate in (port, port + 1):
                with socket.socket() as probe:
                    probe.bind(("", candidate))
        except OSError:
            continue
        return port
    raise HarnessUnavailable("found no free TCP port pair for vpcd in 20000-32000")


def _serving(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


class PrivatePcscd:
    """pcscd with one vpcd reader of `SLOTS` slots, configured and run under `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port_pair()
        self.log = workdir / "pcscd.log"
        self.socket = workdir / "run" / SOCKET_NAME
        self.isolated = True
        self._process: subprocess.Popen[bytes] | None = None
        self._lock: int | None = None
        self._previous_socket_env = os.environ.get("PCSCLITE_CSOCK_NAME")

    def reader(self, slot: int) -> str:
        return f"{READER_NAME} 00 {slot:02d}"

    def slot_port(self, slot: int) -> int:
        return self.port + slot

    def start(self) -> None:
        conf = self.workdir / "reader.conf.d"
        conf.mkdir()
        # pcsc-lite reader.conf(5) entry; vpcd reads DEVICENAME "/dev/null:<port>" as "listen on <port>"
        # (vsmartcard ifd-vpcd.c IFDHCreateChannelByName).
        (conf / "mcim-vpcd").write_text(
            f'FRIENDLYNAME "{READER_NAME}"\nDEVICENAME /dev/null:{self.port}\n'
            f"LIBPATH {VPCD_DRIVER}\nCHANNELID {self.port}\n")
        self.socket.parent.mkdir()
        try:
            self._spawn(self._namespace_command(conf))
            self._wait_until_serving()
        except HarnessUnavailable as namespace_failure:
            self._terminate()
            self._start_on_system_socket(conf, namespace_failure)

    def _namespace_command(self, conf: Path) -> list[str]:
        unshare = shutil.which("unshare")
        if unshare is None:
            raise HarnessUnavailable("unshare (util-linux) is not installed")
        user = []
        if os.geteuid() == 0:
            SYSTEM_RUN_DIR.mkdir(parents=True, exist_ok=True)
        else:
            user = ["--user", "--map-root-user"]
        return [unshare, *user, "--mount", "--propagation", "private", "sh", "-c", _NAMESPACE_SCRIPT,
                "mcim-pcscd", str(self.socket.parent), *_pcscd_command(conf)]

    def _start_on_system_socket(self, conf: Path, why: HarnessUnavailable) -> None:
        """No private namespace: share the system socket, one test session at a time."""
        self.isolated = False
        self.socket = SYSTEM_RUN_DIR / SOCKET_NAME
        self._lock = os.open(FALLBACK_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + LOCK_DEADLINE
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise HarnessUnavailable(
                        f"another test session held {FALLBACK_LOCK} for {LOCK_DEADLINE:g} s") from None
                time.sleep(0.5)
        if _serving(self.socket):
            raise HarnessUnavailable(
                f"no private pcscd possible ({why}) and another pcscd already serves {self.socket}; "
                "stop it (systemctl stop pcscd.socket pcscd) or run the tests as root")
        self._spawn(_pcscd_command(conf))
        self._wait_until_serving()

    def _spawn(self, command: list[str]) -> None:
        os.environ["PCSCLITE_CSOCK_NAME"] = str(self.socket)
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def _wait_until_serving(self) -> None:
        wanted = {self.reader(slot) for slot in range(SLOTS)}
        deadline = time.monotonic() + START_DEADLINE
        readers: list[str] = []
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise HarnessUnavailable(f"pcscd exited with {self._process.returncode}: {self._log_tail()}")
            if _serving(self.socket):
                try:
                    readers = list_readers()
                except TransportError as exc:
                    raise HarnessUnavailable(
                        f"pcscd serves {self.socket} but the PC/SC client cannot reach it ({exc}); does "
                        "libpcsclite honour PCSCLITE_CSOCK_NAME, and was it set before pyscard's first use?"
                    ) from exc
                if wanted <= set(readers):
                    return
            time.sleep(0.1)
        raise HarnessUnavailable(f"pcscd did not list {sorted(wanted)} within {START_DEADLINE:g} s "
                                 f"(it listed {readers}): {self._log_tail()}")

    def _log_tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        return " | ".join(lines[-5:]) or "no output"

    def _terminate(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def stop(self) -> None:
        self._terminate()
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None
        if self._previous_socket_env is None:
            os.environ.pop("PCSCLITE_CSOCK_NAME", None)
        else:
            os.environ["PCSCLITE_CSOCK_NAME"] = self._previous_socket_env


class VirtualCard:
    """A card object served into one vpcd slot from a thread of the test process."""

    def __init__(self, card: Card, reader: str, port: int) -> None:
        self.card = card
        self.reader = reader
        self._stop = threading.Event()
        self._thread = threading.Thread(target=serve_vpcd, args=(card,), daemon=True, name=f"vpcd card :{port}",
                                        kwargs={"port": port, "stop": self._stop})

    def insert(self) -> bytes:
        """Connect to vpcd; the ATR once pcscd shows the card in the reader."""
        self._thread.start()
        return wait_for_card(self.reader, present=True)

    def remove(self) -> None:
        """Disconnect from vpcd and wait until pcscd shows the reader empty."""
        if not self._thread.is_alive():
            return
        self._stop.set()
        self._thread.join(10)
        if self._thread.is_alive():
            raise RuntimeError(f"virtual card in {self.reader!r} did not stop (is its process() blocked?)")
        wait_for_card(self.reader, present=False)


def wait_for_card(reader: str, *, present: bool) -> bytes:
    """Wait until pcscd's view of `reader` is a card (then return its ATR) or no card (then b"").

    pcscd notices insertion and removal by polling vpcd (every 0.4 s); until it has, its view is stale, and
    a PC/SC exchange with a card that just arrived fails.  SCardGetStatusChange reports that view.
    """
    from smartcard import scard

    wanted = scard.SCARD_STATE_PRESENT if present else scard.SCARD_STATE_EMPTY
    deadline = time.monotonic() + CARD_DEADLINE
    while True:
        state, atr = _reader_state(reader)
        if state & wanted and not state & scard.SCARD_STATE_MUTE:
            return bytes(atr) if present else b""
        if time.monotonic() > deadline:
            raise TransportError(f"reader {reader!r} still in PC/SC state 0x{state:x} after {CARD_DEADLINE:g} s",
                                 expected="a card" if present else "no card")
        time.sleep(0.05)


def _reader_state(reader: str) -> tuple[int, list[int]]:
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise TransportError(f"PC/SC: {scard.SCardGetErrorMessage(hresult)}")
    try:
        hresult, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        if hresult != scard.SCARD_S_SUCCESS:
            raise TransportError(f"PC/SC state of {reader!r}: {scard.SCardGetErrorMessage(hresult)}")
        _name, state, atr = states[0]
        return state, atr
    finally:
        scard.SCardReleaseContext(context)


class Slot:
    """One vpcd slot of the private pcscd; cards inserted through it are removed at teardown."""

    def __init__(self, daemon: PrivatePcscd, slot: int) -> None:
        self.reader = daemon.reader(slot)
        self.port = daemon.slot_port(slot)
        self._cards: list[VirtualCard] = []

    def insert(self, card: Card) -> VirtualCard:
        virtual = VirtualCard(card, self.reader, self.port)
        self._cards.append(virtual)
        virtual.insert()
        return virtual

    def remove_all(self) -> None:
        while self._cards:
            self._cards.pop().remove()


# One daemon per test process, however many conftests import these fixtures: libpcsclite remembers the first
# socket it connected to, so a second private daemon could not be reached anyway.
_running: PrivatePcscd | None = None


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePcscd]:
    """The private pcscd: slot 0 holds an EchoCard for the whole session, slot 1 is for tests' own cards."""
    global _running
    if _running is not None:
        yield _running
        return
    reason = missing_prerequisites()
    if reason:
        unavailable(reason)
    daemon = PrivatePcscd(tmp_path_factory.mktemp("pcscd"))
    try:
        daemon.start()
    except HarnessUnavailable as exc:
        daemon.stop()
        unavailable(f"{exc}")
    echo = VirtualCard(EchoCard(), daemon.reader(0), daemon.slot_port(0))
    _running = daemon
    try:
        echo.insert()
        yield daemon
    finally:
        _running = None
        echo.remove()
        daemon.stop()


@pytest.fixture(scope="session")
def echo_reader(pcscd: PrivatePcscd) -> str:
    """Name of the reader holding the session's EchoCard."""
    return pcscd.reader(0)


@pytest.fixture
def spare_slot(pcscd: PrivatePcscd) -> Iterator[Slot]:
    """An empty reader slot; the cards a test inserts are removed after it."""
    slot = Slot(pcscd, 1)
    try:
        yield slot
    finally:
        slot.remove_all()
