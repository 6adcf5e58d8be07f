package org.mcim.testutil;

import static org.junit.Assert.assertEquals;

import com.licel.jcardsim.smartcardio.CardSimulator;
import com.licel.jcardsim.utils.AIDUtil;
import java.util.Arrays;
import javacard.framework.AID;
import org.mcim.bootstrap.BootstrapApplet;
import org.mcim.usim.McimApplet;

/** jCardSim with the MCIM and bootstrap applets installed, as the host's launcher creates them. */
public final class TestCard {
    public static final String MCIM_AID = "A0000000871002FF4D43494D00000001";
    public static final String BOOTSTRAP_AID = "F04D43494D424F4F54";
    /** Personalisation keys given at install (test values). */
    public static final byte[] MCIM_PERSO_KEY = Hex.decode("000102030405060708090a0b0c0d0e0f");
    public static final byte[] BOOTSTRAP_PERSO_KEY = Hex.decode("f0e0d0c0b0a090807060504030201000");

    public final CardSimulator simulator = new CardSimulator();

    public TestCard() {
        install(MCIM_AID, McimApplet.class, "8010" + Hex.encode(MCIM_PERSO_KEY) + tlv("4F", BOOTSTRAP_AID));
        install(BOOTSTRAP_AID, BootstrapApplet.class, "8010" + Hex.encode(BOOTSTRAP_PERSO_KEY) + tlv("4F", MCIM_AID));
    }

    private void install(String aid, Class<? extends javacard.framework.Applet> applet, String appletData) {
        byte[] params = Hex.decode(tlv("", aid) + "00" + tlv("", appletData));
        AID instance = AIDUtil.create(aid);
        simulator.installApplet(instance, applet, params, (short) 0, (byte) params.length);
    }

    /** tag || length || value, the length on one byte. */
    public static String tlv(String tag, String valueHex) {
        return tag + String.format("%02x", valueHex.replace(" ", "").length() / 2) + valueHex;
    }

    public byte[] transmit(String hex) {
        return transmit(Hex.decode(hex));
    }

    public byte[] transmit(byte[] command) {
        return simulator.transmitCommand(command);
    }

    /** Sends a command and checks its status word; returns the response data. */
    public byte[] expect(String hex, int sw) {
        return expect(Hex.decode(hex), sw);
    }

    public byte[] expect(byte[] command, int sw) {
        byte[] response = transmit(command);
        assertEquals("SW of " + Hex.encode(command), String.format("%04X", sw), String.format("%04X", sw(response)));
        return data(response);
    }

    public static int sw(byte[] response) {
        return ((response[response.length - 2] & 0xFF) << 8) | (response[response.length - 1] & 0xFF);
    }

    public static byte[] data(byte[] response) {
        return Arrays.copyOf(response, response.length - 2);
    }

    public void selectMcim() {
        expect("00A4040C" + tlv("", MCIM_AID), 0x9000);
    }

    public void selectBootstrap() {
        expect("00A40400" + tlv("", BOOTSTRAP_AID), 0x9000);
    }
}
