package org.mcim.shared;

/** Byte-array helpers the Java Card API lacks. */
public final class Bytes {
    private Bytes() {
    }

    /** Compares two ranges in time that does not depend on where they differ (for MACs and checksums). */
    public static boolean constantTimeEquals(byte[] a, short aOffset, byte[] b, short bOffset, short length) {
        byte diff = 0;
        for (short i = 0; i < length; i++) {
            diff |= (byte) (a[(short) (aOffset + i)] ^ b[(short) (bOffset + i)]);
        }
        return diff == 0;
    }

    /** target ^= source over {@code length} bytes. */
    public static void xor(byte[] target, short targetOffset, byte[] source, short sourceOffset, short length) {
        for (short i = 0; i < length; i++) {
            target[(short) (targetOffset + i)] ^= source[(short) (sourceOffset + i)];
        }
    }
}
