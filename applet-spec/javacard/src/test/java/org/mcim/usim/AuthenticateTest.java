package org.mcim.usim;

import static org.junit.Assert.assertEquals;
import static org.mcim.testutil.Perso.dgi;
import static org.mcim.testutil.Perso.storeData;

import java.util.Arrays;
import org.junit.Before;
import org.junit.Test;
import org.mcim.testutil.Hex;
import org.mcim.testutil.Perso;
import org.mcim.testutil.TestCard;

/** AUTHENTICATE on jCardSim: known answers from the vectors file, MAC failure, SQN freshness and AUTS. */
public class AuthenticateTest {
    // 3GPP TS 35.208 test set 1 (vectors file, milenage_ts35208).
    private static final String K1 = "465b5ce8b199b49faa5f0a2ee238a6bc";
    private static final String OPC1 = "cd63cb71954a9f4e48a5994e37a02baf";
    private static final String RAND1 = "23553cbe9637a89d218ae64dae47bf35";
    private static final String SQN1 = "ff9bb4d0b607";
    private static final String AMF1 = "b9b9";
    private static final String F1 = "4a9ffac354dfafb3";
    private static final String F2 = "a54211d5e3ba50bf";
    private static final String F3 = "b40ba9a3c58b2a05bbf0d987b21bf8cb";
    private static final String F4 = "f769bcd751044604127672711c6d3441";
    private static final String F5 = "aa689c648370";
    private static final String F5_STAR = "451e8beca43b";
    private static final String GUARDS_OFF = "000000000000" + "000000000000";

    private TestCard card;

    @Before
    public void setUp() {
        card = new TestCard();
    }

    private static String authenticate(String rand, String autn) {
        return "0088008122" + "10" + rand + "10" + autn + "00";
    }

    private static String xor(String a, String b) {
        byte[] x = Hex.decode(a);
        byte[] y = Hex.decode(b);
        for (int i = 0; i < x.length; i++) {
            x[i] ^= y[i];
        }
        return Hex.encode(x);
    }

    private static String kc(String ck, String ik) {
        return xor(xor(ck.substring(0, 16), ck.substring(16)), xor(ik.substring(0, 16), ik.substring(16)));
    }

    /** The real-card example of the vectors file (usim_authenticate_example: pySim against a sysmocom card). */
    @Test
    public void realCardExample() {
        Perso.mcim(card, McimAppletTest.EXAMPLE_K, McimAppletTest.EXAMPLE_OPC, null);
        card.selectMcim();
        byte[] response = card.expect(
                "008800812210e85b2b7fe58f0e6239b32543d3e3259a107928ea47ae090000ca8ab1f93c7cb03a00", 0x9000);
        assertEquals("db0813484811d553ab35100f93c4807f4ff57c6cd348fea590c06d10608e7bff4856c73e363e795b165a4158"
                + "0835f08eda84d3b377", Hex.encode(response));
    }

    @Test
    public void ts35208Set1WithTheFreshnessGuardsOff() {
        Perso.mcim(card, K1, OPC1, GUARDS_OFF);
        card.selectMcim();
        String autn = xor(SQN1, F5) + AMF1 + F1;
        byte[] response = card.expect(authenticate(RAND1, autn), 0x9000);
        assertEquals("db08" + F2 + "10" + F3 + "10" + F4 + "08" + kc(F3, F4), Hex.encode(response));
        // The same AUTN again is a replay: resynchronisation with SQN_MS = SQN1.
        byte[] auts = card.expect(authenticate(RAND1, autn), 0x9000);
        assertEquals("dc0e" + xor(SQN1, F5_STAR), Hex.encode(Arrays.copyOf(auts, 8)));
        assertEquals(Hex.encode(macS(K1, OPC1, RAND1, SQN1)), Hex.encode(Arrays.copyOfRange(auts, 8, 16)));
    }

    /** SQN1 is far more than 2^28 SEQ steps ahead of a new card: the default delta guard refuses it. */
    @Test
    public void defaultDeltaGuardAsksForResynchronisationFromZero() {
        Perso.mcim(card, K1, OPC1, null);
        card.selectMcim();
        byte[] auts = card.expect(authenticate(RAND1, xor(SQN1, F5) + AMF1 + F1), 0x9000);
        assertEquals("dc0e" + F5_STAR, Hex.encode(Arrays.copyOf(auts, 8))); // SQN_MS 0 xor AK*
        assertEquals(Hex.encode(macS(K1, OPC1, RAND1, "000000000000")), Hex.encode(Arrays.copyOfRange(auts, 8, 16)));
    }

    @Test
    public void macFailureLeavesTheSqnArrayAlone() {
        Perso.mcim(card, K1, OPC1, GUARDS_OFF);
        card.selectMcim();
        String badMac = xor(SQN1, F5) + AMF1 + "4a9ffac354dfafb4";
        assertEquals(0, card.expect(authenticate(RAND1, badMac), 0x9862).length);
        card.expect(authenticate(RAND1, xor(SQN1, F5) + AMF1 + F1), 0x9000);
        card.expect("0088008121" + "10" + RAND1 + "10" + "00".repeat(15), 0x6700);
        card.expect("0088008222" + "10" + RAND1 + "10" + "00".repeat(16), 0x6A86);
        card.expect("0088008122" + "11" + RAND1 + "10" + "00".repeat(16), 0x6A80);
    }

    /** TS 33.102 Annex C.2.2: one SEQ_MS per IND; a SEQ not above its IND's entry is stale. */
    @Test
    public void freshnessIsPerIndEntry() {
        Perso.mcim(card, K1, OPC1, null);
        card.selectMcim();
        card.expect(authenticate(RAND1, autn("000000000041")), 0x9000); // SEQ 2, IND 1
        card.expect(authenticate(RAND1, autn("000000000022")), 0x9000); // SEQ 1, IND 2: another entry
        card.expect(authenticate(RAND1, autn("000000000060")), 0x9000); // SEQ 3, IND 0
        byte[] stale = card.expect(authenticate(RAND1, autn("000000000021")), 0x9000); // SEQ 1, IND 1 < 2
        // SQN_MS is the highest SQN accepted: 000000000060.
        assertEquals("dc0e" + xor("000000000060", F5_STAR), Hex.encode(Arrays.copyOf(stale, 8)));
        card.expect(authenticate(RAND1, autn("000000000061")), 0x9000); // SEQ 3, IND 1 > 2
    }

    @Test
    public void ageLimitRefusesOldSequenceNumbers() {
        Perso.mcim(card, K1, OPC1, "000010000000" + "000000000002"); // delta 2^28, L = 2
        card.selectMcim();
        card.expect(authenticate(RAND1, autn("0000000000a0")), 0x9000); // SEQ 5, IND 0
        byte[] tooOld = card.expect(authenticate(RAND1, autn("000000000041")), 0x9000); // SEQ 2: 3 behind
        assertEquals("dc0e", Hex.encode(Arrays.copyOf(tooOld, 2)));
        card.expect(authenticate(RAND1, autn("000000000062")), 0x9000); // SEQ 3, IND 2: 2 behind
    }

    @Test
    public void gsmContextNeedsServiceTwentySeven() {
        Perso.mcim(card, K1, OPC1, null);
        card.selectMcim();
        // c2: SRES = RES1 xor RES2 (32-bit halves of the 64-bit RES); c3: Kc (TS 33.102 §6.8.1.2).
        byte[] gsm = card.expect("0088008011" + "10" + RAND1 + "00", 0x9000);
        assertEquals("04" + xor(F2.substring(0, 8), F2.substring(8)) + "08" + kc(F3, F4), Hex.encode(gsm));
        card.expect("0088008012" + "10" + RAND1 + "00", 0x6700);

        TestCard noGsm = new TestCard();
        noGsm.selectMcim();
        noGsm.expect(storeData(0, true, dgi("0101", "6F38 00000000")
                + Perso.secretDgi("8101", TestCard.MCIM_PERSO_KEY, K1 + OPC1)), 0x9000);
        noGsm.expect("0088008011" + "10" + RAND1, 0x9864);
        // 3G context without service 27: no Kc.
        byte[] response = noGsm.expect(authenticate(RAND1, autn("000000000020")), 0x9000);
        assertEquals(2 + 8 + 2 * 17, response.length);
    }

    @Test
    public void milenageConstantsArePersonalised() {
        String defaults = "00".repeat(16) + "00".repeat(15) + "01" + "00".repeat(15) + "02" + "00".repeat(15) + "04"
                + "00".repeat(15) + "08" + "4000204060";
        card.selectMcim();
        card.expect(storeData(0, false, dgi("0103", defaults.substring(0, 168) + "80")), 0x6A80); // r5 = 128
        card.expect(storeData(0, false, dgi("0103", defaults.substring(0, 160))), 0x6A80); // r missing
        card.expect(storeData(0, true, dgi("0103", defaults) + dgi("0102", GUARDS_OFF)
                + Perso.secretDgi("8101", TestCard.MCIM_PERSO_KEY, K1 + OPC1)), 0x9000);
        byte[] response = card.expect(authenticate(RAND1, xor(SQN1, F5) + AMF1 + F1), 0x9000);
        assertEquals("db08" + F2, Hex.encode(Arrays.copyOf(response, 10)));
    }

    /** AUTN for an SQN under set 1's K / OPc / RAND, built with the Milenage that MilenageTest checks. */
    private static String autn(String sqn) {
        Milenage milenage = keyedSet1();
        byte[] out = new byte[16];
        milenage.out((short) 2, out, (short) 0);
        String ak = Hex.encode(Arrays.copyOf(out, 6));
        milenage.out1(Hex.decode(sqn), (short) 0, Hex.decode("8000"), (short) 0, out, (short) 0);
        return xor(sqn, ak) + "8000" + Hex.encode(Arrays.copyOf(out, 8));
    }

    private static Milenage keyedSet1() {
        Milenage milenage = new Milenage();
        milenage.setKeys(Hex.decode(K1 + OPC1), (short) 0);
        milenage.start(Hex.decode(RAND1), (short) 0);
        return milenage;
    }

    /** MAC-S = f1*(SQN_MS, RAND, AMF 0000) (TS 33.102 §6.3.3). */
    private static byte[] macS(String k, String opc, String rand, String sqnMs) {
        Milenage milenage = new Milenage();
        milenage.setKeys(Hex.decode(k + opc), (short) 0);
        milenage.start(Hex.decode(rand), (short) 0);
        byte[] out = new byte[16];
        milenage.out1(Hex.decode(sqnMs), (short) 0, new byte[2], (short) 0, out, (short) 0);
        return Arrays.copyOfRange(out, 8, 16);
    }
}
