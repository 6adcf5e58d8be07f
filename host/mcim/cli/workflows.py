"""The subcase 2b workflows on the command line: bootstrap (EUM), and the benchmarks of the factory path."""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click

from ..errors import BadInput
from ..gp.keys import KeyAlgorithm, StaticKeys
from ..keystore import KeySource, SoftKeySource, read_key_file
from ..workflows.bootstrap import DEFAULT_BOOTSTRAP_PROFILE, BatchJob, BatchResult, BootstrapProfile, run_batch
from ..workflows.identity import CardIdentity, make_iccid, read_batch
from .common import emit, json_option


def transport_key_set(path: str, kvn: int) -> StaticKeys:
    keys = read_key_file(path)
    missing = [name for name in ("enc", "mac", "dek") if name not in keys]
    if missing:
        raise BadInput(f"no {', '.join(missing)} key", where=path, expected="'enc = hex', 'mac = hex', 'dek = hex'")
    return StaticKeys(kvn, keys["enc"], keys["mac"], keys["dek"], KeyAlgorithm.AES)


@click.command("bootstrap")
@click.option("--batch", "batch", required=True, type=click.Path(dir_okay=False),
              help="CSV of the cards: iccid[,eid][,serial] with a header line.")
@click.option("--profile", default=str(DEFAULT_BOOTSTRAP_PROFILE), show_default=True, help="Bootstrap profile YAML.")
@click.option("--key-file", "key_files", multiple=True, help="Key file with the master keys the profile names "
              "('name = hex'); MCIM_KEY_<NAME> environment variables are read too.")
@click.option("--key-source", default=None, metavar="pkcs11:MODULE?token=LABEL&pin-env=VAR",
              help="Master keys inside a PKCS#11 token (found by label; PIN from pin-env=VAR or pin-file=PATH) "
              "instead of key files.")
@click.option("--transport-keys", required=True, type=click.Path(dir_okay=False),
              help="Key file of the vendor transport key set (enc, mac, dek) the blank cards carry.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--workers", default=0, show_default="all cores", help="Worker processes.")
@click.option("--resume", is_flag=True, help="Continue a batch that was stopped.")
@json_option
def bootstrap(batch: str, profile: str, key_files: tuple[str, ...], key_source: str | None, transport_keys: str,
              out_dir: str, workers: int, resume: bool, as_json: bool) -> None:
    """EUM factory bootstrap: per-card keys, factory scripts and the vendor output file for a batch of cards."""
    prof = BootstrapProfile.load(profile)
    keys = _bootstrap_keys(key_files, key_source)
    out = Path(out_dir)
    job = BatchJob(prof, keys, transport_key_set(transport_keys, prof.transport_kvn),
                   os.path.abspath(transport_keys), out / "scripts")
    keys.check((prof.isd_master, prof.dpf_master, prof.k_master, prof.kek))  # before the first card
    keys.secret(prof.op)  # OPc is computed in memory: the OP must leave the key source
    started = time.perf_counter()
    result = _with_progress(lambda tick: run_batch(job, read_batch(batch), out / "vendor.out", workers=workers,
                                                   resume=resume, progress=tick), not as_json)
    seconds = time.perf_counter() - started
    emit({"cards": result.cards, "resumed": result.resumed, "output": str(result.output),
          "scripts": str(result.scripts), "seconds": round(seconds, 3),
          "cards_per_second": round((result.cards - result.resumed) / seconds, 1) if seconds else None}, as_json,
         lambda r: f"bootstrapped {r['cards']} cards ({r['resumed']} resumed) in {r['seconds']} s\n"
                   f"vendor output: {r['output']}\nfactory scripts: {r['scripts']}/<ICCID>.apdu")


def _bootstrap_keys(key_files: tuple[str, ...], key_source: str | None) -> KeySource:
    if key_source is None:
        return SoftKeySource.load(list(key_files))
    if key_files:
        raise BadInput("both key files and a key source", where="--key-source", expected="one of the two")
    from ..keystore_pkcs11 import open_key_source

    return open_key_source(key_source)


def _with_progress(work: Callable[[Callable[[int], None] | None], BatchResult], show: bool) -> BatchResult:
    if not show or not sys.stderr.isatty():
        return work(None)
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("bootstrap", total=None)
        return work(lambda n: bar.advance(task, n))


@click.command("bootstrap")
@click.option("--cards", default=10000, show_default=True)
@click.option("--workers", default=0, show_default="all cores")
@json_option
def bench_bootstrap(cards: int, workers: int, as_json: bool) -> None:
    """Cards bootstrapped per second (derivation, factory script, output row) and peak memory."""
    keys = SoftKeySource({name: os.urandom(16) for name in
                          ("isd_master", "dpf_master", "ro_k_master", "ro_op", "output_kek")}, "benchmark")
    transport = StaticKeys(0x30, os.urandom(16), os.urandom(16), os.urandom(16))
    prof = BootstrapProfile.load(DEFAULT_BOOTSTRAP_PROFILE)
    with tempfile.TemporaryDirectory(prefix="mcim-bench-") as tmp:
        out = Path(tmp)
        (out / "transport.keys").write_text("enc = 00\n")
        job = BatchJob(prof, keys, transport, str(out / "transport.keys"), out / "scripts")
        batch = (CardIdentity(make_iccid("8988", n)) for n in range(cards))
        started = time.perf_counter()
        run_batch(job, batch, out / "vendor.out", workers=workers)
        seconds = time.perf_counter() - started
        # measured before the temporary directory goes: deleting 100,000 files lists them all in memory
        peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    emit({"cards": cards, "seconds": round(seconds, 3), "cards_per_second": round(cards / seconds, 1),
          "peak_rss_mb": round(peak / 1024, 1)}, as_json)


# --------------------------------------------------------------------------------------------- DPF and SHO side

def _target_options(f):  # type: ignore[no-untyped-def]
    f = click.option("--target", help="refcard[:PROFILE|STATE.json], jcardsim, replay:TRACE (default: none, "
                     "the script is only written)")(f)
    return click.option("--reader", help="PC/SC reader name or index to run on.")(f)


def _ota_session(key_file: str, kvn: int, spi: str, counter_store: str | None, iccid: str, scripts: Path):
    from ..workflows.provision import OtaSession

    keys = read_key_file(key_file)
    missing = [n for n in ("kic", "kid", "kik") if n not in keys]
    if missing:
        raise BadInput(f"no {', '.join(missing)} key", where=key_file, expected="'kic = hex', 'kid = hex', 'kik = hex'")
    ota = StaticKeys(kvn, keys["kic"], keys["kid"], keys["kik"], KeyAlgorithm.AES)  # the profiles' OTA sets are AES
    return OtaSession(ota, os.path.relpath(os.path.abspath(key_file), scripts), spi, counter_store, iccid)


def _subscription(path: str, keys_path: str, aid: str | None):
    import yaml

    from ..aka import compute_opc
    from ..workflows.provision import Subscription

    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        sho, imsi, spn = str(doc["sho"]), str(doc["imsi"]), str(doc.get("spn", doc["sho"]))
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise BadInput(f"cannot read the subscription ({type(exc).__name__})", where=path,
                       expected="YAML with sho, imsi[, spn]") from None
    secrets = read_key_file(keys_path)
    if "k" not in secrets or not ("opc" in secrets or "op" in secrets):
        raise BadInput("K and OPc (or OP) needed", where=keys_path, expected="'k = hex' and 'opc = hex'")
    for name, value in secrets.items():
        if name in ("k", "opc", "op") and len(value) != 16:
            raise BadInput(f"{name} is {len(value)} bytes", where=keys_path, expected="16 bytes (TS 35.206)")
    opc = secrets.get("opc") or compute_opc(secrets["k"], secrets["op"])
    return Subscription(sho, imsi, secrets["k"], opc, spn, bytes.fromhex(aid) if aid else None)


def _run_written(script: Path, reader: str | None, target: str | None) -> dict:
    if reader is None and target is None:
        return {"ran": False}
    from ..runner import run_script
    from ..script.loader import load_script
    from ..targets import open_target

    transport = open_target(target, reader)
    try:
        result = run_script(load_script(str(script)), transport)
    finally:
        transport.close()
    if not result.passed:
        failed = next((o for o in result.outcomes if o.status.value in ("failed", "error")), None)
        detail = str(result.error) if result.error else (f"{failed.where}: {failed.message}" if failed else "")
        return {"ran": True, "passed": False, "detail": detail}
    return {"ran": True, "passed": True}


@click.command("provision")
@click.option("--iccid", required=True, help="The card (its counters are kept per ICCID).")
@click.option("--subscription", required=True, type=click.Path(dir_okay=False),
              help="SHO data (YAML: sho, imsi, spn).")
@click.option("--subscription-keys", required=True, type=click.Path(dir_okay=False),
              help="Key file with k and opc (or op).")
@click.option("--ota-keys", required=True, type=click.Path(dir_okay=False),
              help="Key file (kic, kid, kik) of the OTA key set on the card (the DPF's bootstrap set).")
@click.option("--kvn", default=1, show_default=True, help="Its key version (KIc/KID key index).")
@click.option("--hand-over-to", type=click.Path(dir_okay=False), help="Key file of the SHO's OTA key set: "
              "the campaign ends by replacing the current set with it.")
@click.option("--new-kvn", default=2, show_default=True, help="Key version of the handed-over set.")
@click.option("--spi", default="1639", show_default=True)
@click.option("--mcim-profile", default=None, help="MCIM profile YAML (default: applet-spec/profiles/mcim.yaml).")
@click.option("--instance-aid", help="AID of the MCIM instance (default: the profile's).")
@click.option("--counter-store", default="counters.sqlite", show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@_target_options
@json_option
def provision(iccid: str, subscription: str, subscription_keys: str, ota_keys: str, kvn: int,
              hand_over_to: str | None, new_kvn: int, spi: str, mcim_profile: str | None, instance_aid: str | None,
              counter_store: str, out_dir: str, reader: str | None, target: str | None, as_json: bool) -> None:
    """DPF: write (and with --reader/--target, run) the OTA campaign that downloads an MCIM."""
    from ..workflows.identity import CardIdentity

    CardIdentity(iccid).check("--iccid")
    from ..workflows.provision import DEFAULT_MCIM_PROFILE, McimProfile, mcim_download
    from ..workflows.scripts import ScriptWriter

    out = Path(out_dir)
    scripts = out.resolve()
    profile = McimProfile.load(mcim_profile or DEFAULT_MCIM_PROFILE)
    sub = _subscription(subscription, subscription_keys, instance_aid)
    session = _ota_session(ota_keys, kvn, spi, os.path.abspath(counter_store), iccid, scripts)
    successor = None
    if hand_over_to:
        successor = _ota_session(hand_over_to, new_kvn, spi, None, iccid, scripts).keys
    writer = ScriptWriter().comment(f"DPF download of {sub.sho}'s MCIM onto card {iccid}")
    path = mcim_download(writer, profile, sub, session, successor).write(out / f"{iccid}-download.apdu")
    _finish({"script": str(path), **_run_written(path, reader, target)}, as_json)


@click.command("validate")
@click.option("--subscription", required=True, type=click.Path(dir_okay=False))
@click.option("--subscription-keys", required=True, type=click.Path(dir_okay=False))
@click.option("--mcim-profile", default=None)
@click.option("--instance-aid")
@click.option("--pin1-env", default="MCIM_PIN1", show_default=True, help="Environment variable holding PIN1.")
@click.option("--sqn", default=32, show_default=True, help="SQN of the authentication vector (decimal).")
@_target_options
@json_option
def validate(subscription: str, subscription_keys: str, mcim_profile: str | None, instance_aid: str | None,
             pin1_env: str, sqn: int, reader: str | None, target: str | None, as_json: bool) -> None:
    """SHO: check a downloaded MCIM: files, AUTHENTICATE (RES/CK/IK/Kc) and resynchronisation (AUTS)."""
    from ..targets import open_target
    from ..workflows.provision import DEFAULT_MCIM_PROFILE, McimProfile
    from ..workflows.validate import validate_mcim

    pin1 = os.environ.get(pin1_env)
    if not pin1:
        raise BadInput(f"environment variable {pin1_env} is not set", where="--pin1-env", expected="PIN1 digits")
    profile = McimProfile.load(mcim_profile or DEFAULT_MCIM_PROFILE)
    sub = _subscription(subscription, subscription_keys, instance_aid)
    transport = open_target(target, reader)
    try:
        report = validate_mcim(transport, profile, sub, pin1=pin1, sqn=sqn)
    finally:
        transport.close()
    emit({"ok": report.ok, "checks": [c.__dict__ for c in report.checks]}, as_json,
         lambda r: "\n".join(f"{'ok  ' if c['ok'] else 'FAIL'} {c['name']:<18} {c['detail']}" for c in r["checks"]))
    if not report.ok:
        raise SystemExit(1)


@click.command("register")
@click.option("--db", default="registrations.sqlite", show_default=True)
@click.option("--iccid", required=True)
@click.option("--sho", required=True, help="The Selected Home Operator the subscriber chose.")
@click.option("--dpf", default="DPF", show_default=True)
@click.option("--isd-master", type=click.Path(dir_okay=False),
              help="PVA: key file with the ISD master key ('master = hex') the card's SCP03 keys derive from.")
@click.option("--ota-keys", type=click.Path(dir_okay=False), help="PVA: key file (kic, kid, kik) of the bootstrap "
              "OTA key set (KVN 1).")
@click.option("--counter-store", default="counters.sqlite", show_default=True)
@click.option("--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Where the PVA script is written.")
@_target_options
@json_option
def register_card(db: str, iccid: str, sho: str, dpf: str, isd_master: str | None, ota_keys: str | None,
                  counter_store: str, out_dir: str, reader: str | None, target: str | None, as_json: bool) -> None:
    """DRF: record the subscriber's choice of SHO for a card (re-registering links it to the new SHO); with
    --reader/--target the PVA first makes the card prove it is the genuine card of its bootstrap batch."""
    from ..workflows.identity import CardIdentity
    from ..workflows.registry import Registry, pva_script

    CardIdentity(iccid).check("--iccid")
    registry = Registry(db)
    result: dict = {}
    if reader or target:
        if not (isd_master and ota_keys):
            raise BadInput("the platform validation needs the card's keys", where="--reader/--target",
                           expected="--isd-master FILE and --ota-keys FILE")
        scripts = Path(out_dir).resolve()
        ota = _ota_session(ota_keys, 1, "1639", os.path.abspath(counter_store), iccid, scripts)
        path = pva_script(iccid, os.path.relpath(os.path.abspath(isd_master), scripts), ota).write(
            scripts / f"{iccid}-pva.apdu")
        result = {"pva_script": str(path), **_run_written(path, reader, target)}
        if not result["passed"]:
            emit(result, as_json, lambda r: f"platform validation FAILED, card not registered: {r['detail']}")
            raise SystemExit(1)
    record = registry.register(iccid, sho, dpf)
    if result:
        registry.set_state(iccid, "validated")
    emit({**record.__dict__, "state": "validated" if result else record.state, **result}, as_json,
         lambda r: f"card {r['iccid']} registered for {r['sho']} (DPF {r['dpf']}), {r['state']}")


@click.command("change-sho")
@click.option("--iccid", required=True)
@click.option("--current-keys", required=True, type=click.Path(dir_okay=False),
              help="Key file (kic, kid, kik) of the current key set holder (the SHO the card leaves).")
@click.option("--current-kvn", default=2, show_default=True)
@click.option("--remove-aid", required=True, help="AID of the current MCIM instance, deleted first.")
@click.option("--new-keys", required=True, type=click.Path(dir_okay=False),
              help="Key file of the new SHO's OTA key set, handed over by the current holder.")
@click.option("--new-kvn", default=3, show_default=True)
@click.option("--subscription", required=True, type=click.Path(dir_okay=False), help="The new SHO's data (YAML).")
@click.option("--subscription-keys", required=True, type=click.Path(dir_okay=False))
@click.option("--instance-aid", help="AID of the new MCIM instance (default: the profile's).")
@click.option("--mcim-profile", default=None)
@click.option("--spi", default="1639", show_default=True)
@click.option("--counter-store", default="counters.sqlite", show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@_target_options
@json_option
def change_sho(iccid: str, current_keys: str, current_kvn: int, remove_aid: str, new_keys: str, new_kvn: int,
               subscription: str, subscription_keys: str, instance_aid: str | None, mcim_profile: str | None,
               spi: str, counter_store: str, out_dir: str, reader: str | None, target: str | None,
               as_json: bool) -> None:
    """Authorised change of subscription (TR 33.812 issue 3): the current key holder deletes its MCIM and hands
    the OTA key set over; the new SHO downloads its MCIM with it."""
    from ..hexutil import parse_hex
    from ..workflows.provision import DEFAULT_MCIM_PROFILE, McimProfile, hand_over, mcim_download, remove_mcim
    from ..workflows.scripts import ScriptWriter

    out = Path(out_dir)
    scripts = out.resolve()
    store = os.path.abspath(counter_store)
    profile = McimProfile.load(mcim_profile or DEFAULT_MCIM_PROFILE)
    sub = _subscription(subscription, subscription_keys, instance_aid)
    current = _ota_session(current_keys, current_kvn, spi, store, iccid, scripts)
    new = _ota_session(new_keys, new_kvn, spi, store, iccid, scripts)
    writer = ScriptWriter().comment(f"Change of subscription of card {iccid} to {sub.sho}")
    remove_mcim(writer, profile, parse_hex(remove_aid, where="--remove-aid"), current)
    hand_over(writer, current, new.keys, f"RAM: hand the OTA key set over to {sub.sho}")
    mcim_download(writer, profile, sub, new, None)
    path = writer.write(out / f"{iccid}-change-sho.apdu")
    _finish({"script": str(path), **_run_written(path, reader, target)}, as_json)


@click.command("upgrade")
@click.option("--iccid", required=True)
@click.option("--keys", "keys_file", required=True, type=click.Path(dir_okay=False),
              help="Key file (kic, kid, kik) of the OTA key set in use.")
@click.option("--kvn", default=2, show_default=True)
@click.option("--new-keys", type=click.Path(dir_okay=False),
              help="Rotate the OTA key set to these keys (PUT KEY under the KIK); their length picks AES-128/256.")
@click.option("--new-kvn", default=0, help="Key version of the new set (default: kvn + 1).")
@click.option("--cap", type=click.Path(dir_okay=False), help="A patch CAP file to load and install over the air.")
@click.option("--isd-aid", default="A000000151000000", show_default=True)
@click.option("--spi", default="1639", show_default=True)
@click.option("--counter-store", default="counters.sqlite", show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@_target_options
@json_option
def upgrade(iccid: str, keys_file: str, kvn: int, new_keys: str | None, new_kvn: int, cap: str | None, isd_aid: str,
            spi: str, counter_store: str, out_dir: str, reader: str | None, target: str | None,
            as_json: bool) -> None:
    """Upgrades over the air (TR 33.812 issue 4): rotate the OTA key set (and with it its algorithm or key
    length), and/or load and install a patch CAP in concatenated SMS."""
    from ..hexutil import parse_hex
    from ..workflows.provision import hand_over, load_patch
    from ..workflows.scripts import ScriptWriter

    if not new_keys and not cap:
        raise BadInput("nothing to do", where="mcim upgrade", expected="--new-keys FILE and/or --cap FILE")
    out = Path(out_dir)
    scripts = out.resolve()
    store = os.path.abspath(counter_store)
    session = _ota_session(keys_file, kvn, spi, store, iccid, scripts)
    writer = ScriptWriter().comment(f"Upgrade of card {iccid}")
    if cap:
        try:
            data = Path(cap).read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read ({exc.strerror})", where=cap) from None
        load_patch(writer, session, data, parse_hex(isd_aid, where="--isd-aid"))
    if new_keys:
        successor = _ota_session(new_keys, new_kvn or kvn + 1, spi, store, iccid, scripts)
        hand_over(writer, session, successor.keys, f"RAM: rotate the OTA key set to KVN {successor.keys.kvn:02X}")
        successor.begin(writer, "B00000", "The new key set works: an RFM command under it")
        writer.raw("00 A4 00 0C 02 2FE2 => 9000")
        writer.directive("ota", "end")
    path = writer.write(out / f"{iccid}-upgrade.apdu")
    _finish({"script": str(path), **_run_written(path, reader, target)}, as_json)


def _finish(result: dict, as_json: bool) -> None:
    emit(result, as_json, lambda r: f"script written to {r['script']}" +
         ("" if not r["ran"] else ("; ran: every PoR verified" if r["passed"] else f"; FAILED: {r['detail']}")))
    if result.get("passed") is False:
        raise SystemExit(1)


def register(root: click.Group) -> None:
    for command in (bootstrap, provision, validate, register_card, change_sho, upgrade):
        root.add_command(command)
    bench = root.commands.get("bench")
    if isinstance(bench, click.Group):
        bench.add_command(bench_bootstrap)
