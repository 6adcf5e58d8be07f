"""The subcase 2b workflows on the command line: bootstrap (EUM), and the benchmarks of the factory path."""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

import click

from ..errors import BadInput
from ..gp.keys import KeyAlgorithm, StaticKeys
from ..keystore import SoftKeySource, read_key_file
from ..workflows.bootstrap import DEFAULT_BOOTSTRAP_PROFILE, BatchJob, BootstrapProfile, run_batch
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
@click.option("--transport-keys", required=True, type=click.Path(dir_okay=False),
              help="Key file of the vendor transport key set (enc, mac, dek) the blank cards carry.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--workers", default=0, show_default="all cores", help="Worker processes.")
@click.option("--resume", is_flag=True, help="Continue a batch that was stopped.")
@json_option
def bootstrap(batch: str, profile: str, key_files: tuple[str, ...], transport_keys: str, out_dir: str,
              workers: int, resume: bool, as_json: bool) -> None:
    """EUM factory bootstrap: per-card keys, factory scripts and the vendor output file for a batch of cards."""
    prof = BootstrapProfile.load(profile)
    keys = SoftKeySource.load(list(key_files))
    out = Path(out_dir)
    job = BatchJob(prof, keys, transport_key_set(transport_keys, prof.transport_kvn),
                   os.path.abspath(transport_keys), out / "scripts")
    for name in (prof.isd_master, prof.dpf_master, prof.k_master, prof.op, prof.kek):
        keys.secret(name)  # every key named by the profile, checked before the first card
    started = time.perf_counter()
    result = _with_progress(lambda tick: run_batch(job, read_batch(batch), out / "vendor.out", workers=workers,
                                                   resume=resume, progress=tick), not as_json)
    seconds = time.perf_counter() - started
    emit({"cards": result.cards, "resumed": result.resumed, "output": str(result.output),
          "scripts": str(result.scripts), "seconds": round(seconds, 3),
          "cards_per_second": round((result.cards - result.resumed) / seconds, 1) if seconds else None}, as_json,
         lambda r: f"bootstrapped {r['cards']} cards ({r['resumed']} resumed) in {r['seconds']} s\n"
                   f"vendor output: {r['output']}\nfactory scripts: {r['scripts']}/<ICCID>.apdu")


def _with_progress(work, show: bool):  # type: ignore[no-untyped-def]
    if not show or not click.get_text_stream("stderr").isatty():
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
    transport = StaticKeys(0x30, *(os.urandom(16) for _ in range(3)))
    prof = BootstrapProfile.load(DEFAULT_BOOTSTRAP_PROFILE)
    with tempfile.TemporaryDirectory(prefix="mcim-bench-") as tmp:
        out = Path(tmp)
        (out / "transport.keys").write_text("enc = 00\n")
        job = BatchJob(prof, keys, transport, str(out / "transport.keys"), out / "scripts")
        batch = (CardIdentity(make_iccid("8988", n)) for n in range(cards))
        started = time.perf_counter()
        run_batch(job, batch, out / "vendor.out", workers=workers)
        seconds = time.perf_counter() - started
    usage = (resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    peak = max(usage)
    emit({"cards": cards, "seconds": round(seconds, 3), "cards_per_second": round(cards / seconds, 1),
          "peak_rss_mb": round(peak / 1024, 1)}, as_json)


def register(root: click.Group) -> None:
    root.add_command(bootstrap)
    bench = root.commands.get("bench")
    if isinstance(bench, click.Group):
        bench.add_command(bench_bootstrap)
