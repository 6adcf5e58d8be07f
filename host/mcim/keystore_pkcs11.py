"""A `KeySource` whose master keys stay inside a PKCS#11 token (an HSM; SoftHSM2 in the tests).

Keys are AES secret keys found by CKA_LABEL (the profile's key name).  The token computes every AES-CMAC of the
kdf3 diversification and of the SP 800-108 derivation (C_Sign with CKM_AES_CMAC, PKCS#11 v2.40 §2.10.6), and
wraps secrets under the KEK (C_WrapKey with CKM_AES_KEY_WRAP_PAD, RFC 5649).  The derived card keys leave the token,
as with `SoftKeySource`: the factory script carries them under the transport DEK.

Selected on the command line as `pkcs11:MODULE?token=LABEL&pin-env=VAR` (or `pin-file=PATH`): the PIN never
appears on the command line.  python-pkcs11 is the optional extra `mcim[hsm]`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from .errors import BadInput, TransportError, UnsupportedError
from .gp.keys import Diversification, StaticKeys, diversify_kdf3
from .keystore import sp800_108

URI_SCHEME = "pkcs11:"
URI_FORM = "pkcs11:MODULE?token=LABEL&pin-env=VAR (or &pin-file=PATH)"


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        raise BadInput("python-pkcs11 is not installed", where="PKCS#11 key source",
                       expected="pip install 'mcim[hsm]'") from None
    return pkcs11


class Pkcs11KeySource:
    """Master keys in a token, one logged-in session per process (reopened after a fork: PKCS#11 v2.40 §5.4
    says a child process must initialise the library itself)."""

    def __init__(self, module_path: str, token_label: str, pin: str) -> None:
        self.module_path = module_path
        self.token_label = token_label
        self._pin = pin
        self._pid = 0
        self._session: Any = None
        self._keys: dict[str, Any] = {}

    def __repr__(self) -> str:  # the PIN never appears
        return f"Pkcs11KeySource(module={self.module_path!r}, token={self.token_label!r})"

    @property
    def where(self) -> str:
        return f"PKCS#11 token {self.token_label!r}"

    # ------------------------------------------------------------------------------------------- KeySource

    def check(self, names: Iterable[str]) -> None:
        for name in names:
            self._key(name)

    def secret(self, name: str) -> bytes:
        attribute = _pkcs11().Attribute
        key = self._key(name)
        with self._errors(f"key {name!r}"):
            readable = key[attribute.EXTRACTABLE] and not key[attribute.SENSITIVE]
            if readable:
                return bytes(key[attribute.VALUE])
        raise BadInput(f"key {name!r} stays in the token (sensitive or not extractable)", where=self.where,
                       expected="a key the token lets out (CKA_EXTRACTABLE true, CKA_SENSITIVE false)")

    def diversify(self, master: str, kdd: bytes, *, scheme: str = "kdf3", kvn: int = 0) -> StaticKeys:
        if scheme != Diversification.KDF3:
            raise UnsupportedError(f"diversification scheme {scheme!r} with a token key", where=self.where,
                                   expected="kdf3 (AES-CMAC in the token)")
        prf, length = self._cmac(master)
        return diversify_kdf3(prf, length, kdd, kvn=kvn)

    def derive(self, master: str, label: bytes, context: bytes, length: int = 16) -> bytes:
        prf, _ = self._cmac(master)
        return sp800_108(prf, label, context, length)

    def wrap(self, kek: str, secret: bytes) -> bytes:
        # PKCS#11 v2.40 left the padding of CKM_AES_KEY_WRAP_PAD open: SoftHSM2 2.6 zero-pads the key value to
        # 8 bytes before RFC 5649 (the length field then counts the padding), so only whole 8-byte blocks match
        # RFC 5649.  Every secret of the workflows is 16, 32, 48 or 96 bytes.
        if not secret or len(secret) % 8:
            raise UnsupportedError(f"{len(secret)}-byte secret", where=f"{self.where}: AES key wrap",
                                   expected="a multiple of 8 bytes")
        pkcs11 = _pkcs11()
        attribute = pkcs11.Attribute
        wrapping = self._key(kek)
        with self._errors(f"wrap under {kek!r}"):
            # The secret enters the token as a short-lived session object, extractable so it can be wrapped.
            carrier = self._session_for_use().create_object({
                attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY, attribute.KEY_TYPE: pkcs11.KeyType.GENERIC_SECRET,
                attribute.TOKEN: False, attribute.VALUE: secret, attribute.SENSITIVE: False,
                attribute.EXTRACTABLE: True})
            try:
                return bytes(wrapping.wrap_key(carrier, mechanism=pkcs11.Mechanism.AES_KEY_WRAP_PAD))
            finally:
                carrier.destroy()

    def __enter__(self) -> Pkcs11KeySource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Log out and close this process's session (PKCS#11 logins are per process, not per session)."""
        if self._session is not None and self._pid == os.getpid():
            with self._errors("close"):
                self._session.close()
        self._session, self._keys, self._pid = None, {}, 0

    # ------------------------------------------------------------------------------------------- the token

    def _cmac(self, name: str) -> tuple[Callable[[bytes], bytes], int]:
        """AES-CMAC with the named key, computed by the token, and the key's length in bytes."""
        pkcs11 = _pkcs11()
        key = self._key(name)
        with self._errors(f"key {name!r}"):
            if key[pkcs11.Attribute.KEY_TYPE] != pkcs11.KeyType.AES:
                raise BadInput(f"key {name!r} is not an AES key", where=self.where, expected="CKK_AES")
            length = int(key[pkcs11.Attribute.VALUE_LEN])

        def cmac(data: bytes) -> bytes:
            with self._errors(f"AES-CMAC with {name!r}"):
                return bytes(key.sign(data, mechanism=pkcs11.Mechanism.AES_CMAC))

        return cmac, length

    def _key(self, name: str) -> Any:
        session = self._session_for_use()
        if name not in self._keys:
            pkcs11 = _pkcs11()
            try:
                self._keys[name] = session.get_key(object_class=pkcs11.ObjectClass.SECRET_KEY, label=name)
            except pkcs11.NoSuchKey:
                raise BadInput(f"no secret key labelled {name!r}", where=self.where,
                               expected=f"a secret key object with CKA_LABEL {name!r}") from None
            except pkcs11.MultipleObjectsReturned:
                raise BadInput(f"several secret keys labelled {name!r}", where=self.where,
                               expected="one key per label") from None
        return self._keys[name]

    def _session_for_use(self) -> Any:
        if self._session is None or self._pid != os.getpid():
            self._session = self._open(forked=self._session is not None)
            self._keys, self._pid = {}, os.getpid()
        return self._session

    def _open(self, *, forked: bool) -> Any:
        pkcs11 = _pkcs11()
        try:
            library = pkcs11.lib(self.module_path)
        except pkcs11.PKCS11Error:
            raise BadInput("cannot load the PKCS#11 module", where=self.module_path,
                           expected="the path of a PKCS#11 library (.so)") from None
        with self._errors("open"):
            if forked:
                library.reinitialize()
            try:
                token = library.get_token(token_label=self.token_label)
            except pkcs11.NoSuchToken:
                raise BadInput(f"no token labelled {self.token_label!r}", where=self.module_path,
                               expected="the label of an initialised token") from None
            try:
                return token.open(user_pin=self._pin)
            except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange):
                raise BadInput("the token rejected the PIN", where=self.where, expected="the user PIN") from None
            except pkcs11.PinLocked:
                raise BadInput("the user PIN is locked", where=self.where) from None

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Any other PKCS#11 failure as one line naming the operation (never a traceback or key material)."""
        pkcs11 = _pkcs11()
        try:
            yield
        except (pkcs11.MechanismInvalid, pkcs11.FunctionNotSupported):
            raise UnsupportedError(f"{what}: mechanism not supported", where=self.where) from None
        except pkcs11.PKCS11Error as exc:
            raise TransportError(f"{what}: {type(exc).__name__}", where=self.where) from None


def open_key_source(uri: str, environ: Mapping[str, str] | None = None) -> Pkcs11KeySource:
    """The key source a `pkcs11:MODULE?token=LABEL&pin-env=VAR` (or `&pin-file=PATH`) text names."""
    where = "--key-source"
    if not uri.startswith(URI_SCHEME) or "?" not in uri:
        raise BadInput(f"{uri!r}", where=where, expected=URI_FORM)
    module, query = uri[len(URI_SCHEME):].split("?", 1)
    params = parse_qs(query, keep_blank_values=True)
    unknown = set(params) - {"token", "pin-env", "pin-file"}
    if unknown or not module or any(len(v) != 1 for v in params.values()) or "token" not in params:
        raise BadInput(f"{uri!r}", where=where, expected=URI_FORM)
    return Pkcs11KeySource(module, params["token"][0], _pin(params, environ))


def _pin(params: dict[str, list[str]], environ: Mapping[str, str] | None) -> str:
    env = os.environ if environ is None else environ
    if "pin-env" in params and "pin-file" not in params:
        name = params["pin-env"][0]
        if not env.get(name):
            raise BadInput(f"environment variable {name} is not set", where="--key-source pin-env",
                           expected="the token's user PIN")
        return env[name]
    if "pin-file" in params and "pin-env" not in params:
        path = params["pin-file"][0]
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            raise BadInput("cannot read the PIN file", where=path, expected="the token's user PIN") from None
    raise BadInput("one PIN source needed", where="--key-source", expected="pin-env=VAR or pin-file=PATH")
