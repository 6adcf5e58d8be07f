"""jCardSim running mcim's Java Card applets as a card behind pcscd: the launcher of the `jcardsim` target.

jCardSim's vsmartcard client (`com.licel.jcardsim.remote.VSmartCard`, jcardsim 3.0.5.x) reads a Java properties
file, connects to vpcd at `com.licel.jcardsim.vsmartcard.host`:`com.licel.jcardsim.vsmartcard.port` and loads the
applet classes named by `com.licel.jcardsim.card.applet.<n>.AID` / `.Class` (jcardsim `Simulator(runtime,
properties)`).  The instances are then created with jCardSim's own CREATE APPLET command,
`80 B8 00 00 Lc | Li instance AID | 00 | La install data`, answered by `AID || 9000` (jcardsim
`CardManager.dispatchApduImpl`, which hands the data from Li on to the applet's `install`).

Newer jCardSim releases also open a "reloader" listener (`VSmartCard.ReloadThread`: `new ServerSocket(port)` on
every interface, default port 8099, taken from `com.licel.jcardsim.vsmartcard.reloader.port`).  The 3.0.5.11
build this project uses has none; the configuration written here still names a free port picked at start, so
that a newer jar never listens on the well-known one.

jCardSim's IO loop swallows exceptions: a command it cannot parse (an Lc that does not match the data, say) gets
no answer at all, and vpcd and pcscd wait for one forever.  So every command goes through the PC/SC transport's
timeout, and when it expires, or when the JVM is found dead, jCardSim is restarted and the applets re-created.
Their personalisation is lost then, and the error raised says so.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..errors import BadInput, CardTimeout, StateError, TransportError
from .base import Transport

MAIN_CLASS = "com.licel.jcardsim.remote.VSmartCard"
VPCD_PORT = 35963
# Debian vpcd's reader names for its default reader.conf entry: one slot per port from 35963.
DEFAULT_READERS = {VPCD_PORT: "Virtual PCD 00 00", VPCD_PORT + 1: "Virtual PCD 00 01"}
DEFAULT_PROJECT = Path(__file__).resolve().parents[3] / "applet-spec" / "javacard"

# The applets of applet-spec/javacard: the MCIM is a USIM (3GPP RID A000000087, application code 1002, TS 101 220
# Annex E); the bootstrap applet has a proprietary AID ("F0" category, ISO/IEC 7816-5), "MCIMBOOT" in ASCII.
MCIM_AID = bytes.fromhex("A0000000871002FF4D43494D00000001")
BOOTSTRAP_AID = bytes.fromhex("F04D43494D424F4F54")
MCIM_CLASS = "org.mcim.usim.McimApplet"
BOOTSTRAP_CLASS = "org.mcim.bootstrap.BootstrapApplet"
# Install data tags (applet-spec/profiles/personalisation.md): 80 personalisation key, 4F the partner applet.
TAG_PERSO_KEY = 0x80
TAG_PARTNER_AID = 0x4F

SW_OK = b"\x90\x00"
# Any well-formed command shows that the card answers; with no applet selected jCardSim says 6986 to this one.
PROBE = bytes.fromhex("00C0000000")
PR_SET_PDEATHSIG = 1
LOG_TAIL_LINES = 5


def _tlv(tag: int, value: bytes) -> bytes:
    if len(value) > 0x7F:
        raise BadInput(f"{len(value)}-byte value", where=f"install data tag {tag:02X}", expected="at most 127 bytes")
    return bytes([tag, len(value)]) + value


def _lv(value: bytes) -> bytes:
    return bytes([len(value)]) + value


@dataclass(frozen=True)
class AppletInstance:
    """An applet instance to create on jCardSim: its AID, its class, and the data its install() receives."""

    aid: bytes
    class_name: str
    install_data: bytes = field(default=b"", repr=False)  # may carry a personalisation key

    def __post_init__(self) -> None:
        if not 5 <= len(self.aid) <= 16:
            raise BadInput(f"{len(self.aid)}-byte AID", where=f"applet {self.class_name}", expected="5..16 bytes")

    def create_command(self) -> bytes:
        """jCardSim's CREATE APPLET: 80 B8 00 00 Lc [Li AID, 00 (no control data), La install data]."""
        data = bytes([len(self.aid)]) + self.aid + b"\x00" + _lv(self.install_data)
        if len(data) > 255:
            raise BadInput(f"{len(data)} bytes of CREATE APPLET data", where=f"applet {self.aid.hex().upper()}",
                           expected="at most 255")
        return bytes([0x80, 0xB8, 0x00, 0x00, len(data)]) + data


def mcim_applets(mcim_perso_key: bytes, bootstrap_perso_key: bytes, *, mcim_aid: bytes = MCIM_AID,
                 bootstrap_aid: bytes = BOOTSTRAP_AID) -> tuple[AppletInstance, AppletInstance]:
    """The MCIM and the bootstrap applet, each told the other's AID and given its personalisation key."""
    for name, key in (("MCIM", mcim_perso_key), ("bootstrap", bootstrap_perso_key)):
        if len(key) != 16:
            raise BadInput(f"{len(key)}-byte key", where=f"{name} personalisation key", expected="16 bytes (AES-128)")
    mcim_data = _tlv(TAG_PERSO_KEY, mcim_perso_key) + _tlv(TAG_PARTNER_AID, bootstrap_aid)
    bootstrap_data = _tlv(TAG_PERSO_KEY, bootstrap_perso_key) + _tlv(TAG_PARTNER_AID, mcim_aid)
    return (AppletInstance(mcim_aid, MCIM_CLASS, mcim_data),
            AppletInstance(bootstrap_aid, BOOTSTRAP_CLASS, bootstrap_data))


def new_perso_keys() -> tuple[bytes, bytes]:
    """Fresh random personalisation keys for the MCIM and the bootstrap applet (never fixed values)."""
    return secrets.token_bytes(16), secrets.token_bytes(16)


class JavaCardBuild(NamedTuple):
    """Where the Maven build left the applet classes and the runtime class path (the jCardSim jar)."""

    classes: Path
    libraries: tuple[Path, ...]

    @property
    def classpath(self) -> list[Path]:
        return [self.classes, *self.libraries]


def locate_build(project: Path = DEFAULT_PROJECT) -> JavaCardBuild:
    """target/classes and target/classpath.txt (written by the build's dependency:build-classpath) of `project`."""
    hint = f"a Maven build: mvn -B -q -f {project / 'pom.xml'} verify"
    classes = project / "target" / "classes"
    listing = project / "target" / "classpath.txt"
    if not (classes / Path(*MCIM_CLASS.split("."))).with_suffix(".class").is_file() or not listing.is_file():
        raise TransportError(f"no applet build under {project / 'target'}", where="jcardsim target", expected=hint)
    libraries = tuple(Path(entry) for entry in listing.read_text().strip().split(os.pathsep) if entry)
    missing = [str(path) for path in libraries if not path.is_file()]
    if missing:
        raise TransportError(f"class path entries missing: {', '.join(missing)}", where=str(listing), expected=hint)
    return JavaCardBuild(classes, libraries)


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux sends it SIGTERM when the thread that started it ends."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class JCardSimProcess:
    """jCardSim with the given applets on a vpcd reader, usable as a `Transport`.

    `start()` launches the JVM, waits until the reader shows the card (by connecting through `connect`, by
    default a PcscTransport on `reader`) and creates the applet instances; `stop()` ends it.  Start it from the
    thread that will stop it: the JVM is tied to that thread's life (PR_SET_PDEATHSIG).
    """

    def __init__(self, applets_classpath: Sequence[str | Path], vpcd_port: int = VPCD_PORT, *,
                 applets: Sequence[AppletInstance] = (), reader: str | int | None = None,
                 connect: Callable[[], Transport] | None = None, vpcd_host: str = "127.0.0.1",
                 java: str = "java", atr: bytes | None = None, timeout: float = 5.0,
                 startup_timeout: float = 60.0) -> None:
        if not applets_classpath:
            raise BadInput("empty class path", where="jcardsim target",
                           expected="the applet classes and the jCardSim jar (see locate_build)")
        if connect is None:
            reader = DEFAULT_READERS.get(vpcd_port) if reader is None else reader
            if reader is None:
                raise BadInput(f"no reader name for vpcd port {vpcd_port}", where="jcardsim target",
                               expected="reader= the PC/SC name of that vpcd slot")
            connect = _pcsc_connector(reader, timeout)
        self.classpath = [Path(entry) for entry in applets_classpath]
        self.vpcd_port = vpcd_port
        self.vpcd_host = vpcd_host
        self.applets = tuple(applets)
        self.java = java
        self.atr_override = atr
        self.startup_timeout = startup_timeout
        self.restarts = 0
        self._connect = connect
        self._process: subprocess.Popen[bytes] | None = None
        self._card: Transport | None = None
        self._workdir: Path | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self._process is not None:
            raise StateError("jCardSim is already started", where="jcardsim target")
        self._workdir = Path(tempfile.mkdtemp(prefix="mcim-jcardsim-"))
        config = self._workdir / "jcardsim.properties"
        config.write_text(self.configuration())
        command = [self.java, "-cp", os.pathsep.join(str(entry) for entry in self.classpath), MAIN_CLASS,
                   str(config)]
        try:
            with self._log_path().open("ab") as log:
                self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                                 stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        except OSError as exc:
            self.stop()
            raise TransportError(f"cannot run {self.java!r}: {exc}", where="jcardsim target",
                                 expected="a Java 17 runtime on PATH") from exc
        try:
            self._card = self._wait_for_card()
            for applet in self.applets:
                self._create(applet)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Disconnect, end the JVM (SIGTERM: its shutdown hook closes the vpcd socket) and clean up; idempotent."""
        if self._card is not None:
            card, self._card = self._card, None
            card.close()
        if self._process is not None:
            process, self._process = self._process, None
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def restart(self) -> None:
        """A fresh jCardSim with freshly created (unpersonalised) applet instances."""
        self.stop()
        self.start()
        self.restarts += 1

    # The Transport contract.

    def transmit(self, command: bytes) -> bytes:
        card = self._live_card()
        try:
            return card.transmit(command)
        except CardTimeout as exc:
            self.restart()
            raise CardTimeout(f"{exc.message}; jCardSim was restarted, its applets re-created unpersonalised",
                              where=exc.where, expected=exc.expected) from exc

    def reset(self) -> bytes:
        return self._live_card().reset()

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> JCardSimProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Internals.

    def _live_card(self) -> Transport:
        if self._process is None or self._card is None:
            raise StateError("jCardSim is not started", where="jcardsim target", expected="start() first")
        if self._process.poll() is not None:
            code = self._process.returncode
            self.restart()
            raise TransportError(f"jCardSim had exited with {code}; restarted, its applets re-created "
                                 "unpersonalised", where="jcardsim target")
        return self._card

    def configuration(self) -> str:
        """The configuration VSmartCard.main reads (java.util.Properties; hex and class names need no escaping)."""
        lines = [
            f"com.licel.jcardsim.vsmartcard.host={self.vpcd_host}",
            f"com.licel.jcardsim.vsmartcard.port={self.vpcd_port}",
            f"com.licel.jcardsim.vsmartcard.reloader.port={_free_loopback_port()}",
        ]
        if self.atr_override is not None:
            lines.append(f"com.licel.jcardsim.card.ATR={self.atr_override.hex().upper()}")
        for index, applet in enumerate(self.applets):
            lines.append(f"com.licel.jcardsim.card.applet.{index}.AID={applet.aid.hex().upper()}")
            lines.append(f"com.licel.jcardsim.card.applet.{index}.Class={applet.class_name}")
        return "\n".join(lines) + "\n"

    def _wait_for_card(self) -> Transport:
        """Connect until the reader shows jCardSim's card and it answers (its vpcd client waits 3 s after
        connecting, and pcscd may still be showing the card of a jCardSim that was just stopped)."""
        deadline = time.monotonic() + self.startup_timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise TransportError(f"jCardSim exited with {self._process.returncode}: {self._log_tail()}",
                                     where="jcardsim target")
            try:
                return self._answering_card()
            except TransportError as exc:
                if time.monotonic() > deadline:
                    raise TransportError(f"no card after {self.startup_timeout:g} s ({exc.message}); jCardSim "
                                         f"said: {self._log_tail()}", where="jcardsim target",
                                         expected=f"vpcd listening on {self.vpcd_host}:{self.vpcd_port}") from exc
            time.sleep(0.2)

    def _answering_card(self) -> Transport:
        card = self._connect()
        try:
            card.transmit(PROBE)
        except BaseException:
            card.close()
            raise
        return card

    def _create(self, applet: AppletInstance) -> None:
        assert self._card is not None
        response = self._card.transmit(applet.create_command())
        if response != applet.aid + SW_OK:
            raise TransportError(f"CREATE APPLET {applet.aid.hex().upper()} ({applet.class_name}) answered "
                                 f"{response.hex().upper()}: {self._log_tail()}", where="jcardsim target",
                                 expected="the AID and 9000")

    def _log_path(self) -> Path:
        assert self._workdir is not None
        return self._workdir / "jcardsim.log"

    def _log_tail(self) -> str:
        if self._workdir is None or not self._log_path().exists():
            return "no output"
        lines = self._log_path().read_text(errors="replace").splitlines()
        return " | ".join(lines[-LOG_TAIL_LINES:]) or "no output"


def _pcsc_connector(reader: str | int, timeout: float) -> Callable[[], Transport]:
    def connect() -> Transport:
        from .pcsc import PcscTransport

        return PcscTransport(reader, timeout=timeout)

    return connect
