package org.mcim.testutil;

import java.util.Arrays;

/**
 * Builds SMS-PP command packets (TS 102 225 / TS 31.115, layout in DIGEST §1.2) and ENVELOPE (SMS-PP DOWNLOAD)
 * APDUs around them, and opens PoRs, with AES keys. Checked against the pySim AES packet vector in
 * SecuredPacketBuilderTest before the applet tests rely on it.
 */
public final class Ota {
    private Ota() {
    }

    /** The command packet from CPL on; padding with 00 to the AES block when ciphering. */
    public static byte[] commandPacket(String spi, String kic, String kid, String tar, String counter,
                                       byte[] data, byte[] kicKey, byte[] kidKey) {
        byte[] spiBytes = Hex.decode(spi);
        boolean cc = (spiBytes[0] & 0x03) == 0x02;
        boolean cipher = (spiBytes[0] & 0x04) != 0;
        int ccLength = cc ? 8 : 0;
        int padding = cipher ? (16 - (6 + ccLength + data.length) % 16) % 16 : 0;
        byte[] header = Hex.concat(new byte[] {(byte) (0x0D + ccLength)}, spiBytes, Hex.decode(kic),
                Hex.decode(kid), Hex.decode(tar));
        int cpl = header.length + 6 + ccLength + data.length + padding;
        byte[] cplBytes = {(byte) (cpl >> 8), (byte) cpl};
        byte[] counterAndPcntr = Hex.concat(Hex.decode(counter), new byte[] {(byte) padding});
        byte[] securedData = Hex.concat(data, new byte[padding]);
        byte[] checksum = cc
                ? Arrays.copyOf(Crypto.cmac(kidKey, Hex.concat(cplBytes, header, counterAndPcntr, securedData)), 8)
                : new byte[0];
        byte[] secured = Hex.concat(counterAndPcntr, checksum, securedData);
        if (cipher) {
            secured = Crypto.cbc(kicKey, secured, true);
        }
        return Hex.concat(cplBytes, header, secured);
    }

    /** 80 C2 00 00 Lc D1 { 82 02 83 81, 8B L SMS-DELIVER(OA 2 digits, PID 7F, DCS F6, UD 02 70 00 packet) }. */
    public static byte[] envelope(byte[] packet) {
        byte[] userData = Hex.concat(Hex.decode("027000"), packet);
        byte[] tpdu = Hex.concat(Hex.decode("40 02 91 21 7F F6 22705200000000"),
                new byte[] {(byte) userData.length}, userData);
        byte[] body = Hex.concat(Hex.decode("82028381"), tlv(0x8B, tpdu));
        byte[] envelope = tlv(0xD1, body);
        return Hex.concat(Hex.decode("80C20000"), new byte[] {(byte) envelope.length}, envelope);
    }

    private static byte[] tlv(int tag, byte[] value) {
        byte[] length = value.length > 127 ? new byte[] {(byte) 0x81, (byte) value.length}
                : new byte[] {(byte) value.length};
        return Hex.concat(new byte[] {(byte) tag}, length, value);
    }

    /** A PoR opened: fields from after TAR deciphered when it was ciphered, its CC checked when it has one. */
    public static final class Por {
        public final byte[] counter;
        public final int status;
        public final byte[] data;

        private Por(byte[] counter, int status, byte[] data) {
            this.counter = counter;
            this.status = status;
            this.data = data;
        }
    }

    public static Por open(byte[] por, byte[] kicKey, byte[] kidKey, boolean ciphered) {
        if (por[0] != 0x02 || por[1] != 0x71 || por[2] != 0x00) {
            throw new AssertionError("not a response packet: " + Hex.encode(por));
        }
        int rpl = ((por[3] & 0xFF) << 8) | (por[4] & 0xFF);
        if (rpl != por.length - 5) {
            throw new AssertionError("RPL " + rpl + " for " + (por.length - 5) + " bytes");
        }
        int rhl = por[5] & 0xFF;
        byte[] clear = por.clone();
        if (ciphered) {
            byte[] tail = Crypto.cbc(kicKey, Arrays.copyOfRange(por, 9, por.length), false);
            System.arraycopy(tail, 0, clear, 9, tail.length);
        }
        int ccLength = rhl - 0x0A;
        int dataStart = 16 + ccLength;
        int padding = clear[14] & 0xFF;
        if (ccLength > 0) {
            byte[] input = Hex.concat(Arrays.copyOf(clear, 16), Arrays.copyOfRange(clear, dataStart, clear.length));
            byte[] expected = Arrays.copyOf(Crypto.cmac(kidKey, input), ccLength);
            if (!Arrays.equals(expected, Arrays.copyOfRange(clear, 16, dataStart))) {
                throw new AssertionError("PoR CC does not verify");
            }
        }
        return new Por(Arrays.copyOfRange(clear, 9, 14), clear[15] & 0xFF,
                Arrays.copyOfRange(clear, dataStart, clear.length - padding));
    }
}
