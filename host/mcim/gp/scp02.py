"""GlobalPlatform Secure Channel Protocol '02' (GP Card Specification v2.3 Appendix E), 3DES, sans-IO.

Explicit initiation with three static keys: i = 15 and i = 55 and the other "i" values that differ from them only
in the bits this module implements (C-MAC on unmodified APDU, ICV encryption, R-MAC, pseudo-random challenge).
Implicit initiation (i = 0A/0B/1A/1B: no INITIALIZE UPDATE, ICV = MAC over the AID) and single-base-key
variants are refused with UnsupportedError.  Sources: GP 2.3 Appendix E as implemented by pySim
(`pySim/global_platform/scp.py`), asterix (`asterix/SCP02.py`, by a Gemalto engineer) and GlobalPlatformPro
(`SCP0102Wrapper.java`); [V] marks facts reproduced by vectors in tests/gp/test_scp02.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import IntFlag

from construct import Bytes, Const, ConstructError, Int8ub, Int16ub, Struct, Terminated

from ..apdu import CommandApdu, decode_cla, encode_cla
from ..errors import BadInput, BadMac, DecodeError, ExpectationFailed, IntegrityError, StateError, UnsupportedError
from .crypto import ZERO8, DesKey, des3_cbc_encrypt, des3_cbc_mac, pad80, unpad80, verify_cryptogram, verify_mac
from .keys import KeyAlgorithm, StaticKeys
from .scp03 import (
    INS_EXTERNAL_AUTHENTICATE,
    INS_INITIALIZE_UPDATE,
    SESSION_STATES,
    SW_OK,
    ChannelState,
    Random,
    SecureChannel,
    SecurityLevel,
    UnwrappedResponse,
    is_secured_cla,
    parse_short_apdu,
    plain_cla,
    secure_messaging_cla,
    security_level,
    split_response,
)

MAC_SIZE = 8
SCP02_LEVELS = frozenset({0x00, 0x01, 0x03, 0x11, 0x13})  # SCP02 has no R-ENC (asterix SL_* masks)


class Scp02Options(IntFlag):
    """The SCP02 "i" parameter, bits as asterix `SCP02.py` names them (GlobalPlatformPro agrees for 04-1B)."""

    THREE_KEYS = 0x01
    MAC_ON_UNMODIFIED_APDU = 0x02
    EXPLICIT_INITIATION = 0x04
    ICV_MAC_OVER_AID = 0x08
    ICV_ENCRYPTION = 0x10
    R_MAC = 0x20
    PSEUDO_RANDOM_CHALLENGE = 0x40


# Session key derivation constants (GP 2.3 E.4.1 [V]: pySim, GlobalPlatformPro, asterix agree).
CONSTANT_C_MAC = b"\x01\x01"
CONSTANT_R_MAC = b"\x01\x02"
CONSTANT_DEK = b"\x01\x81"
CONSTANT_ENC = b"\x01\x82"


def check_options(options: int) -> Scp02Options:
    """The "i" values this module implements: explicit initiation, three keys, ICV starting at zero."""
    value = Scp02Options(options)
    needed = Scp02Options.THREE_KEYS | Scp02Options.EXPLICIT_INITIATION
    if value & needed != needed or value & Scp02Options.ICV_MAC_OVER_AID or options & 0x80:
        raise UnsupportedError(f"SCP02 i={options:02X}", where="SCP02 i parameter",
                               expected="explicit initiation with three keys, e.g. 15 or 55")
    return value


@dataclass(frozen=True)
class Scp02SessionKeys:
    enc: bytes = field(repr=False)
    mac: bytes = field(repr=False)
    rmac: bytes = field(repr=False)
    dek: bytes = field(repr=False)


def derive_session_keys(keys: StaticKeys, sequence_counter: int) -> Scp02SessionKeys:
    """GP 2.3 E.4.1 [V]: 3DES-CBC (zero IV) of constant || sequence counter || 12 x 00 under each static key."""
    def derive(key: bytes, constant: bytes) -> bytes:
        return des3_cbc_encrypt(key, constant + sequence_counter.to_bytes(2, "big") + bytes(12))

    return Scp02SessionKeys(derive(keys.enc, CONSTANT_ENC), derive(keys.mac, CONSTANT_C_MAC),
                            derive(keys.mac, CONSTANT_R_MAC), derive(keys.dek, CONSTANT_DEK))


def card_cryptogram(session: Scp02SessionKeys, host_challenge: bytes, sequence_counter: int,
                    card_challenge: bytes) -> bytes:
    """Full 3DES CBC-MAC (S-ENC, GP 2.3 B.1.2.1) of host challenge || counter || card challenge, padded [V]."""
    return des3_cbc_mac(session.enc, pad80(host_challenge + sequence_counter.to_bytes(2, "big") + card_challenge, 8))


def host_cryptogram(session: Scp02SessionKeys, host_challenge: bytes, sequence_counter: int,
                    card_challenge: bytes) -> bytes:
    """The same MAC over counter || card challenge || host challenge [V]."""
    return des3_cbc_mac(session.enc, pad80(sequence_counter.to_bytes(2, "big") + card_challenge + host_challenge, 8))


def pseudo_random_card_challenge(session: Scp02SessionKeys, sd_aid: bytes) -> bytes:
    """With i bit 40: the first 6 bytes of the C-MAC (S-MAC, ICV 0) over the SD AID [I:asterix]."""
    return DesKey(session.mac).retail_mac(pad80(sd_aid, 8))[:6]


# The INITIALIZE UPDATE response, 28 bytes (GP 2.3 Appendix E; layout as pySim and asterix parse it) [V].
INITIALIZE_UPDATE_RESPONSE = Struct(
    "key_diversification_data" / Bytes(10),
    "kvn" / Int8ub,
    "scp" / Const(b"\x02"),
    "sequence_counter" / Int16ub,
    "card_challenge" / Bytes(6),
    "card_cryptogram" / Bytes(8),
    Terminated,
)


@dataclass(frozen=True)
class Scp02InitializeUpdateResponse:
    key_diversification_data: bytes
    kvn: int
    sequence_counter: int
    card_challenge: bytes
    card_cryptogram: bytes

    @classmethod
    def parse(cls, data: bytes) -> Scp02InitializeUpdateResponse:
        try:
            c = INITIALIZE_UPDATE_RESPONSE.parse(data)
        except ConstructError as exc:
            raise DecodeError(f"not an SCP02 response ({len(data)} bytes): {exc.__class__.__name__}",
                              where="INITIALIZE UPDATE response",
                              expected="KDD(10) KVN 02 counter(2) challenge(6) cryptogram(8)") from None
        return cls(c.key_diversification_data, c.kvn, c.sequence_counter, c.card_challenge, c.card_cryptogram)

    def to_bytes(self) -> bytes:
        return INITIALIZE_UPDATE_RESPONSE.build(
            {"key_diversification_data": self.key_diversification_data, "kvn": self.kvn,
             "sequence_counter": self.sequence_counter, "card_challenge": self.card_challenge,
             "card_cryptogram": self.card_cryptogram})


def _channel_zero_cla(cla: int) -> int:
    """A plain CLA moved to logical channel 0, as the unmodified-APDU C-MAC and the R-MAC see it."""
    return secure_messaging_cla(cla)[1] & ~0x04


class _Scp02Channel(SecureChannel):
    """Both ends: session keys, the C-MAC ICV chain and the R-MAC chain."""

    protocol = "SCP02"

    def __init__(self, keys: StaticKeys, options: int) -> None:
        super().__init__()
        if keys.algorithm is not KeyAlgorithm.DES3 or len(keys.enc) != 16:
            raise BadInput("SCP02 needs 16-byte 3DES keys", where="key set", expected="algorithm 3des, 16 bytes")
        self.keys = keys
        self.options = check_options(options)
        self._session: Scp02SessionKeys | None = None
        self._mac_key: DesKey | None = None
        self._icv_key: DesKey | None = None
        self._rmac_key: DesKey | None = None
        self._enc_key: DesKey | None = None
        self._last_mac = ZERO8
        self._last_rmac = ZERO8
        self._rmac_input = b""
        self.sequence_counter = 0
        self._host_challenge = b""
        self._card_challenge = b""

    @property
    def session_keys(self) -> Scp02SessionKeys:
        self._require(*SESSION_STATES, action="read the session keys")
        assert self._session is not None
        return self._session

    @property
    def mac_chaining_value(self) -> bytes:
        """The C-MAC of the last command, from which the next command's ICV is made."""
        return self._last_mac

    def close(self) -> None:
        super().close()
        self._session = self._mac_key = self._icv_key = self._rmac_key = self._enc_key = None

    def _start(self, host_challenge: bytes, card_challenge: bytes, sequence_counter: int) -> None:
        self._host_challenge, self._card_challenge = host_challenge, card_challenge
        self.sequence_counter = sequence_counter
        self._session = derive_session_keys(self.keys, sequence_counter)
        self._mac_key = DesKey(self._session.mac)
        self._icv_key = DesKey(self._session.mac[:8])
        self._rmac_key = DesKey(self._session.rmac)
        self._enc_key = DesKey(self._session.enc)

    def _host_cryptogram(self) -> bytes:
        assert self._session is not None
        return host_cryptogram(self._session, self._host_challenge, self.sequence_counter, self._card_challenge)

    def _external_authenticate_mac(self, level: int, cryptogram: bytes) -> bytes:
        if self.options & Scp02Options.MAC_ON_UNMODIFIED_APDU:
            header = bytes((0x80, INS_EXTERNAL_AUTHENTICATE, level, 0x00, 8))
        else:
            header = bytes((0x84, INS_EXTERNAL_AUTHENTICATE, level, 0x00, 16))
        assert self._mac_key is not None
        return self._mac_key.retail_mac(pad80(header + cryptogram, 8))  # ICV 8 x 00 [V]

    def _command_mac(self, apdu: CommandApdu) -> bytes:
        """Retail C-MAC over the plain command [V]: with CLA b3 set and Lc + 8 ("modified APDU") unless
        i b2 asks for the unmodified APDU; ICV = previous C-MAC, single-DES encrypted under S-MAC K1 if i b5."""
        assert self._mac_key is not None and self._icv_key is not None
        data = apdu.data
        if self.options & Scp02Options.MAC_ON_UNMODIFIED_APDU:
            header = bytes((_channel_zero_cla(apdu.cla), apdu.ins, apdu.p1, apdu.p2, len(data)))
        else:
            header = bytes((secure_messaging_cla(apdu.cla)[1], apdu.ins, apdu.p1, apdu.p2, len(data) + MAC_SIZE))
        icv = self._icv_key.ecb_encrypt(self._last_mac) if self.options & Scp02Options.ICV_ENCRYPTION \
            else self._last_mac
        return self._mac_key.retail_mac(pad80(header + data, 8), icv)

    def _response_mac(self, response_data: bytes, sw: bytes) -> bytes:
        """R-MAC (S-RMAC, ICV = previous R-MAC, the first one = C-MAC of EXTERNAL AUTHENTICATE) over the plain
        command (CLA on channel 0 without SM) || Lr || response data || SW [I:GlobalPlatformPro]."""
        assert self._rmac_key is not None
        if len(response_data) > 255:
            raise DecodeError(f"{len(response_data)} response bytes", where="R-MAC", expected="at most 255")
        message = self._rmac_input + bytes((len(response_data),)) + response_data + sw
        return self._rmac_key.retail_mac(pad80(message, 8), self._last_rmac)

    @staticmethod
    def _rmac_command(apdu: CommandApdu) -> bytes:
        return bytes((_channel_zero_cla(apdu.cla), apdu.ins, apdu.p1, apdu.p2, len(apdu.data))) + apdu.data


class Scp02Host(_Scp02Channel):
    """The off-card side of an SCP02 session."""

    def __init__(self, keys: StaticKeys, *, options: int = 0x55, channel: int = 0, sd_aid: bytes | None = None,
                 random: Random = os.urandom) -> None:
        super().__init__(keys, options)
        encode_cla(0x80, channel)  # validates the channel number
        self.channel = channel
        self.sd_aid = sd_aid
        self._random = random
        self.card: Scp02InitializeUpdateResponse | None = None
        self.host_cryptogram = b""

    def initialize_update(self, host_challenge: bytes | None = None) -> bytes:
        self._require(ChannelState.IDLE, action="send INITIALIZE UPDATE")
        challenge = self._random(8) if host_challenge is None else host_challenge
        if len(challenge) != 8:
            raise BadInput(f"{len(challenge)} bytes", where="host challenge", expected="8 bytes")
        self._host_challenge = challenge
        self._state = ChannelState.INITIALIZING
        return CommandApdu(encode_cla(0x80, self.channel), INS_INITIALIZE_UPDATE, self.keys.kvn, 0x00, challenge,
                           le=256).to_bytes()

    def process_initialize_update_response(self, response: bytes) -> Scp02InitializeUpdateResponse:
        """Check SW 9000, the layout, the pseudo-random challenge (with `sd_aid`) and the card cryptogram."""
        self._require(ChannelState.INITIALIZING, action="process an INITIALIZE UPDATE response")
        data, sw = split_response(response, "INITIALIZE UPDATE response")
        if sw != SW_OK:
            raise ExpectationFailed(f"card answered SW {sw:04X}", where="INITIALIZE UPDATE", expected="SW 9000")
        card = Scp02InitializeUpdateResponse.parse(data)
        self._start(self._host_challenge, card.card_challenge, card.sequence_counter)
        assert self._session is not None
        try:
            if self.options & Scp02Options.PSEUDO_RANDOM_CHALLENGE and self.sd_aid is not None:
                verify_cryptogram(pseudo_random_card_challenge(self._session, self.sd_aid), card.card_challenge,
                                  where="pseudo-random card challenge")
            verify_cryptogram(card_cryptogram(self._session, self._host_challenge, card.sequence_counter,
                                              card.card_challenge), card.card_cryptogram, where="card cryptogram")
        except IntegrityError as exc:
            raise self._fail(exc) from None
        self.card = card
        self.host_cryptogram = self._host_cryptogram()
        self._state = ChannelState.CHALLENGED
        return card

    def external_authenticate(self, level: int) -> bytes:
        """EXTERNAL AUTHENTICATE 84 82 SL 00 10 host-cryptogram C-MAC (C-MAC with ICV 8 x 00)."""
        self._require(ChannelState.CHALLENGED, action="send EXTERNAL AUTHENTICATE")
        chosen = _check_level(level, self.options)
        mac = self._external_authenticate_mac(chosen, self.host_cryptogram)
        cla = secure_messaging_cla(encode_cla(0x80, self.channel))[0]
        self._last_mac = self._last_rmac = mac
        self._set_level(chosen)
        self._state = ChannelState.AUTHENTICATING
        return bytes((cla, INS_EXTERNAL_AUTHENTICATE, chosen, 0x00, 16)) + self.host_cryptogram + mac

    def process_external_authenticate_response(self, response: bytes) -> None:
        self._require(ChannelState.AUTHENTICATING, action="process an EXTERNAL AUTHENTICATE response")
        _, sw = split_response(response, "EXTERNAL AUTHENTICATE response")
        if sw != SW_OK:
            raise ExpectationFailed(f"card answered SW {sw:04X}", where="EXTERNAL AUTHENTICATE", expected="SW 9000")
        self._state = ChannelState.OPEN

    def wrap(self, command: bytes) -> bytes:
        """C-MAC over the plain command, then C-ENC of its data (3DES-CBC, S-ENC, zero IV) [V for C-MAC]."""
        self._require(ChannelState.OPEN, ChannelState.RESPONDING, action="wrap a command")
        apdu = parse_short_apdu(command)
        if apdu.channel != self.channel:
            raise BadInput(f"command on logical channel {apdu.channel}", where="CLA",
                           expected=f"channel {self.channel} of this session")
        rmac_input = self._rmac_command(apdu)
        if not self._c_mac:
            self._rmac_input, self._state = rmac_input, ChannelState.RESPONDING
            return command
        assert self._session is not None
        assert self._enc_key is not None
        mac = self._command_mac(apdu)
        data = apdu.data
        if data and self._c_dec:
            # No data, nothing to encrypt [I:GlobalPlatformPro]; pySim and asterix would encrypt 80 00.. here.
            data = self._enc_key.cbc_encrypt(pad80(data, 8))
        if len(data) + MAC_SIZE > 255:
            raise UnsupportedError(f"protected data field of {len(data) + MAC_SIZE} bytes", where="wrap",
                                   expected="at most 255 bytes after padding and C-MAC")
        sent_cla = secure_messaging_cla(apdu.cla)[0]
        self._last_mac, self._rmac_input, self._state = mac, rmac_input, ChannelState.RESPONDING
        return (bytes((sent_cla, apdu.ins, apdu.p1, apdu.p2, len(data) + MAC_SIZE)) + data + mac
                + (b"" if apdu.le is None else b"\x00"))

    def unwrap(self, response: bytes) -> UnwrappedResponse:
        """Check the R-MAC (8 bytes before SW1 SW2) when the level asks for it."""
        self._require(ChannelState.RESPONDING, action="unwrap a response")
        data, sw = split_response(response, "response")
        if not self._r_mac:
            self._state = ChannelState.OPEN
            return UnwrappedResponse(data, sw, False)
        if len(data) < MAC_SIZE:
            raise self._fail(BadMac("response too short to carry an R-MAC", where="R-MAC"))
        body, rmac = data[:-MAC_SIZE], data[-MAC_SIZE:]
        expected = self._response_mac(body, response[-2:])
        try:
            verify_mac(expected, rmac, where="R-MAC")
        except IntegrityError as exc:
            raise self._fail(exc) from None
        self._last_rmac, self._state = expected, ChannelState.OPEN
        return UnwrappedResponse(body, sw, True)

    def dek_encrypt(self, data: bytes) -> bytes:
        """Sensitive data (PUT KEY key components) under the session DEK: 3DES-ECB, whole blocks [V]."""
        return DesKey(self.session_keys.dek).ecb_encrypt(data)


def _check_level(level: int, options: Scp02Options) -> SecurityLevel:
    chosen = security_level(level, SCP02_LEVELS)
    if chosen & SecurityLevel.R_MAC and not options & Scp02Options.R_MAC:
        raise UnsupportedError(f"i={int(options):02X} has no R-MAC support", where="security level",
                               expected="a level without R-MAC, or an i with bit 20")
    return chosen


class Scp02Card(_Scp02Channel):
    """The security domain's side of SCP02.  `sequence_counter` is the next value to use (+1 per INITIALIZE
    UPDATE, 2 bytes)."""

    def __init__(self, keys: StaticKeys, *, sd_aid: bytes, sequence_counter: int = 0, options: int = 0x55,
                 kdd: bytes = bytes(10), random: Random = os.urandom) -> None:
        super().__init__(keys, options)
        if not 0 <= sequence_counter <= 0xFFFF:
            raise BadInput(f"sequence counter {sequence_counter}", where="SCP02 card", expected="0..FFFF")
        if len(kdd) != 10:
            raise BadInput(f"{len(kdd)} bytes", where="key diversification data", expected="10 bytes")
        self.sd_aid = sd_aid
        self.kdd = kdd
        self.next_sequence_counter = sequence_counter
        self._random = random

    def initialize_update(self, command: bytes) -> bytes:
        """Answer INITIALIZE UPDATE (28 bytes || 9000); starts a new session whatever the state was."""
        apdu = parse_short_apdu(command)
        if apdu.ins != INS_INITIALIZE_UPDATE or not apdu.cla & 0x80 or decode_cla(apdu.cla)[1]:
            raise BadInput(f"{apdu.cla:02X} {apdu.ins:02X}", where="INITIALIZE UPDATE header", expected="80 50")
        if apdu.p1 not in (0, self.keys.kvn):
            raise BadInput(f"key version {apdu.p1:02X} not present", where="INITIALIZE UPDATE P1",
                           expected=f"00 or {self.keys.kvn:02X}")
        if len(apdu.data) != 8:
            raise BadInput(f"{len(apdu.data)}-byte host challenge", where="INITIALIZE UPDATE", expected="8 bytes")
        counter = self.next_sequence_counter
        if counter > 0xFFFF:
            raise StateError("sequence counter exhausted", where="SCP02 card", expected="a counter of at most FFFF")
        session = derive_session_keys(self.keys, counter)
        challenge = (pseudo_random_card_challenge(session, self.sd_aid)
                     if self.options & Scp02Options.PSEUDO_RANDOM_CHALLENGE else self._random(6))
        self._start(apdu.data, challenge, counter)
        answer = Scp02InitializeUpdateResponse(self.kdd, self.keys.kvn, counter, challenge,
                                               card_cryptogram(session, apdu.data, counter, challenge))
        self.next_sequence_counter += 1
        self._set_level(SecurityLevel.NONE)
        self._state = ChannelState.CHALLENGED
        return answer.to_bytes() + SW_OK.to_bytes(2, "big")

    def external_authenticate(self, command: bytes) -> bytes:
        """Check the host cryptogram and the C-MAC; on success the session is open at P1's level (9000)."""
        self._require(ChannelState.CHALLENGED, action="process EXTERNAL AUTHENTICATE")
        apdu = parse_short_apdu(command)
        if apdu.ins != INS_EXTERNAL_AUTHENTICATE or len(apdu.data) != 16 or not is_secured_cla(apdu.cla):
            raise BadInput(f"{apdu.cla:02X} {apdu.ins:02X}, {len(apdu.data)} data bytes",
                           where="EXTERNAL AUTHENTICATE", expected="84 82 SL 00 10")
        level = _check_level(apdu.p1, self.options)
        received, mac = apdu.data[:8], apdu.data[8:]
        expected = self._external_authenticate_mac(level, received)
        try:
            verify_cryptogram(self._host_cryptogram(), received, where="host cryptogram")
            verify_mac(expected, mac, where="EXTERNAL AUTHENTICATE C-MAC")
        except IntegrityError as exc:
            raise self._fail(exc) from None
        self._last_mac = self._last_rmac = expected
        self._set_level(level)
        self._state = ChannelState.OPEN
        return SW_OK.to_bytes(2, "big")

    def unwrap_command(self, command: bytes) -> bytes:
        """Decrypt the data of one protected command and verify its C-MAC; returns the plain command."""
        self._require(ChannelState.OPEN, ChannelState.RESPONDING, action="unwrap a command")
        apdu = parse_short_apdu(command)
        if not self._c_mac:
            self._rmac_input, self._state = self._rmac_command(apdu), ChannelState.RESPONDING
            return command
        if not is_secured_cla(apdu.cla) or len(apdu.data) < MAC_SIZE:
            raise self._fail(BadMac("command carries no C-MAC", where="C-MAC"))
        body, mac = apdu.data[:-MAC_SIZE], apdu.data[-MAC_SIZE:]
        if body and self._c_dec:
            body = self._decrypt(body)
        plain = CommandApdu(plain_cla(apdu.cla), apdu.ins, apdu.p1, apdu.p2, body, apdu.le)
        expected = self._command_mac(plain)
        try:
            verify_mac(expected, mac, where="C-MAC")
        except IntegrityError as exc:
            raise self._fail(exc) from None
        self._last_mac, self._rmac_input, self._state = expected, self._rmac_command(plain), ChannelState.RESPONDING
        return plain.to_bytes()

    def _decrypt(self, body: bytes) -> bytes:
        # MAC-then-encrypt: data that does not decrypt to padded blocks was tampered with or mis-keyed.
        assert self._enc_key is not None
        try:
            if len(body) % 8:
                raise DecodeError(f"{len(body)} bytes", where="C-DECRYPTION", expected="whole 8-byte blocks")
            return unpad80(self._enc_key.cbc_decrypt(body), 8)
        except DecodeError:
            raise self._fail(BadMac("encrypted data does not decrypt to padded data", where="C-DECRYPTION")) \
                from None

    def wrap_response(self, data: bytes, sw: int) -> bytes:
        """Append the R-MAC when the level asks for it."""
        self._require(ChannelState.RESPONDING, action="wrap a response")
        if not 0 <= sw <= 0xFFFF:
            raise BadInput(f"SW {sw}", where="response status", expected="0000..FFFF")
        status = sw.to_bytes(2, "big")
        if not self._r_mac:
            self._state = ChannelState.OPEN
            return data + status
        rmac = self._response_mac(data, status)
        self._last_rmac, self._state = rmac, ChannelState.OPEN
        return data + rmac + status

    def dek_decrypt(self, data: bytes) -> bytes:
        """Inverse of `Scp02Host.dek_encrypt`: 3DES-ECB with the session DEK."""
        return DesKey(self.session_keys.dek).ecb_decrypt(data)
