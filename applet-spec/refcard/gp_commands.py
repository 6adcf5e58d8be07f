"""Card content management commands of the Issuer Security Domain (GlobalPlatform Card Specification v2.3 §11):
GET DATA §11.3, PUT KEY §11.8, DELETE §11.2, GET STATUS §11.4, SET STATUS §11.10, INSTALL §11.5, LOAD §11.6,
STORE DATA §11.11.  Commands are decoded with `mcim.gp.ccm` (what the host builds, read back).

Each handler takes the ISD, a `Context` (the card, the per-channel volatile state, whether the command came
through an authenticated channel, the key for sensitive data) and the plain command; it returns a `Reply` or
raises `Refused(sw)` before it changes anything.  Status words: the tables of §11.x.3 (`mcim.gp.ccm.SW_TABLES`);
which of them a condition gets (e.g. 6A80 for an AID already in the registry) is this card's reading [M].
LOAD, INSTALL and DELETE answer the single byte '00' (§11.2.3.1, §11.5.3.1, §11.6.3.1: no confirmation asked) [M].
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from mcim.apdu import CommandApdu
from mcim.errors import BadChecksum, BadInput, DecodeError, UnsupportedError
from mcim.gp import ccm
from mcim.gp.cap import parse_concatenated
from mcim.gp.registry import (
    LOCKED_BIT,
    SELECTABLE,
    Privilege,
    RegistryEntry,
    StatusSubset,
    encode_status_legacy,
    encode_status_tlv,
)
from mcim.tlv import ber_decode

from .context import Reply
from .gp_keys import SW_ALGORITHM_NOT_SUPPORTED, SW_INVALID_KCV
from .gp_perso import (
    SecretDgiKey,
    check_block,
    kperso_decipher,
    no_secrets,
    personalisation_key,
    personalise_usim,
)
from .gp_registry import (
    CARD_TRANSITIONS,
    INSTALLED,
    PERSONALIZED,
    Application,
    CardLifeCycle,
    LoadFile,
    UiccParameters,
)
from .gp_session import SensitiveKey, Session
from .status import Refused, Sw
from .usim_app import UsimParams

if TYPE_CHECKING:
    from .card import RefCard
    from .isd import Isd

T = TypeVar("T")
NO_CONFIRMATION = b"\x00"
SW_MORE_DATA = 0x6310  # GET STATUS: more entries follow (§11.4.3)
# GET STATUS answers stay below 256 bytes once R-ENC padding (16) and an S16 R-MAC (16) are added.
STATUS_BUDGET = 256 - 32
HASH_LENGTHS = {20: "sha1", 32: "sha256", 48: "sha384", 64: "sha512"}  # §11.5.2.3.1 LFDB hash algorithms
NATIVE_USIM = "usim"


@dataclass
class LoadInProgress:
    """INSTALL [for load] seen; LOAD blocks so far."""

    load_file: bytes
    lfdb_hash: bytes
    blocks: list[bytes] = field(default_factory=list)


@dataclass
class Personalisation:
    """INSTALL [for personalization] seen: STORE DATA goes to `aid`, block `next_block` comes next."""

    aid: bytes
    next_block: int = 0


@dataclass
class StatusCursor:
    """A GET STATUS answered with 6310: what GET STATUS [next occurrence] returns."""

    subset: int
    tlv: bool
    rest: list[bytes]


@dataclass
class Volatile:
    """Per logical channel (or per OTA context): gone with a reset or when the channel closes, since `anchor`
    (the card's Channel object it belongs to) is then replaced."""

    anchor: object
    session: Session | None = None
    load: LoadInProgress | None = None
    personalisation: Personalisation | None = None
    status: StatusCursor | None = None


@dataclass
class Context:
    card: RefCard
    volatile: Volatile
    authenticated: bool
    sensitive_key: SensitiveKey | None = None


def _decoded(parse: Callable[[CommandApdu], T], apdu: CommandApdu, sw: int = Sw.INCORRECT_DATA) -> T:
    """The command decoded by `mcim.gp.ccm`, or the refusal `sw` when it does not decode."""
    try:
        return parse(apdu)
    except DecodeError:
        raise Refused(sw) from None


def _not_locked(isd: Isd) -> None:
    """GP v2.3 §5.1.1.4: a CARD_LOCKED card takes no card content or key changes."""
    if isd.registry.card_life_cycle == CardLifeCycle.CARD_LOCKED:
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)


# --------------------------------------------------------------------------------------------- GET DATA

def get_data(isd: Isd, ctx: Context, apdu: CommandApdu) -> Reply:
    """§11.3: the data object P1P2 as a TLV; 6A88 for one this card does not hold."""
    if apdu.data:
        raise Refused(Sw.WRONG_LENGTH)
    value = isd.data_object(apdu.p1 << 8 | apdu.p2)
    if value is None:
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
    return Reply(value)


# --------------------------------------------------------------------------------------------- PUT KEY

def put_key(isd: Isd, ctx: Context, apdu: CommandApdu) -> Reply:
    """§11.8: keys deciphered with the DEK, each KCV checked (9485), then the set added or replaced at once;
    the answer is the new KVN and a KCV per key (§11.8.3.1)."""
    _not_locked(isd)
    if ctx.sensitive_key is None:
        raise Refused(Sw.SECURITY_STATUS_NOT_SATISFIED)  # no DEK without a secure channel
    key = ctx.sensitive_key
    try:
        command = ccm.decode_put_key(apdu, key.key, key.algorithm)
    except BadChecksum:
        raise Refused(SW_INVALID_KCV) from None
    except UnsupportedError:
        raise Refused(SW_ALGORITHM_NOT_SUPPORTED) from None
    except BadInput:
        raise Refused(Sw.INCORRECT_DATA) from None
    replaced, key_set = isd.keys.planned_put_key(command)
    isd.keys.install(replaced, key_set)
    ctx.card.mark_changed()
    return Reply(command.expected_response())


# --------------------------------------------------------------------------------------------- DELETE

def delete(isd: Isd, ctx: Context, apdu: CommandApdu) -> Reply:
    _not_locked(isd)
    if apdu.p1 or apdu.p2 & 0x7F:
        raise Refused(Sw.INCORRECT_P1P2)
    command = _decoded(ccm.parse_delete, apdu)
    if command.aid is None:
        changes = isd.keys.planned_delete(command.kvn, command.kid)
        isd.keys.apply_delete(changes)
    else:
        _delete_object(isd, ctx.card, command.aid, command.related)
    ctx.card.mark_changed()
    return Reply(NO_CONFIRMATION)


def _delete_object(isd: Isd, card: RefCard, aid: bytes, related: bool) -> None:
    """§11.2.2.1: an application, or a load file (with its instances when P2 asks for related objects).  The ISD
    and load files in ROM stay (6985), as does a load file with instances when P2 does not say so."""
    registry = isd.registry
    if aid == registry.isd.aid:
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
    if aid in registry.applications:
        _remove_application(isd, card, registry.applications[aid])
        return
    elf = registry.load_files.get(aid)
    if elf is None:
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
    instances = registry.instances_of(aid)
    if elf.native is not None or (instances and not related):
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
    for app in instances:
        _remove_application(isd, card, app)
    del registry.load_files[aid]


def _remove_application(isd: Isd, card: RefCard, app: Application) -> None:
    adf = card.find_adf(app.aid)
    if adf is not None:
        card.remove_adf(adf)
    del isd.registry.applications[app.aid]


# --------------------------------------------------------------------------------------------- GET STATUS

def get_status(isd: Isd, ctx: Context, apdu: CommandApdu) -> Reply:
    """§11.4: entries of one subset whose AID starts with the '4F' value; the tag-list format (P2 b2) or the
    legacy one; answers that do not fit end with 6310 and continue with P2 b1 (next occurrence)."""
    try:
        subset = StatusSubset(apdu.p1)
    except ValueError:
        raise Refused(Sw.INCORRECT_P1P2) from None
    if apdu.p2 & ~0x03:
        raise Refused(Sw.INCORRECT_P1P2)
    tlv, following = bool(apdu.p2 & 0x02), bool(apdu.p2 & 0x01)
    aid = _search_aid(apdu.data)
    v = ctx.volatile
    if following:
        cursor = v.status
        if cursor is None or (cursor.subset, cursor.tlv) != (subset, tlv):
            raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
        items = cursor.rest
    else:
        entries = [e for e in isd.registry.status_entries(subset) if e.aid.startswith(aid)]
        if not entries:
            raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
        items = [_status_item(e, subset, tlv) for e in entries]
    answer, rest = _fill(items)
    v.status = StatusCursor(subset, tlv, rest) if rest else None
    return Reply(answer, SW_MORE_DATA if rest else Sw.OK)


def _search_aid(data: bytes) -> bytes:
    """The '4F' search criterion (§11.4.2.2; an empty value matches every AID); a '5C' tag list is accepted and
    the full entries are returned."""
    try:
        items = ber_decode(data, where="GET STATUS data", skip_padding=False)
    except DecodeError:
        raise Refused(Sw.INCORRECT_DATA) from None
    aid = next((item.value for item in items if item.tag == 0x4F), None)
    if aid is None or any(item.tag not in (0x4F, 0x5C) for item in items):
        raise Refused(Sw.INCORRECT_DATA)
    return aid


def _status_item(entry: RegistryEntry, subset: StatusSubset, tlv: bool) -> bytes:
    """One entry; the legacy format (§11.4.3.2) has room for the first privileges byte only."""
    if tlv:
        return encode_status_tlv(entry)
    first_byte = None if entry.privileges is None else Privilege(int(entry.privileges) & 0xFF0000)
    return encode_status_legacy([replace(entry, privileges=first_byte)], subset)


def _fill(items: list[bytes]) -> tuple[bytes, list[bytes]]:
    count, size = 0, 0
    while count < len(items) and (count == 0 or size + len(items[count]) <= STATUS_BUDGET):
        size += len(items[count])
        count += 1
    return b"".join(items[:count]), items[count:]


# --------------------------------------------------------------------------------------------- SET STATUS

def set_status(isd: Isd, ctx: Context, apdu: CommandApdu) -> Reply:
    """§11.10: the card life cycle (P1 80, transitions of §5.1.1), or lock/unlock (P2 b8) of an application
    (P1 40); P1 60 (a security domain with its applications) applies to supplementary SDs, which this card has
    none of."""
    command = _decoded(ccm.parse_set_status, apdu, Sw.INCORRECT_P1P2)
    registry = isd.registry
    if command.status_type == ccm.StatusType.ISSUER_SECURITY_DOMAIN:
        if command.aid not in (b"", registry.isd.aid):
            raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
        try:
            target = CardLifeCycle(command.state)
        except ValueError:
            raise Refused(Sw.INCORRECT_P1P2) from None
        if target not in CARD_TRANSITIONS[registry.card_life_cycle]:
            raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
        registry.card_life_cycle = target
    else:
        app = registry.applications.get(command.aid)
        if app is None:
            raise Refused(Sw.CONDITIONS_NOT_SATISFIED if command.aid == registry.isd.aid
                          else Sw.REFERENCED_DATA_NOT_FOUND)
        if command.status_type != ccm.StatusType.APPLICATION:
            raise Refused(Sw.INCORRECT_DATA)  # not a security domain
        lock = bool(command.state & LOCKED_BIT)
        if lock == bool(app.life_cycle & LOCKED_BIT):
            raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
        app.life_cycle = app.life_cycle | LOCKED_BIT if lock else app.life_cycle & ~LOCKED_BIT
    ctx.card.mark_changed()
    return Reply()


# --------------------------------------------------------------------------------------------- INSTALL

def install(isd: Isd, ctx: Context, apdu: CommandApdu) -> Reply:
    if apdu.p2:
        raise Refused(Sw.INCORRECT_P1P2)
    try:
        command = ccm.parse_install(apdu).command
    except DecodeError:
        known = apdu.p1 & 0x7F in set(ccm.InstallP1)
        raise Refused(Sw.INCORRECT_DATA if known else Sw.INCORRECT_P1P2) from None
    if not isinstance(command, ccm.InstallForPersonalization):
        _not_locked(isd)
    if isinstance(command, ccm.InstallForLoad):
        _install_for_load(isd, ctx, command)
    elif isinstance(command, ccm.InstallForInstall):
        _install_for_install(isd, ctx, command)
    elif isinstance(command, ccm.InstallForMakeSelectable):
        _make_selectable(isd, ctx, command)
    elif isinstance(command, ccm.InstallForPersonalization):
        _personalization(isd, ctx, command)
    elif isinstance(command, ccm.InstallForExtradition):
        _extradition(isd, command)
    else:
        _registry_update(isd, ctx, command)
    return Reply(NO_CONFIRMATION)


def _install_for_load(isd: Isd, ctx: Context, command: ccm.InstallForLoad) -> None:
    """§11.5.2.3.1: a new load file for the ISD; its LFDB hash (if any) is checked once LOAD has it all."""
    registry = isd.registry
    if registry.known(command.load_file_aid) or len(command.lfdb_hash) not in (0, *HASH_LENGTHS):
        raise Refused(Sw.INCORRECT_DATA)
    if command.security_domain_aid not in (b"", registry.isd.aid):
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
    params = command.load_parameters
    needed = 0 if params is None else (params.non_volatile_code or 0) + (params.non_volatile_memory or 0)
    if needed > _free_code_memory(isd, ctx.card):
        raise Refused(Sw.NOT_ENOUGH_MEMORY)
    ctx.volatile.load = LoadInProgress(command.load_file_aid, command.lfdb_hash)


def _install_for_install(isd: Isd, ctx: Context, command: ccm.InstallForInstall) -> None:
    """§11.5.2.3.2: an instance of a module of a load file, with the UICC parameters of TS 102 226 §8.2.1.3
    recorded; instances of the native USIM module become USIM ADFs of the card."""
    registry, card = isd.registry, ctx.card
    elf = registry.load_files.get(command.load_file_aid)
    if elf is None or command.module_aid not in elf.modules:
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
    aid = command.application_aid
    if registry.known(aid) or card.find_adf(aid) is not None or Privilege.SECURITY_DOMAIN in command.privileges:
        raise Refused(Sw.INCORRECT_DATA)  # supplementary security domains are not supported
    uicc = UiccParameters.from_install_parameters(command.install_parameters)
    taken = {tar for app in (registry.isd, *registry.applications.values()) for tar in app.uicc.tars}
    if taken & set(uicc.tars):
        raise Refused(Sw.INCORRECT_DATA)  # a TAR names one application (TS 102 226 §8.2.1.3.2)
    c9 = command.install_parameters.application_specific or b""
    if elf.native == NATIVE_USIM:
        personalisation_key(c9)  # refuses a malformed KPERSO now rather than at STORE DATA
        card.create_usim_instance(aid, UsimParams(isd.random(16), isd.random(16), arr=isd.usim_arr))
    life_cycle = SELECTABLE if command.make_selectable else INSTALLED
    registry.applications[aid] = Application(aid, elf.aid, command.module_aid, command.privileges, life_cycle,
                                             registry.isd.aid, uicc, c9)
    card.mark_changed()


def _make_selectable(isd: Isd, ctx: Context, command: ccm.InstallForMakeSelectable) -> None:
    app = isd.registry.applications.get(command.application_aid)
    if app is None:
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
    if app.life_cycle != INSTALLED:
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
    app.life_cycle = SELECTABLE
    app.privileges = command.privileges
    ctx.card.mark_changed()


def _personalization(isd: Isd, ctx: Context, command: ccm.InstallForPersonalization) -> None:
    """§11.5.2.3.4: the STORE DATA commands that follow go to this application."""
    if command.application_aid not in isd.registry.applications:
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
    ctx.volatile.personalisation = Personalisation(command.application_aid)


def _extradition(isd: Isd, command: ccm.InstallForExtradition) -> None:
    """§11.5.2.3.5: associate with another security domain; the ISD is the only one, so only it is accepted."""
    registry = isd.registry
    if command.security_domain_aid != registry.isd.aid:
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
    if command.application_aid not in registry.applications and command.application_aid not in registry.load_files:
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)


def _registry_update(isd: Isd, ctx: Context, command: ccm.InstallForRegistryUpdate) -> None:
    """§11.5.2.3.6: new privileges for an application (the SD AID, if given, must be the ISD)."""
    registry = isd.registry
    if command.security_domain_aid not in (b"", registry.isd.aid):
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
    app = registry.applications.get(command.application_aid)
    if app is None:
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
    if command.privileges is not None:
        if Privilege.SECURITY_DOMAIN in command.privileges:
            raise Refused(Sw.INCORRECT_DATA)
        app.privileges = command.privileges
        ctx.card.mark_changed()


def _free_code_memory(isd: Isd, card: RefCard) -> int:
    return card.available_memory() - isd.registry.loaded_code()


# --------------------------------------------------------------------------------------------- LOAD

def load(isd: Isd, ctx: Context, apdu: CommandApdu) -> Reply:
    """§11.6: blocks numbered from 00 in order (6A86 otherwise); on the last block the Load File Data Block is
    checked against the hash INSTALL [for load] gave and registered with the modules (applets) it declares."""
    _not_locked(isd)
    progress = ctx.volatile.load
    if progress is None:
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
    block = _decoded(ccm.parse_load, apdu, Sw.INCORRECT_P1P2)
    if block.number != len(progress.blocks):
        raise Refused(Sw.INCORRECT_P1P2)
    if not block.last:
        progress.blocks.append(block.data)
        return Reply(NO_CONFIRMATION)
    ctx.volatile.load = None  # the last block ends the load, whether it is accepted or not
    elf = _loaded_file(isd, ctx.card, progress, b"".join(progress.blocks) + block.data)
    isd.registry.load_files[elf.aid] = elf
    ctx.card.mark_changed()
    return Reply(NO_CONFIRMATION)


def verify_lfdb_hash(lfdb: bytes, expected: bytes) -> None:
    """The hash INSTALL [for load] announced (§11.5.2.3.1; its length names the algorithm)."""
    computed = hashlib.new(HASH_LENGTHS[len(expected)], lfdb).digest()
    if not hmac.compare_digest(computed, expected):
        raise BadChecksum("the Load File Data Block does not match the hash of INSTALL [for load]",
                          where="LOAD", expected="the LFDB hash given in INSTALL [for load]")


def _loaded_file(isd: Isd, card: RefCard, progress: LoadInProgress, stream: bytes) -> LoadFile:
    try:
        lfdb = ccm.parse_load_file(stream).lfdb
        if progress.lfdb_hash:
            verify_lfdb_hash(lfdb, progress.lfdb_hash)
        cap = parse_concatenated(lfdb)
    except (BadInput, BadChecksum):
        raise Refused(Sw.INCORRECT_DATA) from None
    if cap.package.aid != progress.load_file or isd.registry.known(cap.package.aid):
        raise Refused(Sw.INCORRECT_DATA)
    if len(lfdb) > _free_code_memory(isd, card):
        raise Refused(Sw.NOT_ENOUGH_MEMORY)
    return LoadFile(cap.package.aid, tuple(applet.aid for applet in cap.applets), isd.registry.isd.aid,
                    version=bytes((cap.package.major, cap.package.minor)), size=len(lfdb))


# --------------------------------------------------------------------------------------------- STORE DATA

def store_data(isd: Isd, ctx: Context, apdu: CommandApdu) -> Reply:
    """§11.11: to the application of the last INSTALL [for personalization] on this channel, else to the ISD."""
    _not_locked(isd)
    block = ccm.parse_store_data(apdu)
    target = ctx.volatile.personalisation
    if target is None:
        _store_isd_data(isd, ctx, block)
        return Reply()
    app = isd.registry.applications.get(target.aid)
    adf = ctx.card.find_adf(target.aid)
    elf = isd.registry.load_files.get(app.load_file or b"") if app is not None else None
    if adf is None or elf is None or elf.native != NATIVE_USIM:
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)  # deleted meanwhile, or an application without behaviour here
    assert app is not None
    if app.life_cycle != SELECTABLE:
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)  # personalisation.md: only a SELECTABLE instance takes DGIs
    check_block(block, target.next_block, isd.secret_dgis)
    personalise_usim(ctx.card, adf, block.data, _decipher(ctx, app, block, isd.secret_dgis))
    target.next_block += 1
    if block.last:
        app.life_cycle = PERSONALIZED
    return Reply()


def _decipher(ctx: Context, app: Application, block: ccm.StoreDataBlock,
              mode: SecretDgiKey) -> Callable[[bytes], bytes]:
    if mode is SecretDgiKey.PERSONALISATION_KEY:
        return kperso_decipher(personalisation_key(app.application_parameters))
    if block.encryption != ccm.StoreDataEncryption.ENCRYPTED:
        return no_secrets
    if ctx.sensitive_key is None:
        raise Refused(Sw.SECURITY_STATUS_NOT_SATISFIED)
    return ctx.sensitive_key.decrypt


def _store_isd_data(isd: Isd, ctx: Context, block: ccm.StoreDataBlock) -> None:
    """Data for the ISD itself (§11.11.2.2): the IIN ('42') and CIN ('45') GET DATA returns, as BER-TLV."""
    if block.structure != ccm.StoreDataStructure.BER_TLV or block.encryption:
        raise Refused(Sw.INCORRECT_P1P2)
    try:
        items = ber_decode(block.data, where="STORE DATA", skip_padding=False)
    except DecodeError:
        raise Refused(Sw.INCORRECT_DATA) from None
    if any(item.tag not in (0x42, 0x45) or not item.value for item in items):
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
    for item in items:
        isd.identifiers[item.tag] = item.value
    ctx.card.mark_changed()


COMMANDS = {0xCA: get_data, 0xD8: put_key, 0xE4: delete, 0xF2: get_status, 0xF0: set_status, 0xE6: install,
            0xE8: load, 0xE2: store_data}

