"""Card profiles: a YAML document (checked against profiles/profile.schema.json) that becomes a RefCard.

Files are built through the same FCP path CREATE FILE uses, so a profile can only describe what the card
could also have been given over the air.  Errors name the field (e.g. `applications[0].files[3].content`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from mcim.aka import DEFAULT_CONSTANTS, MilenageConstants, SqnManager
from mcim.errors import BadInput
from mcim.filespec import KEY_REFS, encode_rule, file_content
from mcim.usim import (
    NO_SFI,
    DirRecord,
    Fcp,
    FileDescriptor,
    FileType,
    Lcsi,
    Structure,
    encode_arr_record,
)

from .access import Pin
from .card import RefCard
from .files import Df, Node, RecordEf, TransparentEf, node_from_fcp
from .gp_profile import install_isd
from .ota import install_ota
from .usim_app import UsimParams

PROFILES = Path(__file__).resolve().parents[1] / "profiles"
DEFAULT_PROFILE = PROFILES / "default.yaml"
SCHEMA = PROFILES / "profile.schema.json"

# TS 102 221 Table 9.3
ARR_FID = {"mf": 0x2F06, "adf": 0x6F06}

@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate_profile(doc: Any, source: str = "profile") -> dict[str, Any]:
    """Schema check; the first error names its field."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: (len(e.absolute_path), list(e.absolute_path)))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        raise BadInput(error.message, where=f"{source}: {_where(error.absolute_path)}",
                       expected="a value allowed by profile.schema.json")
    return doc


def profile_path(name: str | Path) -> Path:
    """A profile file, or the name of one shipped in applet-spec/profiles ("default", "factory")."""
    path = Path(name)
    if path.suffix or len(path.parts) > 1:
        return path
    return PROFILES / f"{name}.yaml"


def load_profile(path: str | Path = DEFAULT_PROFILE) -> dict[str, Any]:
    path = profile_path(path)
    return validate_profile(_read_with_base(path, frozenset()), str(path))


def _read_with_base(path: Path, seen: frozenset[Path]) -> dict[str, Any]:
    """The profile document with `extends: BASE.yaml` resolved: the base's sections, overridden key by key
    (mappings merge, lists and values replace), so a variant names only what differs."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"cannot read profile: {exc.strerror}", where=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise BadInput(f"not YAML: {getattr(exc, 'problem', exc)}", where=where) from None
    if not isinstance(doc, dict) or "extends" not in doc:
        return doc
    base_path = (path.parent / str(doc.pop("extends"))).resolve()
    if base_path in seen or base_path == path.resolve():
        raise BadInput("profiles extend each other in a cycle", where=f"{path}: extends")
    return _merged(_read_with_base(base_path, seen | {path.resolve()}), doc)


def _merged(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: _merged(base.get(k), v) for k, v in override.items()}}
    return override


def card_from_profile(profile: dict[str, Any] | str | Path = DEFAULT_PROFILE, *,
                      state_path: str | Path | None = None) -> RefCard:
    """Build the card a profile describes (`profile` may be a loaded document or a YAML path)."""
    doc = profile if isinstance(profile, dict) else load_profile(profile)
    if isinstance(profile, dict):
        validate_profile(doc)
    identity = doc["identity"]
    card = RefCard(iccid=identity["iccid"], eid=identity.get("eid", ""), memory=doc.get("memory", 64 * 1024),
                   state_path=state_path)
    for i, spec in enumerate(doc["pins"]):
        _add_pin(card.security.global_pins, spec, f"pins[{i}]", local=False)
    mf_spec = doc["mf"]
    card.mf.arr = _arr_ref(mf_spec.get("arr"), "mf", "mf.arr")
    _add_files(card.mf, mf_spec.get("files", []), "mf", "mf.files")
    for i, app in enumerate(doc.get("applications", [])):
        _add_usim(card, app, f"applications[{i}]")
    if "isd" in doc:
        install_isd(card, doc["isd"])
    if "ota" in doc:
        install_ota(card, doc["ota"])
    if card.available_memory() <= 0:
        raise BadInput("the files do not fit", where="memory", expected="a larger card memory")
    card.reset()
    card.save()
    return card


def _pin_value(text: str, where: str) -> bytes:
    if len(text) == 16:
        return bytes.fromhex(text)
    if len(text) > 8:
        raise BadInput(f"{len(text)} digits", where=where, expected="4..8 digits or 16 hex digits")
    return text.encode("ascii").ljust(8, b"\xff")


def _add_pin(table: dict[int, Pin], spec: dict[str, Any], where: str, *, local: bool) -> None:
    ref = KEY_REFS[spec["key_ref"]]
    if (0x81 <= ref <= 0x88) != local:
        raise BadInput(f"{spec['key_ref']} here", where=f"{where}.key_ref",
                       expected="a local PIN (PIN2) in an application" if local else "a global PIN or ADM")
    if ref in table:
        raise BadInput(f"{spec['key_ref']} twice", where=f"{where}.key_ref", expected="each key once")
    retries, puk_retries = spec.get("retries", 3), spec.get("puk_retries", 10)
    puk = spec.get("puk")
    table[ref] = Pin(ref, _pin_value(spec["value"], f"{where}.value"), retries, retries,
                     None if puk is None else _pin_value(puk, f"{where}.puk"), puk_retries, puk_retries,
                     spec.get("enabled", True))


def _arr_ref(value: Any, scope: str, where: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, int):
        return ARR_FID[scope], value
    return int(value[0], 16), value[1]


def _fcp(spec: dict[str, Any], scope: str, where: str) -> Fcp:
    structure = spec["structure"]
    shareable = spec.get("shareable", True)
    lcsi = Lcsi.DEACTIVATED if spec.get("state") == "deactivated" else Lcsi.ACTIVATED
    arr = _arr_ref(spec.get("arr"), scope, f"{where}.arr")
    fid = int(spec["fid"], 16)
    if structure == "df":
        return Fcp(FileDescriptor.for_file(FileType.DF, Structure.NO_INFO, shareable=shareable), fid=fid,
                   df_name=bytes.fromhex(spec["df_name"]) if "df_name" in spec else None, lcsi=lcsi, arr=arr)
    sfi = spec.get("sfi", NO_SFI)
    if structure == "transparent":
        descriptor = FileDescriptor.for_file(FileType.WORKING_EF, Structure.TRANSPARENT, shareable=shareable)
        return Fcp(descriptor, fid=fid, lcsi=lcsi, arr=arr, file_size=spec["size"], sfi=sfi)
    kind = Structure.CYCLIC if structure == "cyclic" else Structure.LINEAR_FIXED
    descriptor = FileDescriptor.for_file(FileType.WORKING_EF, kind, shareable=shareable,
                                         record_length=spec["record_length"], record_count=spec["record_count"])
    return Fcp(descriptor, fid=fid, lcsi=lcsi, arr=arr, sfi=sfi)


def _add_files(parent: Df, specs: list[dict[str, Any]], scope: str, where: str) -> None:
    for i, spec in enumerate(specs):
        here = f"{where}[{i}]"
        node = node_from_fcp(_fcp(spec, scope, here))
        _check_unique(parent, node, here)
        _fill(node, spec, here)
        parent.add(node)
        if isinstance(node, Df):
            _add_files(node, spec.get("files", []), scope, f"{here}.files")


def _check_unique(parent: Df, node: Node, where: str) -> None:
    if parent.child(node.fid) is not None or node.fid == parent.fid:  # type: ignore[arg-type]
        raise BadInput(f"FID {node.fid:04X} exists", where=f"{where}.fid", expected="a FID unique in its DF")
    sfi = getattr(node, "sfi", None)
    if sfi is not None and parent.by_sfi(sfi) is not None:
        raise BadInput(f"SFI {sfi} exists", where=f"{where}.sfi", expected="an SFI unique in its DF")


def _fill(node: Node, spec: dict[str, Any], where: str) -> None:
    if isinstance(node, TransparentEf) and "content" in spec:
        node.data[:] = file_content(spec["content"], len(node.data), f"{where}.content")
    if isinstance(node, RecordEf) and "records" in spec:
        records = spec["records"]
        if len(records) > len(node.records):
            raise BadInput(f"{len(records)} records", where=f"{where}.records",
                           expected=f"at most record_count = {len(node.records)}")
        for j, record in enumerate(records):
            node.records[j][:] = _record(record, node.record_length, f"{where}.records[{j}]")


def _record(spec: str | dict[str, Any], length: int, where: str) -> bytes:
    raw = bytes.fromhex(spec) if isinstance(spec, str) else encode_arr_record(encode_rule(spec["rule"], where))
    if len(raw) > length:
        raise BadInput(f"{len(raw)} bytes", where=where, expected=f"at most the record length {length}")
    return raw.ljust(length, b"\xff")


def _constants(spec: dict[str, Any]) -> MilenageConstants:
    values = {name: getattr(DEFAULT_CONSTANTS, name) for name in DEFAULT_CONSTANTS.__dataclass_fields__}
    values.update({k: bytes.fromhex(v) if k.startswith("c") else v for k, v in spec.items()})
    return MilenageConstants(**values)


def _add_usim(card: RefCard, spec: dict[str, Any], where: str) -> None:
    sqn_spec = spec.get("sqn", {})
    sqn = SqnManager(sqn_spec.get("ind_bits", 5), sqn_spec.get("delta", 1 << 28), sqn_spec.get("limit"))
    params = UsimParams(bytes.fromhex(spec["k"]), bytes.fromhex(spec["opc"]), _constants(spec.get("milenage", {})),
                        sqn, _arr_ref(spec.get("arr"), "adf", f"{where}.arr"))
    aid = bytes.fromhex(spec["aid"])
    try:
        adf = card.create_usim_instance(aid, params)
    except BadInput as exc:
        raise BadInput(exc.message, where=f"{where}.aid", expected=exc.expected) from None
    local: dict[int, Pin] = {}
    for i, pin in enumerate(spec.get("pins", [])):
        _add_pin(local, pin, f"{where}.pins[{i}]", local=True)
    card.security.local_pins[aid] = local
    _add_files(adf, spec.get("files", []), "adf", f"{where}.files")
    if "dir_record" in spec:
        _register_in_ef_dir(card, aid, spec.get("label"), spec["dir_record"], f"{where}.dir_record")


def _register_in_ef_dir(card: RefCard, aid: bytes, label: str | None, number: int, where: str) -> None:
    ef_dir = card.mf.child(0x2F00)
    if not isinstance(ef_dir, RecordEf) or number > len(ef_dir.records):
        raise BadInput(f"record {number}", where=where, expected="a record of EF.DIR (2F00, linear fixed) in the MF")
    ef_dir.records[number - 1][:] = DirRecord(aid, label).to_bytes(ef_dir.record_length)
