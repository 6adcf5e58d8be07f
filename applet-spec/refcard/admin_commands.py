"""Administrative commands (ETSI TS 102 222 §6): CREATE FILE, DELETE FILE, ACTIVATE/DEACTIVATE FILE
(also TS 102 221 §11.1), TERMINATE DF/EF, RESIZE FILE.  All checked against the access rules of the
file (or of the parent DF for CREATE FILE); a refused command changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcim.apdu import CommandApdu
from mcim.errors import DecodeError
from mcim.tlv import ber_decode
from mcim.usim import DF_CREATE_DF, DF_CREATE_EF, AccessMode, Fcp, Lcsi

from .context import Channel, Reply
from .files import RESERVED_FIDS, Adf, Df, Ef, Node, RecordEf, TransparentEf, fill_pattern, node_from_fcp
from .fs_commands import _named_dfs, check_usable, locate, make_current, require
from .status import Refused, Sw

if TYPE_CHECKING:
    from .card import RefCard

INS_RESIZE = 0xD4


def _patterns(fcp: Fcp) -> tuple[bytes | None, bytes | None]:
    """Filling (C1) and repeat (C2) patterns from the proprietary template A5 (TS 102 222 Table 4a)."""
    if not fcp.proprietary:
        return None, None
    found = {t.tag: t.value for t in ber_decode(fcp.proprietary, where="FCP tag A5")}
    return found.get(0xC1) or None, found.get(0xC2) or None


def _parse_template(data: bytes) -> tuple[Fcp, bytes | None, bytes | None]:
    try:
        fcp = Fcp.from_bytes(data)
        return (fcp, *_patterns(fcp))
    except DecodeError:
        raise Refused(Sw.INCORRECT_DATA) from None


def create_file(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    """CREATE FILE (§6.3): the FCP template describes the new file in the current DF (ADFs under the MF); the
    new file becomes the current file."""
    if apdu.p1 or apdu.p2:
        raise Refused(Sw.INCORRECT_P1P2)
    if not apdu.data:
        raise Refused(Sw.WRONG_LENGTH)
    fcp, filling, repeat = _parse_template(apdu.data)
    if fcp.security_compact is not None:
        raise Refused(Sw.FUNCTION_NOT_SUPPORTED)  # only referenced (8B) and expanded (AB) attributes here
    if fcp.arr is None and fcp.security_expanded is None:
        raise Refused(Sw.INCORRECT_DATA)  # §6.3: a security attribute is mandatory
    try:
        node = node_from_fcp(fcp, filling, repeat)
    except DecodeError:
        raise Refused(Sw.INCORRECT_DATA) from None
    parent = ch.df
    check_usable(parent)
    require(card, ch, parent, mode=DF_CREATE_DF if node.is_df else DF_CREATE_EF)
    _check_new_file(card, parent, node)
    if node.footprint() > card.available_memory():
        raise Refused(Sw.NOT_ENOUGH_MEMORY)
    if isinstance(node, Adf):
        card.add_adf(node)
    else:
        parent.add(node)
    card.mark_changed()
    make_current(ch, node)
    return Reply()


def _check_new_file(card: RefCard, parent: Df, node: Node) -> None:
    if isinstance(node, Adf):
        if parent is not card.mf:
            raise Refused(Sw.INCORRECT_DATA)
    elif node.fid in RESERVED_FIDS:
        raise Refused(Sw.INCORRECT_DATA)
    elif node.fid == parent.fid or parent.child(node.fid) is not None:  # type: ignore[arg-type]
        raise Refused(Sw.FILE_ID_EXISTS)
    if isinstance(node, Ef) and node.sfi is not None and parent.by_sfi(node.sfi) is not None:
        raise Refused(Sw.FILE_ID_EXISTS)
    if isinstance(node, Df) and node.name is not None and any(df.name == node.name for df in _named_dfs(card)):
        raise Refused(Sw.DF_NAME_EXISTS)


def delete_file(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    """DELETE FILE (§6.4): P1 00 a file of the current DF by FID, P1 04 an ADF by its full AID."""
    if apdu.p2:
        raise Refused(Sw.INCORRECT_P1P2)
    if apdu.p1 == 0x00:
        if len(apdu.data) != 2:
            raise Refused(Sw.WRONG_LENGTH)
        node = ch.df.child(int.from_bytes(apdu.data, "big"))
    elif apdu.p1 == 0x04:
        if not 1 <= len(apdu.data) <= 16:
            raise Refused(Sw.WRONG_LENGTH)
        node = card.find_adf(apdu.data)
    else:
        raise Refused(Sw.INCORRECT_P1P2)
    if node is None:
        raise Refused(Sw.FILE_NOT_FOUND)
    require(card, ch, node, mode=AccessMode.DELETE)
    if isinstance(node, Adf):
        card.remove_adf(node)
    else:
        parent = node.parent
        assert parent is not None
        parent.remove(node)
        _forget(card, node, parent)
    card.mark_changed()
    return Reply()


def _forget(card: RefCard, node: Node, parent: Df) -> None:
    """Channels that had the deleted file (or something inside it) current fall back to its parent."""
    for other in card.channels().values():
        current: Node | None = other.ef or other.df
        while current is not None and current is not node:
            current = current.parent
        if current is node:
            other.df, other.ef, other.record = parent, None, 0


def _target(card: RefCard, ch: Channel, apdu: CommandApdu) -> Node:
    """ACTIVATE/DEACTIVATE/TERMINATE: the file named in the data (P1 00/08/09), or the current file."""
    if apdu.p2 or apdu.p1 not in (0x00, 0x08, 0x09):
        raise Refused(Sw.INCORRECT_P1P2)
    if not apdu.data:
        if apdu.p1:
            raise Refused(Sw.WRONG_LENGTH)
        return ch.ef or ch.df
    return locate(card, ch, apdu.p1, apdu.data)


def _set_life_cycle(card: RefCard, ch: Channel, apdu: CommandApdu, lcsi: Lcsi, mode: AccessMode) -> Reply:
    node = _target(card, ch, apdu)
    if node.state == Lcsi.TERMINATED:
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
    require(card, ch, node, mode=mode)
    if node.state != lcsi:
        node.lcsi = lcsi
        card.mark_changed()
    make_current(ch, node)
    return Reply()


def activate(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    return _set_life_cycle(card, ch, apdu, Lcsi.ACTIVATED, AccessMode.ACTIVATE)


def deactivate(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    return _set_life_cycle(card, ch, apdu, Lcsi.DEACTIVATED, AccessMode.DEACTIVATE)


def _terminate(card: RefCard, ch: Channel, apdu: CommandApdu, want_df: bool) -> Reply:
    node = _target(card, ch, apdu)
    if node.is_df != want_df:
        raise Refused(Sw.INCOMPATIBLE_FILE_STRUCTURE)
    if node.state == Lcsi.TERMINATED:
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
    require(card, ch, node, mode=AccessMode.TERMINATE)
    node.lcsi = Lcsi.TERMINATED
    card.mark_changed()
    make_current(ch, node)
    return Reply()


def terminate_df(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    return _terminate(card, ch, apdu, True)


def terminate_ef(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    return _terminate(card, ch, apdu, False)


def resize_file(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    """RESIZE FILE (§6.10) for EFs: template 62 {83 FID, 80 new size, [A5 {C1/C2 pattern}]}; a record EF's new
    size must be a whole number of records.  Needs the command-header rule for INS D4."""
    if apdu.p1 or apdu.p2:
        raise Refused(Sw.INCORRECT_P1P2)
    try:
        found = {c.tag: c.value for c in ber_decode(_template_value(apdu.data), where="RESIZE FILE")}
        patterns = {t.tag: t.value for t in ber_decode(found.get(0xA5, b""), where="RESIZE FILE A5")}
    except DecodeError:
        raise Refused(Sw.INCORRECT_DATA) from None
    if len(found.get(0x83, b"")) != 2 or not 1 <= len(found.get(0x80, b"")) <= 2:
        raise Refused(Sw.INCORRECT_DATA)
    fid, size = int.from_bytes(found[0x83], "big"), int.from_bytes(found[0x80], "big")
    if not 1 <= size <= 0x7FFF:  # READ/UPDATE BINARY address 15 bits (TS 102 221 §11.1.3)
        raise Refused(Sw.INCORRECT_DATA)
    node = ch.ef if ch.ef is not None and ch.ef.fid == fid else ch.df.child(fid)
    if node is None:
        raise Refused(Sw.FILE_NOT_FOUND)
    if not isinstance(node, TransparentEf | RecordEf):
        raise Refused(Sw.INCOMPATIBLE_FILE_STRUCTURE)
    check_usable(node)
    require(card, ch, node, ins=INS_RESIZE)
    if isinstance(node, RecordEf) and (size % node.record_length or not size):
        raise Refused(Sw.INCORRECT_DATA)
    if size - node.size() > card.available_memory():
        raise Refused(Sw.NOT_ENOUGH_MEMORY)
    _apply_size(node, size, patterns.get(0xC1) or None, patterns.get(0xC2) or None)
    card.mark_changed()
    make_current(ch, node)
    return Reply()


def _template_value(data: bytes) -> bytes:
    items = ber_decode(data, where="RESIZE FILE", skip_padding=False)
    if len(items) != 1 or items[0].tag != 0x62:
        raise DecodeError("not one 62 template", where="RESIZE FILE", expected="62 L {83 FID, 80 size}")
    return items[0].value


def _apply_size(node: TransparentEf | RecordEf, size: int, filling: bytes | None, repeat: bytes | None) -> None:
    if isinstance(node, TransparentEf):
        grow = size - len(node.data)
        if grow > 0:
            node.data += fill_pattern(grow, filling, repeat)
        else:
            del node.data[size:]
        return
    count = size // node.record_length
    while len(node.records) < count:
        node.records.append(bytearray(fill_pattern(node.record_length, filling, repeat)))
    del node.records[count:]


COMMANDS = {
    (False, 0xE0): create_file,
    (False, 0xE4): delete_file,
    (False, 0x44): activate,
    (False, 0x04): deactivate,
    (False, 0xE6): terminate_df,
    (False, 0xE8): terminate_ef,
    (True, INS_RESIZE): resize_file,
}
