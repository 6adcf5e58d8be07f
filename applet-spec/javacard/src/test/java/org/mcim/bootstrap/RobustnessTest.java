package org.mcim.bootstrap;

import static org.junit.Assert.assertTrue;

import java.util.Random;
import org.junit.Before;
import org.junit.Test;
import org.mcim.testutil.Hex;
import org.mcim.testutil.Ota;
import org.mcim.testutil.Perso;
import org.mcim.testutil.TestCard;

/**
 * Any bytes in, a status word out: random and mutated commands never escape the applets as an exception
 * (jCardSim would answer 6F00, or the reason code of a Java Card runtime exception, for those).
 */
public class RobustnessTest {
    private static final String KIC = "6b3a7c1d9e2f40516273849506a7b8c9";
    private static final String KID = "1f2e3d4c5b6a79880716253443526170";
    private static final int ROUNDS = 1500;

    private TestCard card;
    private final Random random = new Random(102225);

    @Before
    public void setUp() {
        card = new TestCard();
        Perso.mcim(card, "56c3a6da347ae7e43c69d37576725d81", "b54aa2ed5fb981dd3d544c1fe3e36b6f", null);
        Perso.bootstrap(card, "b00011", "00", 1, "0000000000", KIC, KID);
    }

    private void assertAnswered(byte[] command) {
        int sw = TestCard.sw(card.transmit(command));
        assertTrue(String.format("%04X for %s", sw, Hex.encode(command)),
                sw != 0x6F00 && (sw >> 12 == 6 || sw >> 12 == 9));
    }

    private byte[] randomBytes(int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    private byte[] withHeader(String header, byte[] data) {
        return Hex.concat(Hex.decode(header), new byte[] {(byte) data.length}, data);
    }

    @Test
    public void randomAndMutatedEnvelopes() {
        byte[] good = Ota.envelope(Ota.commandPacket("1639", "12", "12", "b00011", "0000000001",
                Hex.decode("00A4000C026F07"), Hex.decode(KIC), Hex.decode(KID)));
        for (String aid : new String[] {TestCard.BOOTSTRAP_AID, TestCard.MCIM_AID}) {
            card.expect("00A4040C" + TestCard.tlv("", aid), 0x9000);
            for (int i = 0; i < ROUNDS; i++) {
                assertAnswered(withHeader("80C20000", randomBytes(random.nextInt(256))));
                byte[] mutated = good.clone();
                for (int flips = 1 + random.nextInt(3); flips > 0; flips--) {
                    mutated[5 + random.nextInt(mutated.length - 5)] = (byte) random.nextInt(256);
                }
                assertAnswered(mutated);
            }
        }
    }

    @Test
    public void randomScriptsInValidPackets() {
        card.selectBootstrap();
        String[] instructions = {"A4", "B0", "D6", "E2", "F0", "88", "C2", "00"};
        for (int i = 0; i < ROUNDS; i++) {
            StringBuilder script = new StringBuilder();
            for (int commands = random.nextInt(4); commands >= 0; commands--) {
                String header = (random.nextBoolean() ? "00" : "80") + instructions[random.nextInt(instructions.length)];
                byte[] rest = randomBytes(2 + random.nextInt(6));
                script.append(header).append(Hex.encode(rest));
            }
            byte[] packet = Ota.commandPacket("0601", "12", "12", "b00011", "0000000000",
                    Hex.decode(script.toString()), Hex.decode(KIC), Hex.decode(KID));
            byte[] response = card.expect(Ota.envelope(packet), 0x9000);
            Ota.open(response, Hex.decode(KIC), Hex.decode(KID), false);
        }
    }

    @Test
    public void randomCommandsToBothApplets() {
        String[] headers = {"00A40000", "00A40004", "00A4040C", "00B00000", "00B08700", "00D60000", "00880081",
            "00880080", "80E20800", "80E28800", "80F0408F", "80C20000", "8012000000"};
        for (String aid : new String[] {TestCard.MCIM_AID, TestCard.BOOTSTRAP_AID}) {
            card.expect("00A4040C" + TestCard.tlv("", aid), 0x9000);
            for (int i = 0; i < ROUNDS; i++) {
                String header = headers[random.nextInt(headers.length)].substring(0, 8);
                assertAnswered(withHeader(header, randomBytes(random.nextInt(64))));
                assertAnswered(Hex.concat(Hex.decode(header), new byte[] {(byte) random.nextInt(256)}));
            }
        }
    }
}
