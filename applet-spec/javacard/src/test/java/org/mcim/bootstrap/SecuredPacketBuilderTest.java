package org.mcim.bootstrap;

import static org.junit.Assert.assertEquals;

import org.junit.Test;
import org.mcim.testutil.Hex;
import org.mcim.testutil.Ota;

/** The test-side packet builder reproduces a published packet before the applet tests rely on it. */
public class SecuredPacketBuilderTest {
    /** Vectors file, ts102225_secured_packets "pySim AES128-SJA5-CIPHERED-CC" (pySim tests/unittests/test_ota.py). */
    @Test
    public void pySimAes128CipheredPacket() {
        byte[] packet = Ota.commandPacket("0619", "22", "22", "b00011", "0000000000", Hex.decode("00a40004023f00"),
                Hex.decode("200102030405060708090a0b0c0d0e0f"), Hex.decode("201102030405060708090a0b0c0d0e0f"));
        assertEquals("00281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058",
                Hex.encode(packet));
    }
}
