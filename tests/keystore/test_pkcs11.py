"""The PKCS#11 key source on a real SoftHSM2 token (no mocks).

Known answers: the token's results must be byte-identical to `SoftKeySource` with the same key values.  The
software path is itself tested against public vectors (kdf3: GlobalPlatformPro `TestPlaintextKeys`, SP 800-108
CMAC KDF: GlobalPlatformPro `GPCrypto.scp03_kdf`, see tests/gp), and key wrap is compared with `cryptography`'s
RFC 5649 `aes_key_wrap_with_padding`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding, aes_key_wrap_with_padding
from hypothesis import given
from hypothesis import strategies as st
from mcim.errors import BadInput, UnsupportedError
from mcim.keystore import SoftKeySource
from mcim.workflows.identity import make_iccid

from tests.pcsc_harness import unavailable

TOKEN, PIN, SO_PIN = "mcim-test", "4711", "0815"
MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
           "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so")
# Master keys kept inside the token (sensitive, not extractable), the OP that must leave it, and an AES-256 master.
SEALED = {"isd_master": "404142434445464748494a4b4c4d4e4f", "dpf_master": "000102030405060708090a0b0c0d0e0f",
          "ro_k_master": "f0e1d2c3b4a5968778695a4b3c2d1e0f", "output_kek": "5840df6e29b02af1ab493b705bf16ea1",
          "aes256_master": "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"}
OPEN = {"ro_op": "cdc202d5123e20f62b6d676ac72cb318"}
KEYS = {name: bytes.fromhex(value) for name, value in {**SEALED, **OPEN}.items()}
SOFT = SoftKeySource(KEYS, "test")
KDDS = [bytes(10), bytes(range(10)), b"\xff" * 10, bytes.fromhex("89882800000012345678")]


def _module() -> str:
    pkcs11 = os.environ.get("SOFTHSM2_MODULE") or next((m for m in MODULES if Path(m).exists()), None)
    try:
        import pkcs11 as _  # noqa: F401
    except ImportError:
        unavailable("the PKCS#11 tests need python-pkcs11 (pip install -e '.[test]')")
    if pkcs11 is None or shutil.which("softhsm2-util") is None:
        unavailable("the PKCS#11 tests need SoftHSM2 (run scripts/system-deps.sh)")
    return pkcs11


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory):
    """A private SoftHSM2 token holding KEYS, and the environment that points at it."""
    module = _module()
    home = tmp_path_factory.mktemp("softhsm")
    (home / "tokens").mkdir()
    conf = home / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {home / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN],
                   check=True, capture_output=True)
    _import_keys(module)
    yield module
    if previous is None:
        del os.environ["SOFTHSM2_CONF"]
    else:
        os.environ["SOFTHSM2_CONF"] = previous


def _import_keys(module: str) -> None:
    import pkcs11
    from pkcs11 import Attribute

    token = pkcs11.lib(module).get_token(token_label=TOKEN)
    with token.open(user_pin=PIN, rw=True) as session:
        for name, value in KEYS.items():
            sealed = name in SEALED
            session.create_object({
                Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: pkcs11.KeyType.AES,
                Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.LABEL: name, Attribute.VALUE: value,
                Attribute.SENSITIVE: sealed, Attribute.EXTRACTABLE: not sealed, Attribute.SIGN: True,
                Attribute.WRAP: True})


@pytest.fixture
def token(softhsm):
    from mcim.keystore_pkcs11 import Pkcs11KeySource

    with Pkcs11KeySource(softhsm, TOKEN, PIN) as source:
        yield source


@pytest.mark.parametrize("master", ["isd_master", "dpf_master", "aes256_master"])
def test_diversify_in_the_token_equals_the_software_kdf3(token, master):
    for kvn, kdd in enumerate(KDDS):
        assert token.diversify(master, kdd, kvn=kvn) == SOFT.diversify(master, kdd, kvn=kvn)


@pytest.mark.parametrize("length", [16, 32, 40])
def test_derive_in_the_token_equals_the_software_sp800_108(token, length):
    for context in (b"", b"89882800000012345678"):
        assert token.derive("ro_k_master", b"PCID-K", context, length) == SOFT.derive(
            "ro_k_master", b"PCID-K", context, length)


@pytest.mark.parametrize("length", [8, 16, 48, 96])
def test_wrap_in_the_token_is_rfc5649(token, length):
    secret = bytes(range(length))
    wrapped = token.wrap("output_kek", secret)
    assert wrapped == aes_key_wrap_with_padding(KEYS["output_kek"], secret) == SOFT.wrap("output_kek", secret)
    assert aes_key_unwrap_with_padding(KEYS["output_kek"], wrapped) == secret


@pytest.mark.parametrize("length", [0, 7, 20])
def test_wrap_refuses_secrets_the_token_would_pad(token, length):
    # SoftHSM2 2.6 zero-pads to 8 bytes before RFC 5649, which would not unwrap to the same secret
    with pytest.raises(UnsupportedError, match="multiple of 8"):
        token.wrap("output_kek", bytes(length))


def test_only_extractable_keys_leave_the_token(token):
    assert token.secret("ro_op") == KEYS["ro_op"]
    with pytest.raises(BadInput, match="stays in the token") as error:
        token.secret("isd_master")
    assert SEALED["isd_master"] not in str(error.value).lower()
    token.check(["isd_master", "ro_op"])


def test_token_errors_are_one_clear_line(softhsm, token, tmp_path):
    from mcim.keystore_pkcs11 import Pkcs11KeySource

    with pytest.raises(BadInput, match="no secret key labelled 'nope'"):
        token.check(["nope"])
    with pytest.raises(UnsupportedError, match="emv"):
        token.diversify("isd_master", bytes(10), scheme="emv")
    with pytest.raises(BadInput, match="10 bytes"):
        token.diversify("isd_master", bytes(9))
    token.close()  # PKCS#11 logins are per process: the wrong PIN below must meet a logged-out token
    cases = [(Pkcs11KeySource(str(tmp_path / "missing.so"), TOKEN, PIN), "cannot load the PKCS#11 module"),
             (Pkcs11KeySource(softhsm, "no-such-token", PIN), "no token labelled"),
             (Pkcs11KeySource(softhsm, TOKEN, "0000"), "rejected the PIN")]
    for source, message in cases:
        with pytest.raises(BadInput, match=message):
            source.check(["isd_master"])
    assert PIN not in repr(Pkcs11KeySource(softhsm, TOKEN, PIN))


@pytest.mark.parametrize("uri, environ, message", [
    ("pkcs11:/m.so?token=t", {}, "one PIN source"),
    ("pkcs11:/m.so?token=t&pin-env=P", {}, "P is not set"),
    ("pkcs11:/m.so?token=t&pin-env=P&pin-file=f", {"P": "1"}, "one PIN source"),
    ("pkcs11:/m.so?token=t&pin=1234", {}, "pkcs11:MODULE"),
    ("pkcs11:/m.so", {}, "pkcs11:MODULE"),
    ("soft:/m.so?token=t&pin-env=P", {"P": "1"}, "pkcs11:MODULE"),
])
def test_key_source_uri_errors(uri, environ, message):
    from mcim.keystore_pkcs11 import open_key_source

    with pytest.raises(BadInput, match=message):
        open_key_source(uri, environ)


@given(st.text(max_size=60))
def test_any_key_source_text_gives_a_source_or_bad_input(text):
    from mcim.keystore_pkcs11 import Pkcs11KeySource, open_key_source

    for candidate in (text, "pkcs11:" + text):
        try:
            assert isinstance(open_key_source(candidate, {"P": PIN}), Pkcs11KeySource)
        except BadInput:
            pass


def test_key_source_uri_reads_the_pin_from_env_or_file(tmp_path):
    from mcim.keystore_pkcs11 import open_key_source

    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\n")
    for uri, environ in ((f"pkcs11:/m.so?token={TOKEN}&pin-env=MCIM_PIN", {"MCIM_PIN": PIN}),
                         (f"pkcs11:/m.so?token={TOKEN}&pin-file={pin_file}", {})):
        source = open_key_source(uri, environ)
        assert (source.module_path, source.token_label, source._pin) == ("/m.so", TOKEN, PIN)


def test_cli_bootstrap_with_the_token_writes_the_soft_run_vendor_file(softhsm, tmp_path):
    keys = tmp_path / "masters.keys"
    keys.write_text("".join(f"{n} = {v.hex()}\n" for n, v in KEYS.items()))
    transport = tmp_path / "transport.keys"
    transport.write_text("".join(f"{n} = 404142434445464748494a4b4c4d4e4f\n" for n in ("enc", "mac", "dek")))
    batch = tmp_path / "cards.csv"
    batch.write_text("iccid\n" + "".join(make_iccid("8988", n) + "\n" for n in range(6)))
    env = {**os.environ, "MCIM_TEST_PIN": PIN}
    env = {k: v for k, v in env.items() if not k.startswith("MCIM_KEY_")}

    def run(out: str, *source: str) -> list[str]:
        done = subprocess.run([sys.executable, "-m", "mcim.cli", "bootstrap", "--batch", str(batch), *source,
                               "--transport-keys", str(transport), "--out", str(tmp_path / out), "--workers", "2",
                               "--json"], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        return (tmp_path / out / "vendor.out").read_text().splitlines()

    soft = run("soft", "--key-file", str(keys))
    hsm = run("hsm", "--key-source", f"pkcs11:{softhsm}?token={TOKEN}&pin-env=MCIM_TEST_PIN")
    columns = soft[2].split()[1:]
    kcv_columns = [i for i, name in enumerate(columns) if name.startswith("KCV_")]
    assert len(soft) == len(hsm) == 9 and len(kcv_columns) == 6
    for soft_row, hsm_row in zip(soft[3:], hsm[3:], strict=True):
        assert [soft_row.split()[i] for i in kcv_columns] == [hsm_row.split()[i] for i in kcv_columns]
    assert hsm == soft  # RFC 5649 is deterministic: the wrapped columns and the KEK check agree too

    wrong = subprocess.run([sys.executable, "-m", "mcim.cli", "bootstrap", "--batch", str(batch), "--key-source",
                            f"pkcs11:{softhsm}?token={TOKEN}&pin-env=NO_SUCH_VAR", "--transport-keys",
                            str(transport), "--out", str(tmp_path / "bad")], capture_output=True, text=True, env=env)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
