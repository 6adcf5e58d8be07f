"""Entry point of the `mcim` command: registers the command groups and maps errors to exit codes.

Exit codes (DESIGN.md §5): 0 success, 1 a check or expectation failed, 2 bad input or usage, 3 card or transport
unreachable.  Errors print one line on stderr, never a traceback (set MCIM_DEBUG=1 to see one).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from ..errors import McimError

# Each module defines `register(root: click.Group)`. Listed here so that `mcim --help` shows them all.
COMMAND_MODULES = [
    "decode",
    "aka",
    "card",
    "cap",
    "gp",
    "ota",
    "script",
    "workflows",
    "demo",
    "diff",
]


class McimGroup(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except McimError as exc:
            if os.environ.get("MCIM_DEBUG"):
                raise
            click.echo(f"mcim: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("mcim: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=McimGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="mcim")
def cli() -> None:
    """mcim: build, run and validate the APDU scripts of OTA USIM provisioning (3GPP TR 33.812 subcase 2b)."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"mcim.cli.{_name}").register(cli)


def main() -> None:
    # click's own usage errors exit 2 already; anything else unexpected is a bug: show it.
    sys.exit(cli.main(standalone_mode=True))
