"""`mcim demo --target jcardsim`: the subcase 2b story on mcim's Java Card applets (applet-spec/javacard) running
on jCardSim behind pcscd + vpcd, as far as the applets support it.

How each step maps onto the two applets (their README and applet-spec/profiles/personalisation.md):
- bootstrap: the launcher creates the MCIM and the bootstrap applet instances (jCardSim's 80 B8, each with a
  personalisation key KPERSO drawn for the run); the EUM writes the card's EF.ICCID (the MCIM's first STORE DATA
  block: it serves the UICC's files) and personalises the bootstrap applet with the card's OTA key set derived as
  for any card of the batch (DGIs 0201 TAR + minimum SPI1, 0202 key version + counter, 8201 KIc/KID/KIK).
  jCardSim has no GlobalPlatform card manager: no ISD, no SCP03 keys, and one MCIM instance, so no PCID USIM.
- register: the DRF records the SHO; the PVA checks the life cycle the factory left and reads EF.ICCID in a
  packet under the bootstrap key set, whose PoR CC must verify.
- download: the MCIM instance exists unpersonalised, so the DPF writes its files (RFM UPDATE BINARY) and K/OPc
  (the last STORE DATA block, DGI 8101 enciphered under the MCIM's KPERSO) over the air, one packet per SMS (the
  applet takes no concatenated SMS).  No RAM INSTALL, CREATE FILE, EF.DIR record or key handover.
- validate: `validate_mcim` against the files the MCIM serves; the applet has no PIN1 (the terminal is treated
  as holding it), so VERIFY must answer 6D00 instead of 9000.
- the refusals: a third party's keys, an SPI below the minimum security level, a rolled-back counter and a
  replayed ENVELOPE, each compared with the MCIM's files read before and after.
- change_authorized, upgrade_keys and upgrade_algorithm are skipped: the applets cannot do them (`SKIPPED`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from ..aka import build_authenticate
from ..apdu import CommandApdu
from ..errors import UnsupportedError
from ..filespec import file_content
from ..gp.ccm import StoreDataEncryption, StoreDataStructure, encode_dgi, store_data_commands
from ..jcardsim_target import find_slot
from ..ota import Address, FixedCounter, OtaWrapper, PorVerifier, SmsOptions, send_sms_pp
from ..perso import EF_ICCID, MCIM_FILES, MSL_MINIMUM_SPI1, BootstrapPersonalisation, Dgi, OtaTar, secret_dgi
from ..transport.base import Transport
from ..transport.jcardsim import BOOTSTRAP_AID, MCIM_AID, JCardSimProcess, locate_build, mcim_applets, new_perso_keys
from ..transport.t0 import T0Layer
from ..transport.vpcd_slots import DEFAULT_READER_CONF
from ..usim import Plmn, encode_fplmn
from .demo import PIN1, Demo, DemoReport, StepOutcome, run_story
from .provision import TAR_RAM, TAR_SHARED_FS, McimProfile, OtaSession, fill_template
from .registry import Registry
from .scripts import ScriptWriter, apdu_text
from .validate import Check, validate_mcim

DEMO_ICCID = "8988200000000000014"  # TEST VALUE of applet-spec/profiles/default.yaml (Luhn check digit 4)
MF, CURRENT_ADF = 0x3F00, 0x7FFF  # TS 102 221 §8.3: 7FFF selects the current application's ADF
SW_INS_NOT_SUPPORTED = "6D00"
SW_CONDITIONS_NOT_SATISFIED = "6985"
FORBIDDEN_PLMN = Plmn("001", "02")  # ITU-T test network: what the replayed packet would forbid again
THIRD_PARTY_COUNTER = 1 << 32  # far ahead of the card's: only the keys are wrong
SKIPPED = MappingProxyType({
    "change_authorized": "skipped: the change of subscription deletes the MCIM instance (GP DELETE over RAM) and "
                         "hands the OTA key set to the next key holder (PUT KEY under the KIK); the bootstrap "
                         "applet runs neither (its RFM/RAM subset: SELECT, READ/UPDATE BINARY, STORE DATA, SET "
                         "STATUS) and jCardSim creates instances only through its launcher (80 B8)",
    "upgrade_keys": "skipped: rotating the OTA key set needs PUT KEY under the KIK, which the bootstrap applet "
                    "stores but no command uses (applet-spec/javacard/README.md), and there are no ISD keys to "
                    "rotate (no GlobalPlatform card manager on jCardSim)",
    "upgrade_algorithm": "skipped: the bootstrap applet holds one AES-128 key set (DGI 8201) and implements no "
                         "3DES and no AES-256 (applet-spec/javacard/README.md, 'Not implemented'), nor PUT KEY",
})


@dataclass(frozen=True)
class PersoKeys:
    """The personalisation keys the launcher gave the two instances (their install data); never shown."""

    mcim: bytes = field(repr=False)
    bootstrap: bytes = field(repr=False)


def select_aid(aid: bytes) -> CommandApdu:
    return CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid)


def select_fid(fid: int) -> CommandApdu:
    return CommandApdu(0x00, 0xA4, 0x00, 0x0C, fid.to_bytes(2, "big"))


def minimum_spi1(profile: McimProfile) -> int:
    """The profile's minimum security level as the bootstrap applet takes it (DGI 0201): TS 102 226
    §8.2.1.3.2.1.1 MSL parameter 01, whose one data byte is the minimum SPI1."""
    if len(profile.msl) != 2 or profile.msl[0] != MSL_MINIMUM_SPI1:
        raise UnsupportedError(f"MSL {profile.msl.hex().upper()}", where=f"MCIM profile {profile.name}: usim.msl",
                               expected="01 then the minimum SPI1 (the bootstrap applet's only form)")
    return profile.msl[1]


def one_sms_packets(session: OtaSession, tar: str, units: list[list[CommandApdu]]) -> list[list[CommandApdu]]:
    """`units` (commands that must travel together, e.g. a SELECT and its UPDATE BINARY) packed in order into as
    few packets as possible, each fitting one SMS: the bootstrap applet refuses concatenated SMS."""
    wrapper = OtaWrapper(session.context(tar), FixedCounter(0), SmsOptions(Address.from_digits("0000", 0x81)))

    def fits(commands: list[CommandApdu]) -> bool:
        return len(wrapper.wrap([c.to_bytes() for c in commands]).envelopes) == 1

    packets: list[list[CommandApdu]] = []
    for unit in units:
        if not fits(unit):
            raise UnsupportedError(f"{len(unit)} commands ({sum(len(c.to_bytes()) for c in unit)} bytes)",
                                   where="OTA packet for jCardSim", expected="commands that fit one SMS")
        if packets and fits(packets[-1] + unit):
            packets[-1] += unit
        else:
            packets.append(list(unit))
    return packets


class JCardSimDemo(Demo):
    """The story on a jCardSim started with the MCIM and the bootstrap applet created and not personalised."""

    skipped = SKIPPED

    def __init__(self, card: Transport, work: Path, iccid: str, perso: PersoKeys, *,
                 random: Callable[[int], bytes] = os.urandom) -> None:
        super().__init__(card, work, iccid, random=random)
        self.perso = perso
        served = tuple(f for f in self.mcim.files if f.fid in MCIM_FILES)
        self.not_served = [f.name for f in self.mcim.files if f.fid not in MCIM_FILES]
        self.mcim = replace(self.mcim, instance_aid=MCIM_AID, files=served)

    def mcim_files(self) -> tuple[bytes, ...]:
        """What the terminal reads of the MCIM: its selection (a LOCKED MCIM refuses it) and every EF it serves."""
        card = T0Layer(self.transport)
        commands = [select_aid(MCIM_AID)]
        for df, fids in ((MF, [EF_ICCID]), (CURRENT_ADF, [fid for fid in MCIM_FILES if fid != EF_ICCID])):
            commands.append(select_fid(df))
            for fid in fids:
                commands += [select_fid(fid), CommandApdu(0x00, 0xB0, 0, 0, le=MCIM_FILES[fid])]
        return tuple(card.transmit(command.to_bytes()) for command in commands)

    # ------------------------------------------------------------------------------------------ the steps

    def bootstrap(self) -> tuple[bool, str, str]:
        ota = self.creds.ota
        tars = tuple(OtaTar(bytes.fromhex(tar), minimum_spi1(self.mcim))
                     for tar in (TAR_RAM, TAR_SHARED_FS, self.mcim.tar))
        personalisation = BootstrapPersonalisation(tars, ota.kvn, kic=ota.enc, kid=ota.mac, kik=ota.dek)
        out = ScriptWriter().comment(
            f"mcim factory bootstrap on jCardSim (EUM {self.bootstrap_profile.eum or '-'}), ICCID {self.card.iccid}\n"
            "jCardSim has no card manager: the launcher created the instances, each with its KPERSO; secret DGIs\n"
            "travel enciphered under it (personalisation.md).")
        out.section(f"Bootstrap {self.card.iccid}")
        out.step("The card's identity: EF.ICCID, in the MCIM's first STORE DATA block (the rest comes over the air)")
        out.command(select_aid(MCIM_AID))
        out.command(CommandApdu(0x80, 0xE2, StoreDataStructure.DGI, 0x00, encode_dgi(
            Dgi.FILE_CONTENT, EF_ICCID.to_bytes(2, "big") + self.card.kdd)))
        out.step(f"The bootstrap applet: TARs {', '.join(t.tar.hex().upper() for t in tars)} with minimum SPI1 "
                 f"{tars[0].minimum_security:02X}, key set {ota.kvn:02X} with counter 0, KIc/KID/KIK")
        out.command(select_aid(BOOTSTRAP_AID))
        for command in personalisation.commands(self.perso.bootstrap):
            out.command(command)
        return _noted(self._run("01-bootstrap", out),
                      f"EF.ICCID written, bootstrap applet personalised with the card's OTA key set (KVN "
                      f"{ota.kvn:02X}, AES-128 KIc/KID/KIK derived from the DPF master and the ICCID); no ISD keys "
                      "and no PCID USIM (jCardSim has no GP card manager, one MCIM instance)")

    def register(self) -> tuple[bool, str, str]:
        """DRF records the SHO choice; the PVA checks the factory's life cycle and the card's OTA key set."""
        out = ScriptWriter().comment(f"PVA: card {self.card.iccid} proves its bootstrap OTA key set")
        out.step("Life cycle as the factory left it: bootstrap applet PERSONALISED, MCIM SELECTABLE")
        out.command(select_aid(BOOTSTRAP_AID))
        out.command(CommandApdu(0x80, 0xE2, StoreDataStructure.DGI | 0x80, 0x00,
                                encode_dgi(Dgi.OTA_TAR, bytes.fromhex("B0FFFF16"))), sw=SW_CONDITIONS_NOT_SATISFIED,
                    note="no more STORE DATA once personalised")
        out.command(select_aid(MCIM_AID))
        out.command(build_authenticate(self.random(16), self.random(16)), sw=SW_CONDITIONS_NOT_SATISFIED,
                    note="no AUTHENTICATE before its K/OPc arrive")
        self.holder.begin(out, TAR_SHARED_FS, "An OTA PoR with a valid CC under the DPF's bootstrap key set: "
                                              "RFM reads EF.ICCID")
        out.command(select_fid(MF))
        out.command(select_fid(EF_ICCID))
        out.command(CommandApdu(0x00, 0xB0, 0, 0, le=len(self.card.kdd)), data=self.card.kdd)
        out.directive("ota", "end")
        ok, detail, path = self._run("02-register", out)
        if ok:  # a card that fails the validation is not registered
            Registry(self.work / "registrations.sqlite").register(self.card.iccid, "SHO-A", "DPF-1")
        return _noted((ok, detail, path), "life cycle as the factory left it, PoR CC verified, EF.ICCID read back, "
                      "registered with the DRF; no SCP03 card cryptogram (no ISD on jCardSim)")

    def download(self) -> tuple[bool, str, str]:
        """DPF: SHO A's MCIM personalised over the air through the bootstrap applet, every PoR verified."""
        self.sho_a = self._subscription("SHO-A", "001019000000001", MCIM_AID)
        out = ScriptWriter().comment(f"DPF download of the MCIM of SHO A onto card {self.card.iccid} (jCardSim)")
        out.step("The terminal's USIM is selected: ENVELOPEs reach the bootstrap applet through it")
        out.command(select_aid(MCIM_AID))
        files = [[select_fid(f.fid), CommandApdu(0x00, 0xD6, 0, 0, file_content(
            fill_template(f.content, self.sho_a), MCIM_FILES[f.fid], f.name))] for f in self.mcim.files]
        packets = one_sms_packets(self.holder, self.mcim.tar, files)
        for number, packet in enumerate(packets, 1):
            self.holder.begin(out, self.mcim.tar, f"RFM: write the MCIM's files ({number}/{len(packets)})")
            for command in packet:
                out.command(command)
            out.directive("ota", "end")
        self.holder.begin(out, TAR_RAM, "RAM: K/OPc in the MCIM's last STORE DATA block, enciphered (DGI 8101)")
        keys = secret_dgi(Dgi.SUBSCRIBER_KEYS, self.perso.mcim, self.sho_a.k + self.sho_a.opc)
        for command in store_data_commands([keys], structure=StoreDataStructure.DGI,
                                           encryption=StoreDataEncryption.APPLICATION_DEPENDENT, first_block=1):
            out.command(command)
        out.directive("ota", "end")
        return _noted(self._run("03-download", out),
                      f"{len(self.mcim.files)} EFs in {len(packets)} RFM packets, K/OPc by STORE DATA, every PoR "
                      "verified; the instance pre-exists (no RAM INSTALL, no CREATE FILE, no EF.DIR record), the key "
                      f"set stays with the DPF (no PUT KEY); not on the applet: {', '.join(self.not_served) or '-'}")

    def validate(self) -> tuple[bool, str, str]:
        report = validate_mcim(self.transport, self.mcim, self.sho_a, pin1=PIN1, sqn=32, random=self.random)
        no_pin1 = self._no_pin1()
        report.checks = [no_pin1 if c.name == "verify_pin1" else c for c in report.checks]
        passed = sum(c.ok for c in report.checks)
        return report.ok, report.failures() or (
            f"{passed} checks passed (files, RES/CK/IK/Kc, AUTS); the MCIM has no PIN1: VERIFY answered "
            f"{SW_INS_NOT_SUPPORTED} as documented"), ""

    def _no_pin1(self) -> Check:
        """personalisation.md: the applet has no PIN1 and treats the terminal as holding it, so VERIFY PIN1 is
        an unknown instruction (6D00); 9000 or a retry counter would mean a PIN the profile does not describe."""
        raw = T0Layer(self.transport).transmit(
            CommandApdu(0x00, 0x20, 0x00, 0x01, PIN1.encode().ljust(8, b"\xff")).to_bytes())
        return Check("no_pin1", raw.hex().upper() == SW_INS_NOT_SUPPORTED, f"VERIFY PIN1 -> {raw.hex().upper()}")

    def change_unauthorized_refused(self) -> tuple[bool, str, str]:
        """A third party's keys, a too weak SPI and a rolled-back counter, each trying to take the subscription
        over (EF.IMSI) and lock the MCIM: each refused, the MCIM's files unchanged."""
        before = self.mcim_files()
        weak = OtaSession(self.holder.keys, self.holder.key_file, "1201", self.counters, self.card.iccid)
        takeover = [select_fid(0x6F07), CommandApdu(0x00, 0xD6, 0, 0, file_content(
                    {"imsi": "001029999999999"}, 9, "EF.IMSI")), CommandApdu(0x80, 0xF0, 0x40, 0x8F, MCIM_AID)]
        out = ScriptWriter().comment("Unauthorised change attempts: every one must be refused with its PoR status")
        out.command(select_aid(MCIM_AID))
        self._third_party(out, takeover)
        for session, options, title in (
                (weak, {"expect_por": "0A"}, "an SPI below the TAR's minimum security level (PoR 0A)"),
                (self.holder, {"counter": 1, "expect_por": "02"}, "a rolled-back counter (PoR 02)")):
            session.begin(out, self.mcim.tar, title, **options)
            for command in takeover:
                out.raw(apdu_text(command))
            out.directive("ota", "end")
        ok, detail, path = self._run("06-change-unauthorized", out)
        if not ok:
            return ok, detail, path
        if self.mcim_files() != before:
            return False, "a refused packet changed the MCIM's files", path
        return True, "3 attempts refused (PoR 01, 0A, 02); the MCIM's files unchanged", path

    def _third_party(self, out: ScriptWriter, commands: list[CommandApdu]) -> None:
        """The third party's packet as the ENVELOPE it sends, with the PoR the card must answer in clear."""
        third = self._session("third-party", self._ota_set(self.holder.keys.kvn))
        wrapper = OtaWrapper(third.context(self.mcim.tar), FixedCounter(THIRD_PARTY_COUNTER),
                             SmsOptions(Address.from_digits("0000", 0x81)))
        [envelope] = wrapper.wrap([c.to_bytes() for c in commands]).envelopes
        out.step("a third party's keys (its own key set under the same KVN): PoR 01 (CC failed)")
        out.comment("The PoR comes in clear (RHL 0A, no CC), its CNTR zeros: the counter travelled enciphered and\n"
                    "nothing deciphered from an unauthenticated packet is echoed.")
        out.command(CommandApdu.parse(envelope), data=f"027100000b0a{self.mcim.tar.upper()}000000000000 01")

    def replay_refused(self) -> tuple[bool, str, str]:
        """The DPF forbids a PLMN, then lifts it; the first packet's exact ENVELOPE sent again must be refused
        (PoR 02, counter low) and the PLMN stay allowed."""
        fplmn = next(f for f in self.mcim.files if f.fid == 0x6F7B)
        allowed = file_content(fill_template(fplmn.content, self.sho_a), fplmn.size, fplmn.name)
        out = ScriptWriter().comment("Two packets the card accepts; an eavesdropper keeps the first")
        out.command(select_aid(MCIM_AID))
        for content, title in ((encode_fplmn([FORBIDDEN_PLMN], fplmn.size // 3), f"forbid {FORBIDDEN_PLMN}"),
                               (allowed, "lift it again")):
            self.holder.begin(out, self.mcim.tar, f"RFM: {title} (EF.FPLMN)")
            out.command(select_fid(fplmn.fid))
            out.command(CommandApdu(0x00, 0xD6, 0, 0, content))
            out.directive("ota", "end")
        ok, detail, path = self._run("07-replay-original", out)
        if not ok:
            return ok, detail, path
        envelopes = [bytes.fromhex(e.command) for e in self._last_trace if e.command and e.command[2:4] == "c2"]
        before = self.mcim_files()
        found = send_sms_pp(self.transport.transmit, envelopes[:1]).por
        if not envelopes or found is None:
            return False, "no PoR to the replayed packet", path
        por = PorVerifier(self.holder.context(self.mcim.tar)).verify(found.user_data)
        if por.status != 0x02:
            return False, f"replayed packet answered PoR status {por.status:02X}, expected 02 (counter low)", path
        if self.mcim_files() != before:
            return False, "the replayed packet changed the MCIM's files", path
        return True, (f"replayed ENVELOPE refused with PoR 02 (counter low); {FORBIDDEN_PLMN} still allowed, the "
                      "MCIM's files unchanged"), path


def _noted(result: tuple[bool, str, str], note: str) -> tuple[bool, str, str]:
    """A passed step's detail with what it did on jCardSim and what it could not do there."""
    ok, detail, path = result
    return ok, f"{detail}: {note}" if ok else detail, path


def run_jcardsim_demo(work: Path, *, reader: str | None = None, port: int | None = None,
                      reader_conf: Path = DEFAULT_READER_CONF, iccid: str = DEMO_ICCID, timeout: float = 5.0,
                      progress: Callable[[StepOutcome], None] | None = None) -> DemoReport:
    """jCardSim started in a vpcd slot (`reader`/`port`, else the first free one) with fresh applet instances,
    the story run on it, jCardSim stopped."""
    build = locate_build()
    slot = find_slot(reader, port, reader_conf)
    perso = PersoKeys(*new_perso_keys())
    card = JCardSimProcess(build.classpath, slot.port, applets=mcim_applets(perso.mcim, perso.bootstrap),
                           reader=slot.reader, timeout=timeout)
    card.start()
    try:
        return run_story(JCardSimDemo(card, work, iccid, perso), f"jcardsim ({slot.reader})", progress=progress)
    finally:
        card.stop()
