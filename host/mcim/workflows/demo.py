"""`mcim demo`: the whole TR 33.812 subcase 2b story on one card, step by step, every step an `.apdu` script.

EUM bootstrap -> DRF registration + PVA validation -> DPF download of SHO A's MCIM -> SHO A validation ->
authorised change to SHO B -> refused unauthorised attempts (third party keys, weak SPI, rolled-back counter) ->
refused replay -> key rotation (OTA and ISD) -> algorithm upgrade (3DES -> AES-128 -> AES-256).

The demo invents its own key material (random masters, SHO key sets) and writes it to `keys/` of its work
directory (mode 0600) so that the scripts it writes can be run again with `mcim run`; the vendor transport keys
are the public GlobalPlatform test keys 40..4F that development cards carry.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from ..aka import compute_opc
from ..errors import McimError
from ..fileio import write_atomic
from ..gp.keys import KeyAlgorithm, StaticKeys
from ..keystore import SoftKeySource
from ..runner import Status, run_script
from ..script.loader import load_script
from ..transport.base import Transport
from .bootstrap import DEFAULT_BOOTSTRAP_PROFILE, BootstrapProfile, derive_credentials, factory_script, put_key
from .identity import CardIdentity
from .provision import McimProfile, OtaSession, Subscription, hand_over, mcim_download, remote, remove_mcim
from .registry import Registry, pva_script
from .scripts import ScriptWriter
from .validate import validate_mcim

GP_TEST_KEY = bytes(range(0x40, 0x50))  # public GlobalPlatform test key 40..4F
PIN1 = "1234"  # TEST VALUE of the default card profile
# Who acts in each step, in TR 33.812's terms (DESIGN.md §1).
ROLES = {"bootstrap": "EUM", "register": "DRF, PVA", "download": "DPF", "validate": "SHO A",
         "change_authorized": "SHO A -> SHO B", "change_unauthorized_refused": "third party",
         "replay_refused": "eavesdropper", "upgrade_keys": "SHO B, issuer", "upgrade_algorithm": "SHO B"}
STEP_NAMES = ("bootstrap", "register", "download", "validate", "change_authorized", "change_unauthorized_refused",
              "replay_refused", "upgrade_keys", "upgrade_algorithm")


@dataclass
class StepOutcome:
    name: str
    ok: bool
    detail: str
    seconds: float
    script: str | None = None
    skipped: bool = False  # the target cannot do this step; `detail` says why (`ok` is then False)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": ROLES.get(self.name, ""), "ok": self.ok, "detail": self.detail,
                "seconds": round(self.seconds, 3),
                **({"script": self.script} if self.script else {}), **({"skipped": True} if self.skipped else {})}


@dataclass
class DemoReport:
    target: str
    work: str
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every step reached and every step that ran passed; a skipped step does not fail the run."""
        return [s.name for s in self.steps] == list(STEP_NAMES) and all(s.ok or s.skipped for s in self.steps) \
            and not all(s.skipped for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "target": self.target, "work": self.work, "steps": [s.to_json() for s in self.steps]}


def _key_file(path: Path, **keys: bytes) -> str:
    write_atomic(path, "".join(f"{name} = {value.hex()}\n" for name, value in keys.items()), mode=0o600)
    return str(path)


class Demo:
    """One run of the story against one transport; `snapshot` (None over PC/SC) proves refusals changed nothing."""

    _last_trace: tuple = ()
    skipped: ClassVar[Mapping[str, str]] = MappingProxyType({})  # step name -> why this target cannot do it

    def __init__(self, transport: Transport, work: Path, iccid: str, *,
                 snapshot: Callable[[], Any] | None = None, random: Callable[[int], bytes] = os.urandom) -> None:
        work = work.resolve()  # the scripts name files relative to themselves, so every path here is absolute
        self.transport, self.work, self.snapshot, self.random = transport, work, snapshot, random
        self.card = CardIdentity(iccid)
        self.keys_dir = work / "keys"
        self.scripts = work / "scripts"
        self.counters = str(work / "counters.sqlite")
        masters = {name: random(16) for name in ("isd_master", "dpf_master", "ro_k_master", "ro_op", "output_kek")}
        self.keys = SoftKeySource(masters, "demo")
        _key_file(self.keys_dir / "masters.keys", **masters)
        self.transport_keys = StaticKeys(0x30, GP_TEST_KEY, GP_TEST_KEY, GP_TEST_KEY)
        self.bootstrap_profile = BootstrapProfile.load(DEFAULT_BOOTSTRAP_PROFILE)
        self.mcim = McimProfile.load()
        self.creds = derive_credentials(self.bootstrap_profile, self.keys, self.card)
        self.holder = self._session("dpf", self.creds.ota)

    # ------------------------------------------------------------------------------------------ helpers

    def _session(self, who: str, keys: StaticKeys, spi: str = "1639") -> OtaSession:
        path = _key_file(self.keys_dir / f"{who}-kvn{keys.kvn:02x}.keys", kic=keys.enc, kid=keys.mac, kik=keys.dek)
        return OtaSession(keys, os.path.relpath(path, self.scripts), spi, self.counters, self.card.iccid)

    def _run(self, name: str, script: ScriptWriter, summary: str = "") -> tuple[bool, str, str]:
        path = script.write(self.scripts / f"{name}.apdu")
        result = run_script(load_script(str(path)), self.transport)
        self._last_trace = result.trace
        if result.passed:
            checks = f"{result.count(Status.PASSED)} checks passed"
            return True, f"{summary} ({checks})" if summary else checks, str(path)
        failed = next((o for o in result.outcomes if o.status in (Status.FAILED, Status.ERROR)), None)
        reason = str(result.error) if result.error else (f"{failed.where}: {failed.message}" if failed else "")
        return False, reason, str(path)

    def _ota_set(self, kvn: int, length: int = 16, algorithm: KeyAlgorithm = KeyAlgorithm.AES) -> StaticKeys:
        """A new OTA key set (KIc, KID, KIK) from the demo's injected randomness."""
        return StaticKeys(kvn, self.random(length), self.random(length), self.random(length), algorithm)


    def _unchanged(self, before: Any) -> bool:
        return self.snapshot is None or self.snapshot() == before

    # ------------------------------------------------------------------------------------------ the steps

    def bootstrap(self) -> tuple[bool, str, str]:
        transport_file = _key_file(self.keys_dir / "transport.keys", enc=GP_TEST_KEY, mac=GP_TEST_KEY,
                                   dek=GP_TEST_KEY)
        script = factory_script(self.bootstrap_profile, self.creds, self.transport_keys,
                                os.path.relpath(transport_file, self.scripts), rng=self.random)
        return self._run("01-bootstrap", script,
                         f"SCP03 with the transport keys; ISD keys diversified (KVN {self.creds.isd.kvn:02X}), "
                         f"DPF OTA key set KVN {self.creds.ota.kvn:02X}, PCID IMSI {self.creds.imsi}, card SECURED")

    def register(self) -> tuple[bool, str, str]:
        """DRF records the SHO choice; the PVA makes the card prove it holds its diversified keys."""
        isd_master = _key_file(self.keys_dir / "isd-master.keys", master=self.keys.secret("isd_master"))
        ok, detail, path = self._run("02-register", pva_script(self.card.iccid, os.path.relpath(
            isd_master, self.scripts), self.holder), "PVA: SCP03 under the diversified ISD keys, card SECURED, "
            "OTA PoR CC under the bootstrap key set; DRF records SHO A")
        if ok:  # the DRF records only a card the PVA found genuine
            registry = Registry(self.work / "registrations.sqlite")
            registry.register(self.card.iccid, "SHO-A", "DPF-1")
            registry.set_state(self.card.iccid, "validated")
        return ok, detail, path

    def download(self) -> tuple[bool, str, str]:
        """DPF: SHO A's MCIM over the air with the bootstrap key set, which is then handed over to SHO A."""
        self.sho_a = self._subscription("SHO-A", "001019000000001", self.mcim.instance_aid)
        self.sho_a_keys = self._ota_set(2)
        out = ScriptWriter().comment(f"DPF download of the MCIM of SHO A onto card {self.card.iccid}")
        mcim_download(out, self.mcim, self.sho_a, self.holder, self.sho_a_keys)
        ok, detail, path = self._run("03-download", out, f"MCIM {self.sho_a.imsi}: RAM install, RFM "
                                     f"{len(self.mcim.files) + 1} EFs, K/OPc under the KIK, EF.DIR, key set to SHO A")
        if ok:
            self.holder = self._session("sho-a", self.sho_a_keys)
        return ok, detail, path

    def validate(self) -> tuple[bool, str, str]:
        return self._validate(self.sho_a)

    def _validate(self, sub: Subscription) -> tuple[bool, str, str]:
        report = validate_mcim(self.transport, self.mcim, sub, pin1=PIN1, sqn=32, random=self.random)
        passed = sum(c.ok for c in report.checks)
        return report.ok, report.failures() or f"{passed} checks passed (files, RES/CK/IK/Kc, AUTS)", ""

    def change_authorized(self) -> tuple[bool, str, str]:
        """SHO A, the key set holder, removes its MCIM and hands the key set to SHO B, who downloads its own."""
        self.sho_b = self._subscription("SHO-B", "001029000000002", self.mcim.instance_aid[:-1] + b"\x02")
        self.sho_b_keys = self._ota_set(3)
        out = ScriptWriter().comment("Authorised change of subscription: SHO A -> SHO B")
        remove_mcim(out, self.mcim, self.sho_a.instance_aid or self.mcim.instance_aid, self.holder)
        hand_over(out, self.holder, self.sho_b_keys, "RAM: SHO A hands the OTA key set over to SHO B")
        sho_b = self._session("sho-b", self.sho_b_keys)
        mcim_download(out, self.mcim, self.sho_b, sho_b, None)
        ok, detail, path = self._run("05-change-authorized", out)
        if not ok:
            return ok, detail, path
        self.holder = sho_b
        ok, detail, _ = self._validate(self.sho_b)
        return ok, f"SHO B's MCIM validated: {detail}", path

    def change_unauthorized_refused(self) -> tuple[bool, str, str]:
        """A third party's keys, a too weak SPI and a rolled-back counter: each refused, the card unchanged."""
        before = self.snapshot() if self.snapshot else None
        third = self._session("third-party", self._ota_set(self.holder.keys.kvn))
        weak = OtaSession(self.holder.keys, self.holder.key_file, "1201", self.counters, self.card.iccid)
        out = ScriptWriter().comment("Unauthorised change attempts: every one must be refused with its PoR status")
        for session, options, title in (
                (third, {"expect_por": "01"}, "a third party's keys: RC/CC/DS failed (PoR 01)"),
                (weak, {"expect_por": "0A"}, "an SPI below the TAR's minimum security level (PoR 0A)"),
                (self.holder, {"counter": 1, "expect_por": "02"}, "a rolled-back counter (PoR 02)")):
            session.begin(out, "000000", title, **options)
            out.raw(f"80 E4 00 00 12 4F10 {(self.sho_b.instance_aid or b'').hex().upper()}")
            out.directive("ota", "end")
        ok, detail, path = self._run("06-change-unauthorized", out)
        if ok and not self._unchanged(before):
            return False, "a refused packet changed the card", path
        return ok, detail if not ok else "3 attempts refused (PoR 01, 0A, 02); card state unchanged", path

    def replay_refused(self) -> tuple[bool, str, str]:
        """The exact bytes of an accepted packet, sent again: counter low (PoR 02), nothing changes."""
        from ..ota import PorVerifier, send_sms_pp

        out = ScriptWriter().comment("A packet the card accepts, kept by an eavesdropper")
        self.holder.begin(out, "B00000", "An accepted packet")
        out.raw("00 A4 00 0C 02 2FE2 => 9000")
        out.directive("ota", "end")
        ok, detail, path = self._run("07-replay-original", out)
        if not ok:
            return ok, detail, path
        envelopes = [bytes.fromhex(e.command) for e in self._last_trace if e.command and e.command[2:4] == "c2"]
        before = self.snapshot() if self.snapshot else None
        found = send_sms_pp(self.transport.transmit, envelopes).por
        if not envelopes or found is None:
            return False, f"no PoR to the replayed packet ({len(envelopes)} ENVELOPEs resent)", path
        por = PorVerifier(self.holder.context("B00000")).verify(found.user_data)
        if por.status != 0x02:
            return False, f"replayed packet answered PoR status {por.status:02X}, expected 02 (counter low)", path
        if not self._unchanged(before):
            return False, "the replayed packet changed the card", path
        return True, "replayed ENVELOPE refused with PoR 02 (counter low); card state unchanged", path

    def upgrade_keys(self) -> tuple[bool, str, str]:
        """Rotate the OTA key set (PUT KEY under the KIK) and the ISD keys (PUT KEY in SCP03), then use both."""
        rotated = self._ota_set(4)
        out = ScriptWriter().comment("Key rotation: the SHO's OTA key set and the ISD key set")
        hand_over(out, self.holder, rotated, "RAM: rotate the OTA key set (KVN 03 -> 04)")
        new_holder = self._session("sho-b", rotated)
        new_holder.begin(out, "B00000", "The rotated OTA key set works")
        out.raw("00 A4 00 0C 02 2FE2 => 9000")
        out.directive("ota", "end")
        self._rotate_isd_keys(out)
        ok, detail, path = self._run("08-upgrade-keys", out, "OTA key set KVN 03 -> 04 under the KIK; ISD key set "
                                     "KVN 30 -> 31 (AES-128 -> AES-256) in SCP03; both then used")
        if ok:
            self.holder = new_holder
        return ok, detail, path

    def _rotate_isd_keys(self, out: ScriptWriter) -> None:
        """The ISD's per-card key set replaced by a new AES-256 one inside SCP03 (keys under the current DEK,
        KCVs checked), then a new session opened with it."""
        new = StaticKeys(0x31, self.random(32), self.random(32), self.random(32))
        new_file = _key_file(self.keys_dir / "isd-kvn31.keys", enc=new.enc, mac=new.mac, dek=new.dek)
        isd_master = os.path.relpath(self.keys_dir / "isd-master.keys", self.scripts)
        command = put_key(new, replace=self.creds.isd.kvn)
        out.step("ISD: replace the per-card key set (KVN 30, AES-128) with an AES-256 one (KVN 31)")
        out.raw("00 A4 04 00 08 A000000151000000 [00] => 9000 data ...")
        out.directive("scp03", "open", kvn=f"{self.creds.isd.kvn:02X}", level="33", master=isd_master, scheme="kdf3")
        out.command(command.to_apdu(self.creds.isd.dek, rng=self.random), data=command.expected_response())
        out.directive("scp03", "close")
        out.step("ISD: the new key set opens SCP03")
        out.raw("00 A4 04 00 08 A000000151000000 [00] => 9000 data ...")
        out.directive("scp03", "open", kvn="31", level="33", keys=os.path.relpath(new_file, self.scripts))
        out.raw("80 F2 80 02 02 4F00 [00] => 9000 data E3 XX 4F 08 A000000151000000 9F70 01 0F ...")
        out.directive("scp03", "close")

    def upgrade_algorithm(self) -> tuple[bool, str, str]:
        """A legacy 3DES OTA key set moved to AES-128, then AES-256, each proven by an accepted packet."""
        out = ScriptWriter().comment("Algorithm upgrade: 3DES -> AES-128 -> AES-256")
        legacy = self._ota_set(5, 16, KeyAlgorithm.DES3)
        command = put_key(legacy)
        self.holder.begin(out, "000000", "RAM: add a legacy 3DES key set (KVN 05)")
        out.command(remote(command.to_apdu(self.holder.keys.dek, self.holder.keys.algorithm)),
                    data=command.expected_response())
        out.directive("ota", "end")
        session = self._session("legacy", legacy)
        upgrades = ((self._ota_set(6, 16), "AES-128 (KVN 06)"), (self._ota_set(7, 32), "AES-256 (KVN 07)"))
        for algorithm_keys, title in upgrades:
            hand_over(out, session, algorithm_keys, f"RAM: replace the key set with {title}")
            session = self._session(f"upgraded-kvn{algorithm_keys.kvn}", algorithm_keys)
            session.begin(out, "B00000", f"The {title} key set works")
            out.raw("00 A4 00 0C 02 2FE2 => 9000")
            out.directive("ota", "end")
        return self._run("09-upgrade-algorithm", out, "3DES (KVN 05) -> AES-128 (06) -> AES-256 (07), each used")

    def _subscription(self, sho: str, imsi: str, aid: bytes) -> Subscription:
        k, op = self.random(16), self.random(16)
        return Subscription(sho, imsi, k, compute_opc(k, op), sho.replace("-", " "), aid)


def read_iccid(transport: Transport) -> str:
    """The card's ICCID from EF.ICCID (TS 102 221 §13.2), as any terminal reads it."""
    from ..transport.t0 import T0Layer
    from ..usim import decode_iccid

    card = T0Layer(transport)
    card.transmit(bytes.fromhex("00A4000C022FE2"))
    raw = card.transmit(bytes.fromhex("00B000000A"))
    if raw[-2:] != b"\x90\x00":
        raise McimError(f"READ BINARY EF.ICCID answered {raw[-2:].hex()}", where="card identity",
                        expected="9000 and 10 bytes")
    return decode_iccid(raw[:-2])


def probe(transport: Transport) -> tuple[bytes, ...]:
    """What an outsider can see of the card without keys: EF.DIR's records and the answers to selecting the
    applications they list.  Over PC/SC this is the before/after comparison of refused commands."""
    from ..transport.t0 import T0Layer

    card = T0Layer(transport)
    seen = [card.transmit(bytes.fromhex("00A4000C022F00"))]
    seen += [card.transmit(bytes((0x00, 0xB2, n, 0x04, 0x00))) for n in range(1, 5)]
    return tuple(seen)


def run_demo(transport: Transport, work: Path, iccid: str, target: str, *,
             snapshot: Callable[[], Any] | None = None,
             progress: Callable[[StepOutcome], None] | None = None) -> DemoReport:
    return run_story(Demo(transport, work, iccid, snapshot=snapshot), target, progress=progress)


def run_story(demo: Demo, target: str, *, progress: Callable[[StepOutcome], None] | None = None) -> DemoReport:
    """The steps in order, up to the first that fails; the steps `demo.skipped` names are reported with their
    reason instead of run."""
    report = DemoReport(target, str(demo.work))
    for name in STEP_NAMES:
        outcome = _skipped(name, demo.skipped[name]) if name in demo.skipped else _step(demo, name)
        report.steps.append(outcome)
        if progress:
            progress(outcome)
        if not (outcome.ok or outcome.skipped):
            break
    write_atomic(demo.work / "report.json", json.dumps(report.to_json(), indent=2) + "\n")
    return report


def _step(demo: Demo, name: str) -> StepOutcome:
    started = time.perf_counter()
    try:
        ok, detail, script = getattr(demo, name)()
    except McimError as exc:
        ok, detail, script = False, str(exc), None
    return StepOutcome(name, ok, detail, time.perf_counter() - started, script)


def _skipped(name: str, reason: str) -> StepOutcome:
    return StepOutcome(name, False, reason, 0.0, skipped=True)
