"""Secure channel sessions of the Issuer Security Domain, card side, on top of `mcim.gp.scp03.Scp03Card` and
`mcim.gp.scp02.Scp02Card` (GP Card Specification v2.3 §10 and Appendix E; Amendment D for SCP03).

A session lives on one logical channel.  It starts with INITIALIZE UPDATE (which ends any session before it),
is authenticated by EXTERNAL AUTHENTICATE, and then every command on that channel must carry the protection of
the session's security level.  Status words (Amd D §7.1.2/§7.2.2 [M], GP v2.3 §11.1.3): a wrong host cryptogram
gives 6300, a wrong C-MAC (a tampered, replayed or reordered command) or a plain command inside a MACed session
gives 6982; in each case the session is closed, as GP requires, and the next command starts unauthenticated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcim.errors import BadCryptogram, BadInput, IntegrityError, StateError
from mcim.gp.crypto import aes_cbc_decrypt, des3_ecb_decrypt
from mcim.gp.keys import KeyAlgorithm, StaticKeys
from mcim.gp.scp02 import SCP02_LEVELS, Scp02Card
from mcim.gp.scp03 import SCP03_LEVELS, ChannelState, Scp03Card, SecurityLevel, is_secured_cla

from .context import Reply
from .status import Refused, Sw

SW_AUTHENTICATION_FAILED = 0x6300  # Amd D Table 7-6: host cryptogram verification failed
AUTHENTICATED = (ChannelState.OPEN, ChannelState.RESPONDING)


@dataclass(frozen=True)
class SecureChannelConfig:
    """How the ISD answers INITIALIZE UPDATE: SCP03 "i" and S8/S16 mode, SCP02 "i", key diversification data."""

    kdd: bytes
    scp03_options: int = 0x70
    s16: bool = False
    scp02_options: int = 0x55

    def to_dict(self) -> dict[str, Any]:
        return {"kdd": self.kdd.hex(), "scp03_i": self.scp03_options, "s16": self.s16,
                "scp02_i": self.scp02_options}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SecureChannelConfig:
        return cls(bytes.fromhex(d["kdd"]), d["scp03_i"], d["s16"], d["scp02_i"])


@dataclass(frozen=True)
class SensitiveKey:
    """The key protecting sensitive data inside commands: PUT KEY key data, STORE DATA with P1 b7b6 = 11."""

    key: bytes = field(repr=False)
    algorithm: KeyAlgorithm

    def decrypt(self, data: bytes) -> bytes:
        """AES-CBC with a zero ICV under an AES DEK (Amd D §6.2.8 [M]), 3DES-ECB under a DES one (GP v2.3
        §E.4.7 [M]); whole blocks, no padding removed (the data format says where the value ends)."""
        block = 16 if self.algorithm is KeyAlgorithm.AES else 8
        if not data or len(data) % block:
            raise Refused(Sw.INCORRECT_DATA)
        if self.algorithm is KeyAlgorithm.AES:
            return aes_cbc_decrypt(self.key, data)
        return des3_ecb_decrypt(self.key, data)


class Session:
    """One secure channel session (the ISD keeps one per logical channel)."""

    def __init__(self, kvn: int, scp: Scp03Card | Scp02Card) -> None:
        self.kvn = kvn
        self.scp = scp

    @classmethod
    def open(cls, keys: StaticKeys, config: SecureChannelConfig, sd_aid: bytes, sequence_counter: int,
             random: Callable[[int], bytes], command: bytes) -> tuple[Session, bytes]:
        """Answer INITIALIZE UPDATE with `keys` (AES: SCP03, 3DES: SCP02); returns the session and the response."""
        scp: Scp03Card | Scp02Card
        if keys.algorithm is KeyAlgorithm.AES:
            scp = Scp03Card(keys, sd_aid=sd_aid, sequence_counter=sequence_counter, options=config.scp03_options,
                            s16=config.s16, kdd=config.kdd, random=random)
            challenge = scp.size
        else:
            scp = Scp02Card(keys, sd_aid=sd_aid, sequence_counter=sequence_counter, options=config.scp02_options,
                            kdd=config.kdd, random=random)
            challenge = 8
        if command[3] != 0x00:
            raise Refused(Sw.INCORRECT_P1P2)
        if len(command) not in (5 + challenge, 6 + challenge) or command[4] != challenge:
            raise Refused(Sw.WRONG_LENGTH)
        try:
            response = scp.initialize_update(command)
        except StateError:
            raise Refused(Sw.CONDITIONS_NOT_SATISFIED) from None  # sequence counter exhausted
        return cls(keys.kvn, scp), response

    @property
    def authenticated(self) -> bool:
        return self.scp.state in AUTHENTICATED

    @property
    def sequence_counter(self) -> int:
        return self.scp.next_sequence_counter

    @property
    def macs_commands(self) -> bool:
        return bool(self.scp.security_level & SecurityLevel.C_MAC)

    def close(self) -> None:
        self.scp.close()

    def external_authenticate(self, command: bytes) -> None:
        """Amd D §7.2 / GP v2.3 §E.5.2: check host cryptogram and C-MAC; any failure closes the session."""
        legal = SCP03_LEVELS if isinstance(self.scp, Scp03Card) else SCP02_LEVELS
        try:
            if self.scp.state is not ChannelState.CHALLENGED:
                raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
            if command[2] not in legal:
                raise Refused(Sw.INCORRECT_P1P2)
            self.scp.external_authenticate(command)
        except BadCryptogram:
            self.close()
            raise Refused(SW_AUTHENTICATION_FAILED) from None
        except IntegrityError:
            self.close()
            raise Refused(Sw.SECURITY_STATUS_NOT_SATISFIED) from None
        except BadInput:  # a level the "i" parameter does not offer, a wrong length
            self.close()
            raise Refused(Sw.INCORRECT_P1P2) from None
        except Refused:
            self.close()
            raise

    def unwrap(self, command: bytes) -> bytes:
        """The plain command inside a protected one (C-MAC verified, C-DECRYPTION removed)."""
        if is_secured_cla(command[0]) and not self.macs_commands:
            self.close()
            raise Refused(Sw.SECURITY_STATUS_NOT_SATISFIED)
        try:
            return self.scp.unwrap_command(command)
        except (IntegrityError, BadInput, StateError):
            self.close()  # Amd D §7.1.2: the session ends with the first command that does not verify
            raise Refused(Sw.SECURITY_STATUS_NOT_SATISFIED) from None

    def wrap(self, reply: Reply) -> Reply:
        """R-ENC and R-MAC over the response (error status words go back bare)."""
        response = self.scp.wrap_response(reply.data, reply.sw)
        return Reply(response[:-2], int.from_bytes(response[-2:], "big"))

    def sensitive_key(self) -> SensitiveKey:
        """SCP03: the static DEK of the key set (Amd D §6.2.8 [M]); SCP02: the session DEK (GP v2.3 §E.4.1)."""
        if isinstance(self.scp, Scp03Card):
            return SensitiveKey(self.scp.keys.dek, KeyAlgorithm.AES)
        return SensitiveKey(self.scp.session_keys.dek, KeyAlgorithm.DES3)
