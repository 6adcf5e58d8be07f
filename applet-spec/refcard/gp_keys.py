"""Key sets of the Issuer Security Domain, PUT KEY and DELETE [key] on the card side, and the SCP80 counters.

GP Card Specification v2.3 §11.1.8 (key types), §11.8 (PUT KEY), §11.2.2.3 (DELETE key), §11.3.3.1 (key
information template 'E0').  A key set is identified by its key version number (KVN) and holds keys by key
identifier (KID).  SCP02/SCP03 key sets hold ENC, MAC and DEK as KIDs 1, 2, 3; the SCP80 (OTA) key sets are
ordinary key sets with KVN 01..0F holding KIc, KID and KIK as KIDs 1, 2, 3 (DIGEST §1.4, [I:pySim]).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

from mcim.errors import BadInput
from mcim.gp.ccm import KeyType, PutKeyCommand
from mcim.gp.keys import DES3_KEY_SIZES, KeyAlgorithm, KeyUsage, StaticKeys, kcv
from mcim.tlv import ber_encode

from .status import Refused, Sw

OTA_KVNS = range(0x01, 0x10)  # SCP80 key sets (DIGEST §1.4)
MAX_KVN = 0x7F  # GP v2.3 §11.1.8: key version numbers 01..7F
MAX_KID = 0x7F
AES_SIZES = (16, 24, 32)
SW_INVALID_KCV = 0x9485  # GP v2.3 §11.8.3.2 (mcim.gp.ccm.SW_TABLES)
SW_ALGORITHM_NOT_SUPPORTED = 0x9484


def algorithm_of(key_type: int) -> KeyAlgorithm | None:
    return {KeyType.AES: KeyAlgorithm.AES, KeyType.DES: KeyAlgorithm.DES3}.get(key_type)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Key:
    kid: int
    key_type: int
    value: bytes = field(repr=False)

    @property
    def algorithm(self) -> KeyAlgorithm:
        algorithm = algorithm_of(self.key_type)
        assert algorithm is not None, "only DES and AES keys are stored"
        return algorithm

    def check_value(self) -> bytes:
        return kcv(self.value, self.algorithm)


def check_key(key: Key, where: str) -> None:
    """DES keys of 16/24 bytes, AES keys of 16/24/32 bytes (GP v2.3 §11.1.8, Amd D §4.1)."""
    algorithm = algorithm_of(key.key_type)
    if algorithm is None:
        raise BadInput(f"key type {key.key_type:02X}", where=where, expected="80 (DES) or 88 (AES)")
    sizes = AES_SIZES if algorithm is KeyAlgorithm.AES else DES3_KEY_SIZES
    if len(key.value) not in sizes:
        raise BadInput(f"{len(key.value)}-byte {algorithm.value} key", where=where,
                       expected=" or ".join(map(str, sizes)) + " bytes")


@dataclass
class KeySet:
    """One key version: keys by KID, and the SCP02/SCP03 sequence counter of the next INITIALIZE UPDATE."""

    kvn: int
    keys: dict[int, Key]
    sequence_counter: int = 0

    @property
    def is_ota(self) -> bool:
        return self.kvn in OTA_KVNS

    def key(self, kid: int) -> Key | None:
        return self.keys.get(kid)

    def static_keys(self) -> StaticKeys | None:
        """ENC/MAC/DEK (KIDs 1-3) as a secure channel key set, or None when they are not one algorithm and size."""
        found = [self.keys.get(usage.value) for usage in KeyUsage]
        if any(k is None for k in found) or len({(k.key_type, len(k.value)) for k in found if k}) != 1:
            return None
        enc, mac, dek = (k.value for k in found if k)
        try:
            return StaticKeys(self.kvn, enc, mac, dek, found[0].algorithm)  # type: ignore[union-attr]
        except BadInput:
            return None

    def to_dict(self) -> dict[str, Any]:
        return {"kvn": self.kvn, "sequence_counter": self.sequence_counter,
                "keys": [{"kid": k.kid, "type": k.key_type, "value": k.value.hex()} for k in self.keys.values()]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KeySet:
        keys = {k["kid"]: Key(k["kid"], k["type"], bytes.fromhex(k["value"])) for k in d["keys"]}
        return cls(d["kvn"], keys, d["sequence_counter"])


class KeyStore:
    """The key sets of a security domain, by KVN."""

    def __init__(self, sets: dict[int, KeySet] | None = None) -> None:
        self.sets: dict[int, KeySet] = dict(sorted((sets or {}).items()))

    def get(self, kvn: int) -> KeySet | None:
        return self.sets.get(kvn)

    def secure_channel_set(self, kvn: int) -> tuple[KeySet, StaticKeys] | None:
        """The key set INITIALIZE UPDATE P1 names: the lowest usable KVN for 00 (Amd D §7.1.1 [M]: "first
        available" key version).  SCP80 key sets are not secure channel keys."""
        candidates = list(self.sets.values()) if not kvn else [self.sets[kvn]] if kvn in self.sets else []
        for key_set in candidates:
            keys = key_set.static_keys()
            if keys is not None and not key_set.is_ota and (keys.algorithm is KeyAlgorithm.AES or len(keys.enc) == 16):
                return key_set, keys  # SCP02 takes 2-key 3DES only (GP v2.3 §E.1)
        return None

    def planned_put_key(self, command: PutKeyCommand) -> tuple[int | None, KeySet]:
        """What PUT KEY (GP v2.3 §11.8.2) would leave: (KVN replaced or None, the new key set).  P1 00 adds key
        set `new_kvn`; P1 = a KVN replaces the named keys of that set, which takes the version `new_kvn`.
        Raises Refused, leaving the store untouched."""
        if not 1 <= command.new_kvn <= MAX_KVN or not 1 <= command.first_kid <= MAX_KID:
            raise Refused(Sw.INCORRECT_DATA)
        old = self.sets.get(command.old_kvn) if command.old_kvn else None
        if command.old_kvn and old is None:
            raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
        if command.new_kvn in self.sets and command.new_kvn != command.old_kvn:
            raise Refused(Sw.INCORRECT_DATA)  # that version exists already
        keys = dict(old.keys) if old is not None else {}
        for offset, new in enumerate(command.keys):
            kid = command.first_kid + offset
            key = Key(kid, int(new.key_type), new.value)
            if kid > MAX_KID:
                raise Refused(Sw.INCORRECT_DATA)
            try:
                check_key(key, "PUT KEY")
            except BadInput:
                raise Refused(Sw.INCORRECT_DATA) from None
            keys[kid] = key
        counter = old.sequence_counter if old is not None else 0  # the counter goes on, so challenges never repeat
        return command.old_kvn or None, KeySet(command.new_kvn, dict(sorted(keys.items())), counter)

    def install(self, replaced: int | None, key_set: KeySet) -> None:
        if replaced is not None:
            del self.sets[replaced]
        self.sets[key_set.kvn] = key_set
        self.sets = dict(sorted(self.sets.items()))

    def planned_delete(self, kvn: int | None, kid: int | None) -> dict[int, KeySet | None]:
        """DELETE [key] (GP v2.3 §11.2.2.3): KVN and KID one key, KVN alone the whole set, KID alone that key in
        every set.  Returns the sets to replace (None = remove); 6A88 when nothing matches."""
        changes: dict[int, KeySet | None] = {}
        for number, key_set in self.sets.items():
            if kvn is not None and number != kvn:
                continue
            if kid is None:
                changes[number] = None
            elif kid in key_set.keys:
                rest = {k: v for k, v in key_set.keys.items() if k != kid}
                changes[number] = replace(key_set, keys=rest) if rest else None
        if not changes:
            raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
        return changes

    def apply_delete(self, changes: dict[int, KeySet | None]) -> None:
        for number, key_set in changes.items():
            if key_set is None:
                del self.sets[number]
            else:
                self.sets[number] = key_set

    def key_information(self) -> bytes:
        """GET DATA 'E0' (GP v2.3 §11.3.3.1, basic format): `C0 {KID, KVN, type, length}` per key."""
        entries = [ber_encode(0xC0, bytes((key.kid, key_set.kvn, key.key_type, len(key.value))))
                   for key_set in self.sets.values() for key in key_set.keys.values()]
        return ber_encode(0xE0, b"".join(entries))

    def to_list(self) -> list[dict[str, Any]]:
        return [key_set.to_dict() for key_set in self.sets.values()]

    @classmethod
    def from_list(cls, items: list[dict[str, Any]]) -> KeyStore:
        return cls({key_set.kvn: key_set for key_set in map(KeySet.from_dict, items)})


class OtaCounters(MutableMapping[Hashable, int]):
    """The counters of the SCP80 receiving entity (ETSI TS 102 225 §5.1.1), persisted with the card state.

    Keys are those `mcim.ota.receiver.ReceivingEntity` uses: ("kvn", key set number) or ("tar", 3-byte TAR).
    Every change calls `on_change`, so the card writes its state file.
    """

    def __init__(self, stored: dict[str, int], on_change: Callable[[], None]) -> None:
        self.stored = stored
        self._on_change = on_change

    @staticmethod
    def _name(key: Hashable) -> str:
        if isinstance(key, tuple) and len(key) == 2:
            kind, value = key
            if kind == "kvn" and isinstance(value, int) and 0 <= value <= 0xFF:
                return f"kvn:{value:02x}"
            if kind == "tar" and isinstance(value, bytes) and len(value) == 3:
                return f"tar:{value.hex()}"
        raise BadInput(f"{key!r}", where="OTA counter key", expected="('kvn', 0..255) or ('tar', 3 bytes)")

    @staticmethod
    def _key(name: str) -> Hashable:
        kind, value = name.split(":")
        return (kind, int(value, 16)) if kind == "kvn" else (kind, bytes.fromhex(value))

    def __getitem__(self, key: Hashable) -> int:
        return self.stored[self._name(key)]

    def __setitem__(self, key: Hashable, value: int) -> None:
        self.stored[self._name(key)] = value
        self._on_change()

    def __delitem__(self, key: Hashable) -> None:
        del self.stored[self._name(key)]
        self._on_change()

    def __iter__(self) -> Iterator[Hashable]:
        return iter([self._key(name) for name in self.stored])

    def __len__(self) -> int:
        return len(self.stored)
