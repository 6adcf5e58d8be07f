"""What command handlers receive and return: the logical channel's state and the reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .files import Adf, Df, Ef
from .status import Sw


class Reply(NamedTuple):
    data: bytes = b""
    sw: int = Sw.OK
    deferred: bool = False  # case 4 under T=0: answer 61xx (or the warning) and keep data for GET RESPONSE


@dataclass
class Channel:
    """Per logical channel: current DF, current EF, current application, record pointer (TS 102 221 §8)."""

    df: Df
    ef: Ef | None = None
    adf: Adf | None = None
    record: int = 0
