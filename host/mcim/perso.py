"""Personalisation of mcim's Java Card applets: STORE DATA commands in the DGI format that
applet-spec/profiles/personalisation.md defines (the format is this project's; the STORE DATA coding is
GlobalPlatform Card Specification v2.3 §11.11, DGI layout EMV CPS, both as mcim.gp.ccm builds them).

Each DGI is `tag (2) || length || value`.  Tags 8000-FFFF are secret: their value is
AES-128-CBC(KPERSO, IV 00..00) of a clear value of whole 16-byte blocks, with no padding, KPERSO being the
instance's personalisation key from its install data.  Blocks carry whole DGIs; P1 is 08 (DGI format), 28 when
the block holds an enciphered DGI (informative), with b8 set on the last block; P2 numbers the blocks from 00.

`mcim_from_refcard` takes the identity of a reference UICC's USIM (files, K, OPc, SQN policy, Milenage
constants) so that the MCIM on jCardSim answers as that USIM does; `bootstrap_from_refcard` its ISD's OTA TARs,
minimum security level and SCP80 key set.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from .aka.milenage import MilenageConstants
from .aka.sqn import SqnManager
from .apdu import CommandApdu
from .errors import BadInput, UnsupportedError
from .gp.ccm import KeyType, StoreDataEncryption, StoreDataStructure, decode_dgis, encode_dgi, store_data_commands
from .gp.crypto import aes_cbc_encrypt

if TYPE_CHECKING:
    from mcim.refcard import RefCard


class Dgi(IntEnum):
    """The DGIs the applets take (personalisation.md, "MCIM applet DGIs" and "Bootstrap applet DGIs")."""

    FILE_CONTENT = 0x0101
    SQN_POLICY = 0x0102
    MILENAGE_CONSTANTS = 0x0103
    SUBSCRIBER_KEYS = 0x8101  # secret: K || OPc
    OTA_TAR = 0x0201
    OTA_KEY_VERSION = 0x0202
    OTA_KEYS = 0x8201  # secret: KIc || KID [|| KIK]


FIRST_SECRET_DGI = 0x8000
MAX_SECRET_VALUE = 64
PERSO_KEY_LENGTH = 16  # AES-128

# The MCIM applet's EFs, FID -> size in bytes (personalisation.md, the EF table).
MCIM_FILES: Mapping[int, int] = {
    0x2FE2: 10, 0x6F07: 9, 0x6F08: 33, 0x6F09: 33, 0x6F31: 1, 0x6F38: 8, 0x6F46: 17, 0x6F5B: 6, 0x6F5C: 3,
    0x6F73: 14, 0x6F78: 2, 0x6F7B: 12, 0x6F7E: 11, 0x6FAD: 4,
}
EF_ICCID = 0x2FE2
EF_UST = 0x6F38
SEQ_FIELD = 6  # bytes of the delta and age limit of DGI 0102
MCIM_IND_BITS = 5  # the MCIM's SQN array: 5 IND bits, 32 SEQ_MS entries (personalisation.md, DGI 0102)
MAX_OTA_TARS = 4
MSL_MINIMUM_SPI1 = 0x01  # TS 102 226 §8.2.1.3.2.1.1: MSL parameter '01', its data the minimum SPI1


def is_secret(tag: int) -> bool:
    return tag >= FIRST_SECRET_DGI


def secret_dgi(tag: int, perso_key: bytes, clear: bytes) -> bytes:
    """A secret DGI: `clear` (whole AES blocks, at most 64 bytes) enciphered under the personalisation key."""
    if not is_secret(tag):
        raise BadInput(f"DGI {tag:04X}", where="secret DGI", expected="a tag 8000-FFFF")
    if len(perso_key) != PERSO_KEY_LENGTH:
        raise BadInput(f"{len(perso_key)}-byte key", where="personalisation key", expected="16 bytes (AES-128)")
    if not clear or len(clear) % 16 or len(clear) > MAX_SECRET_VALUE:
        raise BadInput(f"{len(clear)} bytes", where=f"DGI {tag:04X} clear value",
                       expected=f"whole 16-byte blocks, at most {MAX_SECRET_VALUE} bytes")
    return encode_dgi(tag, aes_cbc_encrypt(perso_key, clear))


def store_data(dgis: Sequence[bytes]) -> list[CommandApdu]:
    """The STORE DATA chain for encoded DGIs: whole DGIs per block, the last block ending personalisation."""
    commands = store_data_commands(list(dgis), structure=StoreDataStructure.DGI)
    return [_mark_enciphered(command) for command in commands]


def _mark_enciphered(command: CommandApdu) -> CommandApdu:
    """P1 b7b6 = 01 on a block that holds an enciphered DGI (personalisation.md, STORE DATA; informative)."""
    tags = [tag for tag, _ in decode_dgis(command.data)]  # also proves the block holds whole DGIs
    if not any(is_secret(tag) for tag in tags):
        return command
    return dataclasses.replace(command, p1=command.p1 | StoreDataEncryption.APPLICATION_DEPENDENT)


@dataclass(frozen=True)
class SqnPolicy:
    """DGI 0102: how far ahead (delta) and behind (age limit L) of the highest SEQ a fresh SEQ may be, in SEQ
    units (TS 33.102 Annex C.2.1, C.2.2); 0 turns a check off."""

    delta: int = 1 << 28
    age_limit: int = 0

    def value(self) -> bytes:
        for name in ("delta", "age_limit"):
            if not 0 <= getattr(self, name) < 1 << (8 * SEQ_FIELD):
                raise BadInput(f"{name}={getattr(self, name)}", where="SQN policy", expected="0 .. 2^48-1")
        return self.delta.to_bytes(SEQ_FIELD, "big") + self.age_limit.to_bytes(SEQ_FIELD, "big")


DEFAULT_SQN_POLICY = SqnPolicy()


def milenage_constants_value(constants: MilenageConstants) -> bytes:
    """DGI 0103: c1..c5 then r1..r5 (one byte each, rotations in bits) of TS 35.206 §4.1."""
    c = b"".join(getattr(constants, f"c{i}") for i in range(1, 6))
    return c + bytes(getattr(constants, f"r{i}") for i in range(1, 6))


@dataclass(frozen=True)
class McimPersonalisation:
    """What the MCIM applet is given: file contents, K and OPc, and its AKA parameters."""

    files: tuple[tuple[int, bytes], ...]  # (FID, content written from offset 0)
    k: bytes = field(repr=False)
    opc: bytes = field(repr=False)
    sqn: SqnPolicy = DEFAULT_SQN_POLICY
    milenage: MilenageConstants = field(default_factory=MilenageConstants)

    def __post_init__(self) -> None:
        for fid, content in self.files:
            size = MCIM_FILES.get(fid)
            if size is None:
                raise BadInput(f"FID {fid:04X}", where="MCIM file content",
                               expected="one of " + ", ".join(f"{f:04X}" for f in MCIM_FILES))
            if len(content) > size:
                raise BadInput(f"{len(content)} bytes", where=f"MCIM file {fid:04X}",
                               expected=f"at most its size, {size}")
        for name in ("k", "opc"):
            if len(getattr(self, name)) != 16:
                raise BadInput(f"{len(getattr(self, name))}-byte {name.upper()}", where="MCIM subscriber keys",
                               expected="16 bytes")

    def dgis(self, perso_key: bytes) -> list[bytes]:
        """The DGIs: files, then the AKA parameters that differ from the applet's defaults, then K || OPc."""
        items = [encode_dgi(Dgi.FILE_CONTENT, fid.to_bytes(2, "big") + content) for fid, content in self.files]
        if self.sqn != DEFAULT_SQN_POLICY:
            items.append(encode_dgi(Dgi.SQN_POLICY, self.sqn.value()))
        if self.milenage != MilenageConstants():
            items.append(encode_dgi(Dgi.MILENAGE_CONSTANTS, milenage_constants_value(self.milenage)))
        items.append(secret_dgi(Dgi.SUBSCRIBER_KEYS, perso_key, self.k + self.opc))
        return items

    def commands(self, perso_key: bytes) -> list[CommandApdu]:
        return store_data(self.dgis(perso_key))


@dataclass(frozen=True)
class OtaTar:
    """DGI 0201: a TAR the bootstrap applet answers to, with its minimum security level (coded like SPI1)."""

    tar: bytes
    minimum_security: int

    def value(self) -> bytes:
        if len(self.tar) != 3 or not 0 <= self.minimum_security <= 0xFF:
            raise BadInput(f"TAR {self.tar.hex().upper()}, MSL {self.minimum_security}", where="OTA TAR",
                           expected="a 3-byte TAR and a one-byte minimum security level")
        return self.tar + bytes([self.minimum_security])


@dataclass(frozen=True)
class BootstrapPersonalisation:
    """What the bootstrap applet is given: its TARs, the OTA key set (AES-128) with its version, the counter."""

    tars: tuple[OtaTar, ...]
    key_version: int
    kic: bytes = field(repr=False)
    kid: bytes = field(repr=False)
    kik: bytes | None = field(default=None, repr=False)
    counter: int = 0

    def __post_init__(self) -> None:
        if not 1 <= len(self.tars) <= MAX_OTA_TARS:
            raise BadInput(f"{len(self.tars)} TARs", where="bootstrap personalisation",
                           expected=f"1 to {MAX_OTA_TARS}")
        if not 0x01 <= self.key_version <= 0x0F:
            raise BadInput(f"key version {self.key_version}", where="bootstrap personalisation",
                           expected="01..0F (the high nibble of KIc / KID)")
        if not 0 <= self.counter < 1 << 40:
            raise BadInput(f"counter {self.counter}", where="bootstrap personalisation", expected="5 bytes")
        for name in ("kic", "kid", "kik"):
            key = getattr(self, name)
            if key is not None and len(key) != 16:
                raise BadInput(f"{len(key)}-byte {name.upper()}", where="bootstrap OTA keys",
                               expected="16 bytes (AES-128)")

    def dgis(self, perso_key: bytes) -> list[bytes]:
        items = [encode_dgi(Dgi.OTA_TAR, tar.value()) for tar in self.tars]
        items.append(encode_dgi(Dgi.OTA_KEY_VERSION, bytes([self.key_version]) + self.counter.to_bytes(5, "big")))
        items.append(secret_dgi(Dgi.OTA_KEYS, perso_key, self.kic + self.kid + (self.kik or b"")))
        return items

    def commands(self, perso_key: bytes) -> list[CommandApdu]:
        return store_data(self.dgis(perso_key))


# ------------------------------------------------------------------------------ from a reference UICC


def mcim_from_refcard(card: RefCard) -> McimPersonalisation:
    """The MCIM personalisation that mirrors the card's first USIM: the content of every EF both hold, its K,
    OPc, SQN policy and Milenage constants."""
    adf = next((adf for adf in card.adfs if getattr(adf.app, "kind", None) == "usim"), None)
    if adf is None:
        raise BadInput("no USIM application", where="reference UICC", expected="a USIM to mirror")
    params = adf.app.params
    files = [(EF_ICCID, _transparent(card.mf, EF_ICCID))]
    files += [(fid, _transparent(adf, fid)) for fid in MCIM_FILES if fid != EF_ICCID and adf.child(fid) is not None]
    return McimPersonalisation(tuple((fid, _fit(fid, data)) for fid, data in files), params.k, params.opc,
                               _sqn_policy(params.sqn), params.constants)


def bootstrap_from_refcard(card: RefCard, random: Callable[[int], bytes] = os.urandom) -> BootstrapPersonalisation:
    """The bootstrap applet's OTA configuration that mirrors the card's Issuer Security Domain: its TARs with
    their minimum security level (TS 102 226 §8.2.1.3.2.1.1, MSL parameter 01 = minimum SPI1), and its first
    AES SCP80 key set (key 1 KIc, 2 KID, 3 KIK), or, when it has none, a key set of `random` keys (version 1)
    that nobody knows, so that no packet passes its CC on either card.  The counter starts at 0."""
    from mcim.refcard.isd import Isd

    isd = Isd.of(card)
    if isd is None:
        raise BadInput("no Issuer Security Domain", where="reference UICC", expected="an ISD with OTA TARs")
    uicc = isd.registry.isd.uicc
    msl = uicc.minimum_security_level
    minimum = msl.data[0] if msl is not None and msl.parameter == MSL_MINIMUM_SPI1 and msl.data else 0
    tars = tuple(OtaTar(tar, minimum) for tar in uicc.tars)
    version = next((kvn for kvn in range(1, 16) if _aes_ota_key_set(isd, kvn)), None)
    if version is None:
        return BootstrapPersonalisation(tars, 1, kic=random(16), kid=random(16))
    return BootstrapPersonalisation(tars, version, kic=isd.ota_key(version, 1), kid=isd.ota_key(version, 2),
                                    kik=isd.ota_key(version, 3))


def _aes_ota_key_set(isd: Any, kvn: int) -> bool:
    """Whether SCP80 key set `kvn` has an AES-128 KIc and KID (GP key type 88), all the bootstrap applet takes."""
    key_set = isd.key_set(kvn)
    keys = [None if key_set is None or not key_set.is_ota else key_set.key(role) for role in (1, 2)]
    return all(key is not None and key.key_type == KeyType.AES and len(key.value) == 16 for key in keys)


def _transparent(parent: Any, fid: int) -> bytes:
    data = getattr(parent.child(fid), "data", None)
    if data is None:
        raise UnsupportedError(f"EF {fid:04X} is missing or not transparent", where="reference UICC profile",
                               expected="the transparent EFs the MCIM applet serves")
    return bytes(data)


def _fit(fid: int, data: bytes) -> bytes:
    """The profile's content at the MCIM's file size.  A longer EF.UST is padded with 00 (services not
    available, TS 31.102 §4.2.8); other EFs keep the applet's FF filling beyond the content."""
    size = MCIM_FILES[fid]
    if len(data) > size:
        raise UnsupportedError(f"EF {fid:04X} holds {len(data)} bytes", where="reference UICC profile",
                               expected=f"at most the MCIM's {size}")
    return data.ljust(size, b"\x00") if fid == EF_UST else data


def _sqn_policy(sqn: SqnManager) -> SqnPolicy:
    """The reference USIM's SQN guards as DGI 0102 (None, a check that is off, is 0 there)."""
    if sqn.ind_bits != MCIM_IND_BITS:
        raise UnsupportedError(f"{sqn.ind_bits} IND bits", where="reference UICC profile sqn.ind_bits",
                               expected=f"{MCIM_IND_BITS} (the MCIM applet's SQN array)")
    return SqnPolicy(sqn.delta or 0, sqn.limit or 0)
