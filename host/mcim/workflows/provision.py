"""DPF: MCIM download over the air (TR 33.812 subcase 2b, step 3), and the key set handovers of later steps.

The campaign is a list of secured packets, each written as an `.ota begin ... .ota end` block of an `.apdu`
script (so the same file is the audit record, the input of `mcim run`, and what a real DPF sends):

1. RAM (TAR 000000): INSTALL [for install and make selectable] of the card's native USIM module as the MCIM
   instance, with the TS 102 226 UICC parameters (its RFM TAR, minimum security level, access domain).
2. RFM on the new ADF: CREATE FILE EF.ARR and every EF of the MCIM profile, UPDATE the contents.
3. RAM: INSTALL [for personalization] + STORE DATA of K || OPc enciphered under the KIK (never in clear).
4. RFM on the UICC shared file system (TAR B00000): the MCIM's EF.DIR record.
5. RAM: PUT KEY: the current key holder's OTA key set is replaced by the next holder's, under the KIK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..apdu import CommandApdu
from ..filespec import encode_rule, file_content
from ..gp import ccm
from ..gp.install_params import (
    AccessDomain,
    FileSystemAccess,
    InstallParameters,
    MinimumSecurityLevel,
    UiccAccessParameters,
    UiccSystemParameters,
    UiccToolkitParameters,
)
from ..gp.keys import KeyAlgorithm, StaticKeys
from ..ota import Algorithm, KeyRef, OtaContext, OtaKeys, Spi
from ..usim import NO_SFI, DirRecord, Fcp, FileDescriptor, FileType, Structure, encode_arr_record
from .bootstrap import personalisation_dgis, put_key
from .profiles import PROFILES, load_checked
from .scripts import ScriptWriter

DEFAULT_MCIM_PROFILE = PROFILES / "mcim.yaml"
TAR_RAM = "000000"
TAR_SHARED_FS = "B00000"
EF_ARR, EF_DIR = 0x6F06, 0x2F00
# The ADF's EF.ARR is itself governed by the MF's EF.ARR (2F06), record 2 "issuer-managed" of the card profiles:
# its own records do not exist yet when it is written (TS 102 221 §9.2.4: EF.ARR is searched up to the MF).
MF_ISSUER_RULE = (0x2F06, 2)
EF_DIR_RECORD_LENGTH = 38
ARR_RECORD_LENGTH = 48
_TEMPLATE = re.compile(r"\$\{([A-Z_]+)\}")


@dataclass(frozen=True)
class McimFile:
    fid: int
    name: str
    size: int
    sfi: int | None
    arr: int
    content: dict[str, Any]


@dataclass(frozen=True)
class McimProfile:
    name: str
    load_file: bytes
    module: bytes
    instance_aid: bytes
    label: str
    dir_record: int
    tar: str
    msl: bytes
    access_domain: bytes
    arr: tuple[dict[str, str], ...]
    files: tuple[McimFile, ...]

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MCIM_PROFILE) -> McimProfile:
        """The profile, checked against mcim.schema.json (errors name the field)."""
        doc = load_checked(path, "mcim.schema.json")
        usim = doc["usim"]
        files = tuple(McimFile(int(f["fid"], 16), f["name"], f["size"], f.get("sfi"), f["arr"], dict(f["content"]))
                      for f in doc["files"])
        return cls(doc["profile"], bytes.fromhex(usim["load_file"]), bytes.fromhex(usim["module"]),
                   bytes.fromhex(usim["instance_aid"]), usim.get("label", "MCIM"), usim["dir_record"], usim["tar"],
                   bytes.fromhex(usim["msl"]), bytes.fromhex(usim["access_domain"]), tuple(doc["arr"]), files)


@dataclass(frozen=True)
class Subscription:
    """The SHO's data for one card: its identity on the network and its AKA secrets."""

    sho: str
    imsi: str
    k: bytes = field(repr=False)
    opc: bytes = field(repr=False)
    spn: str = ""
    instance_aid: bytes | None = None


@dataclass(frozen=True)
class OtaSession:
    """What the sending entity needs for one packet: the key set on the card, the SPI and the key file the
    `.ota` directive reads (names kic, kid, kik)."""

    keys: StaticKeys
    key_file: str
    spi: str = "1639"  # cipher + CC + counter higher; PoR required, CC, ciphered, via SMS-SUBMIT (DIGEST §1.3)
    counter_store: str | None = None
    card: str | None = None

    @property
    def algorithm(self) -> str:
        """The `--kic-alg`/`--kid-alg` word of this key set (TS 102 225 §5.1.2: the key length picks 3DES 2/3)."""
        if self.keys.algorithm is KeyAlgorithm.AES:
            return "aes"
        return "3des2" if len(self.keys.enc) == 16 else "3des3"

    def context(self, tar: str) -> OtaContext:
        """The host's view of this key set for verifying a PoR outside a script."""
        algorithm = Algorithm(self.algorithm)
        return OtaContext(Spi.from_hex(self.spi), KeyRef.for_cipher(self.keys.kvn, algorithm),
                          KeyRef.for_cc(self.keys.kvn, algorithm), bytes.fromhex(tar),
                          OtaKeys(self.keys.enc, self.keys.mac))

    def begin(self, out: ScriptWriter, tar: str, title: str, **extra: str | int) -> None:
        out.step(title)
        options: dict[str, str | int] = {"tar": tar, "spi": self.spi, "kic": self.keys.kvn, "kid": self.keys.kvn,
                                         "kic_alg": self.algorithm, "kid_alg": self.algorithm,
                                         "keys": self.key_file, **extra}
        if self.counter_store and "counter" not in extra:
            options.update(counter_store=self.counter_store, card=self.card or "card")
        out.directive("ota", "begin", **options)


def remote(apdu: CommandApdu) -> CommandApdu:
    """A command as a compact remote script carries it: without Le (TS 102 226 §5.1.1: the card reads each
    command T=0 style, so a case 4 command goes as case 3 and its data comes back in the PoR)."""
    return replace(apdu, le=None) if apdu.le is not None and apdu.data else apdu


def install_parameters(profile: McimProfile, aid: bytes) -> InstallParameters:
    """TS 102 226 §8.2.1.3: the RFM TAR and minimum security level (toolkit field 80), and the access domain
    its RFM has on the instance's own file system (UICC administrative access, field 82)."""
    msl = MinimumSecurityLevel(profile.msl[0], profile.msl[1:])
    domain = AccessDomain.parse(profile.access_domain)
    return InstallParameters(b"", uicc=UiccSystemParameters(
        toolkit=UiccToolkitParameters(tars=(bytes.fromhex(profile.tar),), minimum_security_level=msl),
        administrative_access=UiccAccessParameters((FileSystemAccess(aid, domain),))))


def fill_template(content: dict[str, Any], sub: Subscription) -> dict[str, Any]:
    values = {"IMSI": sub.imsi, "SPN": sub.spn or sub.sho}

    def expand(value: Any) -> Any:
        if isinstance(value, str):
            return _TEMPLATE.sub(lambda m: values[m.group(1)], value)
        if isinstance(value, dict):
            return {k: expand(v) for k, v in value.items()}
        return value

    return expand(content)


def file_commands(profile: McimProfile, sub: Subscription) -> list[CommandApdu]:
    """CREATE FILE (TS 102 222 §6.3; the new file is then current) and its content, for EF.ARR and each EF."""
    records = [encode_arr_record(encode_rule(rule, f"arr[{i}]"), ARR_RECORD_LENGTH)
               for i, rule in enumerate(profile.arr)]
    arr_fcp = Fcp(FileDescriptor.for_file(FileType.WORKING_EF, Structure.LINEAR_FIXED,
                                          record_length=ARR_RECORD_LENGTH, record_count=len(records)),
                  fid=EF_ARR, arr=MF_ISSUER_RULE, file_size=ARR_RECORD_LENGTH * len(records), sfi=0x17)
    out = [CommandApdu(0x00, 0xE0, 0, 0, arr_fcp.to_bytes())]
    out += [CommandApdu(0x00, 0xDC, n, 0x04, record) for n, record in enumerate(records, 1)]
    for f in profile.files:
        fcp = Fcp(FileDescriptor.for_file(FileType.WORKING_EF, Structure.TRANSPARENT), fid=f.fid,
                  arr=(EF_ARR, f.arr), file_size=f.size, sfi=NO_SFI if f.sfi is None else f.sfi)
        out.append(CommandApdu(0x00, 0xE0, 0, 0, fcp.to_bytes()))
        out.append(CommandApdu(0x00, 0xD6, 0, 0, file_content(fill_template(f.content, sub), f.size, f.name)))
    return out


def instance_aid(profile: McimProfile, sub: Subscription) -> bytes:
    return sub.instance_aid or profile.instance_aid


def mcim_download(out: ScriptWriter, profile: McimProfile, sub: Subscription, via: OtaSession,
                  hand_over_to: StaticKeys | None) -> ScriptWriter:
    """The whole download campaign for one card, as `.ota` blocks appended to `out`."""
    aid = instance_aid(profile, sub)
    via.begin(out, TAR_RAM, f"RAM: create the MCIM instance {aid.hex().upper()} of the USIM module")
    install = ccm.InstallForInstall(profile.load_file, profile.module, aid,
                                    install_parameters=install_parameters(profile, aid))
    out.command(remote(install.to_apdu()))
    out.directive("ota", "end")
    via.begin(out, profile.tar, "RFM: create and write the files of ADF.USIM")
    for apdu in file_commands(profile, sub):
        out.command(apdu)
    out.directive("ota", "end")
    via.begin(out, TAR_RAM, "RAM: personalise K/OPc, enciphered under the KIK")
    for apdu in _personalise(aid, sub, via.keys.dek):
        out.command(remote(apdu))
    out.directive("ota", "end")
    via.begin(out, TAR_SHARED_FS, f"RFM: register the MCIM in EF.DIR (record {profile.dir_record})")
    out.command(CommandApdu(0x00, 0xA4, 0x00, 0x0C, EF_DIR.to_bytes(2, "big")))
    out.command(CommandApdu(0x00, 0xDC, profile.dir_record, 0x04,
                            DirRecord(aid, profile.label).to_bytes(EF_DIR_RECORD_LENGTH)))
    out.directive("ota", "end")
    if hand_over_to is not None:
        hand_over(out, via, hand_over_to, f"RAM: hand the OTA key set over to {sub.sho}")
    return out


def hand_over(out: ScriptWriter, via: OtaSession, new: StaticKeys, title: str) -> None:
    """PUT KEY replacing the key set that secures the packet (TS 102 225 key set, GP v2.3 §11.8)."""
    command = put_key(new, replace=via.keys.kvn)
    via.begin(out, TAR_RAM, title)
    out.command(remote(command.to_apdu(via.keys.dek, via.keys.algorithm)), data=command.expected_response())
    out.directive("ota", "end")


def remove_mcim(out: ScriptWriter, profile: McimProfile, aid: bytes, via: OtaSession) -> None:
    """Change of subscription, first half: the MCIM instance deleted and its EF.DIR record cleared."""
    via.begin(out, TAR_RAM, f"RAM: delete the MCIM instance {aid.hex().upper()}")
    out.command(remote(ccm.delete(aid)))
    out.directive("ota", "end")
    via.begin(out, TAR_SHARED_FS, "RFM: clear its EF.DIR record")
    out.command(CommandApdu(0x00, 0xA4, 0x00, 0x0C, EF_DIR.to_bytes(2, "big")))
    out.command(CommandApdu(0x00, 0xDC, profile.dir_record, 0x04, b"\xff" * EF_DIR_RECORD_LENGTH))
    out.directive("ota", "end")


def _personalise(aid: bytes, sub: Subscription, kik: bytes) -> list[CommandApdu]:
    dgis = personalisation_dgis(sub.imsi, sub.k, sub.opc, kik)[1:]  # EF.IMSI was written by RFM already
    return [ccm.InstallForPersonalization(aid).to_apdu(),
            *ccm.store_data_commands(dgis, structure=ccm.StoreDataStructure.DGI,
                                     encryption=ccm.StoreDataEncryption.ENCRYPTED)]


def load_patch(out: ScriptWriter, via: OtaSession, cap: bytes, isd_aid: bytes, *, block_size: int = 200) -> None:
    """A patch load file over the air (TR 33.812 issue 4): INSTALL [for load] with the Load File Data Block
    hash, the LOAD blocks, and INSTALL [for install and make selectable] of each applet, in one secured packet
    that travels as concatenated SMS (GP v2.3 §11.5, §11.6; TS 102 226 RAM)."""
    from ..gp.cap import parse_cap

    package = parse_cap(cap)
    lfdb = package.load_file_data_block()
    via.begin(out, TAR_RAM, f"RAM: load the patch package {package.package.aid.hex().upper()} "
              f"({len(lfdb)} bytes) and install its applets")
    out.command(remote(ccm.InstallForLoad(package.package.aid, isd_aid, ccm.lfdb_hash(lfdb)).to_apdu()))
    for block in ccm.load_commands(lfdb, block_size=block_size):
        out.command(remote(block))
    for applet in package.applets:
        install = ccm.InstallForInstall(package.package.aid, applet.aid, applet.aid)
        out.command(remote(install.to_apdu()))
    out.directive("ota", "end")
