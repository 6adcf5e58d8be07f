"""Running the secured data of a RAM/RFM command packet on the card (ETSI TS 102 226 §5-§7).

The format is read off the first byte: a Command Scripting template (`AA`, or `AE 80` indefinite) is the expanded
format, anything else the compact one (a compact script starts with a CLA byte, and AA/AE are no UICC class:
TS 102 221 §10.1.1 leaves b8b7b6 = 101 to the GSM class A0).  Our choice: onomondo's SoftSIM notes that some
TARs imply the expanded format; this card reads it off the script instead.

Execution stops after the first command that fails; 9000, 91XX and the 61XX/62XX/63XX family count as success
[I: onomondo `ss_sw_is_successful`].  A malformed script runs no command at all: compact answers `00 6700`,
expanded a Bad Format TLV.

Compact responses follow T=0 as the cards behind the public traces do (DIGEST §4.2): a command whose answer
waits for GET RESPONSE reports 61XX (e.g. SELECT: `01 612F`), a GET RESPONSE later in the script fetches the data
and counts with the command before it (Gemalto: `80CA00E000 00C0000000` -> `01 9000 E012...`); its Le 00 takes all
that is waiting.  Expanded R-APDUs carry each command's data directly.

RFM commands (the TS 102 221/102 222 file and PIN commands) run on a context of their own: a channel that starts
in the file system the TAR designates, not one of the terminal's, under the access domain of the TAR instead of
the PINs the terminal verified (TS 102 226 §8.2.1.3.2.1: '00' full access, 'FF' no access; other access domain
parameters grant nothing here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcim.apdu import CommandApdu, decode_cla
from mcim.errors import DecodeError
from mcim.gp.install_params import AccessDomain
from mcim.ota.remote import (
    COMMAND_TEMPLATE,
    COMMAND_TEMPLATE_INDEFINITE,
    BadFormat,
    CompactResponse,
    ExpandedResponse,
    RApdu,
    ScriptChaining,
    ScriptChainingResult,
    decode_command_script,
    split_compact,
)

from . import admin_commands, fs_commands, pin_commands
from .access import SecurityState
from .context import Channel, Reply
from .files import Adf, Df
from .status import Refused, Sw, with_length

if TYPE_CHECKING:
    from .card import RefCard

Runner = Callable[[bytes], Reply]  # one C-APDU in, its reply out (refusals as replies)

INS_GET_RESPONSE = 0xC0
ACCESS_FULL = 0x00  # TS 102 226 §8.2.1.3.2.1 access domain parameter (as SAIP ADFRFMAccess uses it)
# TS 102 226 §6: RFM runs the file and PIN commands of TS 102 221 §11.1 and TS 102 222 §6 (our reading of the
# command list; application commands such as AUTHENTICATE and the channel machinery are not part of it).
RFM_COMMANDS = {**fs_commands.COMMANDS, **pin_commands.COMMANDS, **admin_commands.COMMANDS}


def succeeded(sw: int) -> bool:
    return sw == Sw.OK or sw >> 8 in (0x61, 0x62, 0x63, 0x91)


def is_expanded(script: bytes) -> bool:
    return script[:1] == bytes((COMMAND_TEMPLATE,)) or script[:2] == bytes((COMMAND_TEMPLATE_INDEFINITE, 0x80))


def run_script(script: bytes, run: Runner) -> bytes:
    """The additional response data of the PoR for `script` (TS 102 226 §5.1.2 compact, §5.2.2 expanded)."""
    return run_expanded(script, run) if is_expanded(script) else run_compact(script, run)


def run_compact(script: bytes, run: Runner) -> bytes:
    try:
        apdus = split_compact(script)
    except DecodeError:
        return CompactResponse(0, Sw.WRONG_LENGTH, b"").to_bytes()
    count, sw, data = 0, int(Sw.OK), b""
    waiting = b""  # data announced by 61XX, for a GET RESPONSE
    for raw in apdus:
        if raw[1] == INS_GET_RESPONSE and waiting:
            data, sw, waiting = _get_response(raw, waiting)
        elif raw[1] == INS_GET_RESPONSE:
            count += 1
            data, sw = b"", int(Sw.CONDITIONS_NOT_SATISFIED)  # nothing waits (TS 102 221 §11.1.19)
        else:
            count += 1
            data, sw, waiting = _t0(run(raw))
        if not succeeded(sw):
            break
    return CompactResponse(count, sw, data).to_bytes()


def _t0(reply: Reply) -> tuple[bytes, int, bytes]:
    """(data, SW, data waiting) the way a T=0 card answers: deferred data is announced by 61XX."""
    if reply.deferred and reply.data:
        return b"", with_length(Sw.BYTES_AVAILABLE, len(reply.data)) if reply.sw == Sw.OK else reply.sw, reply.data
    return reply.data, reply.sw, b""


def _get_response(raw: bytes, waiting: bytes) -> tuple[bytes, int, bytes]:
    p3 = raw[4] if len(raw) > 4 else 0
    wanted = p3 or len(waiting)
    if raw[2:4] != b"\x00\x00":
        return b"", Sw.INCORRECT_P1P2, waiting
    if wanted > len(waiting):
        return b"", with_length(Sw.WRONG_LE, len(waiting)), waiting
    rest = waiting[wanted:]
    sw = with_length(Sw.BYTES_AVAILABLE, len(rest)) if rest else Sw.OK
    return waiting[:wanted], sw, rest


def run_expanded(script: bytes, run: Runner) -> bytes:
    definite = script[:1] != bytes((COMMAND_TEMPLATE_INDEFINITE,))
    try:
        items = decode_command_script(script).items
    except DecodeError as exc:
        return ExpandedResponse(0, (), bad_format=_bad_format(exc), definite=definite).to_bytes()
    responses: list[RApdu] = []
    for item in items:
        if isinstance(item, ScriptChaining):
            return ExpandedResponse(len(responses), tuple(responses), definite=definite,
                                    script_chaining_response=ScriptChainingResult.NOT_SUPPORTED).to_bytes()
        if not isinstance(item, bytes):  # immediate / error actions: tags this card does not act on
            return ExpandedResponse(len(responses), tuple(responses), bad_format=BadFormat.UNKNOWN_TAG,
                                    definite=definite).to_bytes()
        reply = run(item)
        responses.append(RApdu(reply.data, reply.sw))
        if not succeeded(reply.sw):
            break
    return ExpandedResponse(len(responses), tuple(responses), definite=definite).to_bytes()


def _bad_format(exc: DecodeError) -> BadFormat:
    """decode_command_script reports a tag it does not know as "tag XX ..."; everything else is a length."""
    return BadFormat.UNKNOWN_TAG if exc.message.startswith("tag ") else BadFormat.WRONG_LENGTH


# --- RFM -------------------------------------------------------------------------------------------------------


class RemoteAccess(SecurityState):
    """The security state RFM commands run under: the card's PINs (tries are shared), nothing the terminal
    verified, and every key reference granted when the access domain is full access."""

    def __init__(self, base: SecurityState, domain: AccessDomain) -> None:
        super().__init__()
        self.global_pins = base.global_pins
        self.local_pins = base.local_pins
        self.full_access = domain.parameter == ACCESS_FULL

    def satisfied_by(self, key_ref: int, adf: Adf | None) -> bool:
        return self.full_access or super().satisfied_by(key_ref, adf)


@dataclass
class RfmSession:
    """One RFM script's context: its own current file, starting in `root` (the MF or an ADF)."""

    card: RefCard
    root: Df
    domain: AccessDomain

    def run(self, script: bytes) -> bytes:
        root = self.root
        channel = Channel(root, adf=root if isinstance(root, Adf) else None)
        card = self.card
        terminal_security, card.security = card.security, RemoteAccess(card.security, self.domain)
        try:
            return run_script(script, lambda raw: self._execute(channel, raw))
        finally:
            card.security = terminal_security

    def _execute(self, channel: Channel, raw: bytes) -> Reply:
        try:
            return _rfm_command(self.card, channel, raw)
        except Refused as refusal:
            return Reply(b"", refusal.sw)


def _rfm_command(card: RefCard, channel: Channel, raw: bytes) -> Reply:
    from .card import cla_family  # local: card.py imports the OTA modules

    try:
        apdu = CommandApdu.parse(raw)
    except DecodeError:
        raise Refused(Sw.WRONG_LENGTH) from None
    handler = RFM_COMMANDS.get((cla_family(apdu.cla), apdu.ins))
    if handler is None:
        raise Refused(Sw.INS_NOT_SUPPORTED)
    _, secure_messaging, chaining = decode_cla(apdu.cla)
    if secure_messaging:
        raise Refused(Sw.SECURE_MESSAGING_NOT_SUPPORTED)
    if chaining:
        raise Refused(Sw.COMMAND_CHAINING_NOT_SUPPORTED)
    return handler(card, channel, apdu)
