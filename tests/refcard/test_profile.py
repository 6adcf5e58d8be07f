"""Profiles: the default one, and bad ones that must fail with BadInput naming the field."""

from __future__ import annotations

import copy

import pytest
import yaml
from mcim.aka import Milenage, MilenageConstants, build_authenticate, build_autn, parse_authenticate_response
from mcim.errors import BadInput
from mcim.refcard import DEFAULT_PROFILE, card_from_profile, load_profile
from mcim.usim import decode_arr_record

from .helpers import Terminal, h

DEFAULT = load_profile()


def broken(change) -> dict:
    doc = copy.deepcopy(DEFAULT)
    change(doc)
    return doc


def where_of(doc) -> str:
    with pytest.raises(BadInput) as info:
        card_from_profile(doc)
    return info.value.where


def test_default_profile_is_marked_as_test_values():
    assert DEFAULT["test_values"] is True
    assert "TEST VALUE" in DEFAULT_PROFILE.read_text()


@pytest.mark.parametrize("change,where", [
    (lambda d: d["identity"].update(iccid="89"), "identity.iccid"),
    (lambda d: d["mf"]["files"][1].update(fid="2FZ2"), "mf.files[1].fid"),
    (lambda d: d["applications"][0]["files"][1]["content"].update(imsi="00101x"),
     "applications[0].files[1].content.imsi"),
    (lambda d: d["applications"][0].update(k="00"), "applications[0].k"),
    (lambda d: d["mf"]["files"][1].pop("size"), "mf.files[1]"),
    (lambda d: d.update(extra=1), "(top level)"),
    (lambda d: d["pins"][0].update(key_ref="PIN9"), "pins[0].key_ref"),
    (lambda d: d["mf"]["files"][0]["records"][0]["rule"].update(read="sometimes"), "mf.files[0].records[0].rule.read"),
])
def test_schema_errors_name_the_field(change, where):
    assert where_of(broken(change)).endswith(where)


@pytest.mark.parametrize("change,where", [
    (lambda d: d["mf"]["files"].append(copy.deepcopy(d["mf"]["files"][1])), "mf.files[4].fid"),
    (lambda d: d["applications"][0]["files"][1]["content"].update(imsi="0010100000000011"[:15]) or
     d["applications"][0]["files"][1].update(size=5), "applications[0].files[1].content.imsi"),
    (lambda d: d["applications"][0].update(dir_record=9), "applications[0].dir_record"),
    (lambda d: d["pins"].append({"key_ref": "PIN2", "value": "1111"}), "pins[2].key_ref"),
    (lambda d: d["applications"][0]["files"][0]["records"][0]["rule"].update(delete_child="ADM1"),
     "applications[0].files[0].records[0]"),
])
def test_semantic_errors_name_the_field(change, where):
    assert where_of(broken(change)).endswith(where)


def test_yaml_syntax_error_has_a_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("profile: x\nidentity: [\n")
    with pytest.raises(BadInput) as info:
        load_profile(path)
    assert str(path) in info.value.where


def test_arr_records_are_encoded_from_rules():
    card = card_from_profile()
    rules = decode_arr_record(bytes(card.mf.child(0x2F06).records[1]))
    assert any(r.ins == 0xD4 for r in rules)  # resize: command header AM_DO 84 01 D4


def test_custom_milenage_constants(tmp_path):
    doc = copy.deepcopy(DEFAULT)
    doc["applications"][0]["milenage"] = {"c2": "00" * 15 + "03", "r3": 40}
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(doc))
    term = Terminal(card_from_profile(path))
    term.select_usim()
    term.verify_pin1()
    constants = MilenageConstants(c2=h("00" * 15 + "03"), r3=40)
    mil = Milenage(h(doc["applications"][0]["k"]), h(doc["applications"][0]["opc"]), constants)
    rand = bytes(range(16))
    autn = build_autn(mil, rand, (0x40).to_bytes(6, "big"), b"\x00\x00")
    answer = parse_authenticate_response(term.ok(build_authenticate(rand, autn).to_bytes().hex()))
    assert answer.res == mil.f2345(rand).res
