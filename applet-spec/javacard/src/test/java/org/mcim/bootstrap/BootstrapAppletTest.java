package org.mcim.bootstrap;

import static org.junit.Assert.assertEquals;
import static org.mcim.testutil.Perso.dgi;
import static org.mcim.testutil.Perso.storeData;

import org.junit.Before;
import org.junit.Test;
import org.mcim.testutil.Hex;
import org.mcim.testutil.Ota;
import org.mcim.testutil.Perso;
import org.mcim.testutil.TestCard;

/** The bootstrap applet as SMS-PP OTA endpoint on jCardSim: every PoR status, and nothing changes on refusal. */
public class BootstrapAppletTest {
    private static final String KIC = "6b3a7c1d9e2f40516273849506a7b8c9";
    private static final String KID = "1f2e3d4c5b6a79880716253443526170";
    private static final String TAR = "b00011";
    /** MSL: CC, ciphering and a counter that must be higher (SPI1 coding 02 | 04 | 10). */
    private static final String MSL = "16";
    private static final String SPI_STRICT = "1E39"; // CC, cipher, counter one higher; PoR CC + ciphered
    private static final String SPI_HIGHER = "1639";

    private TestCard card;

    @Before
    public void setUp() {
        card = new TestCard();
        Perso.mcim(card, "56c3a6da347ae7e43c69d37576725d81", "b54aa2ed5fb981dd3d544c1fe3e36b6f", null);
        Perso.bootstrap(card, TAR, MSL, 1, "0000000004", KIC, KID);
    }

    private static byte[] packet(String spi, String kic, String kid, String tar, String counter, String script) {
        return Ota.commandPacket(spi, kic, kid, tar, counter, Hex.decode(script), Hex.decode(KIC), Hex.decode(KID));
    }

    private byte[] envelope(byte[] packet) {
        return card.expect(Ota.envelope(packet), 0x9000);
    }

    private Ota.Por securePor(byte[] packet) {
        return Ota.open(envelope(packet), Hex.decode(KIC), Hex.decode(KID), true);
    }

    /** A refused packet's PoR: in clear, no CC (RHL 0A), no data. */
    private void assertRefused(byte[] packet, String counter, int status) {
        assertEquals("027100000b0a" + Hex.encode(java.util.Arrays.copyOfRange(packet, 7, 10)) + counter + "00"
                + String.format("%02x", status), Hex.encode(envelope(packet)));
    }

    private String readImsi() {
        card.selectMcim();
        card.expect("00A4000C02 6F07", 0x9000);
        return Hex.encode(card.expect("00B0000000", 0x9000));
    }

    @Test
    public void acceptedScriptRunsAndThePorIsSecuredAsAsked() {
        card.selectBootstrap();
        String script = "00A4000C02 6F07" + "00D6000009 082926101160845740" + "00B0000009";
        Ota.Por por = securePor(packet(SPI_STRICT, "12", "12", TAR, "0000000005", script));
        assertEquals(0, por.status);
        assertEquals("0000000005", Hex.encode(por.counter));
        // Compact response: 3 commands, SW 9000, data of the last (EF.IMSI of 262011106487504, vectors file).
        assertEquals("039000082926101160845740", Hex.encode(por.data));
        assertEquals("082926101160845740", readImsi());
    }

    @Test
    public void scriptStopsAtTheFirstFailingCommand() {
        card.selectBootstrap();
        String script = "00A4000C02 6F99" + "00D6000001 00";
        assertEquals("016a82", Hex.encode(securePor(packet(SPI_HIGHER, "12", "12", TAR, "0000000009", script)).data));
        assertEquals("02" + "6a86", Hex.encode(securePor(packet(SPI_HIGHER, "12", "12", TAR, "000000000A",
                "00A4000C02 6F07" + "00A4000002 6F07")).data));
        assertEquals("01" + "6700", Hex.encode(securePor(packet(SPI_HIGHER, "12", "12", TAR, "000000000B",
                "00A4000C05 6F07")).data)); // Lc beyond the script
        assertEquals("00" + "9000", Hex.encode(securePor(packet(SPI_HIGHER, "12", "12", TAR, "000000000C",
                "")).data));
    }

    @Test
    public void everyRefusalHasItsStatusAndChangesNothing() {
        card.selectBootstrap();
        String update = "00A4000C02 6F07" + "00D6000009 082926101160845740";
        // 09: TAR unknown (ciphered, so the counter stays unknown: zeros).
        assertRefused(packet(SPI_STRICT, "12", "12", "b00012", "0000000005", update), "0000000000", 0x09);
        // 0A: no ciphering, below the TAR's minimum security level.
        assertRefused(packet("1A39", "12", "12", TAR, "0000000005", update), "0000000005", 0x0A);
        // 05: KIc of another key version, or not AES.
        assertRefused(packet(SPI_STRICT, "22", "12", TAR, "0000000005", update), "0000000000", 0x05);
        assertRefused(packet(SPI_STRICT, "15", "12", TAR, "0000000005", update), "0000000000", 0x05);
        // 06: KID of another key version; RC asked for (not supported); CHL that does not match SPI1.
        assertRefused(packet(SPI_STRICT, "12", "22", TAR, "0000000005", update), "0000000000", 0x06);
        byte[] rc = packet(SPI_STRICT, "12", "12", TAR, "0000000005", update);
        rc[3] = 0x1D; // SPI1 b2b1 = 01: redundancy check
        assertRefused(rc, "0000000000", 0x06);
        byte[] chl = packet(SPI_STRICT, "12", "12", TAR, "0000000005", update);
        chl[2] = 0x0D;
        assertRefused(chl, "0000000000", 0x06);
        // 05: ciphertext that is not whole AES blocks.
        byte[] cut = packet(SPI_STRICT, "12", "12", TAR, "0000000005", update);
        byte[] shorter = java.util.Arrays.copyOf(cut, cut.length - 1);
        shorter[1] = (byte) (shorter.length - 2);
        assertRefused(shorter, "0000000000", 0x05);
        // 01: a bit flipped in the last ciphertext block.  The counter in the first block still deciphers, but an
        // unauthenticated packet's deciphered bytes are never echoed: the PoR carries zeros.
        byte[] flipped = packet(SPI_STRICT, "12", "12", TAR, "0000000005", update);
        flipped[flipped.length - 1] ^= 0x01;
        assertRefused(flipped, "0000000000", 0x01);
        // 02 / 03: our counter is 4; one-higher mode wants exactly 5.
        assertRefused(packet(SPI_STRICT, "12", "12", TAR, "0000000004", update), "0000000004", 0x02);
        assertRefused(packet(SPI_STRICT, "12", "12", TAR, "0000000006", update), "0000000006", 0x03);
        assertRefused(packet(SPI_HIGHER, "12", "12", TAR, "0000000003", update), "0000000003", 0x02);

        assertEquals("082982608200002080", readImsi());
        card.selectBootstrap();
        // The counter did not move: 5 is still exactly one higher, and then it is used up.
        assertEquals(0, securePor(packet(SPI_STRICT, "12", "12", TAR, "0000000005", update)).status);
        assertEquals("082926101160845740", readImsi());
        card.selectBootstrap();
        assertRefused(packet(SPI_STRICT, "12", "12", TAR, "0000000005", update), "0000000005", 0x02);
    }

    @Test
    public void porModesOfSpi2() {
        card.selectBootstrap();
        String read = "00A4000C02 6F07" + "00B0000002";
        assertEquals(0, envelope(packet("1608", "12", "12", TAR, "0000000005", read)).length); // no PoR
        assertEquals(0, envelope(packet("160A", "12", "12", TAR, "0000000006", read)).length); // on error only
        assertRefused(packet("160A", "12", "12", TAR, "0000000006", read), "0000000006", 0x02);
        assertEquals(0, envelope(packet("1608", "12", "12", TAR, "0000000006", read)).length); // refused, no PoR
        // PoR required without security: RHL 0A, data in clear.
        assertEquals("0271000010" + "0a" + TAR + "0000000007" + "00" + "00" + "02" + "9000" + "0829",
                Hex.encode(envelope(packet("1601", "12", "12", TAR, "0000000007", read))));
        // PoR with CC, not ciphered.
        Ota.Por por = Ota.open(envelope(packet("1609", "12", "12", TAR, "0000000008", read)), null,
                Hex.decode(KID), false);
        assertEquals("0290000829", Hex.encode(por.data));
        card.expect(Ota.envelope(packet("1603", "12", "12", TAR, "0000000009", read)), 0x9000); // reserved
    }

    @Test
    public void envelopeReachesTheBootstrapThroughTheSelectedMcimWithoutMovingItsCurrentFile() {
        card.selectMcim();
        card.expect("00A4000C02 6FAD", 0x9000);
        Ota.Por por = Ota.open(card.expect(Ota.envelope(packet(SPI_STRICT, "12", "12", TAR, "0000000005",
                "00A4000C02 6F07" + "00B0000009")), 0x9000), Hex.decode(KIC), Hex.decode(KID), true);
        assertEquals("029000082982608200002080", Hex.encode(por.data));
        assertEquals("00000002", Hex.encode(card.expect("00B0000000", 0x9000))); // still EF.AD
    }

    @Test
    public void mcimIsPersonalisedLockedAndUnlockedOverTheAir() {
        TestCard fresh = new TestCard();
        Perso.bootstrap(fresh, TAR, MSL, 1, "0000000000", KIC, KID);
        String k = "56c3a6da347ae7e43c69d37576725d81";
        String opc = "b54aa2ed5fb981dd3d544c1fe3e36b6f";
        String dgis = dgi("0101", "6F38 9eff1f9c") + Perso.secretDgi("8101", TestCard.MCIM_PERSO_KEY, k + opc);
        String script = storeData(0, true, dgis);
        card = fresh;
        assertEquals("019000", Hex.encode(securePor(packet(SPI_HIGHER, "12", "12", TAR, "0000000001", script)).data));
        fresh.selectMcim();
        fresh.expect("008800812210e85b2b7fe58f0e6239b32543d3e3259a107928ea47ae090000ca8ab1f93c7cb03a00", 0x9000);

        fresh.selectBootstrap();
        String lock = "80F0408F10" + TestCard.MCIM_AID;
        assertEquals("019000", Hex.encode(securePor(packet(SPI_HIGHER, "12", "12", TAR, "0000000002", lock)).data));
        fresh.expect("00A4040C" + TestCard.tlv("", TestCard.MCIM_AID), 0x6999);
        fresh.selectBootstrap();
        assertEquals("016985", Hex.encode(securePor(packet(SPI_HIGHER, "12", "12", TAR, "0000000003", lock)).data));
        assertEquals("016a88", Hex.encode(securePor(packet(SPI_HIGHER, "12", "12", TAR, "0000000004",
                "80F0400F09" + TestCard.BOOTSTRAP_AID)).data));
        String unlock = "80F0400F10" + TestCard.MCIM_AID;
        assertEquals("019000", Hex.encode(securePor(packet(SPI_HIGHER, "12", "12", TAR, "0000000005", unlock)).data));
        fresh.selectMcim();
    }

    @Test
    public void malformedEnvelopesAreRefusedWithoutPor() {
        card.selectBootstrap();
        byte[] good = Ota.envelope(packet(SPI_STRICT, "12", "12", TAR, "0000000005", "00A4000C02 6F07"));
        byte[] notSmsPp = good.clone();
        notSmsPp[5] = (byte) 0xD2;
        card.expect(notSmsPp, 0x6A80);
        byte[] wrongDevices = good.clone();
        wrongDevices[9] = (byte) 0x82; // source: terminal
        card.expect(wrongDevices, 0x6A80);
        byte[] notDataDownload = good.clone();
        notDataDownload[17] = 0x00; // TP-PID
        card.expect(notDataDownload, 0x6A80);
        card.expect("80C2000003D10182", 0x6A80);
        card.expect("80C2010000", 0x6A86);
        card.expect("00C2000000", 0x6E00);
        // The packet header is too short to name a TAR.
        byte[] tiny = Ota.envelope(Hex.decode("0007150619121212"));
        card.expect(tiny, 0x6A80);
    }

    @Test
    public void bootstrapPersonalisationRules() {
        TestCard fresh = new TestCard();
        fresh.selectBootstrap();
        fresh.expect(Ota.envelope(packet(SPI_STRICT, "12", "12", TAR, "0000000001", "")), 0x6985);
        fresh.expect(storeData(0, false, dgi("0299", "00")), 0x6A88);
        fresh.expect(storeData(0, false, dgi("0202", "00 0000000000")), 0x6A80); // key version 0
        fresh.expect(storeData(0, false, dgi("0201", "b00011")), 0x6A80);
        fresh.expect(storeData(0, false, dgi("0201", "b0001016") + dgi("0201", "b0001116") + dgi("0201", "b0001216")
                + dgi("0201", "b0001316")), 0x9000);
        fresh.expect(storeData(1, false, dgi("0201", "b0001416")), 0x6A84);
        fresh.expect(storeData(1, true, dgi("0202", "01 0000000000")
                + Perso.secretDgi("8201", TestCard.BOOTSTRAP_PERSO_KEY, KIC + KID + KID)), 0x9000);
        fresh.expect(storeData(2, true, dgi("0202", "01 0000000000")), 0x6985);
        fresh.expect("8012000000", 0x6D00);
    }
}
