"""`mcim kcv`, `mcim diversify`, `mcim scp03 trace`, `mcim scp02 trace`, `mcim bench scp03`: GlobalPlatform keys and
secure channels, offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..errors import BadInput
from ..gp.bench import bench_scp03
from ..gp.keys import Diversification, KeyAlgorithm, StaticKeys, diversify, kcv
from ..gp.scp02 import Scp02Host, Scp02InitializeUpdateResponse, card_cryptogram, derive_session_keys
from ..gp.scp03 import Scp03Host, initialize_update_response
from ..hexutil import parse_hex
from .common import emit, hex_arg, insecure_key_arg_option, json_option, key_options, resolve_key

SW_OK = b"\x90\x00"


def _byte(value: str, where: str) -> int:
    return parse_hex(value, where=where, length=1)[0]


@click.command("kcv")
@key_options("key")
@insecure_key_arg_option
@click.option("--algo", type=click.Choice(["aes", "3des"]), required=True,
              help="aes: AES-ECB(key, 16 x 01); 3des: 3DES-ECB(key, 8 x 00) (8-byte keys are single DES).")
@json_option
def kcv_command(algo: str, as_json: bool, **params: Any) -> None:
    """Key check value (3 bytes) of a key."""
    lengths = (16, 24, 32) if algo == "aes" else (8, 16, 24)
    key = resolve_key(params, "key", length=lengths)
    assert key is not None
    emit({"kcv": kcv(key, algo).hex()}, as_json, lambda r: f"KCV ({algo}) {r['kcv']}")


@click.command("diversify")
@click.option("--scheme", type=click.Choice([d.value for d in Diversification]), required=True,
              help="kdf3: AES, SP 800-108 over CMAC; emv, visa2: 2-key 3DES (GlobalPlatformPro templates).")
@key_options("master-key", "master key")
@insecure_key_arg_option
@click.option("--kdd", required=True, metavar="HEX",
              help="Key diversification data: the first 10 bytes of the INITIALIZE UPDATE response.")
@json_option
def diversify_command(scheme: str, kdd: str, as_json: bool, **params: Any) -> None:
    """Derive a card's ENC/MAC/DEK keys from a master key.

    This command PRINTS THE DERIVED KEYS (that is what it is for) with their check values: run it where its
    output is safe, e.g. to prepare a card's key file.
    """
    master = resolve_key(params, "master-key", length=(16, 24, 32))
    assert master is not None
    data = parse_hex(kdd, where="--kdd", length=10)
    keys = diversify(master, data, scheme)
    checks = {name: value.hex() for name, value in keys.kcvs().items()}
    result = {"scheme": scheme, "algorithm": keys.algorithm.value, "kdd": data.hex(), "enc": keys.enc.hex(),
              "mac": keys.mac.hex(), "dek": keys.dek.hex(), "kcv": checks}
    emit(result, as_json, lambda r: "\n".join(f"{n.upper():3} {r[n]}  KCV {checks[n]}" for n in ("enc", "mac", "dek")))


def _static_keys(params: dict[str, Any], kvn: str, algorithm: KeyAlgorithm, lengths: tuple[int, ...]) -> StaticKeys:
    enc, mac, dek = (resolve_key(params, name, length=lengths) for name in ("enc", "mac", "dek"))
    assert enc is not None and mac is not None and dek is not None
    return StaticKeys(_byte(kvn, "--kvn"), enc, mac, dek, algorithm)


def _apdu_spec(spec: str) -> tuple[bytes, bytes | None]:
    """`HEX[:RESPONSE]`: a plain command, and optionally the card's response to it (data || SW)."""
    command, _, response = spec.partition(":")
    plain = parse_hex(command, where=f"--apdu {spec}")
    if not response:
        return plain, None
    answer = parse_hex(response, where=f"--apdu {spec} (response)")
    if len(answer) < 2:
        raise BadInput(f"{len(answer)}-byte response", where=f"--apdu {spec}", expected="response data and SW1 SW2")
    return plain, answer


def _exchange(host: Scp03Host | Scp02Host, specs: tuple[str, ...],
              details: Callable[[], dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    commands: list[dict] = []
    responses: list[dict] = []
    for index, spec in enumerate(specs):
        plain, answer = _apdu_spec(spec)
        commands.append({"plain": plain.hex(), "wrapped": host.wrap(plain).hex(), **details()})
        if answer is not None:
            unwrapped = host.unwrap(answer)
            responses.append({"command": index, "wrapped": answer.hex(), "plain": unwrapped.to_bytes().hex(),
                              "verified": unwrapped.verified})
    return commands, responses


def _channel_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for decorate in reversed((
        key_options("enc", "static ENC key"), key_options("mac", "static MAC key"),
        key_options("dek", "static DEK key"), insecure_key_arg_option,
        click.option("--kvn", required=True, metavar="HEX", help="Key version number (P1 of INITIALIZE UPDATE)."),
        click.option("--host-challenge", required=True, metavar="HEX"),
        click.option("--card-challenge", required=True, metavar="HEX"),
        click.option("--kdd", default="00" * 10, show_default=True, metavar="HEX",
                     help="Key diversification data the card returns."),
        click.option("--level", default="01", show_default=True, metavar="HEX",
                     help="Security level (P1 of EXTERNAL AUTHENTICATE)."),
        click.option("--sd-aid", metavar="HEX", help="Security domain AID: checks a pseudo-random card challenge."),
        click.option("--apdu", "apdus", multiple=True, metavar="HEX[:RESPONSE]",
                     help="A plain command, optionally with the card's response (data || SW). Repeatable."),
        json_option,
    )):
        f = decorate(f)
    return f


@click.group("scp03")
def scp03_group() -> None:
    """GlobalPlatform SCP03 (Amendment D), offline."""


@scp03_group.command("trace")
@_channel_options
@click.option("--seq-counter", metavar="HEX", help="The card's 3-byte sequence counter (pseudo-random challenge).")
@click.option("--i", "i_param", metavar="HEX", help="The card's i parameter [default: 70 with --seq-counter, else 60].")
@click.option("--s16", is_flag=True, help="S16 mode: 16-byte challenges, cryptograms and MACs.")
def scp03_trace(host_challenge: str, card_challenge: str, kdd: str, level: str, sd_aid: str | None,
                apdus: tuple[str, ...], seq_counter: str | None, i_param: str | None, s16: bool, kvn: str,
                as_json: bool, **params: Any) -> None:
    """Replay an SCP03 session: handshake and every command wrapped, every given response unwrapped.

    Prints the session keys: meant for test keys and for debugging against a card's log.
    """
    keys = _static_keys(params, kvn, KeyAlgorithm.AES, (16, 24, 32))
    size = 16 if s16 else 8
    counter = None if seq_counter is None else int.from_bytes(parse_hex(seq_counter, where="--seq-counter",
                                                                        length=3), "big")
    options = _byte(i_param, "--i") if i_param else 0x70 if counter is not None else 0x60
    hc = parse_hex(host_challenge, where="--host-challenge", length=size)
    answer = initialize_update_response(keys, hc, parse_hex(card_challenge, where="--card-challenge", length=size),
                                        kdd=parse_hex(kdd, where="--kdd", length=10), options=options,
                                        sequence_counter=counter)
    host = Scp03Host(keys, s16=s16, sd_aid=hex_arg(sd_aid, "--sd-aid"))
    result: dict[str, Any] = {"initialize_update": host.initialize_update(hc).hex(),
                              "initialize_update_response": answer.to_bytes().hex()}
    host.process_initialize_update_response(answer.to_bytes() + SW_OK)
    result["external_authenticate"] = host.external_authenticate(_byte(level, "--level")).hex()
    host.process_external_authenticate_response(SW_OK)
    session = host.session_keys
    result.update(session_keys={"enc": session.enc.hex(), "mac": session.mac.hex(), "rmac": session.rmac.hex()},
                  card_cryptogram=host.card_cryptogram.hex(), host_cryptogram=host.host_cryptogram.hex(),
                  level=f"{int(host.security_level):02x}", s16=s16)
    result["commands"], result["responses"] = _exchange(
        host, apdus, lambda: {"mac_chaining": host.mac_chaining_value.hex(), "enc_counter": host.encryption_counter})
    emit(result, as_json, lambda r: _transcript("SCP03", r))


@click.group("scp02")
def scp02_group() -> None:
    """GlobalPlatform SCP02 (Card Specification Appendix E), offline."""


@scp02_group.command("trace")
@_channel_options
@click.option("--seq-counter", required=True, metavar="HEX", help="The card's 2-byte sequence counter.")
@click.option("--i", "i_param", default="55", show_default=True, metavar="HEX",
              help="The card's i parameter (15 and 55 and their R-MAC/unmodified-APDU variants).")
def scp02_trace(host_challenge: str, card_challenge: str, kdd: str, level: str, sd_aid: str | None,
                apdus: tuple[str, ...], seq_counter: str, i_param: str, kvn: str, as_json: bool,
                **params: Any) -> None:
    """Replay an SCP02 session: handshake and every command wrapped, every given response unwrapped.

    Prints the session keys: meant for test keys and for debugging against a card's log.
    """
    keys = _static_keys(params, kvn, KeyAlgorithm.DES3, (16,))
    counter = int.from_bytes(parse_hex(seq_counter, where="--seq-counter", length=2), "big")
    hc = parse_hex(host_challenge, where="--host-challenge", length=8)
    cc = parse_hex(card_challenge, where="--card-challenge", length=6)
    host = Scp02Host(keys, options=_byte(i_param, "--i"), sd_aid=hex_arg(sd_aid, "--sd-aid"))
    answer = Scp02InitializeUpdateResponse(parse_hex(kdd, where="--kdd", length=10), keys.kvn, counter, cc,
                                           card_cryptogram(derive_session_keys(keys, counter), hc, counter, cc))
    result: dict[str, Any] = {"initialize_update": host.initialize_update(hc).hex(),
                              "initialize_update_response": answer.to_bytes().hex()}
    host.process_initialize_update_response(answer.to_bytes() + SW_OK)
    result["external_authenticate"] = host.external_authenticate(_byte(level, "--level")).hex()
    host.process_external_authenticate_response(SW_OK)
    session = host.session_keys
    result.update(session_keys={"enc": session.enc.hex(), "mac": session.mac.hex(), "rmac": session.rmac.hex(),
                                "dek": session.dek.hex()},
                  card_cryptogram=answer.card_cryptogram.hex(), host_cryptogram=host.host_cryptogram.hex(),
                  level=f"{int(host.security_level):02x}", i=f"{int(host.options):02x}")
    result["commands"], result["responses"] = _exchange(
        host, apdus, lambda: {"mac_chaining": host.mac_chaining_value.hex()})
    emit(result, as_json, lambda r: _transcript("SCP02", r))


def _transcript(protocol: str, r: dict[str, Any]) -> str:
    keys = r["session_keys"]
    lines = [f"{protocol} session at security level {r['level'].upper()}",
             *(f"  session {name.upper():4} {value}" for name, value in keys.items()),
             f"  card cryptogram {r['card_cryptogram']}   host cryptogram {r['host_cryptogram']}",
             f"> {r['initialize_update']}   INITIALIZE UPDATE",
             f"< {r['initialize_update_response']} 9000",
             f"> {r['external_authenticate']}   EXTERNAL AUTHENTICATE"]
    answers = {resp["command"]: resp for resp in r["responses"]}
    for index, command in enumerate(r["commands"]):
        counter = f", counter {command['enc_counter']}" if "enc_counter" in command else ""
        lines += [f"#{index + 1} plain   {command['plain']}",
                  f"   sent    {command['wrapped']}   (MAC chaining {command['mac_chaining']}{counter})"]
        if index in answers:
            resp = answers[index]
            check = "R-MAC verified" if resp["verified"] else "no R-MAC"
            lines += [f"   card    {resp['wrapped']}", f"   plain   {resp['plain']}   ({check})"]
    return "\n".join(lines)


@click.command("scp03")
@click.option("--count", default=10000, show_default=True, type=click.IntRange(min=1),
              help="Number of command/response round trips.")
@click.option("--level", default="33", show_default=True, metavar="HEX", help="SCP03 security level.")
@click.option("--key-bits", default="128", show_default=True, type=click.Choice(["128", "192", "256"]))
@click.option("--s16", is_flag=True, help="S16 mode.")
@json_option
def bench_scp03_command(count: int, level: str, key_bits: str, s16: bool, as_json: bool) -> None:
    """SCP03 round trips per second: a 16-byte STORE DATA wrapped, unwrapped by an in-memory card, its 9000
    response wrapped and unwrapped."""
    result = bench_scp03(count, _byte(level, "--level"), key_length=int(key_bits) // 8, s16=s16)
    emit(result, as_json, lambda r: f"SCP03 level {r['level']}, AES-{r['key_bits']}{' S16' if s16 else ''}: "
                                    f"{r['apdus_per_second']:,.0f} APDUs/s ({r['count']} in {r['seconds']:.3f} s)")


def register(root: click.Group) -> None:
    for command in (kcv_command, diversify_command, scp03_group, scp02_group):
        root.add_command(command)
    bench = root.commands.get("bench")
    if not isinstance(bench, click.Group):
        bench = click.Group("bench", help="Performance figures (JSON with --json).")
        root.add_command(bench)
    bench.add_command(bench_scp03_command)
