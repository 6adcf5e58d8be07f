"""EUM factory bootstrap (TR 33.812 subcase 2b, step 1): per-card credentials, factory scripts, vendor output file.

For each card of a batch: diversify the ISD key set and the DPF's bootstrap OTA key set from master keys with the
card's ICCID as key diversification data, derive the PCID subscription (provisional IMSI, K, OPc), write the card's
factory script (an SCP03 session opened with the vendor transport keys: PUT KEY of the ISD keys, PUT KEY of the OTA
key set, STORE DATA personalisation of the PCID USIM, SET STATUS to SECURED) and one row of the vendor output file
(identities, key check values, secrets wrapped under a transport KEK: never in clear).

The batch streams: cards are read, derived and written in chunks, so memory stays flat for any batch size; both
cores work through a process pool; outputs are atomic and a stopped batch resumes where it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from ..aka import compute_opc
from ..apdu import CommandApdu
from ..fileio import write_atomic
from ..gp import ccm
from ..gp.crypto import aes_cbc_encrypt
from ..gp.keys import KeyAlgorithm, StaticKeys
from ..keystore import KeySource
from ..usim import encode_imsi
from .identity import CardIdentity
from .profiles import PROFILES, load_checked
from .scripts import ScriptWriter

DEFAULT_BOOTSTRAP_PROFILE = PROFILES / "bootstrap.yaml"
INITIALIZED, SECURED = 0x07, 0x0F  # GP v2.3 §11.1.1 card life cycle coding
OUTPUT_COLUMNS = ("ICCID", "EID", "SERIAL", "PCID_IMSI", "ISD_KVN", "KCV_ENC", "KCV_MAC", "KCV_DEK", "OTA_KVN",
                  "KCV_KIC", "KCV_KID", "KCV_KIK", "WRAPPED_K", "WRAPPED_OPC", "WRAPPED_ISD_KEYS",
                  "WRAPPED_OTA_KEYS")
DGI_FILE, DGI_SUBSCRIBER_KEYS = 0x0101, 0x8101  # applet-spec/profiles/personalisation.md
EF_IMSI = b"\x6f\x07"


@dataclass(frozen=True)
class BootstrapProfile:
    name: str
    eum: str
    isd_aid: bytes
    transport_kvn: int
    level: int
    card_kvn: int
    isd_master: str
    scheme: str
    ota_kvn: int
    dpf_master: str
    usim_aid: bytes
    mcc: str
    mnc: str
    k_master: str
    op: str
    kek: str

    @classmethod
    def load(cls, path: str | Path = DEFAULT_BOOTSTRAP_PROFILE) -> BootstrapProfile:
        """The profile, checked against bootstrap.schema.json (errors name the field)."""
        doc = load_checked(path, "bootstrap.schema.json")
        isd, ota, pcid = doc["isd"], doc["ota"], doc["pcid"]
        return cls(doc["profile"], doc.get("eum", ""), bytes.fromhex(isd["aid"]), int(isd["transport"]["kvn"], 16),
                   int(isd["transport"]["level"], 16), int(isd["card_keys"]["kvn"], 16), isd["card_keys"]["master"],
                   isd["card_keys"]["scheme"], ota["kvn"], ota["master"], bytes.fromhex(pcid["usim_aid"]),
                   pcid["mcc"], pcid["mnc"], pcid["k_master"], pcid["op"], doc["output"]["kek"])


@dataclass(frozen=True)
class CardCredentials:
    """Everything the factory gives one card (held in memory only while its script and row are written)."""

    card: CardIdentity
    isd: StaticKeys
    ota: StaticKeys
    imsi: str
    k: bytes
    opc: bytes

    def __repr__(self) -> str:  # keys never appear in a repr
        return f"CardCredentials(iccid={self.card.iccid}, imsi={self.imsi})"


def pcid_imsi(profile: BootstrapProfile, iccid: str) -> str:
    """The provisional IMSI: MCC MNC and an MSIN taken from the ICCID's individual account digits."""
    msin_length = 15 - len(profile.mcc) - len(profile.mnc)
    return profile.mcc + profile.mnc + iccid[:-1][-msin_length:]


def derive_credentials(profile: BootstrapProfile, keys: KeySource, card: CardIdentity) -> CardCredentials:
    isd = keys.diversify(profile.isd_master, card.kdd, scheme=profile.scheme, kvn=profile.card_kvn)
    ota = keys.diversify(profile.dpf_master, card.kdd, scheme=profile.scheme, kvn=profile.ota_kvn)
    k = keys.derive(profile.k_master, b"PCID-K", card.iccid.encode())
    return CardCredentials(card, isd, ota, pcid_imsi(profile, card.iccid), k, compute_opc(k, keys.secret(profile.op)))


def put_key(keys: StaticKeys, *, replace: int = 0) -> ccm.PutKeyCommand:
    key_type = ccm.KeyType.AES if keys.algorithm is KeyAlgorithm.AES else ccm.KeyType.DES
    return ccm.PutKeyCommand(keys.kvn, tuple(ccm.NewKey(key_type, k) for k in (keys.enc, keys.mac, keys.dek)),
                             old_kvn=replace)


def personalisation_dgis(imsi: str, k: bytes, opc: bytes, dek: bytes) -> list[bytes]:
    """STORE DATA DGIs for a USIM instance: EF.IMSI content, then K || OPc enciphered under the DEK
    (AES-CBC, zero IV; personalisation.md DGI 8101, GP v2.3 §11.11.2.1 encryption '11')."""
    return [ccm.encode_dgi(DGI_FILE, EF_IMSI + encode_imsi(imsi)),
            ccm.encode_dgi(DGI_SUBSCRIBER_KEYS, aes_cbc_encrypt(dek, k + opc))]


def personalisation_commands(aid: bytes, dgis: list[bytes]) -> list[CommandApdu]:
    return [ccm.InstallForPersonalization(aid).to_apdu(),
            *ccm.store_data_commands(dgis, structure=ccm.StoreDataStructure.DGI,
                                     encryption=ccm.StoreDataEncryption.ENCRYPTED)]


def factory_script(profile: BootstrapProfile, creds: CardCredentials, transport_keys: StaticKeys,
                   transport_key_file: str, rng: Callable[[int], bytes] = os.urandom) -> ScriptWriter:
    """The card's factory script: every command with its expected answer (KCVs included)."""
    card = creds.card
    out = ScriptWriter().comment(
        f"mcim factory bootstrap (EUM {profile.eum or '-'}, profile {profile.name})\n"
        f"ICCID {card.iccid}  EID {card.eid or '-'}  PCID IMSI {creds.imsi}\n"
        "Keys travel encrypted under the transport DEK; the session keys come from the transport key file.")
    out.section(f"Bootstrap {card.iccid}")
    out.step("Select the ISD and open SCP03 with the vendor transport keys")
    out.command(ccm.select(profile.isd_aid), sw="9000", data="...")
    out.directive("scp03", "open", kvn=f"{profile.transport_kvn:02X}", level=f"{profile.level:02X}",
                  keys=transport_key_file)
    isd_cmd = put_key(creds.isd, replace=profile.transport_kvn)
    out.step(f"Replace the ISD key set (KVN {profile.transport_kvn:02X} -> per-card KVN {creds.isd.kvn:02X})")
    out.command(isd_cmd.to_apdu(transport_keys.dek, rng=rng), data=isd_cmd.expected_response())
    ota_cmd = put_key(creds.ota)
    out.step(f"Put the DPF bootstrap OTA key set (KVN {creds.ota.kvn:02X}: KIc, KID, KIK)")
    out.command(ota_cmd.to_apdu(transport_keys.dek, rng=rng), data=ota_cmd.expected_response())
    out.step("Personalise the PCID USIM (IMSI, K/OPc enciphered under the DEK)")
    for apdu in personalisation_commands(profile.usim_aid,
                                         personalisation_dgis(creds.imsi, creds.k, creds.opc, transport_keys.dek)):
        out.command(apdu)
    out.step("Card life cycle OP_READY -> INITIALIZED -> SECURED (GP v2.3 §5.1.1: one step at a time)")
    for state in (INITIALIZED, SECURED):
        out.command(ccm.set_status(ccm.StatusType.ISSUER_SECURITY_DOMAIN, state))
    out.directive("scp03", "close")
    return out


def output_row(profile: BootstrapProfile, keys: KeySource, creds: CardCredentials) -> str:
    isd, ota = creds.isd, creds.ota

    def wrap(secret: bytes) -> str:
        return keys.wrap(profile.kek, secret).hex().upper()

    kcv = {**{f"isd_{n}": v for n, v in isd.kcvs().items()}, **{f"ota_{n}": v for n, v in ota.kcvs().items()}}
    fields = (creds.card.iccid, creds.card.eid or "-", creds.card.serial or "-", creds.imsi, f"{isd.kvn:02X}",
              *(kcv[f"isd_{n}"].hex().upper() for n in ("enc", "mac", "dek")), f"{ota.kvn:02X}",
              *(kcv[f"ota_{n}"].hex().upper() for n in ("enc", "mac", "dek")),
              wrap(creds.k), wrap(creds.opc), wrap(isd.enc + isd.mac + isd.dek), wrap(ota.enc + ota.mac + ota.dek))
    return " ".join(fields)


def output_header(profile: BootstrapProfile, keys: KeySource) -> str:
    kek_check = keys.wrap(profile.kek, bytes(16))[:4].hex().upper()
    return (f"* mcim vendor output file: TR 33.812 subcase 2b bootstrap, profile {profile.name}\n"
            f"* EUM: {profile.eum or '-'}; secrets wrapped with AES key wrap (RFC 5649) under KEK "
            f"'{profile.kek}' (check {kek_check}); KCVs per GP (AES: 16 x 01)\n"
            f"var_out: {' '.join(OUTPUT_COLUMNS)}\n")


# --------------------------------------------------------------------------------------------- batches

@dataclass(frozen=True)
class BatchJob:
    profile: BootstrapProfile
    keys: KeySource
    transport_keys: StaticKeys
    transport_key_file: str
    scripts: Path


def bootstrap_card(job: BatchJob, card: CardIdentity) -> str:
    creds = derive_credentials(job.profile, job.keys, card)
    rel = os.path.relpath(job.transport_key_file, job.scripts)
    factory_script(job.profile, creds, job.transport_keys, rel).write(job.scripts / f"{card.iccid}.apdu",
                                                                    durable=False)
    return output_row(job.profile, job.keys, creds)


_JOB: BatchJob | None = None


def _init_worker(job: BatchJob) -> None:
    global _JOB
    _JOB = job


def _chunk(cards: list[CardIdentity]) -> list[str]:
    assert _JOB is not None
    return [bootstrap_card(_JOB, card) for card in cards]


def _chunks(cards: Iterable[CardIdentity], size: int) -> Iterator[list[CardIdentity]]:
    it = iter(cards)
    while chunk := list(islice(it, size)):
        yield chunk


@dataclass(frozen=True)
class BatchResult:
    cards: int
    resumed: int
    output: Path
    scripts: Path


def run_batch(job: BatchJob, cards: Iterable[CardIdentity], output: Path, *, workers: int = 0,
              resume: bool = False, chunk: int = 256, progress: Callable[[int], None] | None = None) -> BatchResult:
    """Bootstrap every card; rows go to `output` (renamed into place when the batch is complete)."""
    partial = output.with_name(output.name + ".partial")
    done = _resume_point(partial) if resume else 0
    if not resume or not partial.exists():
        write_atomic(partial, output_header(job.profile, job.keys), mode=0o600)
    cards = islice(iter(cards), done, None)
    count = done
    with open(partial, "a", encoding="utf-8") as sink:
        for rows in _map_chunks(job, _chunks(cards, chunk), workers):
            os.sync()  # the chunk's factory scripts reach the disk before its rows say they are done
            sink.write("".join(row + "\n" for row in rows))
            sink.flush()
            os.fsync(sink.fileno())
            count += len(rows)
            if progress:
                progress(len(rows))
    os.replace(partial, output)
    return BatchResult(count, done, output, job.scripts)


def _map_chunks(job: BatchJob, chunks: Iterator[list[CardIdentity]], workers: int) -> Iterator[list[str]]:
    workers = workers or (os.cpu_count() or 1)
    if workers == 1:
        _init_worker(job)
        yield from map(_chunk, chunks)
        return
    import multiprocessing
    from collections import deque

    # A bounded window of chunks in flight, yielded in order: Pool.imap would read the whole batch ahead of the
    # workers, and memory would grow with the number of cards.
    window = 2 * workers + 1
    with multiprocessing.get_context("fork").Pool(workers, _init_worker, (job,)) as pool:
        in_flight: deque = deque()
        for chunk in chunks:
            in_flight.append(pool.apply_async(_chunk, (chunk,)))
            if len(in_flight) >= window:
                yield in_flight.popleft().get()
        while in_flight:
            yield in_flight.popleft().get()


def _resume_point(partial: Path) -> int:
    """Rows already in a partial output; a torn last line (a crash mid-write) is cut off first."""
    if not partial.exists():
        return 0
    data = partial.read_bytes()
    whole = data[:data.rfind(b"\n") + 1]
    if len(whole) != len(data):
        with open(partial, "r+b") as handle:
            handle.truncate(len(whole))
    return sum(1 for line in whole.decode().splitlines() if line and not line.startswith(("*", "var_out:")))
