"""The UICC file system (ETSI TS 102 221 §8): MF, DFs, ADFs and EFs, with their FCP and JSON forms.

Nodes are plain mutable objects (this is card memory); commands check everything first and mutate last, so a
refused command leaves them as they were.  Cyclic EFs keep record 1 = the most recently written record.
"""

from __future__ import annotations

from typing import Any

from mcim.errors import DecodeError
from mcim.usim import (
    NO_SFI,
    Fcp,
    FileDescriptor,
    FileType,
    Lcsi,
    Structure,
    lcsi_state,
)

MF_FID = 0x3F00
CURRENT_ADF_FID = 0x7FFF  # TS 102 221 §8: refers to the ADF of the current application
RESERVED_FIDS = frozenset({MF_FID, CURRENT_ADF_FID, 0x3FFF, 0xFFFF})  # TS 102 221 §8 (reserved file IDs)
FILE_OVERHEAD = 32  # bytes of card memory every file costs besides its body (for the available-memory count)


class Node:
    """Common part of every file: identifier, life cycle, security attributes, parent."""

    kind = "node"

    def __init__(self, fid: int | None, *, lcsi: int = Lcsi.ACTIVATED, arr: tuple[int, int] | None = None,
                 expanded: bytes | None = None, shareable: bool = True) -> None:
        self.fid = fid
        self.lcsi = lcsi
        self.arr = arr
        self.expanded = expanded  # AB expanded security attributes, same coding as an EF.ARR record
        self.shareable = shareable
        self.parent: Df | None = None

    @property
    def state(self) -> Lcsi:
        return lcsi_state(self.lcsi)

    @property
    def is_df(self) -> bool:
        return False

    def size(self) -> int:
        return 0

    def footprint(self) -> int:
        return FILE_OVERHEAD + self.size()

    def path(self) -> str:
        parts = []
        node: Node | None = self
        while node is not None:
            parts.append(node.label())
            node = node.parent
        return "/".join(reversed(parts))

    def label(self) -> str:
        return f"{self.fid:04X}" if self.fid is not None else "?"

    def _common_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "fid": None if self.fid is None else f"{self.fid:04x}",
                               "lcsi": self.lcsi, "shareable": self.shareable}
        if self.arr is not None:
            out["arr"] = [f"{self.arr[0]:04x}", self.arr[1]]
        if self.expanded is not None:
            out["expanded"] = self.expanded.hex()
        return out


class Ef(Node):
    def __init__(self, fid: int, *, sfi: int | None = None, **kw: Any) -> None:
        super().__init__(fid, **kw)
        self.sfi = sfi  # resolved SFI (1..30) or None

    def _ef_dict(self) -> dict[str, Any]:
        return self._common_dict() | {"sfi": self.sfi}


class TransparentEf(Ef):
    kind = "transparent"

    def __init__(self, fid: int, data: bytes, **kw: Any) -> None:
        super().__init__(fid, **kw)
        self.data = bytearray(data)

    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> FileDescriptor:
        return FileDescriptor.for_file(FileType.WORKING_EF, Structure.TRANSPARENT, shareable=self.shareable)

    def to_dict(self) -> dict[str, Any]:
        return self._ef_dict() | {"data": self.data.hex()}


class RecordEf(Ef):
    def __init__(self, fid: int, record_length: int, records: list[bytes], *, cyclic: bool = False,
                 **kw: Any) -> None:
        super().__init__(fid, **kw)
        self.record_length = record_length
        self.records = [bytearray(r) for r in records]
        self.cyclic = cyclic

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "cyclic" if self.cyclic else "linear_fixed"

    def size(self) -> int:
        return self.record_length * len(self.records)

    def descriptor(self) -> FileDescriptor:
        structure = Structure.CYCLIC if self.cyclic else Structure.LINEAR_FIXED
        return FileDescriptor.for_file(FileType.WORKING_EF, structure, shareable=self.shareable,
                                       record_length=self.record_length, record_count=len(self.records))

    def write_cyclic(self, data: bytes) -> None:
        """TS 102 221 §11.1.6: the oldest record is overwritten and becomes record 1."""
        self.records.insert(0, bytearray(data))
        self.records.pop()

    def to_dict(self) -> dict[str, Any]:
        return self._ef_dict() | {"record_length": self.record_length, "records": [r.hex() for r in self.records]}


class Df(Node):
    kind = "df"

    def __init__(self, fid: int | None, *, name: bytes | None = None, **kw: Any) -> None:
        super().__init__(fid, **kw)
        self.name = name
        self.children: dict[int, Node] = {}

    @property
    def is_df(self) -> bool:
        return True

    def add(self, node: Node) -> None:
        node.parent = self
        self.children[node.fid] = node  # type: ignore[index]

    def remove(self, node: Node) -> None:
        del self.children[node.fid]  # type: ignore[arg-type]
        node.parent = None

    def child(self, fid: int) -> Node | None:
        return self.children.get(fid)

    def by_sfi(self, sfi: int) -> Ef | None:
        return next((n for n in self.children.values() if isinstance(n, Ef) and n.sfi == sfi), None)

    def walk(self):
        yield self
        for child in self.children.values():
            if isinstance(child, Df):
                yield from child.walk()
            else:
                yield child

    def footprint(self) -> int:
        return FILE_OVERHEAD + sum(c.footprint() for c in self.children.values())

    def descriptor(self) -> FileDescriptor:
        return FileDescriptor.for_file(FileType.DF, Structure.NO_INFO, shareable=self.shareable)

    def to_dict(self) -> dict[str, Any]:
        out = self._common_dict() | {"children": [c.to_dict() for c in self.children.values()]}  # type: ignore[attr-defined]
        if self.name is not None:
            out["name"] = self.name.hex()
        return out


class Adf(Df):
    """An application DF (TS 102 221 §8); `app` runs its application-specific commands (e.g. AUTHENTICATE)."""

    kind = "adf"

    def __init__(self, aid: bytes, **kw: Any) -> None:
        super().__init__(CURRENT_ADF_FID, name=aid, **kw)
        self.app: Any = None

    @property
    def aid(self) -> bytes:
        return self.name  # type: ignore[return-value]

    def label(self) -> str:
        return f"ADF({self.aid.hex()})"


def fill_pattern(length: int, filling: bytes | None, repeat: bytes | None) -> bytes:
    """Initial content per TS 102 222 Table 4a: filling pattern C1 (last byte repeats) or repeat pattern C2."""
    if repeat:
        return (repeat * (length // len(repeat) + 1))[:length]
    if filling:
        return (filling[:-1] + filling[-1:] * length)[:length]
    return b"\xff" * length


def resolve_sfi(fcp_sfi: int | None, fid: int) -> int | None:
    """TS 102 221 §11.1.1.4.8: tag 88 absent -> the FID's 5 low bits; empty -> no SFI."""
    if fcp_sfi is None:
        low = fid & 0x1F
        return low if 1 <= low <= 30 else None
    return None if fcp_sfi == NO_SFI else fcp_sfi


def node_from_fcp(fcp: Fcp, filling: bytes | None = None, repeat: bytes | None = None) -> Node:
    """A new, empty file as CREATE FILE describes it (TS 102 222 §6.3); raises DecodeError when it cannot be."""
    d = fcp.descriptor
    common: dict[str, Any] = {"lcsi": Lcsi.ACTIVATED if fcp.lcsi is None else fcp.lcsi, "arr": fcp.arr,
                              "expanded": fcp.security_expanded, "shareable": d.shareable}
    if fcp.fid is None:
        raise DecodeError("no file ID", where="FCP", expected="tag 83")
    if d.file_type == FileType.DF:
        if fcp.df_name is not None and fcp.fid == CURRENT_ADF_FID:
            return Adf(fcp.df_name, **common)
        return Df(fcp.fid, name=fcp.df_name, **common)
    if d.file_type != FileType.WORKING_EF:
        raise DecodeError(f"FDB {d.fdb:02x}", where="FCP tag 82", expected="a working EF or a DF")
    sfi = resolve_sfi(fcp.sfi, fcp.fid)
    if d.structure == Structure.TRANSPARENT:
        if fcp.file_size is None:
            raise DecodeError("no file size", where="FCP", expected="tag 80 for a transparent EF")
        return TransparentEf(fcp.fid, fill_pattern(fcp.file_size, filling, repeat), sfi=sfi, **common)
    if d.structure in (Structure.LINEAR_FIXED, Structure.CYCLIC) and d.record_length and d.record_count:
        record = fill_pattern(d.record_length, filling, repeat)
        return RecordEf(fcp.fid, d.record_length, [record] * d.record_count, cyclic=d.structure == Structure.CYCLIC,
                        sfi=sfi, **common)
    raise DecodeError(f"FDB {d.fdb:02x}", where="FCP tag 82",
                      expected="transparent, or linear fixed/cyclic with record length and count")


def node_from_dict(data: dict[str, Any]) -> Node:
    """Inverse of `to_dict` (the state file)."""
    common = {"lcsi": data["lcsi"], "shareable": data.get("shareable", True),
              "arr": None if "arr" not in data else (int(data["arr"][0], 16), data["arr"][1]),
              "expanded": None if "expanded" not in data else bytes.fromhex(data["expanded"])}
    kind = data["kind"]
    fid = int(data["fid"], 16)
    node: Node
    if kind in ("df", "adf"):
        name = None if "name" not in data else bytes.fromhex(data["name"])
        node = Adf(name, **common) if kind == "adf" else Df(fid, name=name, **common)  # type: ignore[arg-type]
        for child in data["children"]:
            node.add(node_from_dict(child))  # type: ignore[attr-defined]
        return node
    if kind == "transparent":
        return TransparentEf(fid, bytes.fromhex(data["data"]), sfi=data["sfi"], **common)
    return RecordEf(fid, data["record_length"], [bytes.fromhex(r) for r in data["records"]],
                    cyclic=kind == "cyclic", sfi=data["sfi"], **common)
