package org.mcim.shared;

import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;
import javacard.security.AESKey;
import javacard.security.KeyBuilder;
import javacardx.crypto.Cipher;

/**
 * STORE DATA personalisation in DGI format and the application life cycle around it (see
 * applet-spec/profiles/personalisation.md): SELECTABLE, then PERSONALISED once the last block is in, then
 * LOCKED / unlocked by the applet's issuer. DGIs 8000-FFFF are secret: their value arrives AES-128-CBC
 * enciphered (zero IV, no padding) under the instance's personalisation key and is deciphered here, into
 * RAM that is wiped right after the applet has stored it.
 */
public final class Personaliser {
    // Application life cycle coding, GlobalPlatform Card Specification v2.3 §11.1.1 [M]: SELECTABLE 07,
    // application-specific states keep b1-b3 set (0F here), LOCKED sets b8 on top of the current state.
    public static final byte SELECTABLE = (byte) 0x07;
    public static final byte PERSONALISED = (byte) 0x0F;
    public static final byte LOCKED = (byte) 0x8F;

    /** ISO/IEC 7816-4 6A88, referenced data not found: an unknown DGI or AID (javacard ISO7816 lacks it). */
    public static final short SW_REFERENCED_DATA_NOT_FOUND = (short) 0x6A88;

    // STORE DATA P1, GP Card Specification v2.3 §11.11.2.1 (DIGEST §5.4): b8 last block, b7b6 encryption
    // (00 none, 01 application dependent; 10 and 11, DEK encryption, need a secure channel jCardSim lacks),
    // b5b4 structure (01 = DGI), b3-b1 zero here.
    private static final byte P1_LAST_BLOCK = (byte) 0x80;
    private static final byte P1_SECURE_CHANNEL_ENCRYPTION = (byte) 0x40;
    private static final byte P1_STRUCTURE_MASK = (byte) 0x18;
    private static final byte P1_DGI = (byte) 0x08;
    private static final byte P1_OTHER_BITS = (byte) 0x07;

    private static final short SECRET_DGI_MAX = 64;
    private static final short DGI_SECRET_BIT = (short) 0x8000;
    private static final short LONG_LENGTH = 0xFF; // EMV CPS DGI length: FF then 2 bytes for 255 and more [M]

    private final DgiSink sink;
    private final AESKey persoKey;
    private final Cipher cbc;
    private final byte[] secret;
    private byte state = SELECTABLE;
    private short nextBlock;

    /**
     * @param keyOffset offset of the 16-byte personalisation key in {@code keyBuffer}, or -1 when the instance
     *                  has none (its secret DGIs are then refused)
     */
    public Personaliser(DgiSink sink, byte[] keyBuffer, short keyOffset) {
        this.sink = sink;
        cbc = Cipher.getInstance(Cipher.ALG_AES_BLOCK_128_CBC_NOPAD, false);
        // CLEAR_ON_RESET: the bootstrap applet may personalise the MCIM while it is not the selected applet.
        secret = JCSystem.makeTransientByteArray(SECRET_DGI_MAX, JCSystem.CLEAR_ON_RESET);
        if (keyOffset < 0) {
            persoKey = null;
        } else {
            persoKey = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES, KeyBuilder.LENGTH_AES_128, false);
            persoKey.setKey(keyBuffer, keyOffset);
        }
    }

    public byte state() {
        return state;
    }

    public boolean isPersonalised() {
        return state == PERSONALISED;
    }

    /** PERSONALISED -> LOCKED; any other transition is refused with 6985. */
    public void lock() {
        if (state != PERSONALISED) {
            ISOException.throwIt(ISO7816.SW_CONDITIONS_NOT_SATISFIED);
        }
        state = LOCKED;
    }

    /** LOCKED -> PERSONALISED. */
    public void unlock() {
        if (state != LOCKED) {
            ISOException.throwIt(ISO7816.SW_CONDITIONS_NOT_SATISFIED);
        }
        state = PERSONALISED;
    }

    /**
     * One STORE DATA block: the APDU header is at buffer[0..5) and the data at buffer[5..5+dataLength). The block
     * is applied inside one transaction; the last block (P1 b8) moves the instance to PERSONALISED.
     */
    public void storeData(byte[] buffer, short dataLength) {
        if (state != SELECTABLE) {
            ISOException.throwIt(ISO7816.SW_CONDITIONS_NOT_SATISFIED);
        }
        byte p1 = buffer[ISO7816.OFFSET_P1];
        if ((p1 & P1_STRUCTURE_MASK) != P1_DGI || (p1 & P1_SECURE_CHANNEL_ENCRYPTION) != 0
                || (p1 & P1_OTHER_BITS) != 0 || (short) (buffer[ISO7816.OFFSET_P2] & 0xFF) != nextBlock) {
            ISOException.throwIt(ISO7816.SW_INCORRECT_P1P2);
        }
        JCSystem.beginTransaction();
        try {
            storeDgis(buffer, ISO7816.OFFSET_CDATA, (short) (ISO7816.OFFSET_CDATA + dataLength));
            nextBlock++;
            if ((p1 & P1_LAST_BLOCK) != 0) {
                state = PERSONALISED;
            }
            JCSystem.commitTransaction();
        } finally {
            if (JCSystem.getTransactionDepth() != 0) {
                JCSystem.abortTransaction();
            }
        }
    }

    private void storeDgis(byte[] buffer, short offset, short end) {
        while (offset < end) {
            if ((short) (end - offset) < 3) {
                ISOException.throwIt(ISO7816.SW_WRONG_DATA);
            }
            short dgi = Util.getShort(buffer, offset);
            short length = (short) (buffer[(short) (offset + 2)] & 0xFF);
            offset += 3;
            if (length == LONG_LENGTH) {
                if ((short) (end - offset) < 2) {
                    ISOException.throwIt(ISO7816.SW_WRONG_DATA);
                }
                length = Util.getShort(buffer, offset);
                offset += 2;
            }
            if (length < 0 || length > (short) (end - offset)) {
                ISOException.throwIt(ISO7816.SW_WRONG_DATA);
            }
            if ((dgi & DGI_SECRET_BIT) != 0) {
                storeSecretDgi(dgi, buffer, offset, length);
            } else {
                sink.storeDgi(dgi, buffer, offset, length);
            }
            offset += length;
        }
    }

    private void storeSecretDgi(short dgi, byte[] buffer, short offset, short length) {
        if (persoKey == null) {
            ISOException.throwIt(ISO7816.SW_CONDITIONS_NOT_SATISFIED);
        }
        if (length == 0 || length > SECRET_DGI_MAX || (short) (length & 0x0F) != 0) {
            ISOException.throwIt(ISO7816.SW_WRONG_DATA);
        }
        cbc.init(persoKey, Cipher.MODE_DECRYPT); // zero IV
        cbc.doFinal(buffer, offset, length, secret, (short) 0);
        try {
            sink.storeDgi(dgi, secret, (short) 0, length);
        } finally {
            Util.arrayFillNonAtomic(secret, (short) 0, SECRET_DGI_MAX, (byte) 0);
        }
    }
}
