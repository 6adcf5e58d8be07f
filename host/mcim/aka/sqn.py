"""Sequence number management in the USIM (3GPP TS 33.102 Annex C), as a pure value-holding class.

SQN (48 bits) = SEQ || IND, IND being the low `ind_bits` bits (5 by default, the length Annex C.3 uses).
The USIM keeps one SEQ_MS per IND value and accepts SQN when SEQ > SEQ_MS(IND) (C.2.2).  Two optional guards:
SEQ may not be more than `delta` ahead of the highest SEQ accepted so far (wrap-around protection, C.2.1; the
default 2^28 is the example value of Annex C [M]) and not more than `limit` behind it (age limit L, off when
None).  A stale SQN leads to resynchronisation with SQN_MS = the highest SQN accepted so far (§6.3.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import BadInput

SQN_BITS = 48
DEFAULT_IND_BITS = 5
DEFAULT_DELTA = 1 << 28


@dataclass
class SqnManager:
    ind_bits: int = DEFAULT_IND_BITS
    delta: int | None = DEFAULT_DELTA
    limit: int | None = None
    seq_ms: list[int] = field(default_factory=list)
    highest: int = 0  # the highest accepted SQN (SEQ || IND), 0 before any

    def __post_init__(self) -> None:
        if not 0 <= self.ind_bits <= 16:
            raise BadInput(f"ind_bits={self.ind_bits}", where="SQN IND length", expected="0..16 bits")
        size = 1 << self.ind_bits
        if not self.seq_ms:
            self.seq_ms = [0] * size
        if len(self.seq_ms) != size:
            raise BadInput(f"{len(self.seq_ms)} SEQ_MS entries", where="SQN array",
                           expected=f"{size} entries for {self.ind_bits} IND bits")
        for name in ("delta", "limit"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise BadInput(f"{name}={value}", where=f"SQN {name}", expected="a non-negative number or none")

    def split(self, sqn: int) -> tuple[int, int]:
        """(SEQ, IND) of a 48-bit SQN."""
        if not 0 <= sqn < 1 << SQN_BITS:
            raise BadInput(f"SQN {sqn:#x}", where="SQN", expected="48 bits")
        return sqn >> self.ind_bits, sqn & ((1 << self.ind_bits) - 1)

    @property
    def highest_seq(self) -> int:
        return self.highest >> self.ind_bits

    def is_fresh(self, sqn: int) -> bool:
        """SEQ > SEQ_MS(IND) (C.2.2), at most `delta` ahead (C.2.1) and `limit` behind the highest SEQ."""
        seq, ind = self.split(sqn)
        if seq <= self.seq_ms[ind]:
            return False
        if self.delta is not None and seq - self.highest_seq > self.delta:
            return False
        return not (self.limit is not None and self.highest_seq - seq > self.limit)

    def accept(self, sqn: int) -> None:
        """Record a fresh SQN (call only after `is_fresh` said so and the MAC verified)."""
        seq, ind = self.split(sqn)
        self.seq_ms[ind] = seq
        if seq > self.highest_seq or (seq == self.highest_seq and sqn > self.highest):
            self.highest = sqn

    def sqn_ms(self) -> bytes:
        """SQN_MS for AUTS: the highest SQN accepted so far, 6 bytes."""
        return self.highest.to_bytes(6, "big")

    def to_dict(self) -> dict:
        return {"ind_bits": self.ind_bits, "delta": self.delta, "limit": self.limit, "seq_ms": list(self.seq_ms),
                "highest": self.highest}

    @classmethod
    def from_dict(cls, data: dict) -> SqnManager:
        return cls(data["ind_bits"], data["delta"], data["limit"], list(data["seq_ms"]), data["highest"])
