package org.mcim.usim;

import static org.junit.Assert.assertEquals;
import static org.mcim.testutil.Perso.dgi;
import static org.mcim.testutil.Perso.secretDgi;
import static org.mcim.testutil.Perso.storeData;

import org.junit.Before;
import org.junit.Test;
import org.mcim.testutil.Hex;
import org.mcim.testutil.Perso;
import org.mcim.testutil.TestCard;

/** The MCIM's file system and personalisation over the contact interface, on jCardSim. */
public class McimAppletTest {
    // usim_authenticate_example of the vectors file (pySim test run against a sysmocom card).
    static final String EXAMPLE_K = "56c3a6da347ae7e43c69d37576725d81";
    static final String EXAMPLE_OPC = "b54aa2ed5fb981dd3d544c1fe3e36b6f";

    private TestCard card;

    @Before
    public void setUp() {
        card = new TestCard();
    }

    @Test
    public void selectByAidReturnsTheAdfFcp() {
        // TS 102 221 §11.1.1.4: 82 descriptor (shareable DF), 83 FID, 84 DF name, 8A LCSI, 8B EF.ARR reference.
        byte[] fcp = card.expect("00A40404" + TestCard.tlv("", TestCard.MCIM_AID), 0x9000);
        assertEquals("6222" + "82027821" + "83027fff" + "8410" + TestCard.MCIM_AID.toLowerCase() + "8a0105"
                + "8b036f0601", Hex.encode(fcp));
    }

    @Test
    public void selectEfReturnsItsFcp() {
        card.selectMcim();
        // EF.IMSI: shareable transparent EF (82024121, a pySim table value), 9 bytes, SFI 07 -> 88 01 38.
        assertEquals("6217" + "82024121" + "83026f07" + "8a0105" + "8b036f0602" + "80020009" + "880138",
                Hex.encode(card.expect("00A4000402 6F07", 0x9000)));
        // EF.SPN has no SFI: 88 00.
        assertEquals("6216" + "82024121" + "83026f46" + "8a0105" + "8b036f0601" + "80020011" + "8800",
                Hex.encode(card.expect("00A4000402 6F46", 0x9000)));
        assertEquals(0, card.expect("00A4000C02 6F07", 0x9000).length);
    }

    @Test
    public void fileCommandsAnswerTheStatusWordsOfTs102221() {
        Perso.mcim(card, EXAMPLE_K, EXAMPLE_OPC, null);
        card.selectMcim();
        card.expect("00B0000009", 0x6986); // no EF selected
        card.expect("00A4000C02 6F99", 0x6A82);
        card.expect("00A4000002 6F07", 0x6A86); // P2 00 is not a TS 102 221 form
        card.expect("00A4000C03 6F0700", 0x6700);
        card.expect("00A4000C02 6F07", 0x9000);
        // EF.IMSI of 228062800000208, the encoding in the vectors file (file_encoding_examples).
        assertEquals("082982608200002080", Hex.encode(card.expect("00B0000000", 0x9000)));
        assertEquals("2080", Hex.encode(card.expect("00B0000702", 0x9000)));
        card.expect("00B0000900", 0x6B00);
        card.expect("00B000000A", 0x6C09);
        card.expect("00D6000001 00", 0x6982); // IMSI update needs ADM
        card.expect("A0B0000009", 0x6E00);
        card.expect("0012000000", 0x6D00);
        // LOCI (PIN / PIN) by SFI 0B: update then read back.
        card.expect("00A4000C02 6F7E", 0x9000);
        card.expect("00D600000B ffffffff62f2200000ff01", 0x9000);
        card.expect("00D600050A 00112233445566778899", 0x6700);
        card.expect("00D6000B01 00", 0x6B00);
        card.expect("00D6000000", 0x6700);
        assertEquals("ffffffff62f2200000ff01", Hex.encode(card.expect("00B08B0000", 0x9000)));
        // SFI 07 reads EF.IMSI and makes it the current EF.
        assertEquals("0829", Hex.encode(card.expect("00B0870002", 0x9000)));
        assertEquals("8260", Hex.encode(card.expect("00B0000202", 0x9000)));
        // Under the MF only EF.ICCID is visible.
        card.expect("00A4000C02 3F00", 0x9000);
        card.expect("00A4000C02 6F07", 0x6A82);
        card.expect("00A4000C02 2FE2", 0x9000);
        assertEquals("00112233445566778899", Hex.encode(card.expect("00B0000000", 0x9000)));
        card.expect("00D6000001 00", 0x6982); // ICCID is never updated
        card.expect("00A4000C02 7FFF", 0x9000);
        card.expect("00A4000C02 6F07", 0x9000);
    }

    @Test
    public void storeDataChecksBlocksDgisAndLifeCycle() {
        card.selectMcim();
        card.expect("80E2100000", 0x6A86); // BER-TLV structure, not DGI
        card.expect("80E2680000", 0x6A86); // enciphered under a secure channel DEK
        card.expect("80E2080100", 0x6A86); // block 01 before block 00
        card.expect(storeData(0, false, dgi("0199", "00")), 0x6A88);
        card.expect(storeData(0, false, dgi("0101", "6F99 00")), 0x6A82);
        card.expect(storeData(0, false, dgi("0101", "6F31 0102")), 0x6A80); // longer than EF.HPPLMN
        card.expect(storeData(0, false, dgi("8101", "00112233445566778899aabbccddeeff00")), 0x6A80); // not whole blocks
        card.expect(storeData(0, false, secretDgi("8101", TestCard.MCIM_PERSO_KEY, EXAMPLE_K)), 0x6A80); // K only
        card.expect(storeData(0, false, dgi("0101", "6F31 05")), 0x9000);
        card.expect(storeData(0, false, dgi("0101", "6F31 06")), 0x6A86); // block 00 again
        card.expect("80E20801020101", 0x6A80); // DGI header cut short
        card.expect("0088008122" + "10" + "00".repeat(16) + "10" + "00".repeat(16), 0x6985); // not personalised
        card.expect(storeData(1, true, secretDgi("8101", TestCard.MCIM_PERSO_KEY, EXAMPLE_K + EXAMPLE_OPC)), 0x9000);
        card.expect(storeData(2, false, dgi("0101", "6F31 07")), 0x6985); // personalised: no more STORE DATA
        card.expect("00A4000C02 6F31", 0x9000);
        assertEquals("05", Hex.encode(card.expect("00B0000001", 0x9000)));
        card.expect("80F0408F10" + TestCard.MCIM_AID, 0x6982); // locking is for the OTA channel only
    }

    @Test
    public void storeDataAcceptsTheLongDgiLengthForm() {
        card.selectMcim();
        card.expect(storeData(0, true, "0101FF0003" + "6F3102"), 0x9000);
        card.expect("00A4000C02 6F31", 0x9000);
        assertEquals("02", Hex.encode(card.expect("00B0000001", 0x9000)));
    }
}
