"""TLV codings: BER-TLV (ISO/IEC 7816-4 §5.2, ISO/IEC 8825-1), COMPREHENSION-TLV and SIMPLE-TLV (ETSI TS 101 220
§7.1, ISO/IEC 7816-4 §5.2.1), COMPACT-TLV (ISO/IEC 7816-4 §5.2.2, historical bytes).

Each coding is one `construct` definition, used both to build and to parse; lengths are derived on build.
Tags are ints holding all tag bytes (e.g. 0x9F70, 0xBF3E).  Decoders raise DecodeError, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as cs

from .errors import DecodeError


def _read(stream, n: int, path: str) -> bytes:  # type: ignore[no-untyped-def]
    data = cs.stream_read(stream, n, path)
    return bytes(data)


class BerTag(cs.Construct):
    """ISO/IEC 8825-1 §8.1.2: low 5 bits 11111 -> subsequent bytes follow while b8 is set."""

    def _parse(self, stream, context, path):  # type: ignore[no-untyped-def]
        first = _read(stream, 1, path)[0]
        if first in (0x00, 0xFF):
            raise cs.ExplicitError(f"tag byte {first:02x} is padding, not a tag")
        tag = first
        if first & 0x1F == 0x1F:
            while True:
                byte = _read(stream, 1, path)[0]
                tag = tag << 8 | byte
                if not byte & 0x80:
                    break
                if tag > 0xFFFFFF:
                    raise cs.ExplicitError("tag longer than 4 bytes")
        return tag

    def _build(self, obj, stream, context, path):  # type: ignore[no-untyped-def]
        cs.stream_write(stream, tag_bytes(obj), len(tag_bytes(obj)), path)
        return obj


class BerLength(cs.Construct):
    """ISO/IEC 8825-1 §8.1.3 definite form: short (< 80) or 81..84 followed by 1-4 length bytes."""

    def _parse(self, stream, context, path):  # type: ignore[no-untyped-def]
        first = _read(stream, 1, path)[0]
        if first < 0x80:
            return first
        count = first & 0x7F
        if count == 0:
            raise cs.ExplicitError("indefinite length (80) is not allowed here")
        if count > 4:
            raise cs.ExplicitError(f"length field of {count} bytes")
        return int.from_bytes(_read(stream, count, path), "big")

    def _build(self, obj, stream, context, path):  # type: ignore[no-untyped-def]
        data = encode_ber_length(obj)
        cs.stream_write(stream, data, len(data), path)
        return obj


# ISO/IEC 7816-4 §5.2.2.1 / ISO/IEC 8825-1: tag, length, value; the length is derived from the value on build.
BER_TLV = cs.Struct(
    "tag" / BerTag(),
    "length" / cs.Rebuild(BerLength(), cs.len_(cs.this.value)),
    "value" / cs.Bytes(cs.this.length),
)

# ETSI TS 101 220 §7.1.1.1: COMPREHENSION-TLV tag is one byte (01..7E, 81..FE; b8 = comprehension required) or
# three bytes '7F' + 2 bytes (b16 = CR, 15-bit tag value).  Length as BER definite (§7.1.2, up to '83').
_CTLV_TAG = cs.Struct(
    "first" / cs.Int8ub,
    "wide" / cs.If(cs.this.first == 0x7F, cs.Int16ub),
)
COMPREHENSION_TLV = cs.Struct(
    "tag" / _CTLV_TAG,
    "length" / cs.Rebuild(BerLength(), cs.len_(cs.this.value)),
    "value" / cs.Bytes(cs.this.length),
)

# ISO/IEC 7816-4 §5.2.1 SIMPLE-TLV: tag 01..FE, length one byte 00..FE or 'FF' + two bytes.
class _SimpleLength(cs.Construct):
    def _parse(self, stream, context, path):  # type: ignore[no-untyped-def]
        first = _read(stream, 1, path)[0]
        return first if first != 0xFF else int.from_bytes(_read(stream, 2, path), "big")

    def _build(self, obj, stream, context, path):  # type: ignore[no-untyped-def]
        data = bytes((obj,)) if obj < 0xFF else b"\xff" + obj.to_bytes(2, "big")
        cs.stream_write(stream, data, len(data), path)
        return obj


SIMPLE_TLV = cs.Struct(
    "tag" / cs.Int8ub,
    "length" / cs.Rebuild(_SimpleLength(), cs.len_(cs.this.value)),
    "value" / cs.Bytes(cs.this.length),
)

# ISO/IEC 7816-4 §5.2.2 COMPACT-TLV (historical bytes): one byte, high nibble tag, low nibble length.
COMPACT_TLV = cs.Struct(
    "header" / cs.BitStruct("tag" / cs.Nibble, "length" / cs.Rebuild(cs.Nibble, cs.len_(cs.this._.value))),
    "value" / cs.Bytes(cs.this.header.length),
)


def tag_bytes(tag: int) -> bytes:
    """The tag's bytes, checked against ISO/IEC 8825-1 §8.1.2 (so a built tag always parses back)."""
    raw = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big") if tag >= 0 else b""
    multi = len(raw) > 1
    well_formed = (
        raw and raw[0] not in (0x00, 0xFF) and (raw[0] & 0x1F == 0x1F) == multi
        and all(b & 0x80 for b in raw[1:-1]) and not (multi and raw[-1] & 0x80)
    )
    if not well_formed:
        raise DecodeError(f"tag {tag:x}" if tag >= 0 else f"tag {tag}", where="BER-TLV",
                          expected="a tag per ISO/IEC 8825-1 (xx1F continuation coding)")
    return raw


def is_constructed(tag: int) -> bool:
    """ISO/IEC 8825-1 §8.1.2.5: b6 of the first tag byte."""
    return bool(tag_bytes(tag)[0] & 0x20)


def encode_ber_length(n: int) -> bytes:
    if n < 0 or n > 0xFFFFFFFF:
        raise DecodeError(f"length {n}", where="BER-TLV", expected="0..2^32-1")
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


@dataclass(frozen=True, slots=True)
class BerTlv:
    tag: int
    value: bytes

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    @property
    def children(self) -> list[BerTlv]:
        """The nested TLVs of a constructed object (decoded on each access; raise DecodeError if malformed)."""
        if not self.constructed:
            raise DecodeError(f"tag {self.tag:02x} is primitive", where="BER-TLV", expected="a constructed tag")
        return ber_decode(self.value, where=f"in tag {self.tag:02x}")

    def find(self, tag: int) -> BerTlv | None:
        return ber_find(self.children, tag)

    def to_bytes(self) -> bytes:
        return tag_bytes(self.tag) + encode_ber_length(len(self.value)) + self.value

    __bytes__ = to_bytes


def ber_encode(tag: int, value: bytes | list[BerTlv] | tuple[BerTlv, ...]) -> bytes:
    """Encode one TLV; `value` is raw bytes or a list of nested TLVs."""
    if not isinstance(value, (bytes, bytearray)):
        value = b"".join(child.to_bytes() for child in value)
    return BER_TLV.build({"tag": tag, "value": bytes(value)})


def ber_decode(data: bytes, *, where: str = "BER-TLV", skip_padding: bool = True) -> list[BerTlv]:
    """Decode a sequence of BER-TLVs.  '00'/'FF' bytes between objects are skipped (ISO 7816-4 §5.2.2.1)."""
    out: list[BerTlv] = []
    pos, end = 0, len(data)
    while pos < end:
        if skip_padding and data[pos] in (0x00, 0xFF):
            pos += 1
            continue
        try:
            item = BER_TLV.parse(data[pos:])
        except cs.ConstructError as exc:
            raise DecodeError(_construct_reason(exc), where=f"{where} at offset {pos}",
                              expected="tag, length and that many value bytes") from None
        out.append(BerTlv(item.tag, item.value))
        pos += len(tag_bytes(item.tag)) + len(encode_ber_length(item.length)) + item.length
    return out


def ber_decode_one(data: bytes, *, where: str = "BER-TLV") -> BerTlv:
    """Exactly one TLV spanning all of `data`."""
    items = ber_decode(data, where=where, skip_padding=False)
    if len(items) != 1:
        raise DecodeError(f"{len(items)} objects", where=where, expected="exactly one TLV")
    return items[0]


def ber_find(tlvs: list[BerTlv], tag: int) -> BerTlv | None:
    return next((t for t in tlvs if t.tag == tag), None)


def ber_tree(data: bytes) -> list[dict]:
    """A JSON-friendly nested view: constructed tags show their children, primitive ones their value."""
    nodes = []
    for item in ber_decode(data):
        node: dict = {"tag": f"{item.tag:02x}", "length": len(item.value)}
        if item.constructed:
            node["children"] = ber_tree(item.value)
        else:
            node["value"] = item.value.hex()
        nodes.append(node)
    return nodes


@dataclass(frozen=True, slots=True)
class Ctlv:
    """A COMPREHENSION-TLV; `tag` excludes the comprehension-required bit, which is `cr`."""

    tag: int
    value: bytes
    cr: bool = False

    def to_bytes(self) -> bytes:
        return ctlv_encode(self.tag, self.value, self.cr)


def ctlv_encode(tag: int, value: bytes, cr: bool = False) -> bytes:
    if 0x01 <= tag <= 0x7E:
        header = {"first": tag | (0x80 if cr else 0), "wide": None}
    elif 0x7F <= tag <= 0x7FFF:
        header = {"first": 0x7F, "wide": tag | (0x8000 if cr else 0)}
    else:
        raise DecodeError(f"tag {tag:x}", where="COMPREHENSION-TLV", expected="01..7E or a 15-bit tag")
    return COMPREHENSION_TLV.build({"tag": header, "value": value})


def ctlv_decode(data: bytes, *, where: str = "COMPREHENSION-TLV") -> list[Ctlv]:
    out: list[Ctlv] = []
    pos = 0
    while pos < len(data):
        if data[pos] in (0x00, 0x80, 0xFF):
            raise DecodeError(f"tag byte {data[pos]:02x}", where=f"{where} at offset {pos}",
                              expected="a tag 01..7E, 81..FE or 7F xx xx")
        try:
            item = COMPREHENSION_TLV.parse(data[pos:])
        except cs.ConstructError as exc:
            raise DecodeError(_construct_reason(exc), where=f"{where} at offset {pos}",
                              expected="tag, length and that many value bytes") from None
        if item.tag.wide is None:
            out.append(Ctlv(item.tag.first & 0x7F, item.value, bool(item.tag.first & 0x80)))
            tag_len = 1
        else:
            out.append(Ctlv(item.tag.wide & 0x7FFF, item.value, bool(item.tag.wide & 0x8000)))
            tag_len = 3
        pos += tag_len + len(encode_ber_length(item.length)) + item.length
    return out


def simple_tlv_decode(data: bytes, *, where: str = "SIMPLE-TLV") -> list[tuple[int, bytes]]:
    return [(t.tag, t.value) for t in _decode_all(SIMPLE_TLV, data, where)]


def simple_tlv_encode(tag: int, value: bytes) -> bytes:
    if not 0x01 <= tag <= 0xFE:
        raise DecodeError(f"tag {tag:x}", where="SIMPLE-TLV", expected="01..FE")
    return SIMPLE_TLV.build({"tag": tag, "value": value})


def compact_tlv_decode(data: bytes, *, where: str = "COMPACT-TLV") -> list[tuple[int, bytes]]:
    return [(t.header.tag, t.value) for t in _decode_all(COMPACT_TLV, data, where)]


def compact_tlv_encode(tag: int, value: bytes) -> bytes:
    if not 0 <= tag <= 0x0F or len(value) > 0x0F:
        raise DecodeError(f"tag {tag:x}, {len(value)} bytes", where="COMPACT-TLV",
                          expected="tag 0..F and at most 15 value bytes")
    return COMPACT_TLV.build({"header": {"tag": tag}, "value": value})


def _decode_all(fmt: cs.Construct, data: bytes, where: str) -> list:
    items, pos = [], 0
    while pos < len(data):
        try:
            item = fmt.parse(data[pos:])
        except cs.ConstructError as exc:
            raise DecodeError(_construct_reason(exc), where=f"{where} at offset {pos}",
                              expected="tag, length and that many value bytes") from None
        items.append(item)
        pos += len(fmt.build(item))
    return items


def _construct_reason(exc: cs.ConstructError) -> str:
    text = str(exc).split("\n")[-1]
    if "stream read less than specified" in text or "could not read enough bytes" in text:
        return "truncated"
    return text.removeprefix("Error in path (parsing) -> ").strip() or "malformed"
