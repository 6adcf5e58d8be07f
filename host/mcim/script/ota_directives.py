"""`.ota begin ... / .ota end`: the commands between them travel to the card as one SCP80 secured packet.

    .ota begin tar=B00001 spi=1639 kvn=1 kic-alg=aes kid-alg=aes keys=keys/ota-test.keys counter=1
    00 A4 00 04 02 6F07 => 9000
    00 B0 00 00 09 => 9000 data 08 ...
    .ota end

The commands are collected (their answers deferred), secured into one command packet (ETSI TS 102 225, SMS-PP
framing of 3GPP TS 31.115) carrying a TS 102 226 remote command script, sent as one or several concatenated
SMS-DELIVERs inside ENVELOPE (SMS-PP DOWNLOAD) APDUs, with procedure bytes, GET RESPONSE and a PoR sent by SEND
SHORT MESSAGE handled as a terminal would.  The PoR is verified (RC/CC, ciphering, TAR and counter echo) and its
status must be 00, or the one `expect-por=` names.  Then each command gets its answer from the PoR's additional
data, so the script's expectations and captures apply: in the expanded format (§5.2) each R-APDU; in the compact
format (§5.1) only the last executed command's status word and data are carried, so the commands before it are
handed `9000` (the card went on past them) and the commands after it none ("not executed").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..apdu import CommandApdu
from ..errors import DecodeError, ExpectationFailed
from ..ota import (
    Address,
    Algorithm,
    CounterMode,
    CounterScope,
    CounterStore,
    FixedCounter,
    Integrity,
    KeyRef,
    OtaContext,
    OtaKeys,
    OtaWrapper,
    PorRequest,
    PorStatus,
    RemoteFormat,
    SmsOptions,
    Spi,
    send_sms_pp,
)
from ..ota._crypto import check_key
from ..ota.counters import CounterSource
from ..ota.packet import MAX_CNTR
from ..ota.remote import CompactResponse, RemoteResponse, split_compact
from ..ota.wrap import VerifiedPor
from ..sw import describe
from .ast import Directive
from .directive_args import DirectiveArgs, key_named, load_keys, located, parse_args, sub_command
from .directives import DirectiveContext, NotExecuted, Send, register_directive

USAGE = (".ota begin tar=HEX spi=HEX (kvn=N | kic=N kid=N) kic-alg=aes|3des2|3des3|des "
         "kid-alg=aes|3des2|3des3|des|crc16|crc32|none keys=FILE [counter=N | counter-store=PATH card=ID] "
         "[format=compact|expanded] [originator=DIGITS] [expect-por=HEX], or .ota end")
OPTIONS = ("tar", "spi", "kvn", "kic", "kid", "kic-alg", "kid-alg", "keys", "counter", "counter-store", "card",
           "format", "originator", "expect-por")
CIPHERS = ("aes", "3des2", "3des3", "des")
CHECKSUMS = {Integrity.CC: CIPHERS, Integrity.RC: ("crc16", "crc32")}
KID_ALGORITHMS = (*CIPHERS, *CHECKSUMS[Integrity.RC], "none")
DEFAULT_ORIGINATOR = "0000"
SW_OK = b"\x90\x00"


@dataclass(frozen=True)
class StoredCounter:
    """A CNTR allocated from the SQLite counter store when the packet is built: a value handed out is never
    handed out again, and a run that stops before `.ota end` spends none and holds no connection."""

    path: str
    scope: CounterScope

    def next_counter(self) -> int:
        with CounterStore(self.path) as store:
            return store.allocate(self.scope)


@dataclass(frozen=True)
class OtaPlan:
    spi: Spi
    tar: bytes
    kic: KeyRef
    kid: KeyRef
    keys_path: str | None
    counters: CounterSource
    fmt: RemoteFormat
    originator: Address
    expected_por: PorStatus

    @property
    def needs_kic(self) -> bool:
        return self.spi.ciphered or self.spi.por_ciphered

    @property
    def needs_kid(self) -> bool:
        return Integrity.CC in (self.spi.integrity, self.spi.por_integrity)


def _plan(args: DirectiveArgs) -> OtaPlan:
    spi_bytes, tar = args.hex("spi", (2,)), args.hex("tar", (3,))
    if spi_bytes is None or tar is None:
        raise args.error("spi= and tar= are needed")
    spi = Spi.from_bytes(spi_bytes)
    expected = PorStatus(args.byte("expect-por", 0) or 0)
    if not (spi.por is PorRequest.ALWAYS or (spi.por is PorRequest.ON_ERROR and expected is not PorStatus.POR_OK)):
        raise args.error(f"SPI {spi_bytes.hex().upper()} asks for no PoR on success",
                         expected="an SPI2 with PoR always (b2b1 = 01): the commands' answers come in the PoR")
    kic, kid = _key_refs(args, spi)
    plan = OtaPlan(spi, tar, kic, kid, args.path("keys"), _counters(args, spi, kic, kid, tar),
                   RemoteFormat(args.choice("format", ("compact", "expanded"), "compact")),
                   _originator(args), expected)
    if plan.keys_path is None and (plan.needs_kic or plan.needs_kid):
        raise args.error(f"the SPI {spi_bytes.hex().upper()} needs keys", expected="keys=FILE (kic, kid, kik)")
    return plan


def _key_refs(args: DirectiveArgs, spi: Spi) -> tuple[KeyRef, KeyRef]:
    """KIc and KID bytes: key index (the key set's KVN, TS 102 225 §5.1.2) and the algorithm coding."""
    kvn = args.number("kvn", 0, 15)
    kic_index, kid_index = args.number("kic", 0, 15), args.number("kid", 0, 15)
    kic_index = kvn if kic_index is None else kic_index
    kid_index = kvn if kid_index is None else kid_index
    if kic_index is None or kid_index is None:
        raise args.error("no key set", expected="kvn=N, or kic=N and kid=N (key indexes 0..15)")
    kic_alg, kid_alg = args.choice("kic-alg", CIPHERS), args.choice("kid-alg", KID_ALGORITHMS)
    if (spi.ciphered or spi.por_ciphered) and kic_alg is None:
        raise args.error("the SPI asks for ciphering", expected="kic-alg=" + "|".join(CIPHERS))
    for integrity in sorted({spi.integrity, spi.por_integrity} - {Integrity.NONE}):
        allowed = CHECKSUMS.get(integrity)
        if allowed is None:
            raise args.error("the SPI asks for a digital signature (DS), which is not implemented",
                             expected="no integrity, RC or CC")
        if kid_alg not in allowed:
            raise args.error(f"the SPI asks for {integrity.name}", expected="kid-alg=" + "|".join(allowed))
    kic = KeyRef(kic_index, 0) if kic_alg is None else KeyRef.for_cipher(kic_index, Algorithm(kic_alg))
    if kid_alg in (None, "none"):
        return kic, KeyRef(kid_index, 0)
    if kid_alg in CHECKSUMS[Integrity.RC]:
        return kic, KeyRef.for_rc(kid_index, Algorithm(kid_alg))
    return kic, KeyRef.for_cc(kid_index, Algorithm(kid_alg))


def _counters(args: DirectiveArgs, spi: Spi, kic: KeyRef, kid: KeyRef, tar: bytes) -> CounterSource:
    args.exclusive("counter", "counter-store")
    counter, store, card = args.number("counter", 0, MAX_CNTR), args.path("counter-store"), args.get("card")
    if (store is None) != (card is None):
        raise args.error("counter-store= and card= go together")
    if store is not None and card is not None:
        # One counter per key set, the one the receiving entity checks: the KID's, or the KIc's without integrity.
        ref = kid if spi.integrity is not Integrity.NONE else kic
        with located(args.where):
            return StoredCounter(store, CounterScope(card, ref.index))
    if counter is None and spi.counter is not CounterMode.NONE:
        raise args.error(f"the SPI asks for counter mode {spi.counter.name.lower()}",
                         expected="counter=N or counter-store=PATH card=ID")
    return FixedCounter(counter or 0)


def _originator(args: DirectiveArgs) -> Address:
    """TP-OA of the SMS-DELIVERs; a leading + makes it international (TON/NPI 91, else 81)."""
    digits = args.get("originator") or DEFAULT_ORIGINATOR
    with located(args.where):
        return Address.from_digits(digits.lstrip("+"), 0x91 if digits.startswith("+") else 0x81)


class OtaBatch:
    """The wrapper between `.ota begin` and `.ota end`: collects the commands, sends them when closed."""

    def __init__(self, wrapper: OtaWrapper, expected: PorStatus, ctx: DirectiveContext) -> None:
        self.wrapper = wrapper
        self.expected = expected
        self.ctx = ctx  # for the position of the command being collected, and the report line
        self.commands: list[bytes] = []

    def transmit(self, command: bytes, send: Send) -> bytes | None:
        with located(self.ctx.where):
            CommandApdu.parse(command)
            if self.wrapper.fmt is RemoteFormat.COMPACT and not _reads_back(command):
                raise DecodeError("in a compact script the card reads each command T=0 style (TS 102 226 "
                                  "§5.1.1, TS 102 221 §10.1.2) and would not find this one's end",
                                  expected="a case 4 command without its Le byte")
        self.commands.append(command)
        return None

    def close(self, send: Send) -> Sequence[bytes | NotExecuted | None]:
        wrapped = self.wrapper.wrap(self.commands) if self.commands else self.wrapper.wrap_secured_data(b"")
        outcome = send_sms_pp(send, wrapped.envelopes)
        where = f"PoR for CNTR {wrapped.cntr:010x}"
        if not outcome.pors:
            raise ExpectationFailed(f"no PoR came back; the ENVELOPE got {outcome.sw:04X} "
                                    f"({describe(outcome.sw).meaning})", where=where, expected="a PoR")
        verified = self.wrapper.verify(wrapped, outcome)
        status = verified.response.status
        self.ctx.say(_summary(wrapped.cntr, len(wrapped.envelopes), len(self.commands), verified))
        if status is not self.expected:
            raise ExpectationFailed(f"PoR status {status:02X} {status.name}", where=where,
                                    expected=f"{self.expected:02X} {self.expected.name}")
        if status is not PorStatus.POR_OK:
            return [NotExecuted(f"the card refused the packet with PoR {status:02X} {status.name}, as expected")
                    ] * len(self.commands)
        return answers(verified.remote, len(self.commands), where)


def _reads_back(command: bytes) -> bool:
    try:
        return split_compact(command) == [command]
    except DecodeError:
        return False


def _summary(cntr: int, sms: int, commands: int, verified: VerifiedPor) -> str:
    por = verified.response
    return (f"OTA packet CNTR {cntr:010x} to TAR {por.tar.hex().upper()}: {commands} command(s) in {sms} SMS; "
            f"PoR {int(por.status):02X} {por.status.name}, integrity {por.integrity.value}")


def answers(remote: RemoteResponse | None, count: int, where: str) -> list[bytes | None]:
    """Each command's answer from a successful PoR's additional data (TS 102 226 §5.1.2 / §5.2.2)."""
    if remote is None:
        return [None] * count
    if isinstance(remote, CompactResponse):
        if remote.count > count:
            raise ExpectationFailed(f"the PoR reports {remote.count} commands executed, {count} were sent",
                                    where=where, expected=f"at most {count}")
        if remote.count == 0:
            return [None] * count
        last = remote.data + remote.sw.to_bytes(2, "big")
        return [SW_OK] * (remote.count - 1) + [last] + [None] * (count - remote.count)
    if remote.bad_format is not None:
        raise ExpectationFailed(f"the card could not read the command script: {remote.bad_format.name}",
                                where=where, expected="a well-formed expanded command script")
    if len(remote.responses) > count:
        raise ExpectationFailed(f"the PoR holds {len(remote.responses)} R-APDUs, {count} commands were sent",
                                where=where, expected=f"at most {count}")
    found: list[bytes | None] = [r.data + r.sw.to_bytes(2, "big") for r in remote.responses]
    return found + [None] * (count - len(found))


class OtaDirective:
    """`.ota begin ...` pushes an OtaBatch, `.ota end` sends it and settles the commands' expectations."""

    def check(self, directive: Directive) -> None:
        self._plan(directive)

    def _plan(self, directive: Directive) -> OtaPlan | None:
        if sub_command(directive, ("begin", "end"), USAGE) == "end":
            parse_args(directive, USAGE, commands=("end",))
            return None
        return _plan(parse_args(directive, USAGE, commands=("begin",), options=OPTIONS))

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        plan = self._plan(directive)
        if plan is None:
            ctx.pop(OtaBatch)
            return
        with located(ctx.where):
            keys = load_keys(plan.keys_path, ctx) if plan.keys_path is not None else {}
            kic = key_named(keys, "kic", plan.keys_path or "") if plan.needs_kic else keys.get("kic")
            kid = key_named(keys, "kid", plan.keys_path or "") if plan.needs_kid else keys.get("kid")
            if plan.needs_kic:
                check_key(plan.kic.cipher_algorithm(), kic, "KIc key")
            if plan.needs_kid:
                check_key(plan.kid.cc_algorithm(), kid, "KID key")
            context = OtaContext(plan.spi, plan.kic, plan.kid, plan.tar, OtaKeys(kic, kid))
            wrapper = OtaWrapper(context, plan.counters, SmsOptions(plan.originator), fmt=plan.fmt,
                                 reference=lambda bound: int.from_bytes(ctx.random(4), "big") % bound)
        ctx.push(OtaBatch(wrapper, plan.expected_por, ctx))


register_directive("ota", OtaDirective())
