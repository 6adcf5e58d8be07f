"""File commands of ETSI TS 102 221 §11.1: SELECT, STATUS, READ/UPDATE BINARY, READ/UPDATE RECORD,
SEARCH RECORD, INCREASE.  Selection rules: §8.4 (by FID, path, DF name incl. partial and next occurrence).

Every handler finds its target and checks structure, life cycle (a deactivated file answers 6984, a terminated
one 6985; TS 102 221 Table 10.16 keeps 6283/6285 for SELECT and STATUS), access rule (6982) and parameters
before it changes anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcim.apdu import CommandApdu
from mcim.tlv import BerTlv, ber_encode
from mcim.usim import NO_SFI, AccessMode, Fcp, Lcsi

from .access import enclosing_adf
from .context import Channel, Reply
from .files import CURRENT_ADF_FID, MF_FID, Adf, Df, Ef, Node, RecordEf, TransparentEf
from .status import Refused, Sw, with_length

if TYPE_CHECKING:
    from .card import RefCard


# --- helpers shared with the administrative commands --------------------------------------------------------

def check_usable(node: Node) -> None:
    state = node.state
    if state == Lcsi.DEACTIVATED:
        raise Refused(Sw.REFERENCED_DATA_INVALIDATED)
    if state == Lcsi.TERMINATED:
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)


def require(card: RefCard, ch: Channel, node: Node, *, mode: int | None = None, ins: int | None = None) -> None:
    if not card.security.allowed(node, ch.adf, mode=mode, ins=ins):
        raise Refused(Sw.SECURITY_STATUS_NOT_SATISFIED)


def exact_le(data: bytes, le: int | None) -> bytes:
    """Case 2 under T=0: P3 must equal the response length (absent or 00 mean 256), else 6Cxx (TS 102 221 §7.3.1.1)."""
    if (le or 256) != len(data):
        raise Refused(with_length(Sw.WRONG_LE, len(data)))
    return data


def make_current(ch: Channel, node: Node) -> None:
    if isinstance(node, Df):
        ch.df, ch.ef, ch.record = node, None, 0
        if isinstance(node, Adf):
            ch.adf = node
    else:
        assert isinstance(node, Ef) and node.parent is not None
        if node is not ch.ef:
            ch.record = 0
        ch.df, ch.ef = node.parent, node


def _fid_list(data: bytes) -> list[int]:
    if not data or len(data) % 2:
        raise Refused(Sw.WRONG_LENGTH)
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def by_fid(card: RefCard, ch: Channel, fid: int) -> Node:
    """§8.4 selection by FID: MF, the current ADF (7FFF), the current DF, its children, its parent, and the
    DFs beside it."""
    if fid == MF_FID:
        return card.mf
    if fid == CURRENT_ADF_FID:
        if ch.adf is None:
            raise Refused(Sw.FILE_NOT_FOUND)
        return ch.adf
    df = ch.df
    if df.fid == fid:
        return df
    child = df.child(fid)
    if child is not None:
        return child
    parent = df.parent
    if parent is not None:
        if parent.fid == fid:
            return parent
        sibling = parent.child(fid)
        if sibling is not None and sibling.is_df:
            return sibling
    raise Refused(Sw.FILE_NOT_FOUND)


def by_path(card: RefCard, ch: Channel, data: bytes, *, from_mf: bool) -> Node:
    """§8.4 path selection: FIDs from the MF (a leading 3F00 is tolerated) or from the current DF."""
    fids = _fid_list(data)
    node: Node = card.mf if from_mf else ch.df
    if from_mf and fids[0] == MF_FID:
        fids = fids[1:]
    for i, fid in enumerate(fids):
        if i == 0 and fid == CURRENT_ADF_FID:
            if ch.adf is None:
                raise Refused(Sw.FILE_NOT_FOUND)
            node = ch.adf
            continue
        if not isinstance(node, Df):
            raise Refused(Sw.FILE_NOT_FOUND)
        child = node.child(fid)
        if child is None:
            raise Refused(Sw.FILE_NOT_FOUND)
        node = child
    return node


def _named_dfs(card: RefCard) -> list[Df]:
    named: list[Df] = list(card.adfs)
    named += [n for n in card.mf.walk() if isinstance(n, Df) and n.name is not None and not isinstance(n, Adf)]
    return named


def by_name(card: RefCard, ch: Channel, name: bytes, *, next_occurrence: bool) -> Df:
    """§8.4 / ISO 7816-4 §7.1.1: the DF whose name starts with `name` (right-truncated names allowed);
    "next occurrence" continues after the current DF."""
    if not 1 <= len(name) <= 16:
        raise Refused(Sw.WRONG_LENGTH)
    matches = [df for df in _named_dfs(card) if df.name.startswith(name)]  # type: ignore[union-attr]
    if next_occurrence and ch.df in matches:
        matches = matches[matches.index(ch.df) + 1:]
    if not matches:
        raise Refused(Sw.FILE_NOT_FOUND)
    return matches[0]


def locate(card: RefCard, ch: Channel, p1: int, data: bytes, *, next_occurrence: bool = False) -> Node:
    """The file a SELECT-style P1 and data designate (§11.1.1 Table 11.1)."""
    if p1 == 0x00:
        if not data:
            return card.mf
        if len(data) != 2:
            raise Refused(Sw.WRONG_LENGTH)
        return by_fid(card, ch, int.from_bytes(data, "big"))
    if p1 == 0x01:
        if len(data) != 2:
            raise Refused(Sw.WRONG_LENGTH)
        child = ch.df.child(int.from_bytes(data, "big"))
        if child is None or not child.is_df:
            raise Refused(Sw.FILE_NOT_FOUND)
        return child
    if p1 == 0x03:
        if data:
            raise Refused(Sw.WRONG_LENGTH)
        if ch.df.parent is None:
            raise Refused(Sw.FILE_NOT_FOUND)
        return ch.df.parent
    if p1 == 0x04:
        return by_name(card, ch, data, next_occurrence=next_occurrence)
    if p1 in (0x08, 0x09):
        return by_path(card, ch, data, from_mf=p1 == 0x08)
    raise Refused(Sw.INCORRECT_P1P2)


def pin_status_template(card: RefCard, df: Df) -> bytes:
    """C6 (§11.1.1.4): PS_DO (one bit per key reference, b8 of byte 1 first, set = enabled) and the key
    references of the PINs that apply in this DF: the global ones and the local ones of its application."""
    adf = enclosing_adf(df)
    pins = sorted(card.security.global_pins.values(), key=lambda p: p.key_ref)
    if adf is not None:
        pins += sorted(card.security.local_pins.get(adf.aid, {}).values(), key=lambda p: p.key_ref)
    ps_do = bytearray((len(pins) + 7) // 8 or 1)
    for i, pin in enumerate(pins):
        if pin.enabled:
            ps_do[i // 8] |= 0x80 >> (i % 8)
    return ber_encode(0x90, bytes(ps_do)) + b"".join(ber_encode(0x83, bytes((p.key_ref,))) for p in pins)


def fcp_of(card: RefCard, node: Node) -> bytes:
    """The FCP template a SELECT or STATUS returns (§11.1.1.3, Tables 11.3 and 11.4)."""
    if isinstance(node, Ef):
        fcp = Fcp(node.descriptor(), fid=node.fid, lcsi=node.lcsi, arr=node.arr,  # type: ignore[attr-defined]
                  security_expanded=node.expanded, file_size=node.size(),
                  sfi=NO_SFI if node.sfi is None else node.sfi)
        return fcp.to_bytes()
    assert isinstance(node, Df)
    proprietary = b""
    if node is card.mf:
        proprietary += BerTlv(0x80, b"\x71").to_bytes()  # UICC characteristics: clock stop allowed, A/B/C
    proprietary += BerTlv(0x83, card.available_memory().to_bytes(4, "big")).to_bytes()
    fcp = Fcp(node.descriptor(), fid=node.fid, df_name=node.name, lcsi=node.lcsi, arr=node.arr,
              security_expanded=node.expanded, pin_status=pin_status_template(card, node),
              total_size=min(node.footprint(), 0xFFFF), proprietary=proprietary)
    return fcp.to_bytes()


def _life_cycle_warning(node: Node) -> int:
    state = node.state
    if state == Lcsi.DEACTIVATED:
        return Sw.FILE_DEACTIVATED
    if state == Lcsi.TERMINATED:
        return Sw.FILE_TERMINATED
    return Sw.OK


# --- SELECT (§11.1.1) ----------------------------------------------------------------------------------------

def select(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    p2 = apdu.p2
    occurrence, response, session = p2 & 0x03, p2 & 0x0C, p2 & 0x60
    if p2 & 0x90 or occurrence not in (0, 2) or response == 0x08 or session not in (0x00, 0x40):
        raise Refused(Sw.INCORRECT_P1P2)
    if (occurrence or session) and apdu.p1 != 0x04:
        raise Refused(Sw.INCORRECT_P1P2)
    node = locate(card, ch, apdu.p1, apdu.data, next_occurrence=occurrence == 2)
    if session == 0x40:  # termination of the application session (Table 11.2)
        ch.df, ch.ef, ch.adf, ch.record = card.mf, None, None, 0
    else:
        make_current(ch, node)
    warning = _life_cycle_warning(node)
    if response == 0x0C:
        return Reply(b"", warning)
    return Reply(fcp_of(card, node), warning, deferred=True)  # P2 04 (FCP); 00 (FCI) is answered alike


# --- STATUS (§11.1.2) ----------------------------------------------------------------------------------------

def status(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    if apdu.p1 not in (0x00, 0x01, 0x02):
        raise Refused(Sw.INCORRECT_P1P2)
    if apdu.data:
        raise Refused(Sw.WRONG_LENGTH)
    if apdu.p2 == 0x00:
        return Reply(exact_le(fcp_of(card, ch.df), apdu.le), _life_cycle_warning(ch.df))
    if apdu.p2 == 0x01:
        if ch.adf is None:
            raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
        return Reply(exact_le(ber_encode(0x84, ch.adf.aid), apdu.le))
    if apdu.p2 == 0x0C:
        return Reply()
    raise Refused(Sw.INCORRECT_P1P2)


# --- transparent EFs (§11.1.3, §11.1.4) ------------------------------------------------------------------------

def _by_sfi(ch: Channel, sfi: int) -> Ef:
    if not 1 <= sfi <= 30:
        raise Refused(Sw.INCORRECT_P1P2)
    ef = ch.df.by_sfi(sfi)
    if ef is None:
        raise Refused(Sw.FILE_NOT_FOUND)
    return ef


def _current_ef(ch: Channel) -> Ef:
    if ch.ef is None:
        raise Refused(Sw.NO_EF_SELECTED)
    return ch.ef


def _binary_target(ch: Channel, p1: int, p2: int) -> tuple[TransparentEf, int]:
    """P1 b8 = 1: SFI in b5..b1 (b7b6 = 00) and P2 the offset; else a 15-bit offset (Table 11.10)."""
    if p1 & 0x80:
        if p1 & 0x60:
            raise Refused(Sw.INCORRECT_P1P2)
        ef, offset = _by_sfi(ch, p1 & 0x1F), p2
    else:
        ef, offset = _current_ef(ch), p1 << 8 | p2
    if not isinstance(ef, TransparentEf):
        raise Refused(Sw.INCOMPATIBLE_FILE_STRUCTURE)
    check_usable(ef)
    return ef, offset


def read_binary(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    if apdu.data:
        raise Refused(Sw.WRONG_LENGTH)
    ef, offset = _binary_target(ch, apdu.p1, apdu.p2)
    require(card, ch, ef, mode=AccessMode.READ)
    available = len(ef.data) - offset
    if available <= 0:
        raise Refused(Sw.WRONG_P1P2)
    le = apdu.le or 256
    if le > available:
        raise Refused(with_length(Sw.WRONG_LE, available))
    make_current(ch, ef)
    return Reply(bytes(ef.data[offset:offset + le]))


def update_binary(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    if not apdu.data:
        raise Refused(Sw.WRONG_LENGTH)
    ef, offset = _binary_target(ch, apdu.p1, apdu.p2)
    require(card, ch, ef, mode=AccessMode.UPDATE)
    if offset >= len(ef.data):
        raise Refused(Sw.WRONG_P1P2)
    if offset + len(apdu.data) > len(ef.data):
        raise Refused(Sw.WRONG_LENGTH)
    ef.data[offset:offset + len(apdu.data)] = apdu.data
    card.mark_changed()
    make_current(ch, ef)
    return Reply()


# --- record EFs (§11.1.5-11.1.8) -------------------------------------------------------------------------------

MODE_NEXT, MODE_PREVIOUS, MODE_ABSOLUTE = 0x02, 0x03, 0x04


def _record_target(ch: Channel, p2: int) -> tuple[RecordEf, int]:
    """The record EF (P2 b8..b4 = SFI, 0 = current EF) and the record pointer that applies to it."""
    sfi = p2 >> 3
    ef = _by_sfi(ch, sfi) if sfi else _current_ef(ch)
    if not isinstance(ef, RecordEf):
        raise Refused(Sw.INCOMPATIBLE_FILE_STRUCTURE)
    check_usable(ef)
    return ef, ch.record if ef is ch.ef else 0


def _record_number(ef: RecordEf, pointer: int, p1: int, mode: int) -> tuple[int, int]:
    """(record to use, record pointer afterwards).  Absolute mode keeps the pointer; NEXT/PREVIOUS move it and
    wrap around only in cyclic files (§11.1.5.1)."""
    count = len(ef.records)
    if mode == MODE_ABSOLUTE:
        number = p1 or pointer
        if not 1 <= number <= count:
            raise Refused(Sw.RECORD_NOT_FOUND)
        return number, pointer
    if mode == MODE_NEXT:
        if pointer == count and not ef.cyclic:
            raise Refused(Sw.RECORD_NOT_FOUND)
        number = pointer % count + 1
    elif mode == MODE_PREVIOUS:
        if pointer == 1 and not ef.cyclic:
            raise Refused(Sw.RECORD_NOT_FOUND)
        number = count if pointer <= 1 else pointer - 1
    else:
        raise Refused(Sw.INCORRECT_P1P2)
    return number, number


def read_record(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    if apdu.data:
        raise Refused(Sw.WRONG_LENGTH)
    ef, pointer = _record_target(ch, apdu.p2)
    require(card, ch, ef, mode=AccessMode.READ)
    number, pointer = _record_number(ef, pointer, apdu.p1, apdu.p2 & 0x07)
    data = exact_le(bytes(ef.records[number - 1]), apdu.le)
    make_current(ch, ef)
    ch.record = pointer
    return Reply(data)


def update_record(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    ef, pointer = _record_target(ch, apdu.p2)
    require(card, ch, ef, mode=AccessMode.UPDATE)
    mode = apdu.p2 & 0x07
    if ef.cyclic:
        if mode != MODE_PREVIOUS:  # §11.1.6: cyclic files are written in PREVIOUS mode only
            raise Refused(Sw.INCORRECT_P1P2)
        number = pointer = 1
    else:
        number, pointer = _record_number(ef, pointer, apdu.p1, mode)
    if len(apdu.data) != ef.record_length:
        raise Refused(Sw.WRONG_LENGTH)
    if ef.cyclic:
        ef.write_cyclic(apdu.data)
    else:
        ef.records[number - 1][:] = apdu.data
    card.mark_changed()
    make_current(ch, ef)
    ch.record = pointer
    return Reply()


def _search_plan(ef: RecordEf, pointer: int, p1: int, mode: int) -> list[int]:
    """Record numbers to examine: forward/backward from P1 (00 = current record), or from next/previous."""
    count = len(ef.records)
    if p1 > count:
        raise Refused(Sw.RECORD_NOT_FOUND)
    if mode == 0x04:
        return list(range(p1 or pointer or 1, count + 1))
    if mode == 0x05:
        return list(range(p1 or pointer or count, 0, -1))
    if mode == 0x06:
        return list(range(pointer + 1, count + 1))
    return list(range(pointer - 1 if pointer else count, 0, -1))


def _matcher(apdu: CommandApdu):
    """Simple search (P2 b3..b1 100/101): the pattern anywhere in the record.  Enhanced search (110): byte 1
    b4 = 0 pattern at the offset in byte 2, b4 = 1 pattern after the first occurrence of the value in byte 2;
    b3..b1 give the direction (§11.1.7)."""
    mode = apdu.p2 & 0x07
    if mode in (0x04, 0x05):
        pattern = apdu.data
        return mode, lambda record: pattern in record
    if mode != 0x06:
        raise Refused(Sw.INCORRECT_P1P2)
    if len(apdu.data) < 3:
        raise Refused(Sw.WRONG_LENGTH)
    indication, where, pattern = apdu.data[0], apdu.data[1], apdu.data[2:]
    if indication & 0xF0 or indication & 0x07 < 0x04:
        raise Refused(Sw.INCORRECT_DATA)
    if indication & 0x08:
        def after_value(record: bytes) -> bool:
            i = record.find(bytes((where,)))
            return i >= 0 and record[i + 1:].startswith(pattern)
        return indication & 0x07, after_value
    return indication & 0x07, lambda record: record[where:].startswith(pattern)


def search_record(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    if not apdu.data:
        raise Refused(Sw.WRONG_LENGTH)
    ef, pointer = _record_target(ch, apdu.p2)
    mode, matches = _matcher(apdu)
    require(card, ch, ef, mode=AccessMode.READ)
    if len(apdu.data) > ef.record_length + (2 if apdu.p2 & 0x07 == 0x06 else 0):
        raise Refused(Sw.WRONG_LENGTH)
    found = [n for n in _search_plan(ef, pointer, apdu.p1, mode) if matches(bytes(ef.records[n - 1]))]
    make_current(ch, ef)
    if not found:
        ch.record = pointer
        return Reply(b"", Sw.EOF_OR_UNSUCCESSFUL_SEARCH)
    ch.record = found[0]
    return Reply(bytes(found), deferred=True)


INS_INCREASE = 0x32


def increase(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    """INCREASE (§11.1.8): add the value to record 1 of a cyclic EF, store the sum as the new record 1, and
    answer sum || value; 9850 when the sum does not fit the record."""
    if apdu.p1 or apdu.p2:
        raise Refused(Sw.INCORRECT_P1P2)
    ef = _current_ef(ch)
    if not isinstance(ef, RecordEf) or not ef.cyclic:
        raise Refused(Sw.INCOMPATIBLE_FILE_STRUCTURE)
    check_usable(ef)
    require(card, ch, ef, ins=INS_INCREASE)
    if not 1 <= len(apdu.data) <= ef.record_length:
        raise Refused(Sw.WRONG_LENGTH)
    total = int.from_bytes(ef.records[0], "big") + int.from_bytes(apdu.data, "big")
    if total >= 1 << (8 * ef.record_length):
        raise Refused(Sw.MAX_VALUE_REACHED)
    new = total.to_bytes(ef.record_length, "big")
    ef.write_cyclic(new)
    card.mark_changed()
    ch.record = 1
    return Reply(new + apdu.data, deferred=True)


COMMANDS = {
    (False, 0xA4): select,
    (True, 0xF2): status,
    (False, 0xB0): read_binary,
    (False, 0xD6): update_binary,
    (False, 0xB2): read_record,
    (False, 0xDC): update_record,
    (False, 0xA2): search_record,
    (True, INS_INCREASE): increase,
}
