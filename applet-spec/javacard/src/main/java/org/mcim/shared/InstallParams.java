package org.mcim.shared;

import javacard.framework.ISO7816;
import javacard.framework.ISOException;

/**
 * Reads the install() parameters: bArray holds [Li instance AID][Lc control info][La applet data] (Java Card
 * 3.0.5 Applet.install); the applet data is the value of GlobalPlatform install parameter tag C9 on a real
 * card and the tail of jCardSim's 80 B8 CREATE APPLET data. The applet data is a list of TLVs with one-byte
 * tags and one-byte lengths below 128.
 */
public final class InstallParams {
    private InstallParams() {
    }

    public static short appletDataOffset(byte[] bArray, short bOffset) {
        short controlOffset = (short) (bOffset + 1 + bArray[bOffset]);
        return (short) (controlOffset + 1 + bArray[controlOffset] + 1);
    }

    public static short appletDataLength(byte[] bArray, short bOffset) {
        return (short) (bArray[(short) (appletDataOffset(bArray, bOffset) - 1)] & 0xFF);
    }

    /** Offset of the value of the first TLV tagged {@code tag}, or -1; its length is at the offset minus one. */
    public static short find(byte[] bArray, short bOffset, byte tag) {
        short offset = appletDataOffset(bArray, bOffset);
        short end = (short) (offset + appletDataLength(bArray, bOffset));
        while ((short) (offset + 2) <= end) {
            short valueOffset = (short) (offset + 2);
            if (bArray[offset] == tag) {
                return valueOffset;
            }
            offset = (short) (valueOffset + (bArray[(short) (offset + 1)] & 0xFF));
        }
        return -1;
    }

    /** The value of a TLV that must be there with exactly {@code length} bytes (or any length when length < 0). */
    public static short require(byte[] bArray, short bOffset, byte tag, short length) {
        short offset = find(bArray, bOffset, tag);
        if (offset < 0 || (length >= 0 && bArray[(short) (offset - 1)] != length)) {
            ISOException.throwIt(ISO7816.SW_WRONG_DATA);
        }
        return offset;
    }
}
