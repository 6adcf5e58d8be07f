"""Every SPI / algorithm combination: built by the host, opened by a simulated receiving entity, answered with a
PoR that the host verifies.  Keys are random (os.urandom): nothing here is a known answer."""

from __future__ import annotations

import itertools
import os

import pytest
from mcim.ota.errors import PorStatus
from mcim.ota.keys import KeySets, OtaContext, OtaKeys
from mcim.ota.packet import CommandBuilder, Framing
from mcim.ota.por import PorIntegrity, PorVerifier
from mcim.ota.receiver import ReceivingEntity, TarPolicy
from mcim.ota.spi import Algorithm, CounterMode, Integrity, KeyRef, PorRequest, PorTransport, Spi

TAR = bytes.fromhex("b00001")
KEY_LENGTH = {Algorithm.DES: 8, Algorithm.TDES2: 16, Algorithm.TDES3: 24}
CIPHERS = [None, (Algorithm.DES, 8), (Algorithm.TDES2, 16), (Algorithm.TDES3, 24), (Algorithm.AES, 16),
           (Algorithm.AES, 24), (Algorithm.AES, 32)]
# (integrity kind, KID algorithm, key length, CC length)
CHECKSUMS = [(Integrity.RC, Algorithm.CRC16, 0, 8), (Integrity.RC, Algorithm.CRC32, 0, 8),
             (Integrity.CC, Algorithm.DES, 8, 8), (Integrity.CC, Algorithm.TDES2, 16, 8),
             (Integrity.CC, Algorithm.TDES3, 24, 8), (Integrity.CC, Algorithm.AES, 16, 8),
             (Integrity.CC, Algorithm.AES, 32, 8), (Integrity.CC, Algorithm.AES, 16, 4)]
SCRIPTS = [bytes.fromhex("00a4000c026f07") + bytes.fromhex("00b0000009"), bytes(range(200))]


def _kid(kind: Integrity, algorithm: Algorithm) -> KeyRef:
    return KeyRef.for_rc(2, algorithm) if kind is Integrity.RC else KeyRef.for_cc(2, algorithm)


@pytest.mark.parametrize("cipher", CIPHERS, ids=lambda c: "plain" if c is None else f"{c[0].value}-{c[1]}")
@pytest.mark.parametrize("checksum", CHECKSUMS, ids=lambda c: f"{c[1].value}-{c[2]}-cc{c[3]}")
@pytest.mark.parametrize("framing", list(Framing), ids=lambda f: f.value)
def test_every_combination_round_trips(cipher: tuple[Algorithm, int] | None,
                                       checksum: tuple[Integrity, Algorithm, int, int], framing: Framing) -> None:
    kind, kid_algorithm, kid_length, cc_length = checksum
    kic = KeyRef.for_cipher(2, cipher[0]) if cipher else KeyRef(2, 0)
    keys = OtaKeys(os.urandom(cipher[1]) if cipher else None, os.urandom(kid_length) if kid_length else None)
    choices = itertools.product([Integrity.NONE, kind], list(CounterMode), [PorRequest.ALWAYS, PorRequest.ON_ERROR,
                                PorRequest.NONE], [Integrity.NONE, kind], [False, True] if cipher else [False],
                                list(PorTransport))
    for integrity, counter, por, por_integrity, por_ciphered, transport in choices:
        spi = Spi(integrity, cipher is not None, counter, por, por_integrity, por_ciphered, transport)
        ctx = OtaContext(spi, kic, _kid(kind, kid_algorithm), TAR, keys, cc_length)
        card = ReceivingEntity(KeySets({2: keys}), {TAR: TarPolicy()}, framing=framing, cc_length=cc_length)
        verifier = PorVerifier(ctx, framing)
        for cntr, script in enumerate(SCRIPTS, 1):
            packet = CommandBuilder(ctx, framing, allow_legacy_des=True).build(cntr, script)
            command = card.receive(packet)
            assert (command.secured_data, command.cntr) == (script, cntr)
            answer = card.por(command, b"\x01\x90\x00")
            if por is not PorRequest.ALWAYS:
                assert answer is None
                continue
            assert answer is not None
            verified = verifier.verify(answer, cntr)
            assert (verified.status, verified.data) == (PorStatus.POR_OK, b"\x01\x90\x00")
            assert verified.integrity is (PorIntegrity.VERIFIED if por_integrity else PorIntegrity.NONE)
            assert verified.ciphered is por_ciphered
