"""Properties of the OTA receiving side: any SCP80 packet the host builds for any key set and SPI is accepted and
answered as its SPI asks; the same packet with one byte flipped is refused and leaves the card as it was; and any
bytes in an ENVELOPE never break the card."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcim.ota import (
    Address,
    Algorithm,
    CounterMode,
    Integrity,
    KeyRef,
    OtaContext,
    OtaKeys,
    PorRequest,
    PorStatus,
    PorTransport,
    Spi,
)
from mcim.ota.cat import SmsPpDownload
from mcim.ota.sms import SmsDeliver
from mcim.refcard import RefCard

from .helpers import h
from .test_ota_kit import Counter, OtaServer, envelopes_for, key_set, ota_card, snapshot

TAR = h("B00000")
SCRIPT = [h("00A4000C022FE2"), h("00B000000A")]
ICCID = h("988802000000000010F4")  # EF.ICCID of the default profile
KEY_SIZES = {Algorithm.TDES2: 16, Algorithm.TDES3: 24}
CIPHERS = [Algorithm.TDES2, Algorithm.TDES3, Algorithm.AES]
# The ISD stores 3DES keys of 16/24 bytes and AES keys (GP v2.3 §11.1.8): single DES (legacy) is not drawn.
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def key_for(algorithm: Algorithm) -> st.SearchStrategy[bytes]:
    sizes = st.sampled_from([16, 24, 32]) if algorithm is Algorithm.AES else st.just(KEY_SIZES[algorithm])
    return sizes.flatmap(lambda n: st.binary(min_size=n, max_size=n))


@st.composite
def security(draw: st.DrawFn, *, tamper_proof: bool = False) -> tuple[OtaContext, int, int]:
    """(context, KVN, first counter) for a random key set and SPI; `tamper_proof` asks for a packet whose every
    byte is covered by an RC or CC that detects any one changed byte."""
    kvn = draw(st.integers(1, 15))
    cipher = draw(st.sampled_from(CIPHERS))
    kic = draw(key_for(cipher))
    kind = draw(st.sampled_from([Integrity.RC, Integrity.CC] if tamper_proof else list(Integrity)[:3]))
    ciphered = draw(st.booleans())
    if kind is Integrity.CC:
        mac = draw(st.sampled_from(CIPHERS))
        kid_ref, kid = KeyRef.for_cc(kvn, mac), draw(key_for(mac))
    else:
        crcs = [Algorithm.CRC32] if tamper_proof and ciphered else [Algorithm.CRC16, Algorithm.CRC32]
        kid_ref, kid = KeyRef.for_rc(kvn, draw(st.sampled_from(crcs))), bytes(16)  # CRC16 may miss a garbled block
    integrity = kind if tamper_proof else draw(st.sampled_from([Integrity.NONE, kind]))
    spi = Spi(integrity, ciphered, draw(st.sampled_from(list(CounterMode))),
              draw(st.sampled_from([PorRequest.NONE, PorRequest.ALWAYS, PorRequest.ON_ERROR])),
              draw(st.sampled_from([Integrity.NONE, kind])), draw(st.booleans()),
              draw(st.sampled_from(list(PorTransport))))
    ctx = OtaContext(spi, KeyRef.for_cipher(kvn, cipher), kid_ref, TAR, OtaKeys(kic, kid))
    first = 1 if spi.counter is CounterMode.ONE_HIGHER else draw(st.integers(1, 1 << 39))  # a new card is at 0
    return ctx, kvn, first


def card_for(ctx: OtaContext, kvn: int) -> RefCard:
    """A card holding the context's keys as SCP80 key set `kvn` (key types as GP codes them)."""
    keys = key_set(kvn, ctx.keys.kic, ctx.keys.kid, ctx.keys.kic)
    for key, algorithm in zip(keys["keys"], (ctx.kic.cipher_algorithm(), ctx.kid.cc_algorithm(),
                                             ctx.kic.cipher_algorithm()), strict=True):
        key["type"] = "aes" if algorithm is Algorithm.AES else "des"
    return ota_card([keys], tars=[{"tar": "B00000", "service": "rfm", "msl": "0100", "access_domain": "00"}])


@PROPERTY_SETTINGS
@given(security())
def test_packets_the_host_builds_are_accepted(drawn):
    ctx, kvn, first = drawn
    card = card_for(ctx, kvn)
    server = OtaServer(card, ctx, counter=Counter.starting(first))
    exchange = server.send(SCRIPT)
    assert exchange.outcome.delivered
    if ctx.spi.por is not PorRequest.ALWAYS:
        assert exchange.outcome.pors == ()
        return
    por = server.verify(exchange)
    assert por.response.status is PorStatus.POR_OK and por.response.cntr == first
    assert (por.remote.count, por.remote.sw, por.remote.data) == (2, 0x9000, ICCID)


@PROPERTY_SETTINGS
@given(security(tamper_proof=True), st.data())
def test_any_flipped_byte_is_refused_without_a_state_change(drawn, data):
    ctx, kvn, first = drawn
    card = card_for(ctx, kvn)
    server = OtaServer(card, ctx, counter=Counter.starting(first))
    wrapped = server.wrapper().wrap(SCRIPT)
    packet = bytearray(wrapped.packet)
    where = data.draw(st.integers(0, len(packet) - 1), label="byte")
    packet[where] ^= data.draw(st.integers(1, 255), label="mask")
    before = snapshot(card)
    outcome = server.send_wrapped(wrapped, envelopes_for(bytes(packet))).outcome
    assert snapshot(card) == before
    for por in outcome.pors:  # an error PoR for a packet not proven authentic: no RC/CC, no ciphering
        assert por.user_data[5] == 0x0A and por.user_data[15] != PorStatus.POR_OK


FUZZ_CARD = ota_card()
SMS_PP = st.builds(lambda ud, pid, dcs: SmsPpDownload(SmsDeliver(Address.from_digits("1234"), bytes(7), ud, pid,
                                                                 dcs).to_bytes()).envelope(),
                   st.binary(max_size=3).map(lambda x: b"\x02\x70\x00" + x) | st.binary(max_size=140),
                   st.sampled_from([0x7F, 0x00]), st.sampled_from([0xF6, 0x16, 0x04]))
RAW = st.binary(max_size=260).map(lambda data: b"\x80\xc2\x00\x00" + bytes((min(len(data), 255),)) + data[:255])


@settings(max_examples=300, deadline=None)
@given(st.one_of(SMS_PP, RAW, st.binary(max_size=160).map(lambda tpdu: SmsPpDownload(tpdu).envelope()),
                 st.binary(min_size=3, max_size=140).map(
    lambda body: SmsPpDownload(SmsDeliver(Address.from_digits("1234"), bytes(7),
                                          b"\x02\x70\x00" + body[:137]).to_bytes()).envelope())))
def test_any_envelope_is_answered_and_changes_nothing(apdu):
    before = snapshot(FUZZ_CARD)
    response = FUZZ_CARD.process(apdu)
    assert response[-2:] != b"\x6f\x00"
    assert snapshot(FUZZ_CARD) == before
    FUZZ_CARD.reset()  # an error PoR by SEND SHORT MESSAGE would keep the toolkit busy
