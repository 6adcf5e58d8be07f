"""`mcim milenage`: AKA values for one challenge, for checking what a USIM or an AuC computes."""

from __future__ import annotations

from typing import Any

import click

from ..aka import DEFAULT_CONSTANTS, Milenage, MilenageConstants, build_auts, generate_vector
from ..errors import BadInput
from ..hexutil import hexlify
from .common import emit, hex_arg, insecure_key_arg_option, json_option, key_options, resolve_key

_FIELDS = ("opc", "mac_a", "mac_s", "res", "ck", "ik", "ak", "ak_star", "autn", "kc", "sres", "auts")


def _constants(params: dict[str, Any]) -> MilenageConstants:
    given: dict[str, Any] = {}
    for i in range(1, 6):
        c, r = params.pop(f"c{i}"), params.pop(f"r{i}")
        if c is not None:
            given[f"c{i}"] = hex_arg(c, f"--c{i}", 16)
        if r is not None:
            given[f"r{i}"] = r
    if not given:
        return DEFAULT_CONSTANTS
    defaults = {name: getattr(DEFAULT_CONSTANTS, name) for name in DEFAULT_CONSTANTS.__dataclass_fields__}
    return MilenageConstants(**(defaults | given))


def _milenage(params: dict[str, Any]) -> Milenage:
    k = resolve_key(params, "k", length=(16,))
    op = resolve_key(params, "op", required=False, length=(16,))
    opc = resolve_key(params, "opc", required=False, length=(16,))
    constants = _constants(params)
    if (op is None) == (opc is None):
        raise BadInput("give exactly one of OP and OPc", where="--op/--opc",
                       expected="--op-file/--op-env/--op or --opc-file/--opc-env/--opc")
    if op is not None:
        return Milenage.from_op(k, op, constants)  # type: ignore[arg-type]
    return Milenage(k, opc, constants)  # type: ignore[arg-type]


def milenage_values(mil: Milenage, rand: bytes, sqn: bytes, amf: bytes) -> dict[str, str]:
    """Every value of one Milenage run; AUTS takes SQN as the USIM's SQN_MS (TS 33.102 §6.3.3)."""
    vector = generate_vector(mil, rand, sqn, amf)
    f1 = mil.f1(rand, sqn, amf)
    values = {"opc": mil.opc, "mac_a": f1.mac_a, "mac_s": f1.mac_s, "res": vector.xres, "ck": vector.ck,
              "ik": vector.ik, "ak": vector.ak, "ak_star": mil.f5star(rand), "autn": vector.autn,
              "kc": vector.kc, "sres": vector.sres, "auts": build_auts(mil, rand, sqn)}
    return {name: hexlify(values[name]) for name in _FIELDS}


def _human(values: dict[str, str]) -> str:
    return "\n".join(f"{name:8} {value}" for name, value in values.items())


def _constant_options(f):
    for i in range(5, 0, -1):
        f = click.option(f"--r{i}", f"r{i}", type=click.IntRange(0, 127), metavar="BITS",
                         help=f"Rotation r{i} in bits (default per TS 35.206).")(f)
    for i in range(5, 0, -1):
        f = click.option(f"--c{i}", f"c{i}", metavar="HEX", help=f"Constant c{i}, 16 bytes (default per TS 35.206).")(f)
    return f


@click.command("milenage")
@key_options("k", "subscriber key K")
@key_options("op", "operator variant OP")
@key_options("opc", "derived operator variant OPc")
@insecure_key_arg_option
@click.option("--rand", "rand", required=True, metavar="HEX", help="RAND, 16 bytes.")
@click.option("--sqn", "sqn", required=True, metavar="HEX", help="SQN, 6 bytes (also SQN_MS for AUTS).")
@click.option("--amf", "amf", required=True, metavar="HEX", help="AMF, 2 bytes.")
@_constant_options
@json_option
def milenage_command(rand: str, sqn: str, amf: str, as_json: bool, **params: Any) -> None:
    """Compute OPc, MAC-A/S, RES, CK, IK, AK, AK*, AUTN, Kc, SRES and AUTS (3GPP TS 35.206, TS 33.102)."""
    mil = _milenage(params)
    values = milenage_values(mil, hex_arg(rand, "--rand", 16), hex_arg(sqn, "--sqn", 6),  # type: ignore[arg-type]
                             hex_arg(amf, "--amf", 2))  # type: ignore[arg-type]
    emit(values, as_json, _human)


def register(root: click.Group) -> None:
    root.add_command(milenage_command)
