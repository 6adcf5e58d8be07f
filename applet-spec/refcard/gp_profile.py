"""The `isd` section of a card profile (profile.schema.json): the Issuer Security Domain the card leaves the
factory with.  Its registry starts with the native USIM module (a load file "in ROM" with one module) and, as
PERSONALIZED instances of it, the USIM applications the profile already created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcim.errors import BadInput
from mcim.gp.install_params import AccessDomain, MinimumSecurityLevel
from mcim.gp.registry import NO_PRIVILEGES, SELECTABLE, Privilege
from mcim.gp.scp02 import check_options
from mcim.usim import encode_iccid

from .files import Adf
from .gp_commands import NATIVE_USIM
from .gp_keys import Key, KeySet, KeyStore, check_key
from .gp_perso import SecretDgiKey
from .gp_registry import PERSONALIZED, Application, CardLifeCycle, LoadFile, Registry, UiccParameters
from .gp_session import SecureChannelConfig
from .isd import DEFAULT_AID, Isd
from .usim_app import UsimApplication

if TYPE_CHECKING:
    from .card import RefCard

KEY_TYPES = {"aes": 0x88, "des": 0x80}  # GP v2.3 §11.1.8
# The native USIM module of this card: a load file in ROM and its one module (AIDs of this card's choosing).
USIM_LOAD_FILE = "A0000000871002"
USIM_MODULE = "A000000087100201"
# GP v2.3 §11.1.2: what an ISD usually holds; Card Reset (the default-selected application) is added when the
# profile makes the ISD the default selection.
ISD_PRIVILEGES = (Privilege.SECURITY_DOMAIN | Privilege.CARD_LOCK | Privilege.CARD_TERMINATE
                  | Privilege.CVM_MANAGEMENT | Privilege.TRUSTED_PATH | Privilege.AUTHORIZED_MANAGEMENT
                  | Privilege.GLOBAL_DELETE | Privilege.GLOBAL_LOCK | Privilege.GLOBAL_REGISTRY
                  | Privilege.FINAL_APPLICATION)


def install_isd(card: RefCard, spec: dict[str, Any], where: str = "isd") -> Isd:
    """Create the ISD a (schema-checked) profile section describes and add it to `card`."""
    aid = bytes.fromhex(spec.get("aid", DEFAULT_AID.hex()))
    if card.find_adf(aid) is not None:
        raise BadInput(f"AID {aid.hex()} is an application", where=f"{where}.aid", expected="an AID of its own")
    default_selected = spec.get("default_selected", True)
    privileges = Privilege(int(spec["privileges"], 16)) if "privileges" in spec else \
        ISD_PRIVILEGES | (Privilege.CARD_RESET if default_selected else NO_PRIVILEGES)
    own = Application(aid, None, None, privileges, 0, aid, _uicc(spec))
    registry = Registry(own, CardLifeCycle[spec.get("life_cycle", "OP_READY")])
    module = spec.get("usim_module", {})
    elf = LoadFile(bytes.fromhex(module.get("load_file", USIM_LOAD_FILE)),
                   (bytes.fromhex(module.get("module", USIM_MODULE)),), aid, native=NATIVE_USIM)
    registry.load_files[elf.aid] = elf
    _register_usims(card, registry, elf, spec.get("applications", []), f"{where}.applications")
    scp03, scp02 = spec.get("scp03", {}), spec.get("scp02", {})
    kdd = bytes.fromhex(spec["kdd"]) if "kdd" in spec else encode_iccid(card.iccid)
    config = SecureChannelConfig(kdd, int(scp03.get("i", "70"), 16), scp03.get("s16", False),
                                 int(scp02.get("i", "55"), 16))
    try:
        check_options(config.scp02_options)
    except BadInput as exc:
        raise BadInput(exc.message, where=f"{where}.scp02.i", expected=exc.expected) from None
    arr = module.get("arr")
    adf = Adf(aid)  # no access rule: the file system grants nothing on the ISD's ADF
    isd = Isd(adf, registry, _key_store(spec.get("key_sets", []), f"{where}.key_sets"), config,
              default_selected=default_selected, secret_dgis=SecretDgiKey(spec.get("secret_dgis",
                                                                                   "personalisation_key")),
              usim_arr=None if arr is None else (int(arr[0], 16), arr[1]),
              identifiers={tag: bytes.fromhex(spec[name]) for tag, name in ((0x42, "iin"), (0x45, "cin"))
                           if name in spec},
              cplc=bytes.fromhex(spec["cplc"]) if "cplc" in spec else None)
    adf.app = isd
    card.add_adf(adf)
    isd.card = card
    card.mark_changed()
    return isd


def _uicc(spec: dict[str, Any]) -> UiccParameters:
    msl = bytes.fromhex(spec["msl"]) if "msl" in spec else b""
    domain = spec.get("access_domain")
    return UiccParameters(tuple(bytes.fromhex(tar) for tar in spec.get("tars", [])),
                          MinimumSecurityLevel(msl[0], msl[1:]) if msl else None,
                          None if domain is None else AccessDomain.parse(bytes.fromhex(domain)))


def _register_usims(card: RefCard, registry: Registry, elf: LoadFile, specs: list[dict[str, Any]],
                    where: str) -> None:
    extra = {bytes.fromhex(s["aid"]): s for s in specs}
    for adf in card.adfs:
        if isinstance(adf.app, UsimApplication):
            spec = extra.pop(adf.aid, {})
            # A factory card image holds its USIM instance SELECTABLE until the EUM personalises it (STORE DATA)
            life_cycle = SELECTABLE if spec.get("life_cycle") == "selectable" else PERSONALIZED
            registry.applications[adf.aid] = Application(adf.aid, elf.aid, elf.modules[0], NO_PRIVILEGES,
                                                         life_cycle, registry.isd.aid, _uicc(spec))
    if extra:
        raise BadInput(f"AID {next(iter(extra)).hex()}", where=where, expected="the AID of a USIM of the profile")


def _key_store(specs: list[dict[str, Any]], where: str) -> KeyStore:
    sets: dict[int, KeySet] = {}
    for i, spec in enumerate(specs):
        kvn = int(spec["kvn"], 16)
        if kvn in sets:
            raise BadInput(f"KVN {kvn:02X} twice", where=f"{where}[{i}].kvn", expected="each key set once")
        keys: dict[int, Key] = {}
        for j, item in enumerate(spec["keys"]):
            key = Key(item["kid"], KEY_TYPES[item["type"]], bytes.fromhex(item["value"]))
            check_key(key, f"{where}[{i}].keys[{j}]")
            if key.kid in keys:
                raise BadInput(f"KID {key.kid} twice", where=f"{where}[{i}].keys[{j}].kid", expected="each KID once")
            keys[key.kid] = key
        sets[kvn] = KeySet(kvn, keys, spec.get("sequence_counter", 0))
    return KeyStore(sets)
