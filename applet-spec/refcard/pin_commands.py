"""PIN commands of ETSI TS 102 221 §11.1.9-11.1.13: VERIFY, CHANGE, DISABLE, ENABLE and UNBLOCK PIN.

P2 is the key reference (Table 9.3); local references (81-88) belong to the current application.  A wrong
PIN or PUK costs one try and answers 63CX (X tries left); at zero the PIN answers 6983.  A disabled PIN cannot
be verified or changed (6985).  Values are compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from mcim.apdu import CommandApdu

from .access import PIN_LENGTH, Pin, is_adm, pin_format_ok
from .context import Channel, Reply
from .status import Refused, Sw, with_length

if TYPE_CHECKING:
    from .card import RefCard

_VALID_REFS = frozenset([*range(0x01, 0x09), *range(0x0A, 0x0F), 0x11, *range(0x81, 0x89), *range(0x8A, 0x8F)])


def _ok(sw: int = Sw.OK) -> Reply:
    return Reply(b"", sw)


def _target(card: RefCard, ch: Channel, apdu: CommandApdu, data_lengths: tuple[int, ...]) -> Pin:
    if apdu.p1 != 0x00 or apdu.p2 not in _VALID_REFS:
        raise Refused(Sw.INCORRECT_P1P2)
    if len(apdu.data) not in data_lengths:
        raise Refused(Sw.WRONG_LENGTH)
    pin = card.security.pin(apdu.p2, ch.adf)
    if pin is None:
        raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
    return pin


def _tries_left(n: int) -> int:
    return with_length(Sw.PIN_TRIES_LEFT, min(n, 15))


def _check_pin(card: RefCard, ch: Channel, pin: Pin, offered: bytes) -> None:
    """Compare; a wrong value costs a try (persisted) and ends the command with 63CX."""
    if hmac.compare_digest(offered, pin.value):
        if pin.retries != pin.retries_max:
            pin.retries = pin.retries_max
            card.mark_changed()
        return
    pin.retries -= 1
    card.security.verified.discard(card.security.scope(pin.key_ref, ch.adf))
    card.mark_changed()
    raise Refused(_tries_left(pin.retries))


def _verified(card: RefCard, ch: Channel, pin: Pin) -> None:
    card.security.verified.add(card.security.scope(pin.key_ref, ch.adf))


def verify(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    pin = _target(card, ch, apdu, (0, PIN_LENGTH))
    if pin.blocked:
        raise Refused(Sw.PIN_BLOCKED)
    if not apdu.data:  # §11.1.9: no data asks for the status; 9000 when no verification is needed
        if card.security.satisfied_by(pin.key_ref, ch.adf):
            return _ok()
        return _ok(_tries_left(pin.retries))
    if not pin.enabled and not is_adm(pin.key_ref):
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
    if not pin_format_ok(pin.key_ref, apdu.data):
        raise Refused(Sw.INCORRECT_DATA)
    _check_pin(card, ch, pin, apdu.data)
    _verified(card, ch, pin)
    return _ok()


def change(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    pin = _target(card, ch, apdu, (2 * PIN_LENGTH,))
    old, new = apdu.data[:PIN_LENGTH], apdu.data[PIN_LENGTH:]
    if pin.blocked:
        raise Refused(Sw.PIN_BLOCKED)
    if not pin.enabled and not is_adm(pin.key_ref):
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
    if not (pin_format_ok(pin.key_ref, old) and pin_format_ok(pin.key_ref, new)):
        raise Refused(Sw.INCORRECT_DATA)
    _check_pin(card, ch, pin, old)
    pin.value = new
    card.mark_changed()
    _verified(card, ch, pin)
    return _ok()


def _set_enabled(card: RefCard, ch: Channel, apdu: CommandApdu, enabled: bool) -> Reply:
    pin = _target(card, ch, apdu, (PIN_LENGTH,))
    if pin.blocked:
        raise Refused(Sw.PIN_BLOCKED)
    if is_adm(pin.key_ref) or pin.enabled == enabled:
        raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
    if not pin_format_ok(pin.key_ref, apdu.data):
        raise Refused(Sw.INCORRECT_DATA)
    _check_pin(card, ch, pin, apdu.data)
    pin.enabled = enabled
    card.mark_changed()
    if enabled:
        _verified(card, ch, pin)
    return _ok()


def disable(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    return _set_enabled(card, ch, apdu, False)


def enable(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    return _set_enabled(card, ch, apdu, True)


def unblock(card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
    """§11.1.13: PUK || new PIN; success resets both counters, enables and verifies the PIN."""
    pin = _target(card, ch, apdu, (0, 2 * PIN_LENGTH))
    if pin.puk_blocked:
        raise Refused(Sw.PIN_BLOCKED)
    if not apdu.data:
        return _ok(_tries_left(pin.puk_retries))
    puk, new = apdu.data[:PIN_LENGTH], apdu.data[PIN_LENGTH:]
    if not pin_format_ok(pin.key_ref, new):
        raise Refused(Sw.INCORRECT_DATA)
    if not hmac.compare_digest(puk, pin.puk or b""):
        pin.puk_retries -= 1
        card.mark_changed()
        raise Refused(_tries_left(pin.puk_retries))
    pin.value, pin.retries, pin.puk_retries, pin.enabled = new, pin.retries_max, pin.puk_retries_max, True
    card.mark_changed()
    _verified(card, ch, pin)
    return _ok()


COMMANDS = {
    (False, 0x20): verify,
    (False, 0x24): change,
    (False, 0x26): disable,
    (False, 0x28): enable,
    (False, 0x2C): unblock,
}
