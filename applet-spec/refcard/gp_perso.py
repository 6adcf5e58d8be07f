"""STORE DATA personalisation of a USIM instance of the native USIM module, in the DGI format of
`applet-spec/profiles/personalisation.md` (the same DGIs the MCIM Java Card applet takes):

| DGI | value |
|---|---|
| 0101 | FID (2) then the content written from offset 0 of that transparent EF (in the ADF, else in the MF) |
| 0102 | SQN policy: delta (6) then age limit L (6), in SEQ units; 0 turns the check off |
| 0103 | Milenage constants c1..c5 (16 bytes each) then r1..r5 (one byte each) |
| 8101 | secret: K (16) then OPc (16), enciphered |

Secret DGIs (8000-FFFF) arrive enciphered.  Which key deciphers them is the card profile's choice
(`isd.secret_dgis`): the instance's personalisation key KPERSO from its install parameters (`C9 {80 10 KPERSO}`,
AES-128-CBC, zero IV, as personalisation.md says), or the secure channel's DEK with STORE DATA P1 b7b6 = 11 (GP
Card Specification v2.3 §11.11.2.1; over SCP80 the KIK of the key set that secured the packet).  A block is
checked whole before anything of it is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from mcim.aka import MilenageConstants, SqnManager
from mcim.errors import BadInput, DecodeError
from mcim.gp.ccm import StoreDataBlock, StoreDataEncryption, StoreDataStructure, decode_dgis
from mcim.gp.crypto import aes_cbc_decrypt
from mcim.tlv import ber_decode

from .files import Adf, TransparentEf
from .status import Refused, Sw
from .usim_app import UsimApplication

if TYPE_CHECKING:
    from .card import RefCard

DGI_FILE = 0x0101
DGI_SQN_POLICY = 0x0102
DGI_MILENAGE_CONSTANTS = 0x0103
DGI_SUBSCRIBER_KEYS = 0x8101
SECRET_DGI = 0x8000
SECRET_MAX = 64  # personalisation.md: a clear secret value is a multiple of 16 bytes, at most 64
TAG_PERSONALISATION_KEY = 0x80
SEQ_FIELD = 6


class SecretDgiKey(StrEnum):
    """Which key deciphers secret DGIs (the profile's `isd.secret_dgis`)."""

    PERSONALISATION_KEY = "personalisation_key"
    DEK = "dek"


def personalisation_key(application_parameters: bytes) -> bytes | None:
    """KPERSO from the 'C9' value: one-byte-tag TLVs, `80 10 <key>` (personalisation.md, Install data)."""
    try:
        items = ber_decode(application_parameters, where="C9 application parameters", skip_padding=False)
    except DecodeError:
        raise Refused(Sw.INCORRECT_DATA) from None
    key = next((item.value for item in items if item.tag == TAG_PERSONALISATION_KEY), None)
    if key is not None and len(key) != 16:
        raise Refused(Sw.INCORRECT_DATA)
    return key


@dataclass
class _Plan:
    """What one STORE DATA block will change, built completely before anything is applied."""

    writes: list[tuple[TransparentEf, bytes]] = field(default_factory=list)
    sqn: SqnManager | None = None
    constants: MilenageConstants | None = None
    keys: tuple[bytes, bytes] | None = field(default=None, repr=False)


# STORE DATA P1 b7b6 each mode accepts (GP v2.3 §11.11.2.1): personalisation.md allows 00 and 01 and refuses 10
# and 11; the DEK mode takes 11 for blocks with secret DGIs and 00 for the others.
_ENCRYPTION = {SecretDgiKey.PERSONALISATION_KEY: (StoreDataEncryption.NONE, StoreDataEncryption.APPLICATION_DEPENDENT),
               SecretDgiKey.DEK: (StoreDataEncryption.NONE, StoreDataEncryption.ENCRYPTED)}


def check_block(block: StoreDataBlock, expected_number: int, mode: SecretDgiKey) -> None:
    """P1/P2 of a personalisation block: DGI format, the next block number, an encryption indication the mode
    takes, P1 b1 clear (personalisation.md, STORE DATA: 6A86 otherwise)."""
    if block.structure != StoreDataStructure.DGI or block.number != expected_number \
            or block.encryption not in _ENCRYPTION[mode] or block.response_expected:
        raise Refused(Sw.INCORRECT_P1P2)


def personalise_usim(card: RefCard, adf: Adf, data: bytes, decipher: Callable[[bytes], bytes]) -> None:
    """Store one block of DGIs into the USIM instance `adf`; `decipher` opens a secret value."""
    app = adf.app
    assert isinstance(app, UsimApplication)
    try:
        dgis = decode_dgis(data)
    except DecodeError:
        raise Refused(Sw.INCORRECT_DATA) from None
    plan = _Plan()
    for tag, value in dgis:
        if tag & SECRET_DGI:
            if not value or len(value) > SECRET_MAX or len(value) % 16:
                raise Refused(Sw.INCORRECT_DATA)
            value = decipher(value)
        _plan_dgi(card, adf, app, plan, tag, value)
    _apply(card, adf, app, plan)


def kperso_decipher(key: bytes | None) -> Callable[[bytes], bytes]:
    """Secret values under KPERSO; without one they are refused (6985, personalisation.md)."""
    def decipher(value: bytes) -> bytes:
        if key is None:
            raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
        return aes_cbc_decrypt(key, value)
    return decipher


def no_secrets(value: bytes) -> bytes:
    """A block not marked encrypted (P1 b7b6 = 00) in DEK mode carries no secret DGI."""
    raise Refused(Sw.CONDITIONS_NOT_SATISFIED)


def _plan_dgi(card: RefCard, adf: Adf, app: UsimApplication, plan: _Plan, tag: int, value: bytes) -> None:
    if tag == DGI_FILE:
        plan.writes.append(_file_write(card, adf, value))
    elif tag == DGI_SQN_POLICY:
        plan.sqn = _sqn_policy(app.params.sqn, value)
    elif tag == DGI_MILENAGE_CONSTANTS:
        plan.constants = _constants(value)
    elif tag == DGI_SUBSCRIBER_KEYS:
        if len(value) != 32:
            raise Refused(Sw.INCORRECT_DATA)
        plan.keys = (value[:16], value[16:])
    else:
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)


def _file_write(card: RefCard, adf: Adf, value: bytes) -> tuple[TransparentEf, bytes]:
    if len(value) < 2:
        raise Refused(Sw.INCORRECT_DATA)
    fid = int.from_bytes(value[:2], "big")
    ef = adf.child(fid) or card.mf.child(fid)
    if ef is None:
        raise Refused(Sw.FILE_NOT_FOUND)
    if not isinstance(ef, TransparentEf) or len(value) - 2 > len(ef.data):
        raise Refused(Sw.INCORRECT_DATA)
    return ef, value[2:]


def _sqn_policy(current: SqnManager, value: bytes) -> SqnManager:
    if len(value) != 2 * SEQ_FIELD:
        raise Refused(Sw.INCORRECT_DATA)
    delta, limit = (int.from_bytes(value[i:i + SEQ_FIELD], "big") or None for i in (0, SEQ_FIELD))
    return replace(current, delta=delta, limit=limit, seq_ms=list(current.seq_ms))


def _constants(value: bytes) -> MilenageConstants:
    if len(value) != 5 * 16 + 5:
        raise Refused(Sw.INCORRECT_DATA)
    cs = {f"c{i + 1}": value[16 * i:16 * (i + 1)] for i in range(5)}
    rs = {f"r{i + 1}": value[80 + i] for i in range(5)}
    try:
        return MilenageConstants(**cs, **rs)
    except BadInput:
        raise Refused(Sw.INCORRECT_DATA) from None


def _apply(card: RefCard, adf: Adf, app: UsimApplication, plan: _Plan) -> None:
    for ef, content in plan.writes:
        ef.data[:len(content)] = content
    params = app.params
    if plan.sqn is not None or plan.constants is not None or plan.keys is not None:
        k, opc = plan.keys or (params.k, params.opc)
        params = replace(params, k=k, opc=opc, constants=plan.constants or params.constants,
                         sqn=plan.sqn or params.sqn)
        adf.app = UsimApplication(adf, params)
    card.mark_changed()
