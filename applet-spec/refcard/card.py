"""The reference UICC: power, ATR, command dispatch with T=0 semantics, logical channels, persistence.

Command handlers live in `fs_commands` (TS 102 221 file commands), `pin_commands` (§11.1.9-13) and
`admin_commands` (TS 102 222); applications (the USIM, later a security domain) add their own through
`Application.handler`.  Every handler either returns a `Reply` or raises `Refused(sw)` before touching state.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from mcim.apdu import CommandApdu, decode_cla
from mcim.errors import BadInput, DecodeError

from . import admin_commands, fs_commands, pin_commands
from .access import SecurityState
from .context import Channel, Reply
from .files import MF_FID, Adf, Df, Ef, node_from_dict
from .isd import Isd
from .ota import install_ota
from .status import Refused, Sw, with_length
from .usim_app import UsimApplication

STATE_FORMAT = "mcim-refcard-state/1"
CHANNELS = 20  # logical channels 0..19 (TS 102 221 §10.1.1: CLA 0X/4X/6X and 8X/CX/EX)
INS_GET_RESPONSE = 0xC0
INS_MANAGE_CHANNEL = 0x70


def _atr() -> bytes:
    """TS 3B; T0 = TA1, TD1 present, 7 historical bytes; TA1 96 (Fi 512 / Di 32); TD1 80 (T=0, TD2 follows);
    TD2 1F (T=15, TA3 follows); TA3 C7 (clock stop no preference, classes A, B, C: TS 102 221 §6.3);
    historical bytes (ISO 7816-4 §8.1.1): 80 category, 31 E0 card service data (selection by full and partial
    DF name, DOs in EF.DIR), 73 FE 21 1F card capabilities (every selection method, SFI, record numbers;
    channels assigned by card and terminal, 8 or more); TCK = XOR of T0..last byte (needed since T=15)."""
    body = bytes.fromhex("97 96 80 1F C7 80 31 E0 73 FE 21 1F")
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes((tck,))


ATR = _atr()


Handler = Callable[["RefCard", Channel, CommandApdu], Reply]


class Toolkit(Protocol):
    """The card's proactive side (the OTA receiving entity, ota.py): what FETCH would return next, volatile
    state a reset clears, and its configuration for the state file."""

    def pending(self) -> bytes | None: ...

    def reset(self) -> None: ...

    def to_dict(self) -> dict[str, Any]: ...


class Application(Protocol):
    """What an ADF's application offers the card: its own commands and its persistent form."""

    kind: str

    def handler(self, proprietary: bool, ins: int) -> Handler | None: ...

    def to_dict(self) -> dict[str, Any]: ...


APPLICATION_LOADERS: dict[str, Callable[[Adf, dict[str, Any]], Application]] = {
    UsimApplication.kind: UsimApplication.from_dict,
    Isd.kind: Isd.from_dict,
}


def cla_family(cla: int) -> bool:
    """True for the TS 102 221 proprietary classes 8X/CX/EX, False for ISO 0X/4X/6X; RFU classes refused.
    b8b7b6 = 001 or 101 (20-3F, A0-BF, which includes GSM 'A0') and FF are not UICC classes (§10.1.1)."""
    if cla == 0xFF or cla >> 5 in (1, 5):
        raise Refused(Sw.CLA_NOT_SUPPORTED)
    return bool(cla & 0x80)


class RefCard:
    """A UICC in memory.  `state_path`, when set, receives the complete card content after every change."""

    def __init__(self, *, iccid: str = "", eid: str = "", memory: int = 64 * 1024,
                 state_path: str | Path | None = None) -> None:
        self.mf = Df(MF_FID)
        self.adfs: list[Adf] = []
        self.security = SecurityState()
        self.iccid = iccid
        self.eid = eid
        self.memory = memory
        self.state_path = Path(state_path) if state_path is not None else None
        self._commands: dict[tuple[bool, int], Handler] = {}
        for table in (fs_commands.COMMANDS, pin_commands.COMMANDS, admin_commands.COMMANDS):
            self._commands.update(table)
        self._commands[(False, INS_GET_RESPONSE)] = _get_response
        self._commands[(False, INS_MANAGE_CHANNEL)] = _manage_channel
        self._channels: dict[int, Channel] = {}
        self._pending: tuple[int, bytes] | None = None
        self._previous_pending: tuple[int, bytes] | None = None
        self._changed = False
        self._powered = False
        self.toolkit: Toolkit | None = None

    # --- the card object interface (vpcd server, in-process transport) -----------------------------------

    def atr(self) -> bytes:
        return ATR

    def power_on(self) -> None:
        self.reset()
        self._powered = True

    def power_off(self) -> None:
        self._clear_volatile()
        self._powered = False

    def reset(self) -> None:
        """Cold or warm reset: channels, selections, pending response and PIN verification are cleared."""
        self._clear_volatile()
        self._powered = True

    def process(self, command: bytes) -> bytes:
        """One command APDU in, one response APDU (data || SW1 SW2) out; never raises."""
        if not self._powered:
            self.reset()
        self._previous_pending, self._pending = self._pending, None
        channel = command[0] if command else 0
        try:
            reply = self._dispatch(bytes(command))
        except Refused as refusal:
            reply = Reply(b"", refusal.sw)
        except Exception:  # a handler bug must not take the card down; tests assert 6F00 never appears
            reply = Reply(b"", Sw.TECHNICAL_PROBLEM)
        if self._changed:
            self.save()
        if reply.deferred and reply.data:
            self._pending = (_channel_of(channel), reply.data)
            sw = with_length(Sw.BYTES_AVAILABLE, len(reply.data)) if reply.sw == Sw.OK else reply.sw
            return sw.to_bytes(2, "big")
        return reply.data + self._proactive_status(reply.sw).to_bytes(2, "big")

    # --- what handlers and applications use -----------------------------------------------------------------

    def mark_changed(self) -> None:
        """Called by every handler right after it changed persistent content."""
        self._changed = True

    def register_command(self, proprietary: bool, ins: int, handler: Handler) -> None:
        """Card-level commands added by later modules (e.g. ENVELOPE for OTA)."""
        self._commands[(proprietary, ins)] = handler

    def channels(self) -> dict[int, Channel]:
        return self._channels

    def available_memory(self) -> int:
        used = self.mf.footprint() + sum(adf.footprint() for adf in self.adfs)
        return max(0, self.memory - used)

    def add_adf(self, adf: Adf) -> None:
        adf.parent = self.mf
        self.adfs.append(adf)

    def remove_adf(self, adf: Adf) -> None:
        self.adfs.remove(adf)
        self.security.local_pins.pop(adf.aid, None)
        for ch in self._channels.values():
            if ch.adf is adf or _inside(ch.df, adf):
                ch.df, ch.ef, ch.adf, ch.record = self.mf, None, None, 0

    def find_adf(self, aid: bytes) -> Adf | None:
        return next((adf for adf in self.adfs if adf.aid == aid), None)

    def create_usim_instance(self, aid: bytes, params: Any) -> Adf:
        """An ADF for a new USIM instance with its keys and SQN state (from a profile now, from INSTALL later).
        The ADF starts empty; its files come from the profile or from CREATE FILE (RFM)."""
        if not 5 <= len(aid) <= 16:
            raise BadInput(f"{len(aid)}-byte AID", where="USIM instance", expected="5..16 bytes")
        if self.find_adf(aid) is not None:
            raise BadInput(f"AID {aid.hex()} exists", where="USIM instance", expected="a new AID")
        adf = Adf(aid, arr=params.arr)
        adf.app = UsimApplication(adf, params)
        self.add_adf(adf)
        self.mark_changed()
        return adf

    # --- state file ------------------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "identity": {"iccid": self.iccid, "eid": self.eid}, "memory": self.memory,
                "mf": self.mf.to_dict(), "adfs": [_adf_state(adf) for adf in self.adfs],
                "pins": self.security.to_dict()} | ({"ota": self.toolkit.to_dict()} if self.toolkit else {})

    @classmethod
    def load(cls, state: dict[str, Any] | str | Path, *, state_path: str | Path | None = None) -> RefCard:
        """A card from a state dict or a state file (which then also receives later changes)."""
        if isinstance(state, dict):
            doc = state
        else:
            path = Path(state)
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise BadInput(f"cannot read card state: {exc}", where=str(path)) from None
            state_path = state_path or path
        if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise BadInput(f"format {found!r}", where="card state", expected=STATE_FORMAT)
        try:
            return cls._from_state(doc, state_path)
        except (KeyError, TypeError, ValueError, DecodeError) as exc:
            raise BadInput(f"inconsistent card state ({type(exc).__name__}: {exc})", where="card state") from None

    @classmethod
    def _from_state(cls, state: dict[str, Any], state_path: str | Path | None) -> RefCard:
        card = cls(iccid=state["identity"]["iccid"], eid=state["identity"]["eid"], memory=state["memory"],
                   state_path=state_path)
        card.mf = node_from_dict(state["mf"])  # type: ignore[assignment]
        for entry in state["adfs"]:
            adf = node_from_dict(entry["adf"])
            if not isinstance(adf, Adf):
                raise ValueError("an application entry without an ADF")
            if entry.get("app"):
                adf.app = APPLICATION_LOADERS[entry["app"]["kind"]](adf, entry["app"])
            card.add_adf(adf)
        card.security.load_dict(state["pins"])
        if "ota" in state:
            install_ota(card, state["ota"])
        card.reset()
        return card

    def save(self) -> None:
        """Write the state file atomically: temp file in the same directory, fsync, rename over the old one."""
        self._changed = False
        if self.state_path is None:
            return
        data = json.dumps(self.to_state(), indent=1).encode("utf-8")
        directory = self.state_path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.state_path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)  # the state holds K/OPc and PIN values, like the card's own memory
            os.replace(tmp, self.state_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # --- internals -------------------------------------------------------------------------------------------

    def _clear_volatile(self) -> None:
        self._channels = {0: Channel(self.mf)}
        self._pending = self._previous_pending = None
        self.security.clear_verification()
        if self.toolkit is not None:
            self.toolkit.reset()

    def _proactive_status(self, sw: int) -> int:
        """91XX in place of 9000 while a proactive command waits for FETCH (TS 102 221 §10.2.1.1)."""
        command = self.toolkit.pending() if self.toolkit is not None and sw == Sw.OK else None
        return 0x9100 | len(command) & 0xFF if command else sw

    def _dispatch(self, raw: bytes) -> Reply:
        if len(raw) < 4:
            raise Refused(Sw.WRONG_LENGTH)
        cla, ins = raw[0], raw[1]
        proprietary = cla_family(cla)
        if ins & 0xF0 in (0x60, 0x90):
            raise Refused(Sw.INS_NOT_SUPPORTED)  # ISO 7816-4 §5.1.2: 6X and 9X are invalid INS codes
        try:
            apdu = CommandApdu.parse(raw)
        except DecodeError:
            raise Refused(Sw.WRONG_LENGTH) from None
        number, secure_messaging, chaining = decode_cla(cla)
        ch = self._channels.get(number)
        isd = next((adf.app for adf in self.adfs if isinstance(adf.app, Isd)), None)
        if isd is not None and ch is not None:
            routed = isd.route(self, ch, apdu)  # GP: the ISD sees every command first (isd.py)
            if routed is not None:
                return routed
        handler = self._commands.get((proprietary, ins))
        if handler is None and ch is not None and ch.adf is not None and ch.adf.app is not None:
            handler = ch.adf.app.handler(proprietary, ins)
        if handler is None:
            known = (not proprietary, ins) in self._commands
            raise Refused(Sw.CLA_NOT_SUPPORTED if known else Sw.INS_NOT_SUPPORTED)
        if ch is None:
            raise Refused(Sw.LOGICAL_CHANNEL_NOT_SUPPORTED)
        if secure_messaging:
            raise Refused(Sw.SECURE_MESSAGING_NOT_SUPPORTED)
        if chaining:
            raise Refused(Sw.COMMAND_CHAINING_NOT_SUPPORTED)
        return handler(self, ch, apdu)


def _channel_of(cla: int) -> int:
    return decode_cla(cla)[0]


def _inside(node: Df | Ef | None, ancestor: Df) -> bool:
    while node is not None:
        if node is ancestor:
            return True
        node = node.parent
    return False


def _adf_state(adf: Adf) -> dict[str, Any]:
    return {"adf": adf.to_dict(), "app": None if adf.app is None else adf.app.to_dict()}


def _get_response(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    """GET RESPONSE (ISO 7816-4 §7.6.1; TS 102 221 §7.3.1.1, T=0 case 4): the data a 61xx announced, on the
    same channel; a shorter Le takes part of it (61xx for the rest), a longer one gets 6Cxx."""
    pending = card._previous_pending
    if apdu.p1 or apdu.p2:
        raise Refused(Sw.INCORRECT_P1P2)
    if apdu.data:
        raise Refused(Sw.WRONG_LENGTH)
    if pending is None or pending[0] != next(k for k, v in card._channels.items() if v is ch):
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
    data = pending[1]
    le = apdu.le or 256
    if le > len(data):
        card._pending = pending  # keep it for the command re-issued with the right Le
        raise Refused(with_length(Sw.WRONG_LE, len(data)))
    if le < len(data):
        card._pending = (pending[0], data[le:])
        return Reply(data[:le], with_length(Sw.BYTES_AVAILABLE, len(data) - le))
    return Reply(data)


def _manage_channel(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    """MANAGE CHANNEL (TS 102 221 §11.1, ISO 7816-4 §7.1.2): P1 00 open (P2 00: the card picks), P1 80 close
    (P2 00: this one).  A channel opened from the basic channel starts at the MF; one opened from another
    channel inherits that channel's current DF and application."""
    if apdu.data:
        raise Refused(Sw.WRONG_LENGTH)
    channels = card._channels
    origin = next(k for k, v in channels.items() if v is ch)
    if apdu.p1 == 0x00:
        if apdu.p2 == 0x00:
            free = next((n for n in range(1, CHANNELS) if n not in channels), None)
            if apdu.le not in (None, 1):
                raise Refused(with_length(Sw.WRONG_LE, 1))
            if free is None:
                raise Refused(Sw.FUNCTION_NOT_SUPPORTED)
            channels[free] = _new_channel(card, origin, ch)
            return Reply(bytes((free,)))
        if not 1 <= apdu.p2 < CHANNELS or apdu.p2 in channels or apdu.le not in (None, 256):
            raise Refused(Sw.INCORRECT_P1P2)
        channels[apdu.p2] = _new_channel(card, origin, ch)
        return Reply()
    if apdu.p1 == 0x80:
        target = apdu.p2 or origin
        if target == 0 or target not in channels or apdu.le not in (None, 256):
            raise Refused(Sw.INCORRECT_P1P2)
        del channels[target]
        return Reply()
    raise Refused(Sw.INCORRECT_P1P2)


def _new_channel(card: RefCard, origin: int, ch: Channel) -> Channel:
    if origin == 0:
        return Channel(card.mf)
    return replace(ch, ef=None, record=0)
