"""The GlobalPlatform registry of the reference UICC's Issuer Security Domain: card life cycle, Executable Load
Files (ELFs, including the native modules "in ROM"), applications, and what their install parameters say about
OTA access (TARs, access domains, minimum security level).

GP Card Specification v2.3: §5.1 card life cycle, §5.3 application life cycle, §11.1.1 life cycle coding,
§11.1.2 privileges, §11.4.3 GET STATUS entries (built with `mcim.gp.registry`).  ETSI TS 102 226 §8.2.1.3 for the
UICC install parameters.  Entries are plain mutable objects (card memory): the ISD checks a command completely
before it changes one, so a refused command leaves the registry as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from mcim.gp.install_params import (
    AccessDomain,
    InstallParameters,
    MinimumSecurityLevel,
    SimToolkitParameters,
    UiccAccessParameters,
    UiccToolkitParameters,
)
from mcim.gp.registry import LOADED, LOCKED_BIT, SELECTABLE, Privilege, RegistryEntry, StatusSubset


class CardLifeCycle(IntEnum):
    """GP v2.3 §11.1.1 Table 11-3: card life cycle coding (the ISD inherits it, §5.1)."""

    OP_READY = 0x01
    INITIALIZED = 0x07
    SECURED = 0x0F
    CARD_LOCKED = 0x7F
    TERMINATED = 0xFF


# GP v2.3 §5.1.1 (Figure 5-1): OP_READY -> INITIALIZED -> SECURED are irreversible steps; SECURED <-> CARD_LOCKED;
# any state but TERMINATED may go to TERMINATED, which is final.
CARD_TRANSITIONS: dict[CardLifeCycle, frozenset[CardLifeCycle]] = {
    CardLifeCycle.OP_READY: frozenset({CardLifeCycle.INITIALIZED, CardLifeCycle.TERMINATED}),
    CardLifeCycle.INITIALIZED: frozenset({CardLifeCycle.SECURED, CardLifeCycle.TERMINATED}),
    CardLifeCycle.SECURED: frozenset({CardLifeCycle.CARD_LOCKED, CardLifeCycle.TERMINATED}),
    CardLifeCycle.CARD_LOCKED: frozenset({CardLifeCycle.SECURED, CardLifeCycle.TERMINATED}),
    CardLifeCycle.TERMINATED: frozenset(),
}

# GP v2.3 §5.1.1.3-5: card management needs an authenticated secure channel from SECURED on (the pre-issuance
# states leave it to the issuer; this card accepts plain commands there, as development cards do).
SECURE_CHANNEL_STATES = frozenset({CardLifeCycle.SECURED, CardLifeCycle.CARD_LOCKED})

INSTALLED = 0x03  # GP v2.3 §11.1.1 Table 11-4
PERSONALIZED = 0x0F  # application specific state 1 (b4..b1 = 1111), set when the last STORE DATA block is in


def is_selectable(life_cycle: int) -> bool:
    """SELECTABLE or an application specific state (b3..b1 = 111), and not LOCKED (GP v2.3 Table 11-4)."""
    return not life_cycle & LOCKED_BIT and life_cycle & SELECTABLE == SELECTABLE


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _unhex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


@dataclass(frozen=True)
class UiccParameters:
    """What an application's install parameters grant over the air (ETSI TS 102 226 §8.2.1.3.2): its TARs, the
    minimum security level of commands for it, the access domain of the SIM file access parameters ('CA'), and
    the UICC (administrative) access parameters ('EA' 81/82) per file system."""

    tars: tuple[bytes, ...] = ()
    minimum_security_level: MinimumSecurityLevel | None = None
    access_domain: AccessDomain | None = None
    file_access: UiccAccessParameters | None = None
    admin_access: UiccAccessParameters | None = None

    @classmethod
    def from_install_parameters(cls, params: InstallParameters) -> UiccParameters:
        """TARs from 'CA' and 'EA'/80 together; a field that does not follow TS 102 226 grants nothing."""
        toolkits: list[SimToolkitParameters | UiccToolkitParameters] = []
        access_domain = file_access = admin_access = None
        if params.system is not None and isinstance(params.system.sim_toolkit, SimToolkitParameters):
            toolkits.append(params.system.sim_toolkit)
            access_domain = params.system.sim_toolkit.access_domain
        uicc = params.uicc
        if uicc is not None:
            if isinstance(uicc.toolkit, UiccToolkitParameters):
                toolkits.append(uicc.toolkit)
            file_access = uicc.access if isinstance(uicc.access, UiccAccessParameters) else None
            admin_access = uicc.administrative_access \
                if isinstance(uicc.administrative_access, UiccAccessParameters) else None
        tars = tuple(dict.fromkeys(tar for toolkit in toolkits for tar in toolkit.tars))
        msl = next((t.minimum_security_level for t in toolkits if t.minimum_security_level is not None), None)
        return cls(tars, msl, access_domain, file_access, admin_access)

    def to_dict(self) -> dict[str, Any]:
        return {"tars": [tar.hex() for tar in self.tars],
                "msl": _hex(None if self.minimum_security_level is None else self.minimum_security_level.to_bytes()),
                "access_domain": _hex(None if self.access_domain is None else self.access_domain.to_bytes()),
                "file_access": _hex(None if self.file_access is None else self.file_access.to_bytes()),
                "admin_access": _hex(None if self.admin_access is None else self.admin_access.to_bytes())}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UiccParameters:
        msl = _unhex(d.get("msl"))
        domain = _unhex(d.get("access_domain"))
        access = {name: None if d.get(name) is None else UiccAccessParameters.parse(bytes.fromhex(d[name]))
                  for name in ("file_access", "admin_access")}
        return cls(tuple(bytes.fromhex(t) for t in d.get("tars", [])),
                   None if not msl else MinimumSecurityLevel(msl[0], msl[1:]),
                   None if domain is None else AccessDomain.parse(domain), **access)


@dataclass
class LoadFile:
    """An Executable Load File: a loaded CAP package, or a native module set in ROM (`native` = its kind)."""

    aid: bytes
    modules: tuple[bytes, ...]
    associated_sd: bytes
    native: str | None = None
    version: bytes | None = None
    size: int = 0  # bytes of code the LOAD brought (0 for ROM)

    def status_entry(self, subset: StatusSubset) -> RegistryEntry:
        modules = self.modules if subset == StatusSubset.LOAD_FILES_AND_MODULES else ()
        return RegistryEntry(subset, self.aid, LOADED, None, None, self.version, modules, self.associated_sd)

    def to_dict(self) -> dict[str, Any]:
        return {"aid": self.aid.hex(), "modules": [m.hex() for m in self.modules],
                "associated_sd": self.associated_sd.hex(), "native": self.native, "version": _hex(self.version),
                "size": self.size}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoadFile:
        return cls(bytes.fromhex(d["aid"]), tuple(bytes.fromhex(m) for m in d["modules"]),
                   bytes.fromhex(d["associated_sd"]), d["native"], _unhex(d["version"]), d["size"])


@dataclass
class Application:
    """An application (or the ISD itself, which has no load file here) with its life cycle and privileges."""

    aid: bytes
    load_file: bytes | None
    module: bytes | None
    privileges: Privilege
    life_cycle: int
    associated_sd: bytes
    uicc: UiccParameters = field(default_factory=UiccParameters)
    application_parameters: bytes = b""  # the 'C9' value of its install parameters

    @property
    def selectable(self) -> bool:
        return is_selectable(self.life_cycle)

    def status_entry(self) -> RegistryEntry:
        return RegistryEntry(StatusSubset.APPLICATIONS, self.aid, self.life_cycle, self.privileges, self.load_file,
                             associated_sd=self.associated_sd)

    def to_dict(self) -> dict[str, Any]:
        return {"aid": self.aid.hex(), "load_file": _hex(self.load_file), "module": _hex(self.module),
                "privileges": f"{int(self.privileges):06x}", "life_cycle": self.life_cycle,
                "associated_sd": self.associated_sd.hex(), "uicc": self.uicc.to_dict(),
                "application_parameters": self.application_parameters.hex()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Application:
        return cls(bytes.fromhex(d["aid"]), _unhex(d["load_file"]), _unhex(d["module"]),
                   Privilege(int(d["privileges"], 16)), d["life_cycle"], bytes.fromhex(d["associated_sd"]),
                   UiccParameters.from_dict(d["uicc"]), bytes.fromhex(d["application_parameters"]))


class Registry:
    """The GP registry: the ISD entry (whose life cycle is the card's), load files and applications, by AID."""

    def __init__(self, isd: Application, card_life_cycle: CardLifeCycle) -> None:
        self.isd = isd
        self.card_life_cycle = card_life_cycle
        self.load_files: dict[bytes, LoadFile] = {}
        self.applications: dict[bytes, Application] = {}

    def known(self, aid: bytes) -> bool:
        """Whether any entry already uses `aid` (GP v2.3 §6.1: AIDs are unique in the registry)."""
        return aid == self.isd.aid or aid in self.load_files or aid in self.applications

    def instances_of(self, load_file: bytes) -> list[Application]:
        return [app for app in self.applications.values() if app.load_file == load_file]

    def application_for_tar(self, tar: bytes) -> Application | None:
        return next((app for app in (self.isd, *self.applications.values()) if tar in app.uicc.tars), None)

    def loaded_code(self) -> int:
        return sum(elf.size for elf in self.load_files.values())

    def status_entries(self, subset: StatusSubset) -> list[RegistryEntry]:
        """Entries of one GET STATUS subset (GP v2.3 §11.4.2.1), in registry order."""
        if subset == StatusSubset.ISD:
            return [RegistryEntry(subset, self.isd.aid, self.card_life_cycle, self.isd.privileges)]
        if subset == StatusSubset.APPLICATIONS:
            return [app.status_entry() for app in self.applications.values()]
        return [elf.status_entry(subset) for elf in self.load_files.values()]

    def to_dict(self) -> dict[str, Any]:
        return {"card_life_cycle": int(self.card_life_cycle), "isd": self.isd.to_dict(),
                "load_files": [elf.to_dict() for elf in self.load_files.values()],
                "applications": [app.to_dict() for app in self.applications.values()]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Registry:
        registry = cls(Application.from_dict(d["isd"]), CardLifeCycle(d["card_life_cycle"]))
        registry.load_files = {elf.aid: elf for elf in map(LoadFile.from_dict, d["load_files"])}
        registry.applications = {app.aid: app for app in map(Application.from_dict, d["applications"])}
        return registry

