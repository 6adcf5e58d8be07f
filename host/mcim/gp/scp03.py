"""GlobalPlatform Secure Channel Protocol '03' (GP Card Specification v2.3 Amendment D), sans-IO.

`Scp03Host` is the off-card entity: it builds INITIALIZE UPDATE / EXTERNAL AUTHENTICATE, checks the card, wraps
commands and unwraps responses.  `Scp03Card` is the security domain's side, used by the reference UICC.  Both
take and return raw APDU bytes; nothing here does I/O.  Clause numbers are those of Amendment D v1.2 as cited
by pySim (osmocom/pysim `pySim/global_platform/scp.py`); facts marked [V] are reproduced by the vectors in
tests/gp/test_scp03.py (pySim card traces, openjavacard, GlobalPlatformPro).

States: the host goes IDLE -> INITIALIZING -> CHALLENGED -> AUTHENTICATING -> OPEN, the card IDLE -> CHALLENGED ->
OPEN; then OPEN -> RESPONDING (a command wrapped/unwrapped, its response pending) -> OPEN, and CLOSED at the end.
An operation that is not legal in the current state raises StateError and changes nothing.  An integrity failure
(BadMac, BadCryptogram) closes the session, as a card does; a card built on `Scp03Card` answers such a failure
with an error SW (6300 for the host cryptogram, 6982 for a C-MAC, as GP cards do).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, IntEnum, IntFlag
from typing import NamedTuple

from construct import Bytes, Const, ConstructError, If, Int8ub, Struct, Terminated, this

from ..apdu import CommandApdu, decode_cla, encode_cla
from ..errors import BadInput, BadMac, DecodeError, ExpectationFailed, IntegrityError, StateError, UnsupportedError
from .crypto import AesKey, kdf_counter_cmac, pad80, unpad80, verify_cryptogram, verify_mac
from .keys import KeyAlgorithm, StaticKeys

Random = Callable[[int], bytes]

INS_INITIALIZE_UPDATE = 0x50
INS_EXTERNAL_AUTHENTICATE = 0x82
SW_OK = 0x9000


class SecurityLevel(IntFlag):
    """P1 of EXTERNAL AUTHENTICATE: which protections the session applies [V: pySim traces at 03, 11, 33]."""

    NONE = 0x00
    C_MAC = 0x01
    C_DECRYPTION = 0x02
    R_MAC = 0x10
    R_ENCRYPTION = 0x20


# The combinations Amendment D allows: encryption needs the MAC of the same direction, and responses are only
# protected when commands are (DIGEST §5.1; asterix `SCP03.extAuth`).
SCP03_LEVELS = frozenset({0x00, 0x01, 0x03, 0x11, 0x13, 0x31, 0x33})


def security_level(value: int, legal: frozenset[int] = SCP03_LEVELS) -> SecurityLevel:
    if value not in legal:
        raise BadInput(f"security level {value:02X}", where="security level",
                       expected="one of " + " ".join(f"{v:02X}" for v in sorted(legal)))
    return SecurityLevel(value)


class Scp03Options(IntFlag):
    """The SCP03 "i" parameter, bits as asterix `SCP03.py` reads them; 70 is the usual value (SGP.02 needs it).

    S16 mode is chosen by the caller, not read from "i": the bit that signals it is not confirmed here.
    """

    PSEUDO_RANDOM_CHALLENGE = 0x10
    R_MAC = 0x20
    R_ENCRYPTION = 0x40


class DerivationConstant(IntEnum):
    """Amd D §4.1.5 Table 4-1 [V]."""

    CARD_CRYPTOGRAM = 0x00
    HOST_CRYPTOGRAM = 0x01
    CARD_CHALLENGE = 0x02
    S_ENC = 0x04
    S_MAC = 0x06
    S_RMAC = 0x07


class ChannelState(Enum):
    IDLE = "idle"
    INITIALIZING = "INITIALIZE UPDATE sent, response pending"
    CHALLENGED = "card authenticated, EXTERNAL AUTHENTICATE not yet done"
    AUTHENTICATING = "EXTERNAL AUTHENTICATE sent, response pending"
    OPEN = "open"
    RESPONDING = "command processed, response pending"
    CLOSED = "closed"


class UnwrappedResponse(NamedTuple):
    data: bytes
    sw: int
    verified: bool  # an R-MAC was present and verified

    def to_bytes(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")


def is_protected_sw(sw: int) -> bool:
    """Only 9000 and the warnings 62xx/63xx get R-MAC/R-ENC; error SWs come back bare (Amd D, quoted by pySim)."""
    return sw == SW_OK or sw >> 8 in (0x62, 0x63)


def secure_messaging_cla(cla: int) -> tuple[int, int]:
    """(CLA sent, CLA inside the C-MAC) for a command protected by GP secure messaging.

    Sent: the SM indication added, logical channel kept (ISO 7816-4 §5.4.1: b3 for channels 0-3, b6 for 4-19).
    Inside the MAC: logical channel 0 with b3 set (Amd D, quoted by pySim: (CLA & F0) | 04 [V]); a CLA of
    channels 4-19 is brought back to that form, so only the channel number stays outside the MAC.
    """
    if decode_cla(cla)[1]:
        raise BadInput(f"CLA {cla:02X} already indicates secure messaging", where="CLA", expected="a plain command")
    if cla & 0x40:
        return cla | 0x20, (cla & 0x90) | 0x04
    return cla | 0x04, (cla & 0xF0) | 0x04


def is_secured_cla(cla: int) -> bool:
    """Whether a CLA carries exactly the GP secure messaging indication (b3 = 1, b4 = 0; b6 for channels 4-19)."""
    return bool(cla & 0x20) if cla & 0x40 else cla & 0x0C == 0x04


def plain_cla(cla: int) -> int:
    """The CLA of a protected command with its SM indication removed."""
    return cla & ~0x20 if cla & 0x40 else cla & ~0x0C


def scp03_kdf(key: bytes, constant: int, context: bytes, bits: int) -> bytes:
    """Amd D §4.1.5 [V]: SP 800-108 counter mode over AES-CMAC with label 11 x 00 || constant, 00, L (bits)."""
    return kdf_counter_cmac(key, bytes(11) + bytes((constant, 0)) + bits.to_bytes(2, "big"), context, bits // 8)


def pseudo_random_card_challenge(static_enc: bytes, sequence_counter: int, sd_aid: bytes, size: int = 8) -> bytes:
    """KDF(static ENC, 02, sequence counter (3 bytes) || SD AID) [V: pySim traces with the ISD-R AID; I:asterix]."""
    return scp03_kdf(static_enc, DerivationConstant.CARD_CHALLENGE, sequence_counter.to_bytes(3, "big") + sd_aid,
                     size * 8)


@dataclass(frozen=True)
class Scp03SessionKeys:
    enc: bytes = field(repr=False)
    mac: bytes = field(repr=False)
    rmac: bytes = field(repr=False)


def derive_session_keys(keys: StaticKeys, host_challenge: bytes, card_challenge: bytes) -> Scp03SessionKeys:
    """Amd D §6.2.1 [V]: context = host challenge || card challenge; S-ENC from ENC, S-MAC/S-RMAC from MAC."""
    context = host_challenge + card_challenge
    bits = len(keys.enc) * 8
    return Scp03SessionKeys(scp03_kdf(keys.enc, DerivationConstant.S_ENC, context, bits),
                            scp03_kdf(keys.mac, DerivationConstant.S_MAC, context, bits),
                            scp03_kdf(keys.mac, DerivationConstant.S_RMAC, context, bits))


def cryptogram(session: Scp03SessionKeys, constant: DerivationConstant, host_challenge: bytes,
               card_challenge: bytes) -> bytes:
    """Card (00) or host (01) authentication cryptogram, as long as a challenge (Amd D §6.2.2.2/6.2.2.3 [V])."""
    return scp03_kdf(session.mac, constant, host_challenge + card_challenge, len(card_challenge) * 8)


# Amd D §7.1.1.6 Table 7-3: the INITIALIZE UPDATE response; `size` is 8 (S8) or 16 (S16).
INITIALIZE_UPDATE_RESPONSE = Struct(
    "key_diversification_data" / Bytes(10),
    "kvn" / Int8ub,
    "scp" / Const(b"\x03"),
    "i" / Int8ub,
    "card_challenge" / Bytes(this._.size),
    "card_cryptogram" / Bytes(this._.size),
    "sequence_counter" / If(this.i & Scp03Options.PSEUDO_RANDOM_CHALLENGE, Bytes(3)),
    Terminated,
)


@dataclass(frozen=True)
class InitializeUpdateResponse:
    key_diversification_data: bytes
    kvn: int
    options: Scp03Options
    card_challenge: bytes
    card_cryptogram: bytes
    sequence_counter: int | None  # present with a pseudo-random card challenge

    def __post_init__(self) -> None:
        size = len(self.card_challenge)
        pseudo = bool(self.options & Scp03Options.PSEUDO_RANDOM_CHALLENGE)
        if size not in (8, 16) or len(self.card_cryptogram) != size or len(self.key_diversification_data) != 10:
            raise BadInput("field sizes", where="INITIALIZE UPDATE response",
                           expected="10-byte KDD, challenge and cryptogram of 8 (S8) or 16 (S16) bytes")
        if pseudo != (self.sequence_counter is not None) or not 0 <= (self.sequence_counter or 0) <= 0xFFFFFF:
            raise BadInput(f"i={int(self.options):02X}, counter {self.sequence_counter}",
                           where="INITIALIZE UPDATE response",
                           expected="a 3-byte sequence counter exactly when i has the pseudo-random bit 10")

    @classmethod
    def parse(cls, data: bytes, *, s16: bool = False) -> InitializeUpdateResponse:
        try:
            c = INITIALIZE_UPDATE_RESPONSE.parse(data, size=16 if s16 else 8)
        except ConstructError as exc:
            raise DecodeError(f"not an SCP03 response ({len(data)} bytes): {exc.__class__.__name__}",
                              where="INITIALIZE UPDATE response",
                              expected="KDD(10) KVN 03 i challenge cryptogram [counter(3)]") from None
        counter = None if c.sequence_counter is None else int.from_bytes(c.sequence_counter, "big")
        return cls(c.key_diversification_data, c.kvn, Scp03Options(c.i), c.card_challenge, c.card_cryptogram,
                   counter)

    def to_bytes(self) -> bytes:
        counter = None if self.sequence_counter is None else self.sequence_counter.to_bytes(3, "big")
        return INITIALIZE_UPDATE_RESPONSE.build(
            {"key_diversification_data": self.key_diversification_data, "kvn": self.kvn, "i": int(self.options),
             "card_challenge": self.card_challenge, "card_cryptogram": self.card_cryptogram,
             "sequence_counter": counter}, size=len(self.card_challenge))


def initialize_update_response(keys: StaticKeys, host_challenge: bytes, card_challenge: bytes, *,
                               kdd: bytes = bytes(10), options: int = 0x70,
                               sequence_counter: int | None = None) -> InitializeUpdateResponse:
    """The response a card with `keys` gives: computes the card cryptogram for the two challenges."""
    session = derive_session_keys(keys, host_challenge, card_challenge)
    card_cg = cryptogram(session, DerivationConstant.CARD_CRYPTOGRAM, host_challenge, card_challenge)
    return InitializeUpdateResponse(kdd, keys.kvn, Scp03Options(options), card_challenge, card_cg, sequence_counter)


def split_response(response: bytes, where: str) -> tuple[bytes, int]:
    """(data, SW) of a raw R-APDU."""
    if len(response) < 2:
        raise DecodeError(f"{len(response)} bytes", where=where, expected="response data and SW1 SW2")
    return response[:-2], int.from_bytes(response[-2:], "big")


def parse_short_apdu(command: bytes) -> CommandApdu:
    """A C-APDU for secure messaging: GP secure channels here carry short APDUs only."""
    apdu = CommandApdu.parse(command)
    if apdu.is_extended:
        raise UnsupportedError("extended-length APDU", where="secure messaging", expected="a short APDU")
    return apdu


def split_short_apdu(command: bytes) -> tuple[int, int, int, int, bytes, bytes]:
    """(CLA, INS, P1, P2, data, Le byte or b"") of a short C-APDU: the hot-path twin of `parse_short_apdu`,
    which handles (and rejects) every other shape; tests check that the two agree."""
    n = len(command)
    if n == 4 or n == 5:
        return command[0], command[1], command[2], command[3], b"", command[4:]
    if n > 5 and command[4]:
        if n == 5 + command[4]:
            return command[0], command[1], command[2], command[3], command[5:], b""
        if n == 6 + command[4]:
            return command[0], command[1], command[2], command[3], command[5:-1], command[-1:]
    apdu = parse_short_apdu(command)
    return apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data, b"" if apdu.le is None else bytes((apdu.le % 256,))


class SecureChannel:
    """State shared by the GP secure channels: the state machine and the security level."""

    protocol = "secure channel"

    def __init__(self) -> None:
        self._state = ChannelState.IDLE
        self._set_level(SecurityLevel.NONE)

    def _set_level(self, level: SecurityLevel) -> None:
        # Plain booleans: testing IntFlag members costs more than the cryptography on the hot path.
        self._level = level
        self._c_mac = bool(level & SecurityLevel.C_MAC)
        self._c_dec = bool(level & SecurityLevel.C_DECRYPTION)
        self._r_mac = bool(level & SecurityLevel.R_MAC)
        self._r_enc = bool(level & SecurityLevel.R_ENCRYPTION)

    @property
    def state(self) -> ChannelState:
        return self._state

    @property
    def security_level(self) -> SecurityLevel:
        return self._level

    def close(self) -> None:
        """End the session; its session keys are dropped."""
        self._state = ChannelState.CLOSED

    def _require(self, *states: ChannelState, action: str) -> None:
        if self._state not in states:
            raise StateError(f"cannot {action} while the channel is {self._state.value}", where=self.protocol,
                             expected=" or ".join(s.value for s in states))

    def _fail(self, exc: IntegrityError) -> IntegrityError:
        self.close()
        return exc


SESSION_STATES = (ChannelState.CHALLENGED, ChannelState.AUTHENTICATING, ChannelState.OPEN, ChannelState.RESPONDING)


class _Scp03Channel(SecureChannel):
    """What both ends share: keys, mode, and the per-session MAC chaining value and encryption counter."""

    protocol = "SCP03"

    def __init__(self, keys: StaticKeys, *, s16: bool) -> None:
        super().__init__()
        if keys.algorithm is not KeyAlgorithm.AES:
            raise BadInput("SCP03 needs AES keys", where="key set", expected="algorithm aes")
        self.keys = keys
        self.size = 16 if s16 else 8
        self._chain = bytes(16)
        self._counter = 0
        self._host_challenge = b""
        self._card_challenge = b""
        self._session: Scp03SessionKeys | None = None
        self._engines: tuple[AesKey, AesKey, AesKey] | None = None

    @property
    def session_keys(self) -> Scp03SessionKeys:
        self._require(*SESSION_STATES, action="read the session keys")
        assert self._session is not None
        return self._session

    @property
    def mac_chaining_value(self) -> bytes:
        """The full 16-byte C-MAC of the last command: input to the next C-MAC and to its R-MAC."""
        return self._chain

    @property
    def encryption_counter(self) -> int:
        return self._counter

    def close(self) -> None:
        super().close()
        self._session = self._engines = None

    def _start(self, host_challenge: bytes, card_challenge: bytes) -> None:
        self._host_challenge, self._card_challenge = host_challenge, card_challenge
        self._use(derive_session_keys(self.keys, host_challenge, card_challenge))

    def _use(self, session: Scp03SessionKeys) -> None:
        self._session = session
        self._engines = (AesKey(session.enc), AesKey(session.mac), AesKey(session.rmac))

    def _cryptogram(self, constant: DerivationConstant) -> bytes:
        assert self._session is not None
        return cryptogram(self._session, constant, self._host_challenge, self._card_challenge)

    def _external_authenticate_mac(self, level: int, host_cryptogram: bytes) -> bytes:
        """Full C-MAC of EXTERNAL AUTHENTICATE: chaining value 16 x 00, never encrypted [V]."""
        assert self._engines is not None
        header = bytes((0x84, INS_EXTERNAL_AUTHENTICATE, level, 0x00, 2 * self.size))
        return self._engines[1].cmac(bytes(16) + header + host_cryptogram)

    def _icv(self, counter: int, response: bool) -> bytes:
        """Amd D §6.2.6/§6.2.7 [V]: S-ENC over the counter as a 16-byte block; first byte 80 for responses."""
        assert self._engines is not None
        block = counter.to_bytes(16, "big")
        return self._engines[0].ecb_encrypt(b"\x80" + block[1:] if response else block)



class Scp03Host(_Scp03Channel):
    """The off-card side of an SCP03 session (INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, wrap/unwrap)."""

    def __init__(self, keys: StaticKeys, *, s16: bool = False, channel: int = 0, sd_aid: bytes | None = None,
                 random: Random = os.urandom) -> None:
        super().__init__(keys, s16=s16)
        encode_cla(0x80, channel)  # validates the channel number
        self.channel = channel
        self.sd_aid = sd_aid
        self._random = random
        self.card: InitializeUpdateResponse | None = None
        self.card_cryptogram = b""
        self.host_cryptogram = b""

    @classmethod
    def resume(cls, keys: StaticKeys, session: Scp03SessionKeys, level: int, *, mac_chaining_value: bytes = bytes(16),
               encryption_counter: int = 0, s16: bool = False, channel: int = 0) -> Scp03Host:
        """An open session whose session keys were established elsewhere (an HSM, another process, a recorded
        trace), continuing from the given MAC chaining value and encryption counter."""
        host = cls(keys, s16=s16, channel=channel)
        host._use(session)
        host._chain, host._counter = mac_chaining_value, encryption_counter
        host._set_level(security_level(level))
        host._state = ChannelState.OPEN
        return host

    def initialize_update(self, host_challenge: bytes | None = None) -> bytes:
        """The INITIALIZE UPDATE command (80 50 KVN 00 Lc challenge 00); the challenge is random unless given."""
        self._require(ChannelState.IDLE, action="send INITIALIZE UPDATE")
        challenge = self._random(self.size) if host_challenge is None else host_challenge
        if len(challenge) != self.size:
            raise BadInput(f"{len(challenge)} bytes", where="host challenge", expected=f"{self.size} bytes")
        self._host_challenge = challenge
        self._state = ChannelState.INITIALIZING
        return CommandApdu(encode_cla(0x80, self.channel), INS_INITIALIZE_UPDATE, self.keys.kvn, 0x00, challenge,
                           le=256).to_bytes()

    def process_initialize_update_response(self, response: bytes) -> InitializeUpdateResponse:
        """Check the card's answer (data || SW): SW 9000, layout, card challenge, card cryptogram."""
        self._require(ChannelState.INITIALIZING, action="process an INITIALIZE UPDATE response")
        data, sw = split_response(response, "INITIALIZE UPDATE response")
        if sw != SW_OK:
            raise ExpectationFailed(f"card answered SW {sw:04X}", where="INITIALIZE UPDATE", expected="SW 9000")
        card = InitializeUpdateResponse.parse(data, s16=self.size == 16)
        self._start(self._host_challenge, card.card_challenge)
        try:
            self._verify_card(card)
        except IntegrityError as exc:
            raise self._fail(exc) from None
        self.card = card
        self.card_cryptogram = card.card_cryptogram
        self.host_cryptogram = self._cryptogram(DerivationConstant.HOST_CRYPTOGRAM)
        self._state = ChannelState.CHALLENGED
        return card

    def _verify_card(self, card: InitializeUpdateResponse) -> None:
        if card.sequence_counter is not None and self.sd_aid is not None:
            expected = pseudo_random_card_challenge(self.keys.enc, card.sequence_counter, self.sd_aid, self.size)
            verify_cryptogram(expected, card.card_challenge, where="pseudo-random card challenge")
        verify_cryptogram(self._cryptogram(DerivationConstant.CARD_CRYPTOGRAM), card.card_cryptogram,
                          where="card cryptogram")

    def external_authenticate(self, level: int) -> bytes:
        """EXTERNAL AUTHENTICATE (84 82 SL 00 Lc host-cryptogram C-MAC) for security level `level`."""
        self._require(ChannelState.CHALLENGED, action="send EXTERNAL AUTHENTICATE")
        assert self.card is not None
        chosen = security_level(level)
        _check_level_supported(chosen, self.card.options)
        mac = self._external_authenticate_mac(chosen, self.host_cryptogram)
        cla = secure_messaging_cla(encode_cla(0x80, self.channel))[0]
        command = bytes((cla, INS_EXTERNAL_AUTHENTICATE, chosen, 0x00, 2 * self.size)) + self.host_cryptogram
        self._chain, self._counter = mac, 0
        self._set_level(chosen)
        self._state = ChannelState.AUTHENTICATING
        return command + mac[:self.size]

    def process_external_authenticate_response(self, response: bytes) -> None:
        self._require(ChannelState.AUTHENTICATING, action="process an EXTERNAL AUTHENTICATE response")
        _, sw = split_response(response, "EXTERNAL AUTHENTICATE response")
        if sw != SW_OK:
            raise ExpectationFailed(f"card answered SW {sw:04X}", where="EXTERNAL AUTHENTICATE", expected="SW 9000")
        self._state = ChannelState.OPEN

    def wrap(self, command: bytes) -> bytes:
        """Protect one command: C-DECRYPTION then C-MAC per the security level; the counter counts every command."""
        self._require(ChannelState.OPEN, ChannelState.RESPONDING, action="wrap a command")
        cla, ins, p1, p2, data, le = split_short_apdu(command)
        channel = decode_cla(cla)[0]
        if channel != self.channel:
            raise BadInput(f"command on logical channel {channel}", where="CLA",
                           expected=f"channel {self.channel} of this session")
        counter = self._counter + 1
        if not self._c_mac:
            self._counter, self._state = counter, ChannelState.RESPONDING
            return command
        assert self._engines is not None
        sent_cla, mac_cla = secure_messaging_cla(cla)
        if data and self._c_dec:
            data = self._engines[0].cbc_encrypt(pad80(data, 16), self._icv(counter, response=False))
        lc = len(data) + self.size
        if lc > 255:
            raise UnsupportedError(f"protected data field of {lc} bytes", where="wrap",
                                   expected="at most 255 bytes after padding and C-MAC")
        tail = bytes((ins, p1, p2, lc)) + data
        mac = self._engines[1].cmac(self._chain + bytes((mac_cla,)) + tail)
        self._chain, self._counter, self._state = mac, counter, ChannelState.RESPONDING
        # Le goes back on for case 2/4 as 00: the response grows by the R-MAC [V].
        return bytes((sent_cla,)) + tail + mac[:self.size] + (b"\x00" if le else b"")

    def unwrap(self, response: bytes) -> UnwrappedResponse:
        """Check the R-MAC and remove R-ENC of the response to the last wrapped command."""
        self._require(ChannelState.RESPONDING, action="unwrap a response")
        data, sw = split_response(response, "response")
        if self._r_mac and not is_protected_sw(sw) and data:
            # Error responses are the bare SW: data here means the SW was changed on the way.
            raise self._fail(BadMac(f"data with error SW {sw:04X} at an R-MAC level", where="R-MAC"))
        if not (self._r_mac and is_protected_sw(sw)):
            self._state = ChannelState.OPEN
            return UnwrappedResponse(data, sw, False)
        assert self._engines is not None
        if len(data) < self.size:
            raise self._fail(BadMac("response too short to carry an R-MAC", where="R-MAC"))
        body, rmac = data[:-self.size], data[-self.size:]
        try:
            verify_mac(self._engines[2].cmac(self._chain + body + response[-2:])[:self.size], rmac, where="R-MAC")
        except IntegrityError as exc:
            raise self._fail(exc) from None
        if body and self._r_enc:
            body = unpad80(self._engines[0].cbc_decrypt(_blocks(body, "R-ENC data"), self._icv(self._counter, True)),
                           16)
        self._state = ChannelState.OPEN
        return UnwrappedResponse(body, sw, True)

    def dek_encrypt(self, data: bytes) -> bytes:
        """Sensitive data (PUT KEY key components) under the static DEK: AES-CBC, zero IV, whole blocks [V]."""
        return AesKey(self.keys.dek).cbc_encrypt(data)


def _blocks(data: bytes, where: str) -> bytes:
    if len(data) % 16:
        raise DecodeError(f"{len(data)} bytes", where=where, expected="whole 16-byte blocks")
    return data


def _check_level_supported(level: SecurityLevel, options: Scp03Options) -> None:
    if level & SecurityLevel.R_MAC and not options & Scp03Options.R_MAC:
        raise UnsupportedError(f"the card's i={options:02X} has no R-MAC", where="security level",
                               expected="a level without R-MAC")
    if level & SecurityLevel.R_ENCRYPTION and not options & Scp03Options.R_ENCRYPTION:
        raise UnsupportedError(f"the card's i={options:02X} has no R-ENC", where="security level",
                               expected="a level without R-ENC")


class Scp03Card(_Scp03Channel):
    """The security domain's side of SCP03: answers INITIALIZE UPDATE, checks EXTERNAL AUTHENTICATE, unwraps
    commands and wraps responses.  `next_sequence_counter` is the counter of the next INITIALIZE UPDATE (3 bytes, +1
    each time, so that a pseudo-random challenge is never repeated)."""

    def __init__(self, keys: StaticKeys, *, sd_aid: bytes, sequence_counter: int = 0, options: int = 0x70,
                 s16: bool = False, kdd: bytes = bytes(10), random: Random = os.urandom) -> None:
        super().__init__(keys, s16=s16)
        if not 0 <= sequence_counter <= 0xFFFFFF:
            raise BadInput(f"sequence counter {sequence_counter}", where="SCP03 card", expected="0..FFFFFF")
        if len(kdd) != 10:
            raise BadInput(f"{len(kdd)} bytes", where="key diversification data", expected="10 bytes")
        self.sd_aid = sd_aid
        self.options = Scp03Options(options)
        self.kdd = kdd
        self.next_sequence_counter = sequence_counter
        self._random = random

    def initialize_update(self, command: bytes) -> bytes:
        """Answer INITIALIZE UPDATE (data || 9000); starts a new session whatever the state was."""
        apdu = parse_short_apdu(command)
        if apdu.ins != INS_INITIALIZE_UPDATE or not apdu.cla & 0x80 or decode_cla(apdu.cla)[1]:
            raise BadInput(f"{apdu.cla:02X} {apdu.ins:02X}", where="INITIALIZE UPDATE header", expected="80 50")
        if apdu.p1 not in (0, self.keys.kvn):
            raise BadInput(f"key version {apdu.p1:02X} not present", where="INITIALIZE UPDATE P1",
                           expected=f"00 or {self.keys.kvn:02X}")
        if len(apdu.data) != self.size:
            raise BadInput(f"{len(apdu.data)}-byte host challenge", where="INITIALIZE UPDATE",
                           expected=f"{self.size} bytes")
        pseudo = bool(self.options & Scp03Options.PSEUDO_RANDOM_CHALLENGE)
        if pseudo and self.next_sequence_counter > 0xFFFFFF:
            raise StateError("sequence counter exhausted", where="SCP03 card", expected="a counter of at most FFFFFF")
        counter = self.next_sequence_counter if pseudo else None
        challenge = (pseudo_random_card_challenge(self.keys.enc, self.next_sequence_counter, self.sd_aid, self.size)
                     if pseudo else self._random(self.size))
        answer = initialize_update_response(self.keys, apdu.data, challenge, kdd=self.kdd, options=self.options,
                                            sequence_counter=counter)
        self._start(apdu.data, challenge)
        self.next_sequence_counter += 1
        self._set_level(SecurityLevel.NONE)
        self._state = ChannelState.CHALLENGED
        return answer.to_bytes() + SW_OK.to_bytes(2, "big")

    def external_authenticate(self, command: bytes) -> bytes:
        """Check the host cryptogram and the C-MAC; on success the session is open at P1's level (returns 9000)."""
        self._require(ChannelState.CHALLENGED, action="process EXTERNAL AUTHENTICATE")
        apdu = parse_short_apdu(command)
        if apdu.ins != INS_EXTERNAL_AUTHENTICATE or len(apdu.data) != 2 * self.size or not is_secured_cla(apdu.cla):
            raise BadInput(f"{apdu.cla:02X} {apdu.ins:02X}, {len(apdu.data)} data bytes",
                           where="EXTERNAL AUTHENTICATE", expected=f"84 82 SL 00 {2 * self.size:02X}")
        level = security_level(apdu.p1)
        _check_level_supported(level, self.options)
        received, mac = apdu.data[:self.size], apdu.data[self.size:]
        full = self._external_authenticate_mac(level, received)
        try:
            verify_cryptogram(self._cryptogram(DerivationConstant.HOST_CRYPTOGRAM), received, where="host cryptogram")
            verify_mac(full[:self.size], mac, where="EXTERNAL AUTHENTICATE C-MAC")
        except IntegrityError as exc:
            raise self._fail(exc) from None
        self._chain, self._counter, self._state = full, 0, ChannelState.OPEN
        self._set_level(level)
        return SW_OK.to_bytes(2, "big")

    def unwrap_command(self, command: bytes) -> bytes:
        """Verify the C-MAC and decrypt the data of one protected command; returns the plain command."""
        self._require(ChannelState.OPEN, ChannelState.RESPONDING, action="unwrap a command")
        cla, ins, p1, p2, data, le = split_short_apdu(command)
        counter = self._counter + 1
        if not self._c_mac:
            self._counter, self._state = counter, ChannelState.RESPONDING
            return command
        assert self._engines is not None
        if not is_secured_cla(cla) or len(data) < self.size:
            raise self._fail(BadMac("command carries no C-MAC", where="C-MAC"))
        body, mac = data[:-self.size], data[-self.size:]
        plain = plain_cla(cla)
        full = self._engines[1].cmac(self._chain + bytes((secure_messaging_cla(plain)[1], ins, p1, p2, len(data)))
                                     + body)
        try:
            verify_mac(full[:self.size], mac, where="C-MAC")
        except IntegrityError as exc:
            raise self._fail(exc) from None
        if body and self._c_dec:
            body = unpad80(self._engines[0].cbc_decrypt(_blocks(body, "C-DECRYPTION data"),
                                                        self._icv(counter, response=False)), 16)
        self._chain, self._counter, self._state = full, counter, ChannelState.RESPONDING
        return bytes((plain, ins, p1, p2)) + (bytes((len(body),)) + body if body else b"") + le

    def wrap_response(self, data: bytes, sw: int) -> bytes:
        """Protect the response to the last unwrapped command: R-ENC then R-MAC, only for 9000/62xx/63xx."""
        self._require(ChannelState.RESPONDING, action="wrap a response")
        if not 0 <= sw <= 0xFFFF:
            raise BadInput(f"SW {sw}", where="response status", expected="0000..FFFF")
        status = sw.to_bytes(2, "big")
        self._state = ChannelState.OPEN
        if self._r_mac and not is_protected_sw(sw):
            return status  # an error SW goes back alone, without R-MAC
        if not self._r_mac:
            return data + status
        assert self._engines is not None
        if data and self._r_enc:
            data = self._engines[0].cbc_encrypt(pad80(data, 16), self._icv(self._counter, response=True))
        return data + self._engines[2].cmac(self._chain + data + status)[:self.size] + status

    def dek_decrypt(self, data: bytes) -> bytes:
        """Inverse of `Scp03Host.dek_encrypt`: AES-CBC with the static DEK, zero IV."""
        return AesKey(self.keys.dek).cbc_decrypt(data)
