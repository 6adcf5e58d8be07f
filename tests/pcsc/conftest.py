"""PC/SC fixtures: a private pcscd with a vpcd reader, the echo card in slot 0, slot 1 for tests' own cards."""

from tests.pcsc_harness import echo_reader, pcscd, spare_slot  # noqa: F401
