"""Property tests: any bytes get a well-formed answer, and a refused command changes nothing on the card."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcim.refcard import card_from_profile

from .helpers import ADM1, PIN1, USIM_AID, h

CLASSES = [0x00, 0x01, 0x03, 0x40, 0x4F, 0x80, 0x81, 0xC0, 0xA0, 0x04, 0x10, 0x20, 0x60, 0xE0]
INSTRUCTIONS = [0xA4, 0xB0, 0xD6, 0xB2, 0xDC, 0xA2, 0x32, 0xF2, 0x20, 0x24, 0x26, 0x28, 0x2C, 0x88, 0xE0,
                0xE4, 0x44, 0x04, 0xE6, 0xE8, 0xD4, 0x70, 0xC0, 0x12, 0xC2]
FIDS = ["3F00", "2FE2", "2F00", "2F06", "2F05", "7FFF", "6F07", "6F38", "6F39", "6F42", "6F7E", "1234"]
PARAMS = [0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x09, 0x0C, 0x80, 0x81, 0x87, 0x8B]


PROPRIETARY = {0xF2, 0x32, 0xD4, 0x12, 0xC2}


ANY_BYTE = st.integers(0, 255)


def mostly(draw, choices, rare=ANY_BYTE):
    """A value from `choices` nine times in ten, anything else the tenth time."""
    return draw(rare) if draw(st.integers(0, 9)) == 0 else draw(st.sampled_from(choices))


@st.composite
def fuzzy_commands(draw) -> bytes:
    ins = mostly(draw, INSTRUCTIONS)
    channel = draw(st.sampled_from([0, 0, 0, 1, 2]))
    cla = mostly(draw, [(0x80 if ins in PROPRIETARY else 0x00) | channel], st.sampled_from(CLASSES))
    p1 = mostly(draw, PARAMS)
    p2 = mostly(draw, PARAMS)
    data = mostly(draw, [b"", *map(h, FIDS), h(USIM_AID), h(PIN1), h(ADM1)], st.binary(max_size=40))
    le = draw(st.none() | st.integers(0, 255))
    return apdu(cla, ins, p1, p2, data, le)


def apdu(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    body = bytes((cla, ins, p1, p2))
    if data:
        body += bytes((len(data),)) + data
    if le is not None:
        body += bytes((le,))
    return body


SFIS = [0, 1, 3, 4, 6, 7, 11, 30]


@st.composite
def plausible_commands(draw) -> bytes:
    """Commands a terminal or an OTA server would send, with plausible parameters, so handlers are reached."""
    channel = draw(st.sampled_from([0, 0, 1]))
    small = st.integers(0, 12)
    kind = draw(st.sampled_from(["select", "read_binary", "update_binary", "read_record", "update_record",
                                 "search", "increase", "pin", "admin", "status", "get_response"]))
    if kind == "select":
        p1, data = draw(st.sampled_from([(0x00, h(f)) for f in FIDS] + [(0x04, h(USIM_AID)[:7]), (0x03, b""),
                                         (0x08, h("7FFF6F07")), (0x09, h("6F39"))]))
        return apdu(channel, 0xA4, p1, draw(st.sampled_from([0x04, 0x0C])), data)
    if kind in ("read_binary", "update_binary"):
        p1 = draw(st.sampled_from([0x00, 0x80 | draw(st.sampled_from(SFIS[1:]))]))
        data = draw(st.binary(min_size=1, max_size=12)) if kind == "update_binary" else b""
        le = draw(st.none() | small) if kind == "read_binary" else None
        return apdu(channel, 0xB0 if kind == "read_binary" else 0xD6, p1, draw(small), data, le)
    if kind in ("read_record", "update_record", "search"):
        p2 = draw(st.sampled_from(SFIS)) << 3 | draw(st.sampled_from([2, 3, 4, 5, 6]))
        ins = {"read_record": 0xB2, "update_record": 0xDC, "search": 0xA2}[kind]
        data = b"" if kind == "read_record" else draw(st.binary(min_size=1, max_size=40))
        return apdu(channel, ins, draw(st.integers(0, 6)), p2, data, draw(st.none() | st.sampled_from([3, 38, 40])))
    if kind == "increase":
        return apdu(0x80 | channel, 0x32, 0, 0, draw(st.binary(min_size=1, max_size=4)))
    if kind == "pin":
        ins = draw(st.sampled_from([0x20, 0x24, 0x26, 0x28, 0x2C]))
        data = draw(st.sampled_from([b"", h(PIN1), h(ADM1), h("39393939FFFFFFFF"), h(PIN1) * 2]))
        return apdu(channel, ins, 0, draw(st.sampled_from([0x01, 0x0A, 0x81, 0x02])), data)
    if kind == "admin":
        ins = draw(st.sampled_from([0xE0, 0xE4, 0x44, 0x04, 0xE6, 0xE8]))
        data = draw(st.sampled_from([b"", *map(h, FIDS),
                                     h("6217820241218302610A8a01058b032f06028002001088010" + "8")]))
        return apdu(channel, ins, 0, 0, data)
    if kind == "status":
        return apdu(0x80 | channel, 0xF2, 0, draw(st.sampled_from([0x00, 0x01, 0x0C])), b"", draw(st.none() | small))
    return apdu(channel, 0xC0, 0, 0, b"", draw(small))


def commands():
    return fuzzy_commands() | plausible_commands()


def snapshot(card):
    channels = {n: (id(c.df), id(c.ef), id(c.adf), c.record) for n, c in card.channels().items()}
    return card.to_state(), channels, frozenset(card.security.verified)


def prepared_card():
    card = card_from_profile()
    for apdu in (f"0020000A08{ADM1}", f"00A4040C10{USIM_AID}", f"0020000108{PIN1}", "0070000001"):
        card.process(h(apdu))
    return card


def changes_allowed(sw: int) -> bool:
    """9000/61xx did what was asked; 63CX is a failed verification, which costs a try by design."""
    return sw == 0x9000 or sw >> 8 == 0x61 or sw & 0xFFF0 == 0x63C0


def is_warning(sw: int) -> bool:
    """62xx/63xx: the command was executed with a warning (TS 102 221 §10.2.1.2), e.g. SEARCH RECORD by SFI
    without a match (6282) still makes that EF current.  Its file pointers may move; what the card stores may not."""
    return sw >> 8 in (0x62, 0x63)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_get_a_well_formed_answer(raw):
    card = card_from_profile()
    response = card.process(raw)
    assert len(response) >= 2
    assert response[-2:] != b"\x6f\x00"  # no handler crashed into "technical problem"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands(), min_size=1, max_size=12))
def test_refused_commands_change_nothing(sequence):
    card = prepared_card()
    for command in sequence:
        before = snapshot(card)
        response = card.process(command)
        sw = int.from_bytes(response[-2:], "big")
        assert sw != 0x6F00, command.hex()
        if is_warning(sw) and not changes_allowed(sw):
            assert snapshot(card)[0] == before[0], f"{command.hex()} -> {sw:04X} changed what the card stores"
        elif not changes_allowed(sw):
            assert snapshot(card) == before, f"{command.hex()} -> {sw:04X} changed the card"
