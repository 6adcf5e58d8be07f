"""The `.apdu` format itself (apdu/README.md).  Written out, a script keeps its includes as include lines."""

from __future__ import annotations

from ..loader import LoadedScript
from ..parser import parse_script
from ..writer import format_script
from . import Conversion, Dialect


def write(loaded: LoadedScript) -> Conversion:
    return Conversion(format_script(loaded.root))


DIALECT = Dialect("apdu", (".apdu",), parse_script, write)
