"""Choosing a reader and checking arguments: pure code, no PC/SC service needed."""

import pytest
from mcim.errors import BadInput, TransportError
from mcim.transport.pcsc import PcscTransport, select_reader

READERS = ["Gemalto PC Twin Reader 00 00", "mcim vpcd 00 00", "mcim vpcd 00 01", "7"]


@pytest.mark.parametrize(("wanted", "chosen"), [
    ("mcim vpcd 00 01", "mcim vpcd 00 01"),  # exact name
    (0, "Gemalto PC Twin Reader 00 00"),  # index
    ("2", "mcim vpcd 00 01"),  # index given as text, as on a command line
    ("7", "7"),  # an exact name wins over an index
    ("gemalto", "Gemalto PC Twin Reader 00 00"),  # unique part of a name, any case
    ("VPCD 00 00", "mcim vpcd 00 00"),
])
def test_reader_found(wanted, chosen):
    assert select_reader(wanted, READERS) == chosen


@pytest.mark.parametrize(("wanted", "message"), [
    ("vpcd", "matches several readers"),
    ("omnikey", "matches no reader"),
    (9, "no reader #9"),
])
def test_reader_not_found_lists_the_available_ones(wanted, message):
    with pytest.raises(TransportError, match=message) as caught:
        select_reader(wanted, READERS)
    assert "#1 'mcim vpcd 00 00'" in str(caught.value)


def test_no_readers_at_all():
    with pytest.raises(TransportError, match="no readers are connected"):
        select_reader("anything", [])


@pytest.mark.parametrize("options", [{"timeout": 0}, {"timeout": -1.0}, {"protocol": "t2"}])
def test_bad_options_are_bad_input(options):
    with pytest.raises(BadInput):
        PcscTransport("any reader", **options)
