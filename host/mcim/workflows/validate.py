"""SHO validation of a downloaded MCIM (TR 33.812 subcase 2b, step 4): select it, compare its files with the
profile, run AUTHENTICATE with a vector the host computes from the SHO's K/OPc and check RES/CK/IK/Kc, then
replay that vector to force a resynchronisation and check AUTS (TS 33.102 §6.3.3, §6.3.5)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from ..aka import (
    Milenage,
    SyncFailure,
    UmtsAuthResult,
    build_authenticate,
    generate_vector,
    parse_authenticate_response,
)
from ..aka.auth import verify_auts
from ..apdu import CommandApdu
from ..errors import DecodeError, IntegrityError
from ..filespec import file_content
from ..transport.base import Transport
from ..transport.t0 import T0Layer
from .provision import McimProfile, Subscription, fill_template, instance_aid

AMF = bytes.fromhex("8000")  # AMF separation bit set, as for E-UTRAN vectors (TS 33.401 §6.1.1); any value works


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class ValidationReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def failures(self) -> str:
        return "; ".join(f"{c.name}: {c.detail}" for c in self.checks if not c.ok)


def validate_mcim(transport: Transport, profile: McimProfile, sub: Subscription, *, pin1: str, sqn: int,
                  random: Callable[[int], bytes] = os.urandom) -> ValidationReport:
    """Run the checks against the card; every answer is compared with what the host computed itself."""
    card = T0Layer(transport)
    report = ValidationReport()
    aid = instance_aid(profile, sub)

    def send(apdu: CommandApdu) -> tuple[bytes, int]:
        raw = card.transmit(apdu.to_bytes())
        return raw[:-2], int.from_bytes(raw[-2:], "big")

    _, sw = send(CommandApdu(0x00, 0xA4, 0x04, 0x04, aid, le=256))
    if not report.add("select", sw == 0x9000, f"SELECT {aid.hex()} -> {sw:04X}"):
        return report
    _, sw = send(CommandApdu(0x00, 0x20, 0x00, 0x01, pin1.encode().ljust(8, b"\xff")))
    report.add("verify_pin1", sw == 0x9000, f"VERIFY PIN1 -> {sw:04X}")
    for f in profile.files:
        want = file_content(fill_template(f.content, sub), f.size, f.name)
        send(CommandApdu(0x00, 0xA4, 0x00, 0x0C, f.fid.to_bytes(2, "big")))
        got, sw = send(CommandApdu(0x00, 0xB0, 0, 0, le=f.size))
        report.add(f"file_{f.name}", sw == 0x9000 and got == want,
                   f"{f.name} {'matches the profile' if got == want else f'is {got.hex()}, expected {want.hex()}'}")
    _authenticate(send, report, Milenage(sub.k, sub.opc), sqn, random(16))
    return report


def _authenticate(send, report: ValidationReport, mil: Milenage, sqn: int, rand: bytes) -> None:  # type: ignore[no-untyped-def]
    vector = generate_vector(mil, rand, sqn.to_bytes(6, "big"), AMF)
    command = build_authenticate(rand, vector.autn)
    data, sw = send(command)
    try:
        result = parse_authenticate_response(data) if sw == 0x9000 else None
    except DecodeError as exc:
        result = None
        report.add("authenticate", False, str(exc))
    if isinstance(result, UmtsAuthResult):
        same = (result.res, result.ck, result.ik) == (vector.xres, vector.ck, vector.ik)
        report.add("authenticate", same, "RES, CK, IK as computed from the SHO's K/OPc" if same else
                   "RES/CK/IK differ from the host's")
        if result.kc is not None:
            report.add("kc", result.kc == vector.kc, "Kc = c3(CK, IK)")
    elif result is not None or sw != 0x9000:
        report.add("authenticate", False, f"AUTHENTICATE -> {sw:04X} {data.hex()}")
        return
    data, sw = send(command)  # the same SQN again: the USIM must ask for a resynchronisation
    try:
        replay = parse_authenticate_response(data) if sw == 0x9000 else None
        if not isinstance(replay, SyncFailure):
            report.add("resync", False, f"replayed AUTN answered {sw:04X} {data.hex()}, expected DC + AUTS")
            return
        sqn_ms = verify_auts(mil, rand, replay.auts)
        report.add("resync", int.from_bytes(sqn_ms, "big") >= sqn,
                   f"AUTS verifies (MAC-S), SQN_MS {sqn_ms.hex()}")
    except (DecodeError, IntegrityError) as exc:
        report.add("resync", False, str(exc))
