"""GlobalPlatform directives: secure channels around the commands that follow, and card content management by
name inside them.

    .scp03 open kvn=30 level=33 keys=keys/gp-test.keys     (or enc=${ENC} mac=${MAC} dek=${DEK},
    ...                                                      or master=FILE scheme=kdf3|emv|visa2)
    .put-key kvn=31 type=aes keys=keys/new.keys
    .scp03 close

`open` runs INITIALIZE UPDATE, checks the card cryptogram (BadCryptogram fails the run), sends EXTERNAL
AUTHENTICATE and pushes a session wrapper: every following command on the session's logical channel is wrapped
(C-MAC, C-DECRYPTION) and every response unwrapped (R-MAC checked, R-ENC removed), so the script's expectations
see plain responses; the trace records the wrapped exchange under the command's position.  `close` pops it.
GP Card Specification v2.3: SCP02 Appendix E, SCP03 Amendment D (DIGEST §5.1-5.3); commands §11 (DIGEST §5.4).

The card content management directives build their command with `mcim.gp.ccm`, send it through the open
session (so it is wrapped and traced like any command) and check the status word with the GP meaning; they never
print command data, which may carry secrets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from weakref import WeakKeyDictionary

from ..apdu import CommandApdu, ResponseApdu, decode_cla, encode_cla
from ..errors import BadInput, ExpectationFailed, StateError
from ..gp.ccm import (
    LAST_BLOCK,
    InstallForInstall,
    InstallForMakeSelectable,
    InstallForPersonalization,
    KeyType,
    NewKey,
    PutKeyCommand,
    StatusType,
    StoreDataEncryption,
    StoreDataStructure,
    check_sw,
    delete,
    encode_dgi,
    read_registry,
    set_status,
    store_data_commands,
    verify_put_key_response,
)
from ..gp.install_params import InstallParameters
from ..gp.keys import Diversification, KeyAlgorithm, StaticKeys, diversify
from ..gp.registry import NO_PRIVILEGES, RegistryEntry, StatusSubset, decode_privileges, privilege_names
from ..gp.scp02 import SCP02_LEVELS, Scp02Host, check_options
from ..gp.scp03 import INS_INITIALIZE_UPDATE, SCP03_LEVELS, ChannelState, Scp03Host, security_level
from .ast import Directive
from .directive_args import DirectiveArgs, key_named, load_keys, located, parse_args, sub_command
from .directives import DirectiveContext, Send, register_directive

CLA_GP = 0x80
AID_LENGTHS = range(5, 17)  # ISO/IEC 7816-5
SCP02_DEFAULT_I = 0x55


class Scp(StrEnum):
    SCP02 = "scp02"
    SCP03 = "scp03"


# -- key sources --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileKeys:
    """keys=FILE: a key file with `enc`, `mac` and `dek` lines."""

    path: str

    def static_keys(self, ctx: DirectiveContext, kvn: int, algorithm: KeyAlgorithm, kdd: bytes) -> StaticKeys:
        keys = load_keys(self.path, ctx)
        enc, mac, dek = (key_named(keys, name, self.path) for name in ("enc", "mac", "dek"))
        return StaticKeys(kvn, enc, mac, dek, algorithm)


@dataclass(frozen=True)
class VariableKeys:
    """enc=${A} mac=${B} dek=${C}: keys from the run's variables (set from a file, the environment, --var-file)."""

    enc: str
    mac: str
    dek: str

    def static_keys(self, ctx: DirectiveContext, kvn: int, algorithm: KeyAlgorithm, kdd: bytes) -> StaticKeys:
        enc, mac, dek = (ctx.value(text) for text in (self.enc, self.mac, self.dek))
        for value in (enc, mac, dek):
            ctx.mark_secret(value)
        return StaticKeys(kvn, enc, mac, dek, algorithm)


@dataclass(frozen=True)
class MasterKey:
    """master=FILE scheme=...: the card's keys diversified from a master key (`master` or the file's one key)
    with the key diversification data of the INITIALIZE UPDATE response."""

    path: str
    scheme: Diversification

    def static_keys(self, ctx: DirectiveContext, kvn: int, algorithm: KeyAlgorithm, kdd: bytes) -> StaticKeys:
        keys = load_keys(self.path, ctx)
        master = keys.get("master", keys.get("key"))
        if master is None:
            raise BadInput(f"key file {self.path} has no 'master' key", expected="a 'master = hex' line or one hex key")
        derived = diversify(master, kdd, self.scheme, kvn=kvn)
        for value in (derived.enc, derived.mac, derived.dek):
            ctx.mark_secret(value)
        return derived


KeySource = FileKeys | VariableKeys | MasterKey


# -- opening a session --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelPlan:
    scp: Scp
    kvn: int
    level: int
    keys: KeySource
    i: int | None  # SCP03: the i the card must report; SCP02: the host's i (default 55)
    s16: bool
    sd_aid: bytes | None  # checks a pseudo-random card challenge
    channel: int

    @property
    def algorithm(self) -> KeyAlgorithm:
        return KeyAlgorithm.AES if self.scp is Scp.SCP03 else KeyAlgorithm.DES3

    @property
    def challenge_size(self) -> int:
        return 16 if self.s16 else 8


def _usage(scp: Scp) -> str:
    s16 = " [s16]" if scp is Scp.SCP03 else ""
    scheme = "kdf3" if scp is Scp.SCP03 else "emv|visa2"
    return (f".{scp} open kvn=HEX level=HEX [i=HEX]{s16} [sd=AID] [channel=N] (keys=FILE | enc=${{V}} mac=${{V}} "
            f"dek=${{V}} | master=FILE scheme={scheme}), or .{scp} close")


def _channel_plan(args: DirectiveArgs, scp: Scp) -> ChannelPlan:
    kvn, level = args.byte("kvn"), args.byte("level")
    if kvn is None or level is None:
        raise args.error("kvn= and level= are needed")
    i = args.byte("i")
    with located(args.where):
        security_level(level, SCP03_LEVELS if scp is Scp.SCP03 else SCP02_LEVELS)
        if scp is Scp.SCP02:
            check_options(SCP02_DEFAULT_I if i is None else i)
    sd_aid = args.hex("sd", AID_LENGTHS)
    channel = args.number("channel", 0, 19) or 0
    return ChannelPlan(scp, kvn, level, _key_source(args, scp), i, "s16" in args.flags, sd_aid, channel)


def _key_source(args: DirectiveArgs, scp: Scp) -> KeySource:
    args.exclusive("keys", "enc", "master")
    args.exclusive("keys", "mac", "master")
    args.exclusive("keys", "dek", "master")
    if "keys" in args.options:
        return FileKeys(args.path("keys") or "")
    if "master" in args.options:
        allowed = ["kdf3"] if scp is Scp.SCP03 else ["emv", "visa2"]
        scheme = args.choice("scheme", allowed)
        if scheme is None:
            raise args.error("master= needs scheme=", expected="scheme=" + "|".join(allowed))
        return MasterKey(args.path("master") or "", Diversification(scheme))
    if "scheme" in args.options:
        raise args.error("scheme= without master=")
    texts = {name: args.get(name) for name in ("enc", "mac", "dek")}
    if any(text is None for text in texts.values()):
        raise args.error("no keys", expected="keys=FILE, enc= mac= dek= together, or master=FILE scheme=")
    for name in texts:
        args.template(name)
    return VariableKeys(*(text or "" for text in texts.values()))


def initialize_update_command(plan: ChannelPlan, challenge: bytes) -> bytes:
    """INITIALIZE UPDATE `80 50 KVN 00 Lc challenge 00` (DIGEST §5.1; SCP02 has the same form with 8 bytes).

    Built here, before the keys are known, because diversified keys need the KDD of its response."""
    return CommandApdu(encode_cla(CLA_GP, plan.channel), INS_INITIALIZE_UPDATE, plan.kvn, 0x00, challenge,
                       le=256).to_bytes()


def _host(plan: ChannelPlan, keys: StaticKeys, ctx: DirectiveContext) -> Scp03Host | Scp02Host:
    if plan.scp is Scp.SCP03:
        return Scp03Host(keys, s16=plan.s16, channel=plan.channel, sd_aid=plan.sd_aid, random=ctx.random)
    return Scp02Host(keys, options=SCP02_DEFAULT_I if plan.i is None else plan.i, channel=plan.channel,
                     sd_aid=plan.sd_aid, random=ctx.random)


def open_session(plan: ChannelPlan, ctx: DirectiveContext) -> Session:
    """The handshake; returns the session wrapper (not yet pushed)."""
    challenge = ctx.random(plan.challenge_size)
    response = ctx.transmit(initialize_update_command(plan, challenge))
    check_sw("INITIALIZE UPDATE", ResponseApdu.parse(response))
    with located(ctx.where):
        keys = plan.keys.static_keys(ctx, plan.kvn, plan.algorithm, response[:10])
        host = _host(plan, keys, ctx)
    host.initialize_update(challenge)  # the command already sent: the host now waits for its response
    host.process_initialize_update_response(response)
    if isinstance(host, Scp03Host) and host.card is not None and plan.i not in (None, host.card.options):
        raise ExpectationFailed(f"the card reports i={int(host.card.options):02X}", where="INITIALIZE UPDATE response",
                                expected=f"i={plan.i:02X}")
    authenticate = host.external_authenticate(plan.level)
    host.process_external_authenticate_response(ctx.transmit(authenticate))
    if isinstance(host, Scp03Host):
        return Scp03Session(host, (keys.dek, KeyAlgorithm.AES))
    return Scp02Session(host, (host.session_keys.dek, KeyAlgorithm.DES3))


class Session:
    """The wrapper of an open secure channel.  Commands on other logical channels pass through untouched: a GP
    session belongs to the channel it was opened on."""

    scp: Scp

    def __init__(self, host: Scp03Host | Scp02Host, dek: tuple[bytes, KeyAlgorithm]) -> None:
        self.host = host
        self._dek = dek
        self.next_store_data_block = 0  # STORE DATA P2 (GP v2.3 §11.11.2.2): counts up until the last block

    def transmit(self, command: bytes, send: Send) -> bytes:
        if len(command) >= 4 and decode_cla(command[0])[0] != self.host.channel:
            return send(command)
        response = send(self.host.wrap(command))
        return self.host.unwrap(response).to_bytes()

    def close(self, send: Send) -> Sequence[bytes | None]:
        self.host.close()
        return ()

    @property
    def is_open(self) -> bool:
        return self.host.state is not ChannelState.CLOSED

    @property
    def cla(self) -> int:
        return encode_cla(CLA_GP, self.host.channel)

    @property
    def dek(self) -> tuple[bytes, KeyAlgorithm]:
        """The key that encrypts sensitive data: static DEK for SCP03 (Amd D), session DEK for SCP02 (E.4.1)."""
        return self._dek

    def encrypt_sensitive(self, data: bytes, where: str) -> bytes:
        block = 16 if self._dek[1] is KeyAlgorithm.AES else 8
        if not data or len(data) % block:
            raise BadInput(f"{len(data)} bytes to encrypt", where=where,
                           expected=f"whole {block}-byte blocks (the DEK encrypts without padding)")
        return self.host.dek_encrypt(data)


class Scp03Session(Session):
    scp = Scp.SCP03


class Scp02Session(Session):
    scp = Scp.SCP02


_SESSION_TYPES = {Scp.SCP03: Scp03Session, Scp.SCP02: Scp02Session}
# The sessions each run has opened, innermost last, for the card management directives (they need the session's
# DEK and channel; the runner's context only pushes and pops wrappers).  Keyed weakly: a run's entry goes with it.
_OPEN: WeakKeyDictionary[DirectiveContext, list[Session]] = WeakKeyDictionary()


def current_session(ctx: DirectiveContext) -> Session:
    for session in reversed(_OPEN.get(ctx, [])):
        if session.is_open:
            return session
    raise StateError("no secure channel is open", where=ctx.where,
                     expected=".scp03 open (or .scp02 open) before card content management")


class SecureChannelDirective:
    """`.scp03 open ... | close` and `.scp02 open ... | close`."""

    def __init__(self, scp: Scp) -> None:
        self.scp = scp

    def check(self, directive: Directive) -> None:
        self._plan(directive)

    def _plan(self, directive: Directive) -> ChannelPlan | None:
        usage = _usage(self.scp)
        if sub_command(directive, ("open", "close"), usage) == "close":
            parse_args(directive, usage, commands=("close",))
            return None
        options = ("kvn", "level", "i", "sd", "channel", "keys", "enc", "mac", "dek", "master", "scheme")
        flags = ("s16",) if self.scp is Scp.SCP03 else ()
        return _channel_plan(parse_args(directive, usage, commands=("open",), options=options, flags=flags),
                             self.scp)

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        plan = self._plan(directive)
        if plan is None:
            ctx.pop(_SESSION_TYPES[self.scp])  # closes the host: current_session no longer finds it
            return
        if any(s.is_open and s.host.channel == plan.channel for s in _OPEN.get(ctx, [])):
            raise StateError(f"a secure channel is already open on logical channel {plan.channel}",
                             where=ctx.where, expected=f"its close directive before .{self.scp} open")
        session = open_session(plan, ctx)
        ctx.push(session)
        _OPEN.setdefault(ctx, []).append(session)
        ctx.say(f"{self.scp.upper()} session open on logical channel {plan.channel}: KVN {plan.kvn:02X}, "
                f"security level {plan.level:02X}")


# -- card content management ------------------------------------------------------------------------------------


def _transmit(ctx: DirectiveContext, command: CommandApdu, name: str) -> ResponseApdu:
    response = check_sw(name, ResponseApdu.parse(ctx.transmit(command.to_bytes())))
    ctx.say(f"{name} {command.header.hex().upper()} ({len(command.data)} data bytes): {response.sw:04X}")
    return response


def _aid(args: DirectiveArgs, name: str = "aid") -> str | None:
    args.template(name, AID_LENGTHS)
    return args.get(name)


def _required_aid(args: DirectiveArgs, name: str = "aid") -> str:
    text = _aid(args, name)
    if text is None:
        raise args.error(f"{name}= is missing")
    return text


PUT_KEY_USAGE = ".put-key kvn=HEX [replace=HEX] type=aes|3des keys=FILE [names=enc,mac,dek]"
KEY_TYPES = {"aes": KeyType.AES, "3des": KeyType.DES}


@dataclass(frozen=True)
class PutKeyPlan:
    new_kvn: int
    old_kvn: int
    key_type: KeyType
    path: str
    names: tuple[str, ...]


class PutKey:
    """`.put-key`: PUT KEY (GP v2.3 §11.8) of a key set read from a key file, encrypted under the session's DEK;
    the card's answer must carry the new KVN and the key check values of the keys sent."""

    def check(self, directive: Directive) -> None:
        self._plan(directive)

    def _plan(self, directive: Directive) -> PutKeyPlan:
        args = parse_args(directive, PUT_KEY_USAGE, options=("kvn", "replace", "type", "keys", "names"))
        names = tuple((args.get("names") or "enc,mac,dek").lower().split(","))
        if not all(names) or len(set(names)) != len(names):
            raise args.error(f"names={args.get('names')}", expected="distinct key names separated by commas")
        new_kvn, key_type, path = args.byte("kvn"), args.choice("type", list(KEY_TYPES)), args.path("keys")
        if new_kvn is None or key_type is None or path is None:
            raise args.error("kvn=, type= and keys= are needed")
        return PutKeyPlan(new_kvn, args.byte("replace", 0) or 0, KEY_TYPES[key_type], path, names)

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        plan = self._plan(directive)
        session = current_session(ctx)
        with located(ctx.where):
            keys = load_keys(plan.path, ctx)
            command = PutKeyCommand(plan.new_kvn, tuple(NewKey(plan.key_type, key_named(keys, name, plan.path))
                                                        for name in plan.names), plan.old_kvn)
            dek, algorithm = session.dek
            apdu = command.to_apdu(dek, algorithm, cla=session.cla, rng=ctx.random)
        response = _transmit(ctx, apdu, "PUT KEY")
        verify_put_key_response(response.data, command)
        ctx.say(f"PUT KEY: the card confirms KVN {plan.new_kvn:02X} and the check values of {len(plan.names)} keys")


INSTALL_USAGE = (".install install|install-only elf=AID module=AID aid=AID [priv=HEX] [params=HEX | "
                 "install-params=HEX], .install selectable aid=AID [priv=HEX], .install personalization aid=AID")
INSTALL_KINDS = {"install": "install and make selectable", "install-only": "install",
                 "selectable": "make selectable", "personalization": "personalization"}


@dataclass(frozen=True)
class InstallPlan:
    kind: str
    aid: str
    elf: str | None = None
    module: str | None = None
    privileges: bytes = b""
    params: bytes | None = None  # C9 value (GP v2.3 Table 11-49), as GPShell -instParam / GPP --params
    install_params: bytes | None = None  # the whole install parameters field (C9, EF, EA ...)

    def command(self, ctx: DirectiveContext, cla: int) -> CommandApdu:
        aid = ctx.value(self.aid)
        privileges = decode_privileges(self.privileges) if self.privileges else NO_PRIVILEGES
        length = len(self.privileges) or None
        if self.kind == "personalization":
            return InstallForPersonalization(aid).to_apdu(cla=cla)
        if self.kind == "selectable":
            return InstallForMakeSelectable(aid, privileges, privileges_length=length).to_apdu(cla=cla)
        assert self.elf is not None and self.module is not None
        parameters = (InstallParameters.parse(self.install_params) if self.install_params is not None
                      else InstallParameters(self.params or b""))
        return InstallForInstall(ctx.value(self.elf), ctx.value(self.module), aid, privileges, parameters,
                                 make_selectable=self.kind == "install", privileges_length=length).to_apdu(cla=cla)


class Install:
    """`.install`: INSTALL [for install (and make selectable)], [for make selectable], [for personalization]
    (GP v2.3 §11.5; DIGEST §5.4).  Loading a CAP file is left to `mcim` commands, not scripts."""

    def check(self, directive: Directive) -> None:
        self._plan(directive)

    def _plan(self, directive: Directive) -> InstallPlan:
        kind = sub_command(directive, list(INSTALL_KINDS), INSTALL_USAGE)
        full = kind in ("install", "install-only")
        options = ("elf", "module", "aid", "priv", "params", "install-params") if full else \
            ("aid", "priv") if kind == "selectable" else ("aid",)
        args = parse_args(directive, INSTALL_USAGE, commands=(kind,), options=options)
        aid = _required_aid(args)
        privileges = args.hex("priv", (1, 3)) or b""
        if not full:
            return InstallPlan(kind, aid, privileges=privileges)
        args.exclusive("params", "install-params")
        install_params = args.hex("install-params")
        if install_params is not None:
            with located(args.where):
                InstallParameters.parse(install_params)
        return InstallPlan(kind, aid, _required_aid(args, "elf"), _required_aid(args, "module"), privileges,
                           args.hex("params"), install_params)

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        plan = self._plan(directive)
        session = current_session(ctx)
        with located(ctx.where):
            command = plan.command(ctx, session.cla)
        _transmit(ctx, command, "INSTALL")


DELETE_USAGE = ".delete aid=AID [related]"


class Delete:
    """`.delete aid=AID [related]`: DELETE card content (GP v2.3 §11.2), P2 80 with `related`."""

    def check(self, directive: Directive) -> None:
        self._plan(directive)

    def _plan(self, directive: Directive) -> tuple[str, bool]:
        args = parse_args(directive, DELETE_USAGE, options=("aid",), flags=("related",))
        return _required_aid(args), "related" in args.flags

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        aid, related = self._plan(directive)
        session = current_session(ctx)
        with located(ctx.where):
            command = delete(ctx.value(aid), related=related, cla=session.cla)
        _transmit(ctx, command, "DELETE")


SET_STATUS_USAGE = ".set-status scope=isd|app|sd state=HEX [aid=AID]"
SCOPES = {"isd": StatusType.ISSUER_SECURITY_DOMAIN, "app": StatusType.APPLICATION,
          "sd": StatusType.SECURITY_DOMAIN_AND_APPLICATIONS}


class SetStatus:
    """`.set-status`: SET STATUS (GP v2.3 §11.10): the ISD (the card's life cycle), an application, or a
    security domain with its applications; the AID is needed except for the ISD."""

    def check(self, directive: Directive) -> None:
        self._plan(directive)

    def _plan(self, directive: Directive) -> tuple[StatusType, int, str | None]:
        args = parse_args(directive, SET_STATUS_USAGE, options=("scope", "state", "aid"))
        scope, state = args.choice("scope", list(SCOPES)), args.byte("state")
        if scope is None or state is None:
            raise args.error("scope= and state= are needed")
        aid = _aid(args)
        if aid is None and scope != "isd":
            raise args.error(f"scope={scope} needs aid=")
        return SCOPES[scope], state, aid

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        scope, state, aid = self._plan(directive)
        session = current_session(ctx)
        with located(ctx.where):
            command = set_status(scope, state, ctx.value(aid) if aid else b"", cla=session.cla)
        _transmit(ctx, command, "SET STATUS")


STORE_DATA_USAGE = ".store-data [dgi=HEX | tlv] data=HEX|${VAR} [encrypt] [last]"


@dataclass(frozen=True)
class StoreDataPlan:
    data: str
    dgi: int | None
    tlv: bool
    encrypt: bool
    last: bool

    @property
    def structure(self) -> StoreDataStructure:
        if self.dgi is not None:
            return StoreDataStructure.DGI
        return StoreDataStructure.BER_TLV if self.tlv else StoreDataStructure.NONE


class StoreData:
    """`.store-data`: STORE DATA (GP v2.3 §11.11).  Block numbers (P2) count from 00 in each session until a
    `last` block; `encrypt` encrypts the data (a DGI's value) under the session's DEK and sets P1 b7b6 = 11."""

    def check(self, directive: Directive) -> None:
        self._plan(directive)

    def _plan(self, directive: Directive) -> StoreDataPlan:
        args = parse_args(directive, STORE_DATA_USAGE, options=("dgi", "data"), flags=("tlv", "encrypt", "last"))
        if "dgi" in args.options and "tlv" in args.flags:
            raise args.error("dgi= and tlv together", expected="one data structure")
        args.template("data")
        dgi = args.hex("dgi", (2,))
        return StoreDataPlan(args.require("data"), None if dgi is None else int.from_bytes(dgi, "big"),
                             "tlv" in args.flags, "encrypt" in args.flags, "last" in args.flags)

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        plan = self._plan(directive)
        session = current_session(ctx)
        with located(ctx.where):
            value = ctx.value(plan.data)
            if plan.encrypt:
                value = session.encrypt_sensitive(value, "STORE DATA")
            items = encode_dgi(plan.dgi, value) if plan.dgi is not None else value
            commands = store_data_commands(
                items, structure=plan.structure, first_block=session.next_store_data_block, cla=session.cla,
                encryption=StoreDataEncryption.ENCRYPTED if plan.encrypt else StoreDataEncryption.NONE)
        if not plan.last:
            commands[-1] = dataclasses.replace(commands[-1], p1=commands[-1].p1 & ~LAST_BLOCK)
        for command in commands:
            _transmit(ctx, command, "STORE DATA")
        session.next_store_data_block = 0 if plan.last else session.next_store_data_block + len(commands)


GET_STATUS_USAGE = ".get-status isd|apps|elfs|modules [aid=AID]"
SUBSETS = {"isd": StatusSubset.ISD, "apps": StatusSubset.APPLICATIONS, "elfs": StatusSubset.LOAD_FILES,
           "modules": StatusSubset.LOAD_FILES_AND_MODULES}


class GetStatus:
    """`.get-status`: the GP registry (GET STATUS, GP v2.3 §11.4, TLV format, following 6310) as report lines."""

    def check(self, directive: Directive) -> None:
        self._plan(directive)

    def _plan(self, directive: Directive) -> tuple[StatusSubset, str | None]:
        subset = sub_command(directive, list(SUBSETS), GET_STATUS_USAGE)
        args = parse_args(directive, GET_STATUS_USAGE, commands=(subset,), options=("aid",))
        return SUBSETS[subset], _aid(args)

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        subset, aid = self._plan(directive)
        session = current_session(ctx)
        with located(ctx.where):
            filter_aid = ctx.value(aid) if aid else b""
        entries = read_registry(ctx.transmit, subset, aid=filter_aid, cla=session.cla)
        ctx.say(f"GET STATUS {subset.name.lower()}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
        for entry in entries:
            ctx.say(describe_entry(entry))


def describe_entry(entry: RegistryEntry) -> str:
    """One registry entry as a report line."""
    parts = [entry.aid.hex().upper(), entry.life_cycle_name]
    if entry.privileges is not None:
        parts.append("privileges " + (", ".join(privilege_names(entry.privileges)) or "none"))
    if entry.load_file_aid is not None:
        parts.append(f"from {entry.load_file_aid.hex().upper()}")
    if entry.module_aids:
        parts.append("modules " + " ".join(aid.hex().upper() for aid in entry.module_aids))
    return "  " + "  ".join(parts)


register_directive("scp03", SecureChannelDirective(Scp.SCP03))
register_directive("scp02", SecureChannelDirective(Scp.SCP02))
register_directive("put-key", PutKey())
register_directive("install", Install())
register_directive("delete", Delete())
register_directive("set-status", SetStatus())
register_directive("store-data", StoreData())
register_directive("get-status", GetStatus())
