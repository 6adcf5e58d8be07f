"""`mcim cap info`: what a Java Card CAP file holds and what GlobalPlatform LOAD will send of it."""

from __future__ import annotations

import click

from ..gp.cap import CapFile, read_cap
from ..gp.ccm import HashAlgorithm
from .common import emit, json_option


@click.group("cap")
def cap() -> None:
    """Inspect Java Card CAP files."""


def cap_summary(cap_file: CapFile, include_descriptor: bool) -> dict:
    header = cap_file.header
    lfdb = cap_file.load_file_data_block(include_descriptor)
    return {
        "package": {"aid": cap_file.package.aid.hex(), "version": cap_file.package.version,
                    "name": cap_file.package_name},
        "cap_format": f"{header.cap_major}.{header.cap_minor}",
        "flags": header.flag_names,
        "applets": [{"aid": a.aid.hex(), "install_method_offset": a.install_method_offset}
                    for a in cap_file.applets],
        "imports": [{"aid": p.aid.hex(), "version": p.version} for p in cap_file.imports],
        "components": cap_file.component_sizes(),
        "load_file_data_block": {"size": len(lfdb), "includes_descriptor": include_descriptor,
                                 "sha256": cap_file.lfdb_hash(HashAlgorithm.SHA256, include_descriptor).hex(),
                                 "sha1": cap_file.lfdb_hash(HashAlgorithm.SHA1, include_descriptor).hex()},
    }


def _human(s: dict) -> str:
    pkg = s["package"]
    lines = [f"Package     {pkg['aid'].upper()} v{pkg['version']}" + (f"  {pkg['name']}" if pkg["name"] else ""),
             f"CAP format  {s['cap_format']}  flags: {', '.join(s['flags']) or '-'}"]
    lines += [f"Applet      {a['aid'].upper()}" for a in s["applets"]]
    lines += [f"Import      {i['aid'].upper()} v{i['version']}" for i in s["imports"]]
    lines.append("Components  " + ", ".join(f"{name} {size}" for name, size in s["components"].items()))
    lfdb = s["load_file_data_block"]
    lines += [f"Load File Data Block  {lfdb['size']} bytes"
              + (" (with Descriptor)" if lfdb["includes_descriptor"] else " (without Descriptor)"),
              f"  SHA-256  {lfdb['sha256']}", f"  SHA-1    {lfdb['sha1']}"]
    return "\n".join(lines)


@cap.command("info")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--with-descriptor", is_flag=True, help="Include the Descriptor component in the Load File Data Block.")
@json_option
def cap_info(path: str, with_descriptor: bool, as_json: bool) -> None:
    """Package and applet AIDs, components and sizes, Load File Data Block hashes of a CAP (or .ijc) file."""
    emit(cap_summary(read_cap(path), with_descriptor), as_json, _human)


def register(root: click.Group) -> None:
    root.add_command(cap)
