"""Options and helpers every `mcim` command shares: one vocabulary across the tool.

Keys never come from a plain command-line value: `--NAME-file F` (or `-` for stdin) and `--NAME-env VAR` are the
normal ways; `--NAME HEX` is accepted only together with `--insecure-key-arg` (for published test vectors).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import BadInput
from ..hexutil import parse_hex
from ..keystore import parse_key_text

INSECURE = "insecure_key_arg"


def insecure_key_arg_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--insecure-key-arg", INSECURE, is_flag=True,
                        help="Allow keys as literal hex on the command line (test vectors only).")(f)


def key_options(name: str, help_name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add --NAME HEX (needs --insecure-key-arg), --NAME-file F and --NAME-env VAR for one key."""
    label = help_name or name
    dest = name.replace("-", "_")

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option(f"--{name}-env", f"{dest}_env", metavar="VAR",
                         help=f"Read the {label} as hex from environment variable VAR.")(f)
        f = click.option(f"--{name}-file", f"{dest}_file", metavar="FILE",
                         help=f"Read the {label} as hex from FILE ('-' for stdin).")(f)
        return click.option(f"--{name}", f"{dest}_hex", metavar="HEX",
                            help=f"The {label} as literal hex (only with --insecure-key-arg).")(f)

    return decorate


def read_single_key(path: str, *, where: str | None = None) -> bytes:
    """The one key of a key file (bare hex, or a single `name = hex` line; mcim.keystore format). '-' reads
    standard input."""
    label = where or path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read key file: {exc.strerror}", where=label) from None
    except UnicodeDecodeError:
        raise BadInput("key file is not text", where=label, expected="hex digits") from None
    keys = parse_key_text(text, label)
    if len(keys) != 1:
        raise BadInput(f"{len(keys)} keys ({', '.join(keys)})", where=label, expected="exactly one key")
    return next(iter(keys.values()))


def resolve_key(params: dict[str, Any], name: str, *, required: bool = True,
                length: tuple[int, ...] | None = None) -> bytes | None:
    """Return the key given by --NAME/--NAME-file/--NAME-env in `params` (a click command's kwargs)."""
    dest = name.replace("-", "_")
    literal, path, env = params.pop(f"{dest}_hex", None), params.pop(f"{dest}_file", None), \
        params.pop(f"{dest}_env", None)
    given = [x for x in (literal, path, env) if x is not None]
    if len(given) > 1:
        raise BadInput(f"give the {name} key one way only", where=f"--{name}",
                       expected=f"one of --{name}-file, --{name}-env, --{name}")
    if not given:
        if required:
            raise BadInput("missing key", where=f"--{name}", expected=f"--{name}-file FILE or --{name}-env VAR")
        return None
    if literal is not None:
        if not params.get(INSECURE):
            raise BadInput("keys on the command line land in shell history", where=f"--{name}",
                           expected=f"--{name}-file/--{name}-env, or --insecure-key-arg for test vectors")
        key = parse_hex(literal, where=f"--{name}")
    elif path is not None:
        key = read_single_key(path, where=f"--{name}-file {path}")
    else:
        value = os.environ.get(env)
        if value is None:
            raise BadInput(f"environment variable {env} is not set", where=f"--{name}-env")
        key = parse_hex(value, where=f"--{name}-env {env}")
    if length is not None and len(key) not in length:
        raise BadInput(f"{len(key)}-byte key", where=f"--{name}",
                       expected=" or ".join(str(n) for n in length) + " bytes")
    return key


def hex_arg(value: str | None, where: str, length: int | None = None) -> bytes | None:
    return None if value is None else parse_hex(value, where=where, length=length)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document for machines.")(f)


def emit(result: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    """Print `result` as JSON (sorted keys, lowercase hex already in the values) or as text for people."""
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif human is not None:
        click.echo(human(result))
    else:
        click.echo(json.dumps(result, indent=2))
