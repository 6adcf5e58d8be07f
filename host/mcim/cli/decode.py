"""`mcim decode ...`: explain bytes people paste from logs."""

from __future__ import annotations

import importlib

import click

from ..apdu import CommandApdu, ResponseApdu, instruction_name
from ..errors import BadInput
from ..hexutil import parse_hex
from ..sw import describe
from ..tlv import ber_tree
from .common import emit, json_option


@click.group("decode")
def decode() -> None:
    """Explain status words, APDUs, TLVs, ENVELOPEs, SMS and secured packets."""


def _hex_words(words: tuple[str, ...], where: str) -> bytes:
    if not words:
        raise BadInput("no bytes given", where=where, expected="hex")
    return parse_hex("".join(words), where=where)


@decode.command("sw")
@click.argument("sw")
@json_option
def decode_sw(sw: str, as_json: bool) -> None:
    """Meaning of a status word, e.g. 6A82 or 63C2."""
    info = describe(int.from_bytes(parse_hex(sw, where="SW", length=2), "big"))
    emit({"sw": info.hex, "meaning": info.meaning, "category": info.category}, as_json,
         lambda r: f"{r['sw'].upper()}  {r['meaning']}  [{r['category']}]")


@decode.command("apdu")
@click.argument("hexwords", nargs=-1, required=True)
@click.option("--response", is_flag=True, help="The bytes are a response APDU (data || SW1 SW2).")
@json_option
def decode_apdu(hexwords: tuple[str, ...], response: bool, as_json: bool) -> None:
    """Decode a command APDU (or, with --response, a response APDU). Spaces between bytes are fine."""
    raw = _hex_words(hexwords, "APDU")
    if response:
        r = ResponseApdu.parse(raw)
        info = describe(r.sw)
        emit({"data": r.data.hex(), "sw": info.hex, "meaning": info.meaning, "category": info.category}, as_json,
             lambda d: f"data {d['data'] or '-'}\nSW   {d['sw'].upper()}  {d['meaning']}")
        return
    c = CommandApdu.parse(raw)
    result = {"cla": f"{c.cla:02x}", "ins": f"{c.ins:02x}", "p1": f"{c.p1:02x}", "p2": f"{c.p2:02x}",
              "name": instruction_name(c.cla, c.ins), "case": c.case, "extended": c.is_extended,
              "channel": c.channel, "secure_messaging": c.secure_messaging,
              "lc": len(c.data) if c.data else None, "data": c.data.hex(), "le": c.le}
    emit(result, as_json, _human_apdu)


def _human_apdu(r: dict) -> str:
    lines = [f"{r['name']}  (case {r['case']}{', extended' if r['extended'] else ''}, channel {r['channel']})",
             f"CLA {r['cla']}  INS {r['ins']}  P1 {r['p1']}  P2 {r['p2']}"]
    if r["lc"] is not None:
        lines.append(f"Lc {r['lc']}  data {r['data']}")
    if r["le"] is not None:
        lines.append(f"Le {r['le']}")
    return "\n".join(lines)


@decode.command("tlv")
@click.argument("hexwords", nargs=-1, required=True)
@json_option
def decode_tlv(hexwords: tuple[str, ...], as_json: bool) -> None:
    """Decode BER-TLV objects into a nested tree."""
    tree = ber_tree(_hex_words(hexwords, "TLV"))
    emit(tree, as_json, lambda t: "\n".join(_human_tlv(t, 0)))


def _human_tlv(nodes: list[dict], depth: int) -> list[str]:
    lines = []
    for node in nodes:
        pad = "  " * depth
        if "children" in node:
            lines.append(f"{pad}{node['tag']} ({node['length']})")
            lines += _human_tlv(node["children"], depth + 1)
        else:
            lines.append(f"{pad}{node['tag']} ({node['length']}) {node['value']}")
    return lines


def register(root: click.Group) -> None:
    root.add_command(decode)
    # OTA decoders (envelope, sms, packet) live with the OTA commands.
    try:
        ota = importlib.import_module("mcim.cli.ota")
    except ImportError:
        return
    for command in getattr(ota, "DECODE_COMMANDS", []):
        decode.add_command(command)
