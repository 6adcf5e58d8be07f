"""`mcim ota build`, `mcim ota por`, `mcim decode envelope|sms|packet`, `mcim bench ota`: SCP80 secured packets
offline.  Byte values are lowercase hex, counts and indexes decimal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..errors import BadChecksum, BadInput, BadMac, McimError
from ..hexutil import parse_hex
from ..ota import cat, remote, sms
from ..ota._crypto import KEY_LENGTHS, check_key
from ..ota.bench import bench_ota
from ..ota.counters import CounterScope, CounterSource, CounterStore, FixedCounter
from ..ota.keys import OtaContext, OtaKeys
from ..ota.packet import (
    CommandHeader,
    CommandPacket,
    Framing,
    open_command_packet,
    parse_command_header,
    parse_unverified,
)
from ..ota.por import PorVerifier, ResponsePacket, parse_response_packet
from ..ota.spi import Algorithm, CounterMode, Integrity, KeyRef, Spi
from ..ota.wrap import OtaWrapper, SmsOptions
from .common import emit, insecure_key_arg_option, json_option, key_options, resolve_key

CIPHER_ALGORITHMS = ["des", "3des2", "3des3", "aes"]
KID_ALGORITHMS = [*CIPHER_ALGORITHMS, "crc16", "crc32", "none"]
_CATALOGUE = remote.TarCatalogue()


def _security_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        key_options("kic", "KIc (ciphering) key"), key_options("kid", "KID (CC) key"), insecure_key_arg_option,
        click.option("--kic-alg", type=click.Choice(CIPHER_ALGORITHMS), help="KIc algorithm."),
        click.option("--kid-alg", type=click.Choice(KID_ALGORITHMS), help="KID algorithm (CC, or CRC for RC)."),
        click.option("--kic-index", type=click.IntRange(0, 15), default=1, show_default=True,
                     help="KIc key index (KVN of the key set)."),
        click.option("--kid-index", type=click.IntRange(0, 15), default=1, show_default=True,
                     help="KID key index (KVN of the key set)."),
    ]):
        f = option(f)
    return f


def _key_ref(index: int, name: str | None, role: str) -> KeyRef:
    if name is None or name == "none":
        return KeyRef(index, 0)
    algorithm = Algorithm(name)
    if role == "kic":
        return KeyRef.for_cipher(index, algorithm)
    if algorithm in (Algorithm.CRC16, Algorithm.CRC32):
        return KeyRef.for_rc(index, algorithm)
    return KeyRef.for_cc(index, algorithm)


def _context(params: dict[str, Any], spi: Spi, tar: bytes, integrity: Integrity, ciphered: bool) -> OtaContext:
    """The OtaContext the options describe; `integrity`/`ciphered` say which keys are needed."""
    kic_alg, kid_alg = params.pop("kic_alg"), params.pop("kid_alg")
    if ciphered and kic_alg is None:
        raise BadInput("the SPI asks for ciphering", where="--kic-alg", expected="des, 3des2, 3des3 or aes")
    wanted = {Integrity.RC: ("crc16", "crc32"), Integrity.CC: tuple(CIPHER_ALGORITHMS)}.get(integrity)
    if wanted is not None and kid_alg not in wanted:
        raise BadInput(f"--kid-alg {kid_alg}", where="--kid-alg",
                       expected=f"{' or '.join(wanted)} for the {integrity.name} the SPI asks for")
    kic = resolve_key(params, "kic", required=ciphered, length=_lengths(kic_alg))
    kid = resolve_key(params, "kid", required=integrity is Integrity.CC, length=_lengths(kid_alg))
    return OtaContext(spi, _key_ref(params.pop("kic_index"), kic_alg, "kic"),
                      _key_ref(params.pop("kid_index"), kid_alg, "kid"), tar, OtaKeys(kic, kid))


def _lengths(name: str | None) -> tuple[int, ...] | None:
    return KEY_LENGTHS.get(Algorithm(name)) if name in CIPHER_ALGORITHMS else None


def _spi(value: str) -> Spi:
    return Spi.from_bytes(parse_hex(value, where="--spi", length=2))


def _originator(digits: str) -> sms.Address:
    international = digits.startswith("+")
    return sms.Address.from_digits(digits.lstrip("+"), 0x91 if international else 0x81)


# --- mcim ota build ---------------------------------------------------------------------------------------------


@click.command("build")
@_security_options
@click.option("--spi", required=True, metavar="HEX", help="SPI (2 bytes), e.g. 1639.")
@click.option("--tar", required=True, metavar="HEX", help="TAR (3 bytes), e.g. b00001.")
@click.option("--cntr", type=click.IntRange(0, (1 << 40) - 1), help="Counter value (decimal).")
@click.option("--counter-store", metavar="PATH", help="Take the counter from this SQLite counter store.")
@click.option("--card", metavar="ID", help="Card identity (ICCID/EID) in the counter store.")
@click.option("--counter-per", type=click.Choice(["keyset", "tar"]), default="keyset", show_default=True,
              help="Counter scope in the counter store.")
@click.option("--apdu", "apdus", multiple=True, required=True, metavar="HEX", help="C-APDU (repeat in order).")
@click.option("--format", "fmt", type=click.Choice(["compact", "expanded"]), default="compact", show_default=True,
              help="TS 102 226 remote command format.")
@click.option("--originator", default="0000", show_default=True, metavar="DIGITS",
              help="TP-OA digits of the SMS-DELIVER ('+' for international).")
@click.option("--smsc", metavar="DIGITS", help="Service centre address in the ENVELOPE (optional).")
@click.option("--scts", metavar="HEX14", help="TP-SCTS (7 bytes); default: now.")
@json_option
def build_command(spi: str, tar: str, cntr: int | None, counter_store: str | None, card: str | None,
                  counter_per: str, apdus: tuple[str, ...], fmt: str, originator: str, smsc: str | None,
                  scts: str | None, as_json: bool, **params: Any) -> None:
    """Secure C-APDUs into a command packet, its SMS-DELIVER TPDUs and ENVELOPE (SMS-PP DOWNLOAD) APDUs."""
    parsed_spi = _spi(spi)
    ctx = _context(params, parsed_spi, parse_hex(tar, where="--tar", length=3), parsed_spi.integrity,
                   parsed_spi.ciphered)
    commands = [parse_hex(a, where=f"--apdu {n}") for n, a in enumerate(apdus, 1)]
    stamp = parse_hex(scts, where="--scts", length=7) if scts is not None else None
    options = SmsOptions(_originator(originator), _originator(smsc) if smsc else None)
    source, store = _counter_source(ctx, cntr, counter_store, card, counter_per)
    try:
        wrapper = OtaWrapper(ctx, source, options, fmt=remote.RemoteFormat(fmt))
        wrapped = wrapper.wrap_secured_data(remote.encode_script(commands, wrapper.fmt), stamp)
    finally:
        if store is not None:
            store.close()
    result = {"spi": parsed_spi.to_bytes().hex(), "kic": f"{ctx.kic.byte:02x}", "kid": f"{ctx.kid.byte:02x}",
              "tar": ctx.tar.hex(), "cntr": wrapped.cntr, "secured_data": wrapped.secured_data.hex(),
              "packet": wrapped.packet.hex(), "tp_ud": [u.hex() for u in wrapped.user_data],
              "sms_deliver": [t.hex() for t in wrapped.tpdus], "envelope": [e.hex() for e in wrapped.envelopes]}
    emit(result, as_json, _human_build)


def _counter_source(ctx: OtaContext, cntr: int | None, path: str | None, card: str | None,
                    per: str) -> tuple[CounterSource, CounterStore | None]:
    if cntr is not None:
        if path is not None:
            raise BadInput("both a counter and a counter store", where="--cntr", expected="one of them")
        return FixedCounter(cntr), None
    if path is not None:
        if not card:
            raise BadInput("no card identity", where="--card", expected="--card ID with --counter-store")
        ref = ctx.kid if ctx.spi.integrity is not Integrity.NONE else ctx.kic
        store = CounterStore(path)
        return store.source(CounterScope(card, ref.index, ctx.tar if per == "tar" else None)), store
    if ctx.spi.counter is not CounterMode.NONE:
        raise BadInput(f"SPI counter mode {ctx.spi.counter.name.lower()}", where="--cntr",
                       expected="--cntr N or --counter-store PATH --card ID")
    return FixedCounter(0), None


def _human_build(r: dict[str, Any]) -> str:
    lines = [f"SPI {r['spi']}  KIc {r['kic']}  KID {r['kid']}  TAR {r['tar']}  CNTR {r['cntr']}",
             f"secured data  {r['secured_data']}", f"packet        {r['packet']}"]
    for n, envelope in enumerate(r["envelope"], 1):
        lines.append(f"ENVELOPE {n}/{len(r['envelope'])}  {envelope}")
    return "\n".join(lines)


# --- mcim ota por -----------------------------------------------------------------------------------------------


@click.command("por")
@_security_options
@click.option("--spi", required=True, metavar="HEX", help="SPI of the command the PoR answers.")
@click.option("--tar", metavar="HEX", help="Expected TAR (default: the one in the PoR).")
@click.option("--data", "data", multiple=True, required=True, metavar="HEX",
              help="The PoR: SMS user data (02 71 00 ...), an SMS-SUBMIT TPDU or a SEND SHORT MESSAGE (D0 ...); "
                   "repeat for concatenated parts.")
@click.option("--cntr", type=click.IntRange(0, (1 << 40) - 1), help="Counter of the command (checks the echo).")
@click.option("--format", "fmt", type=click.Choice(["auto", "compact", "expanded"]), default="auto",
              show_default=True, help="Remote response format of the additional data.")
@json_option
def por_command(spi: str, tar: str | None, data: tuple[str, ...], cntr: int | None, fmt: str, as_json: bool,
                **params: Any) -> None:
    """Decipher and verify a PoR (response packet); exit 1 when its RC/CC does not verify."""
    parsed_spi = _spi(spi)
    user_data = _por_user_data([parse_hex(d, where=f"--data {n}") for n, d in enumerate(data, 1)])
    expected_tar = parse_hex(tar, where="--tar", length=3) if tar else user_data[6:9]
    ctx = _context(params, parsed_spi, expected_tar, parsed_spi.por_integrity, parsed_spi.por_ciphered)
    response_format = None if fmt == "auto" else remote.RemoteFormat(fmt)
    try:
        por = PorVerifier(ctx).verify(user_data, cntr)
    except (BadMac, BadChecksum) as exc:
        emit(_por_view(parse_response_packet(user_data, ctx), "failed", response_format), as_json, _human_por)
        click.echo(f"mcim: error: {exc}", err=True)
        click.get_current_context().exit(1)
    emit(_por_view(por, por.integrity.value, response_format), as_json, _human_por)


def _por_user_data(parts: list[bytes]) -> bytes:
    """PoR user data from what people paste: user data, SMS-SUBMIT TPDUs or SEND SHORT MESSAGE commands."""
    uds = []
    for part in parts:
        if part[:1] == bytes((cat.PROACTIVE_COMMAND_TAG,)):
            tpdu = cat.parse_proactive(part).sms_tpdu
            if tpdu is None:
                raise BadInput("proactive command without SMS TPDU", where="--data",
                               expected="a SEND SHORT MESSAGE")
            part = tpdu
        uds.append(part if part[:3] == b"\x02\x71\x00" else _submit_user_data(part))
    if len(uds) == 1 and uds[0][:3] == b"\x02\x71\x00":
        return uds[0]
    joined = sms.reassemble(uds)
    if joined.iei != sms.RESPONSE_PACKET_IEI:
        raise BadInput("a command packet", where="--data", expected="a response packet (IEI 71)")
    return b"\x02\x71\x00" + joined.packet


def _submit_user_data(part: bytes) -> bytes:
    """The user data of an SMS-SUBMIT TPDU, or `part` itself when it is not one (a user data segment)."""
    try:
        return sms.parse_sms_submit(part).user_data
    except McimError:
        return part


def _por_view(por: ResponsePacket, integrity: str, fmt: remote.RemoteFormat | None) -> dict[str, Any]:
    return {"status": int(por.status), "status_name": por.status.name, "tar": por.tar.hex(), "cntr": por.cntr,
            "integrity": integrity, "ciphered": por.ciphered, "checksum": por.checksum.hex(), "data": por.data.hex(),
            "responses": _responses(por.data, fmt) if por.data else None}


def _responses(data: bytes, fmt: remote.RemoteFormat | None) -> dict[str, Any] | list[dict[str, Any]] | None:
    try:
        decoded = remote.decode_response_data(data, fmt)
    except McimError:
        return None
    if isinstance(decoded, remote.CompactResponse):
        return {"count": decoded.count, "sw": f"{decoded.sw:04x}", "data": decoded.data.hex()}
    return [{"data": r.data.hex(), "sw": f"{r.sw:04x}"} for r in decoded.responses]


def _human_por(r: dict[str, Any]) -> str:
    lines = [f"PoR status {r['status']:02x} {r['status_name']}  TAR {r['tar']}  CNTR {r['cntr']}  "
             f"integrity {r['integrity']}{'  ciphered' if r['ciphered'] else ''}"]
    responses = r["responses"]
    if isinstance(responses, dict):
        lines.append(f"  {responses['count']} command(s), last SW {responses['sw']}  {responses['data']}")
    elif isinstance(responses, list):
        lines += [f"  R-APDU {x['data']} {x['sw']}" for x in responses]
    elif r["data"]:
        lines.append(f"  data {r['data']}")
    return "\n".join(lines)


# --- decoders ---------------------------------------------------------------------------------------------------


def _decode_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = json_option(f)
    f = click.option("--spi", metavar="HEX", help="SPI of the command, to decode a PoR.")(f)
    return _security_options(f)


def _decode_keys(params: dict[str, Any]) -> tuple[OtaKeys, str | None, str | None]:
    kic_alg, kid_alg = params.pop("kic_alg"), params.pop("kid_alg")
    for name in ("kic_index", "kid_index"):
        params.pop(name)
    kic = resolve_key(params, "kic", required=False)
    kid = resolve_key(params, "kid", required=False)
    return OtaKeys(kic, kid), kic_alg, kid_alg


def _describe_user_data(user_data: bytes, params: dict[str, Any], spi: str | None) -> dict[str, Any]:
    parsed = sms.parse_user_data(user_data)
    view: dict[str, Any] = {"udh": [{"iei": f"{e.iei:02x}", "data": e.data.hex()} for e in parsed.elements],
                            "body": parsed.body.hex()}
    concat = sms.concatenation_of(parsed)
    if concat is not None:
        view["concatenation"] = {"reference": concat.reference, "total": concat.total, "sequence": concat.sequence}
        if concat.sequence != 1:
            return view
    if parsed.find(sms.COMMAND_PACKET_IEI) is not None:
        view["command_packet"] = _describe_command(parsed.body, params, Framing.SMS, complete=concat is None)
    elif parsed.find(sms.RESPONSE_PACKET_IEI) is not None:
        view["response_packet"] = _describe_response(b"\x02\x71\x00" + parsed.body, params, spi)
    return view


def _describe_command(packet: bytes, params: dict[str, Any], framing: Framing, *, complete: bool = True) -> dict:
    keys, _, _ = _decode_keys(params)
    if not complete:
        return {"first_segment": packet.hex()}
    header = parse_command_header(packet, framing)
    view: dict[str, Any] = {
        "spi": header.spi.describe(), "kic": f"{header.kic.byte:02x}", "kic_index": header.kic.index,
        "kic_algorithm": header.kic.cipher_algorithm().value, "kid": f"{header.kid.byte:02x}",
        "kid_index": header.kid.index, "tar": header.tar.hex(), "tar_name": _CATALOGUE.describe(header.tar).name,
        "checksum_length": header.checksum_length,
    }
    if keys.kic is not None or keys.kid is not None:
        _check_keys_for(header, keys)
        view.update(_opened(open_command_packet(packet, keys, framing)),
                    integrity="verified" if header.checksum_length else "none")
    elif not header.spi.ciphered:
        view.update(_opened(parse_unverified(packet, framing)),
                    integrity="unchecked" if header.checksum_length else "none")
    else:
        view["note"] = "ciphered: give the KIc key (and KID key) to open it"
    return view


def _check_keys_for(header: CommandHeader, keys: OtaKeys) -> None:
    """The keys the packet's SPI, KIc and KID call for, as command-line errors (exit 2) rather than rejections."""
    if header.spi.ciphered:
        check_key(header.kic.cipher_algorithm(), keys.kic, "--kic")
    if header.spi.integrity is Integrity.CC:
        check_key(header.kid.cc_algorithm(), keys.kid, "--kid")


def _opened(command: CommandPacket) -> dict[str, Any]:
    return {"cntr": command.cntr, "pcntr": command.pcntr, "checksum": command.checksum.hex(),
            "secured_data": command.secured_data.hex(), "padding": command.padding.hex()}


def _describe_response(user_data: bytes, params: dict[str, Any], spi: str | None) -> dict[str, Any]:
    view: dict[str, Any] = {"tar": user_data[6:9].hex(), "rhl": user_data[5] if len(user_data) > 5 else None}
    if spi is None:
        _decode_keys(params)
        view["note"] = "give --spi (and keys) to decipher and check the PoR"
        return view
    parsed_spi = _spi(spi)
    ctx = _context(params, parsed_spi, user_data[6:9], parsed_spi.por_integrity, parsed_spi.por_ciphered)
    try:
        por = PorVerifier(ctx).verify(user_data)
        integrity = por.integrity.value
    except (BadMac, BadChecksum):
        por, integrity = parse_response_packet(user_data, ctx), "failed"
    return _por_view(por, integrity, None)


@click.command("envelope")
@click.argument("hex_data", metavar="HEX")
@_decode_options
def decode_envelope(hex_data: str, spi: str | None, as_json: bool, **params: Any) -> None:
    """An ENVELOPE (SMS-PP DOWNLOAD): C-APDU or its D1 data; with keys, the command packet is opened."""
    download = cat.parse_envelope(parse_hex(hex_data, where="ENVELOPE"))
    deliver = sms.parse_sms_deliver(download.tpdu)
    result = {"smsc": download.smsc.digits if download.smsc else None, "sms_deliver": _deliver_view(deliver)}
    if deliver.udhi:
        result["user_data"] = _describe_user_data(deliver.user_data, params, spi)
    emit(result, as_json)


@click.command("sms")
@click.argument("hex_data", metavar="HEX")
@_decode_options
def decode_sms(hex_data: str, spi: str | None, as_json: bool, **params: Any) -> None:
    """An SMS-DELIVER or SMS-SUBMIT TPDU (by TP-MTI) and the secured packet in it."""
    tpdu = parse_hex(hex_data, where="SMS TPDU")
    if not tpdu:
        raise BadInput("empty", where="SMS TPDU", expected="a TPDU")
    message: sms.SmsDeliver | sms.SmsSubmit
    if tpdu[0] & 0x03 == 0x00:
        message = sms.parse_sms_deliver(tpdu)
        result: dict[str, Any] = {"sms_deliver": _deliver_view(message)}
    elif tpdu[0] & 0x03 == 0x01:
        message = sms.parse_sms_submit(tpdu)
        result = {"sms_submit": {"destination": message.destination.digits,
                                 "ton_npi": f"{message.destination.ton_npi:02x}", "pid": f"{message.pid:02x}",
                                 "dcs": f"{message.dcs:02x}", "message_reference": message.message_reference,
                                 "udl": len(message.user_data)}}
    else:
        raise BadInput(f"TP-MTI {tpdu[0] & 0x03}", where="SMS TPDU first octet", expected="00 DELIVER or 01 SUBMIT")
    if message.udhi:
        result["user_data"] = _describe_user_data(message.user_data, params, spi)
    emit(result, as_json)


@click.command("packet")
@click.argument("hex_data", metavar="HEX")
@click.option("--generic", is_flag=True, help="Generic (CAT_TP/TCP) format with CPI/RPI instead of SMS.")
@_decode_options
def decode_packet(hex_data: str, generic: bool, spi: str | None, as_json: bool, **params: Any) -> None:
    """A command packet (from CPL, or SMS user data 02 70 00 ...) or a PoR (02 71 00 ...)."""
    data = parse_hex(hex_data, where="packet")
    if not generic and data[:2] == b"\x02\x71":
        result = {"response_packet": _describe_response(data, params, spi)}
    elif not generic and data[:2] == b"\x02\x70":
        result = _describe_user_data(data, params, spi)
    else:
        result = {"command_packet": _describe_command(data, params, Framing.GENERIC if generic else Framing.SMS)}
    emit(result, as_json)


def _deliver_view(deliver: sms.SmsDeliver) -> dict[str, Any]:
    return {"originator": deliver.originator.digits, "ton_npi": f"{deliver.originator.ton_npi:02x}",
            "pid": f"{deliver.pid:02x}", "dcs": f"{deliver.dcs:02x}", "scts": deliver.scts.hex(),
            "udhi": deliver.udhi, "udl": len(deliver.user_data)}


DECODE_COMMANDS = [decode_envelope, decode_sms, decode_packet]


# --- mcim bench ota ---------------------------------------------------------------------------------------------


@click.command("ota")
@click.option("--count", default=20000, show_default=True, type=click.IntRange(min=1),
              help="Packets built and PoRs verified per algorithm.")
@json_option
def bench_ota_command(count: int, as_json: bool) -> None:
    """Command packets built and PoRs verified per second (AES-128 and 3DES, cipher + CC + counter)."""
    result = bench_ota(count)
    emit(result, as_json, lambda r: f"AES-128: {r['packets_per_second']:,.0f} packets/s, "
                                    f"{r['por_per_second']:,.0f} PoRs/s; 3DES: "
                                    f"{r['tdes_packets_per_second']:,.0f} packets/s, "
                                    f"{r['tdes_por_per_second']:,.0f} PoRs/s")


@click.group("ota")
def ota_group() -> None:
    """SCP80 secured packets (ETSI TS 102 225 / 3GPP TS 31.115) over SMS-PP, offline."""


ota_group.add_command(build_command)
ota_group.add_command(por_command)


def register(root: click.Group) -> None:
    root.add_command(ota_group)
    bench = root.commands.get("bench")
    if not isinstance(bench, click.Group):
        bench = click.Group("bench", help="Performance figures (JSON with --json).")
        root.add_command(bench)
    bench.add_command(bench_ota_command)
    decode = root.commands.get("decode")
    if isinstance(decode, click.Group):
        for command in DECODE_COMMANDS:
            decode.commands.setdefault(command.name or "", command)
