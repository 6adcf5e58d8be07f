"""DRF: the registrations of TR 33.812 (which SHO the subscriber chose for a card, which DPF downloads it, how far
provisioning went), kept in SQLite so that batch registration of many cards and several processes work."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from .provision import OtaSession
from .scripts import ScriptWriter

SCHEMA = """
CREATE TABLE IF NOT EXISTS registrations (
    iccid TEXT PRIMARY KEY,
    sho TEXT NOT NULL,
    dpf TEXT NOT NULL,
    state TEXT NOT NULL,
    updated REAL NOT NULL
)"""
STATES = ("registered", "validated", "provisioned", "refused")


@dataclass(frozen=True)
class Registration:
    iccid: str
    sho: str
    dpf: str
    state: str


def pva_script(iccid: str, isd_master_file: str, ota: OtaSession, isd_aid: str = "A000000151000000",
               isd_kvn: str = "30") -> ScriptWriter:
    """The PVA's challenge (TR 33.812 §5.1.3.5 platform validation): the card must open SCP03 under its
    per-card ISD keys, diversified from the master with the KDD it returns (a fresh host challenge each time),
    show the life cycle the factory left (ISD SECURED), and answer an OTA packet under its bootstrap key set with
    a PoR whose CC verifies."""
    out = ScriptWriter().comment(f"PVA: card {iccid} proves its diversified ISD and OTA keys")
    out.step("SCP03 with the per-card ISD keys (diversified from the KDD the card returns)")
    aid = bytes.fromhex(isd_aid)
    out.raw(f"00 A4 04 00 {len(aid):02X} {isd_aid} [00] => 9000 data ...")
    out.directive("scp03", "open", kvn=isd_kvn, level="33", master=isd_master_file, scheme="kdf3")
    out.raw(f"80 F2 80 02 02 4F00 [00] => 9000 data E3 XX 4F {len(aid):02X} {isd_aid} 9F70 01 0F ...")
    out.directive("scp03", "close")
    ota.begin(out, "B00000", "An OTA PoR with a valid CC under the bootstrap key set")
    out.raw("00 A4 00 0C 02 2FE2 => 9000")
    out.directive("ota", "end")
    return out


class Registry:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        with self._db() as db:
            db.execute(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise BadInput(f"cannot open the registration database ({exc})", where=self.path,
                           expected="a writable SQLite file") from None
        return db

    def register(self, iccid: str, sho: str, dpf: str) -> Registration:
        """Record the subscriber's choice; re-registering a card links it to the new SHO (TR 33.812 §5.1.3.5)."""
        with self._db() as db:
            db.execute("INSERT INTO registrations VALUES (?, ?, ?, 'registered', ?) ON CONFLICT(iccid) DO UPDATE "
                       "SET sho = excluded.sho, dpf = excluded.dpf, state = 'registered', updated = excluded.updated",
                       (iccid, sho, dpf, time.time()))
        return Registration(iccid, sho, dpf, "registered")

    def set_state(self, iccid: str, state: str) -> None:
        if state not in STATES:
            raise BadInput(f"state {state!r}", where="registration", expected=" / ".join(STATES))
        with self._db() as db:
            if db.execute("UPDATE registrations SET state = ?, updated = ? WHERE iccid = ?",
                          (state, time.time(), iccid)).rowcount != 1:
                raise BadInput(f"card {iccid} is not registered", where=self.path, expected="mcim register first")

    def lookup(self, iccid: str) -> Registration | None:
        with self._db() as db:
            row = db.execute("SELECT iccid, sho, dpf, state FROM registrations WHERE iccid = ?", (iccid,)).fetchone()
        return Registration(*row) if row else None
