"""`mcim upgrade` and `mcim change-sho` on a reference UICC that went through bootstrap and download (its state
kept in a state file between the commands, as a real card keeps its memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcim.gp.cap import parse_cap
from mcim.refcard import RefCard, card_from_profile
from mcim.refcard.profile import profile_path
from mcim.transport.inprocess import InProcessTransport
from mcim.workflows.demo import Demo

from tests.gp.test_cap import build_components, build_zip

MCIM = [sys.executable, "-m", "mcim.cli"]


@pytest.fixture()
def provisioned(tmp_path: Path) -> tuple[Path, Demo]:
    """A factory card taken through bootstrap, registration and SHO A's download; saved to a state file."""
    state = tmp_path / "card.json"
    card = card_from_profile(profile_path("factory"), state_path=state)
    demo = Demo(InProcessTransport(card), tmp_path, card.iccid, snapshot=card.to_state)
    for step in ("bootstrap", "register", "download"):
        ok, detail, _ = getattr(demo, step)()
        assert ok, (step, detail)
    card.save()
    return state, demo


def _keys(path: Path, length: int) -> Path:
    path.write_text("".join(f"{name} = {os.urandom(length).hex()}\n" for name in ("kic", "kid", "kik")))
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MCIM, *args, "--json"], capture_output=True, text=True, timeout=120)


def test_upgrade_loads_a_patch_and_rotates_to_aes256(provisioned, tmp_path):
    state, demo = provisioned
    cap = build_zip(build_components())
    (tmp_path / "patch.cap").write_bytes(cap)
    done = _run("upgrade", "--iccid", demo.card.iccid, "--keys", str(tmp_path / "keys" / "sho-a-kvn02.keys"),
                "--kvn", "2", "--new-keys", str(_keys(tmp_path / "new.keys", 32)), "--cap", str(tmp_path / "patch.cap"),
                "--counter-store", demo.counters, "--out", str(tmp_path / "out"), "--target", f"refcard:{state}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["passed"] is True
    registry = RefCard.load(state).to_state()
    package = parse_cap(cap).package.aid.hex()
    assert package in json.dumps(registry).lower()  # the load file is in the card's registry now
    # the old key set is gone: the same rotation again, under the old keys, must fail with exit 1
    again = _run("upgrade", "--iccid", demo.card.iccid, "--keys", str(tmp_path / "keys" / "sho-a-kvn02.keys"),
                 "--kvn", "2", "--new-keys", str(_keys(tmp_path / "other.keys", 16)),
                 "--counter-store", demo.counters, "--out", str(tmp_path / "out2"), "--target", f"refcard:{state}")
    assert again.returncode == 1 and json.loads(again.stdout)["passed"] is False


def test_change_sho_hands_over_and_downloads_the_new_mcim(provisioned, tmp_path):
    state, demo = provisioned
    (tmp_path / "sub.yaml").write_text("sho: SHO-B\nimsi: '001029000000002'\nspn: SHO B\n")
    (tmp_path / "sub.keys").write_text(f"k = {os.urandom(16).hex()}\nop = {os.urandom(16).hex()}\n")
    new_aid = "A0000000871002FFFFFFFF8907090002"
    done = _run("change-sho", "--iccid", demo.card.iccid, "--current-keys", str(tmp_path / "keys" / "sho-a-kvn02.keys"),
                "--current-kvn", "2", "--remove-aid", demo.mcim.instance_aid.hex(), "--new-keys",
                str(_keys(tmp_path / "sho-b.keys", 16)), "--new-kvn", "3", "--subscription", str(tmp_path / "sub.yaml"),
                "--subscription-keys", str(tmp_path / "sub.keys"), "--instance-aid", new_aid,
                "--counter-store", demo.counters, "--out", str(tmp_path / "out"), "--target", f"refcard:{state}")
    assert done.returncode == 0, done.stdout + done.stderr
    env = {**os.environ, "MCIM_PIN1": "1234"}  # TEST VALUE of the default card profile
    checked = subprocess.run([*MCIM, "validate", "--subscription", str(tmp_path / "sub.yaml"), "--subscription-keys",
                              str(tmp_path / "sub.keys"), "--instance-aid", new_aid, "--target", f"refcard:{state}",
                              "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert all(c["ok"] for c in json.loads(checked.stdout)["checks"])


def test_register_runs_the_pva_and_refuses_an_impostor(tmp_path):
    state = tmp_path / "card.json"
    card = card_from_profile(profile_path("factory"), state_path=state)
    demo = Demo(InProcessTransport(card), tmp_path, card.iccid, snapshot=card.to_state)
    assert demo.bootstrap()[0]
    card.save()
    (tmp_path / "isd.keys").write_text(f"master = {demo.keys.secret('isd_master').hex()}\n")
    (tmp_path / "wrong.keys").write_text(f"master = {os.urandom(16).hex()}\n")
    common = ["--db", str(tmp_path / "drf.sqlite"), "--iccid", card.iccid, "--sho", "SHO-A",
              "--ota-keys", str(tmp_path / "keys" / "dpf-kvn01.keys"), "--counter-store", demo.counters,
              "--out", str(tmp_path / "pva"), "--target", f"refcard:{state}"]
    impostor = _run("register", *common, "--isd-master", str(tmp_path / "wrong.keys"))
    assert impostor.returncode == 1 and json.loads(impostor.stdout)["passed"] is False
    from mcim.workflows.registry import Registry

    assert Registry(tmp_path / "drf.sqlite").lookup(card.iccid) is None  # a failed PVA registers nothing
    genuine = _run("register", *common, "--isd-master", str(tmp_path / "isd.keys"))
    assert genuine.returncode == 0, genuine.stdout + genuine.stderr
    assert json.loads(genuine.stdout)["state"] == "validated"
    assert Registry(tmp_path / "drf.sqlite").lookup(card.iccid).state == "validated"
