"""Every refusal of the OTA receiving side: the PoR status of ETSI TS 102 225 §5.2.2 table 5 (and TS 31.115 §7),
unsecured when the packet could not be proven authentic, and a card state snapshot showing nothing changed."""

from __future__ import annotations

import pytest
from mcim.ota import (
    Algorithm,
    CounterMode,
    Integrity,
    KeyRef,
    OtaContext,
    OtaKeys,
    PorRequest,
    PorStatus,
    Spi,
)
from mcim.ota.packet import MAX_CNTR, build_command_packet
from mcim.ota.por import PorIntegrity

from .helpers import h
from .test_ota_kit import (
    KIC,
    KID,
    MF_TAR,
    Counter,
    OtaServer,
    context,
    envelopes_for,
    key_set,
    ota_card,
    snapshot,
)

SCRIPT = [h("00A4000C022FE2"), h("00B000000A")]
OTHER_KEY = h("FFEEDDCCBBAA99887766554433221100")
ONE_HIGHER = Spi(Integrity.CC, True, CounterMode.ONE_HIGHER, PorRequest.ALWAYS, Integrity.CC, True)


def refused(server: OtaServer, status: PorStatus, *, authentic: bool = False, apdus: list[bytes] = SCRIPT) -> None:
    """Send `apdus`; the PoR must carry `status`, secured only for an authentic packet, and nothing may change."""
    before = snapshot(server.card)
    por = server.verify(server.send(apdus)).response
    assert por.status is status
    assert por.integrity is (PorIntegrity.VERIFIED if authentic else PorIntegrity.NONE)
    assert snapshot(server.card) == before


@pytest.fixture
def card():
    return ota_card()


def test_wrong_kid_key(card):
    refused(OtaServer(card, context(MF_TAR, kid=OTHER_KEY)), PorStatus.RC_CC_DS_FAILED)


def test_wrong_kic_key(card):
    refused(OtaServer(card, context(MF_TAR, kic=OTHER_KEY)), PorStatus.RC_CC_DS_FAILED)


def test_wrong_redundancy_check():
    card = ota_card(tars=[{"tar": "B00000", "service": "rfm", "msl": "0101", "access_domain": "00"}])
    spi = Spi(Integrity.RC, False, CounterMode.NONE, PorRequest.ALWAYS)
    ctx = OtaContext(spi, KeyRef.for_cipher(1, Algorithm.AES), KeyRef.for_rc(1, Algorithm.CRC32), MF_TAR,
                     OtaKeys(KIC, KID))
    server = OtaServer(card, ctx)
    wrapped = server.wrapper().wrap(SCRIPT)
    packet = bytearray(wrapped.packet)
    packet[-1] ^= 0x01  # the last byte of data: the CRC32 no longer matches
    before = snapshot(card)
    por = server.verify(server.send_wrapped(wrapped, envelopes_for(bytes(packet)))).response
    assert por.status is PorStatus.RC_CC_DS_FAILED and snapshot(card) == before


def test_ciphering_error_when_the_ciphertext_is_no_whole_blocks(card):
    server = OtaServer(card, context(MF_TAR))
    wrapped = server.wrapper().wrap(SCRIPT)
    body = wrapped.packet[2:-1]  # one ciphered byte short
    before = snapshot(card)
    por = server.verify(server.send_wrapped(wrapped, envelopes_for(len(body).to_bytes(2, "big") + body))).response
    assert por.status is PorStatus.CIPHERING_ERROR and snapshot(card) == before


def test_replayed_packet(card):
    server = OtaServer(card, context(MF_TAR))
    exchange = server.send(SCRIPT)
    assert server.status(exchange) is PorStatus.POR_OK
    before = snapshot(card)
    replay = server.send_wrapped(exchange.wrapped)
    assert server.status(replay) is PorStatus.CNTR_LOW and snapshot(card) == before


def test_counter_low(card):
    OtaServer(card, context(MF_TAR), counter=Counter.starting(50)).run(SCRIPT)
    refused(OtaServer(card, context(MF_TAR), counter=Counter.starting(49)), PorStatus.CNTR_LOW, authentic=True)


def test_counter_more_than_one_higher(card):
    OtaServer(card, context(MF_TAR, ONE_HIGHER), counter=Counter.starting(1)).run(SCRIPT)
    refused(OtaServer(card, context(MF_TAR, ONE_HIGHER), counter=Counter.starting(3)), PorStatus.CNTR_HIGH,
            authentic=True)
    OtaServer(card, context(MF_TAR, ONE_HIGHER), counter=Counter.starting(2)).run(SCRIPT)


def test_counter_too_far_ahead_when_the_card_limits_the_step():
    card = ota_card(max_counter_step=100)
    OtaServer(card, context(MF_TAR), counter=Counter.starting(1)).run(SCRIPT)
    refused(OtaServer(card, context(MF_TAR), counter=Counter.starting(102)), PorStatus.CNTR_HIGH, authentic=True)
    OtaServer(card, context(MF_TAR), counter=Counter.starting(101)).run(SCRIPT)


def test_counter_blocked_at_its_maximum(card):
    OtaServer(card, context(MF_TAR), counter=Counter.starting(MAX_CNTR)).run(SCRIPT)
    refused(OtaServer(card, context(MF_TAR), counter=Counter.starting(MAX_CNTR)), PorStatus.CNTR_BLOCKED,
            authentic=True)


def test_unknown_tar(card):
    refused(OtaServer(card, context(h("B0FFFF"))), PorStatus.TAR_UNKNOWN)


def test_tar_of_an_adf_that_is_gone():
    card = ota_card(tars=[{"tar": "B00005", "service": "rfm", "adf": "A0000000871002FFFFFFFF89070900FF"}])
    refused(OtaServer(card, context(h("B00005"))), PorStatus.TAR_UNKNOWN)


@pytest.mark.parametrize("spi", [
    Spi(Integrity.CC, False, CounterMode.HIGHER, PorRequest.ALWAYS),  # no ciphering
    Spi(Integrity.CC, True, CounterMode.NO_CHECK, PorRequest.ALWAYS),  # no counter check
    Spi(Integrity.RC, True, CounterMode.HIGHER, PorRequest.ALWAYS),  # RC instead of CC
])
def test_security_below_the_minimum_of_the_tar(card, spi):
    kid = KeyRef.for_rc(1, Algorithm.CRC32) if spi.integrity is Integrity.RC else KeyRef.for_cc(1, Algorithm.AES)
    ctx = OtaContext(spi, KeyRef.for_cipher(1, Algorithm.AES), kid, MF_TAR, OtaKeys(KIC, KID))
    refused(OtaServer(card, ctx), PorStatus.INSUFFICIENT_SECURITY_LEVEL)


def test_unknown_key_set(card):
    refused(OtaServer(card, context(MF_TAR, kvn=5)), PorStatus.UNIDENTIFIED_SECURITY_ERROR)


def test_key_index_zero_names_no_key_set(card):
    refused(OtaServer(card, context(MF_TAR, kvn=0)), PorStatus.UNIDENTIFIED_SECURITY_ERROR)


def test_key_of_the_wrong_length_for_the_algorithm():
    card = ota_card([key_set(2, kic=KIC + KIC[:8], kid=KID + KID[:8])])  # AES-192 keys
    ctx = context(MF_TAR, kvn=2, algorithm=Algorithm.TDES2, kic=KIC, kid=KID)
    refused(OtaServer(card, ctx), PorStatus.UNIDENTIFIED_SECURITY_ERROR)


def test_digital_signature_is_not_implemented(card):
    spi = Spi(Integrity.DS, True, CounterMode.HIGHER, PorRequest.ALWAYS)
    server = OtaServer(card, context(MF_TAR))
    wrapped = server.wrapper().wrap(SCRIPT)
    packet = bytearray(wrapped.packet)
    packet[3] = spi.to_bytes()[0]  # SPI1 now asks for a DS
    before = snapshot(card)
    por = server.verify(server.send_wrapped(wrapped, envelopes_for(bytes(packet)))).response
    assert por.status is PorStatus.UNIDENTIFIED_SECURITY_ERROR and snapshot(card) == before


def test_unreadable_packet_gets_no_por(card):
    packet = build_command_packet(context(MF_TAR), 1, SCRIPT[0])
    before = snapshot(card)
    for broken in (packet[:-1], packet[:12], b"\x00\x01\x0d"):
        assert card.process(envelopes_for(broken)[0]) == b"\x6a\x80"
    assert snapshot(card) == before


def test_error_por_only_when_asked(card):
    quiet = Spi(Integrity.CC, True, CounterMode.HIGHER, PorRequest.NONE)
    before = snapshot(card)
    exchange = OtaServer(card, context(MF_TAR, quiet, kid=OTHER_KEY)).send(SCRIPT)
    assert exchange.outcome.pors == () and exchange.outcome.sw == 0x9000 and snapshot(card) == before


def test_por_on_error_comes_for_an_error(card):
    on_error = Spi(Integrity.CC, True, CounterMode.HIGHER, PorRequest.ON_ERROR, Integrity.CC, True)
    refused(OtaServer(card, context(MF_TAR, on_error, kid=OTHER_KEY)), PorStatus.RC_CC_DS_FAILED)
