"""Where keys come from: key files, the environment, or (by implementing `KeySource`) a token or HSM.

Key file format (text, UTF-8):

    # comments start with '#'
    isd_master = 00112233445566778899AABBCCDDEEFF
    dpf_master = ...

A file holding only hex digits is one key named `key`.  Names are case-insensitive; hex may contain spaces.
Key material never appears in a repr, log line or error message: errors name the file, line and key name only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .errors import BadInput
from .gp.crypto import aes_key, kdf_counter
from .gp.keys import Diversification, StaticKeys, diversify
from .hexutil import parse_hex

_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*(.*?)\s*$")
ENV_PREFIX = "MCIM_KEY_"


def parse_key_text(text: str, where: str) -> dict[str, bytes]:
    """Parse key file text into {name: key}; a bare hex file is {"key": ...}."""
    keys: dict[str, bytes] = {}
    bare: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            bare.append(line)
            continue
        name = match.group(1).lower()
        if name in keys:
            raise BadInput(f"key {name!r} defined twice", where=f"{where}:{number}")
        keys[name] = parse_hex(match.group(2), where=f"{where}:{number} ({name})")
    if bare and keys:
        raise BadInput("a line without 'name = hex'", where=where, expected="every line as 'name = hex'")
    if bare:
        keys["key"] = parse_hex("".join(bare), where=where)
    if not keys:
        raise BadInput("no key in the file", where=where, expected="'name = hex' lines or one hex key")
    return keys


def read_key_file(path: str | Path) -> dict[str, bytes]:
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read key file ({exc.strerror})", where=where) from None
    except UnicodeDecodeError:
        raise BadInput("not a text file", where=where, expected="'name = hex' lines") from None
    return parse_key_text(text, where)


def keys_from_env(environ: Mapping[str, str] | None = None, prefix: str = ENV_PREFIX) -> dict[str, bytes]:
    """Keys from environment variables MCIM_KEY_<NAME> (hex)."""
    env = os.environ if environ is None else environ
    return {name[len(prefix):].lower(): parse_hex(value, where=f"environment {name}")
            for name, value in env.items() if name.startswith(prefix)}


def sp800_108(prf: Callable[[bytes], bytes], label: bytes, context: bytes, length: int) -> bytes:
    """NIST SP 800-108 §4.1 KDF in counter mode, fixed input [i]_8 || Label || 0x00 || Context || [L]_16
    (L in bits), over a 16-byte-output PRF (AES-CMAC in memory or in a token)."""
    return kdf_counter(prf, b"", label + b"\x00" + context + (length * 8).to_bytes(2, "big"), length)


def sp800_108_cmac(key: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """`sp800_108` with AES-CMAC under `key` as the PRF."""
    return sp800_108(aes_key(bytes(key)).cmac, label, context, length)


class KeySource(Protocol):
    """The operations the workflows need from a key store.  A PKCS#11 token implements the same three calls
    with the keys kept inside it (SP 800-108 KDF and AES key wrap are standard mechanisms there)."""

    def check(self, names: Iterable[str]) -> None:
        """Raise BadInput unless the store holds every named key (checked before a batch starts)."""
        ...

    def secret(self, name: str) -> bytes:
        """A static secret that leaves the store (e.g. a transport key set for a factory script)."""
        ...

    def diversify(self, master: str, kdd: bytes, *, scheme: str = "kdf3", kvn: int = 0) -> StaticKeys:
        """A card's key set derived from the named master key and 10 bytes of diversification data."""
        ...

    def derive(self, master: str, label: bytes, context: bytes, length: int = 16) -> bytes:
        """A secret derived from the named master key (NIST SP 800-108 counter mode, AES-CMAC PRF)."""
        ...

    def wrap(self, kek: str, secret: bytes) -> bytes:
        """`secret` encrypted under the named key-encryption key (AES key wrap with padding, RFC 5649)."""
        ...


@dataclass(frozen=True)
class SoftKeySource:
    """Keys held in process memory, loaded from key files and/or the environment."""

    keys: Mapping[str, bytes] = field(repr=False)
    origin: str = "memory"

    @classmethod
    def load(cls, files: list[str | Path] = (), env: bool = True) -> SoftKeySource:  # type: ignore[assignment]
        merged: dict[str, bytes] = keys_from_env() if env else {}
        for path in files:
            merged.update(read_key_file(path))
        origin = ", ".join(str(p) for p in files) or "environment"
        return cls(merged, origin)

    def check(self, names: Iterable[str]) -> None:
        for name in names:
            self.secret(name)

    def secret(self, name: str) -> bytes:
        try:
            return self.keys[name.lower()]
        except KeyError:
            raise BadInput(f"no key named {name!r}", where=f"key source ({self.origin})",
                           expected=f"a '{name} = hex' line or {ENV_PREFIX}{name.upper()}") from None

    def diversify(self, master: str, kdd: bytes, *, scheme: str = "kdf3", kvn: int = 0) -> StaticKeys:
        return diversify(self.secret(master), kdd, Diversification(scheme), kvn=kvn)

    def derive(self, master: str, label: bytes, context: bytes, length: int = 16) -> bytes:
        return sp800_108_cmac(self.secret(master), label, context, length)

    def wrap(self, kek: str, secret: bytes) -> bytes:
        from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

        return aes_key_wrap_with_padding(self.secret(kek), secret)
