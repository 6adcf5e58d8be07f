package org.mcim.bootstrap;

import static org.junit.Assert.assertEquals;

import org.junit.Test;
import org.mcim.testutil.Hex;
import org.mcim.testutil.Perso;
import org.mcim.testutil.TestCard;

/** ENVELOPEs recorded from public card-side projects and real cards (vectors file, sms_pp_envelope_examples). */
public class PublicEnvelopeTest {
    /**
     * The onomondo SoftSIM AES ENVELOPE of the vectors file (sms_pp_envelope_examples.onomondo_softsim_envelope_aes;
     * onomondo/onomondo-uicc tests/envelope, keys from its TAR record b00011 06 03 03 KIc KID, counter 0): SPI
     * 1639, KIc / KID 32, script SELECT MF, SELECT EF.ICCID, READ BINARY 10 bytes. onomondo answers with a short
     * RSC 0B PoR and sends the full PoR in SMS-SUBMIT; this applet returns the full PoR directly, and with the
     * same ICCID, counter and 80 00 padding it is byte for byte the PoR onomondo put in its SEND SHORT MESSAGE.
     */
    private static final String ENVELOPE = "80c200005bd15982028381860510426587f98b4c60039121437ff6624080119342803d02700000"
            + "381516393232b00011d5cbcbd7ad00edcae5fb251618e04ed8502924dbad65b15be802a9d9e28267110d433c06103268db6a2a9d6"
            + "18fe8ab74";
    /** The TP-UD of the SMS-SUBMIT in onomondo's fetch_response_send_sm. */
    private static final String POR = "027100002412b000118bd0716adbf216d5dad4612ec54d64bceaf7d9228b8254d857f8d42394be9f66";

    /**
     * asterix test_SPI1531, an ENVELOPE a Gemalto card accepted (SMS-DELIVER first octet 44, 3-digit TP-OA):
     * it parses down to the packet, whose SPI asks for a CRC32 redundancy check, which this applet does not
     * support: PoR 06, in clear.
     */
    @Test
    public void gemaltoEnvelopeParsesAndItsRedundancyCheckIsRefused() {
        TestCard card = new TestCard();
        Perso.bootstrap(card, "c00000", "00", 1, "0000000000", "263b48dbcbc1c21c0aa13e4d4516c446",
                "263b48dbcbc1c21c0aa13e4d4516c446");
        card.selectBootstrap();
        String envelope = "d13a820283818b3444038119f07ff6151124135822042502700000201115351515c000004d5c2c7f43d3e774316c66"
                + "ce8e1d5045755bacef5dc83203";
        assertEquals("027100000b0ac00000" + "0000000000" + "00" + "06",
                Hex.encode(card.expect("80C200003C" + envelope, 0x9000)));
    }

    @Test
    public void onomondoEnvelopeGivesOnomondosPor() {
        TestCard card = new TestCard();
        Perso.mcim(card, "56c3a6da347ae7e43c69d37576725d81", "b54aa2ed5fb981dd3d544c1fe3e36b6f", null);
        Perso.bootstrap(card, "b00011", "06", 3, "0000000000", "00112233445566778899aabbccddeeff",
                "0123456789abcdef0123456701234567");
        card.selectBootstrap();
        assertEquals(POR, Hex.encode(card.expect(ENVELOPE, 0x9000)));
        // The same packet again: counter low, PoR in clear.
        assertEquals("027100000b0ab00011" + "0000000001" + "00" + "02", Hex.encode(card.expect(ENVELOPE, 0x9000)));
    }
}
