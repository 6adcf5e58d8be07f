package org.mcim.bootstrap;

import javacard.framework.AID;
import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;
import javacard.security.AESKey;
import javacard.security.KeyBuilder;
import org.mcim.shared.McimAdmin;

/**
 * The bootstrap credentials: one SCP80 key set (KIc, KID, optional KIK; AES-128) with its key version, its
 * anti-replay counter, the TARs it answers to with their minimum security levels, and the MCIM it
 * administers. The key version is the high nibble of KIc / KID (DIGEST §1.4).
 */
final class OtaConfiguration {
    static final short MAX_TARS = 4;
    static final short TAR_LENGTH = 3;
    static final short COUNTER_LENGTH = 5;
    private static final short KEY_LENGTH = 16;

    private final byte[] tars = new byte[(short) (MAX_TARS * TAR_LENGTH)];
    private final byte[] minimumSecurityLevels = new byte[MAX_TARS];
    private short tarCount;
    private byte keyVersion;
    private final byte[] counter = new byte[COUNTER_LENGTH];
    private final AESKey kic;
    private final AESKey kid;
    private final AESKey kik;
    private final byte[] mcimAid;
    private final byte[] difference;

    OtaConfiguration(byte[] mcimAid) {
        this.mcimAid = mcimAid;
        kic = newKey();
        kid = newKey();
        kik = newKey();
        difference = JCSystem.makeTransientByteArray(COUNTER_LENGTH, JCSystem.CLEAR_ON_RESET);
    }

    private static AESKey newKey() {
        return (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES, KeyBuilder.LENGTH_AES_128, false);
    }

    /** DGI 0201: TAR(3) || minimum security level(1). */
    void addTar(byte[] source, short offset, short length) {
        if (length != TAR_LENGTH + 1) {
            ISOException.throwIt(ISO7816.SW_WRONG_DATA);
        }
        if (tarCount == MAX_TARS) {
            ISOException.throwIt(ISO7816.SW_FILE_FULL);
        }
        Util.arrayCopy(source, offset, tars, (short) (tarCount * TAR_LENGTH), TAR_LENGTH);
        minimumSecurityLevels[tarCount] = source[(short) (offset + TAR_LENGTH)];
        tarCount++;
    }

    /** DGI 0202: key version (1..F) || counter(5). */
    void setKeySet(byte[] source, short offset, short length) {
        if (length != 1 + COUNTER_LENGTH || source[offset] < 1 || source[offset] > 0x0F) {
            ISOException.throwIt(ISO7816.SW_WRONG_DATA);
        }
        keyVersion = source[offset];
        Util.arrayCopy(source, (short) (offset + 1), counter, (short) 0, COUNTER_LENGTH);
    }

    /** DGI 8201 (deciphered): KIc(16) || KID(16) [|| KIK(16)]. */
    void setKeys(byte[] source, short offset, short length) {
        if (length != 2 * KEY_LENGTH && length != 3 * KEY_LENGTH) {
            ISOException.throwIt(ISO7816.SW_WRONG_DATA);
        }
        kic.setKey(source, offset);
        kid.setKey(source, (short) (offset + KEY_LENGTH));
        if (length == 3 * KEY_LENGTH) {
            kik.setKey(source, (short) (offset + 2 * KEY_LENGTH));
        }
    }

    short findTar(byte[] source, short offset) {
        for (short i = 0; i < tarCount; i++) {
            if (Util.arrayCompare(source, offset, tars, (short) (i * TAR_LENGTH), TAR_LENGTH) == 0) {
                return i;
            }
        }
        return -1;
    }

    byte minimumSecurityLevel(short tar) {
        return minimumSecurityLevels[tar];
    }

    /**
     * The key a KIc (cipher true) or KID byte designates: its algorithm nibble must be AES or implicit (00,
     * the key set's own algorithm) and its key version this key set's; null otherwise or when not loaded.
     */
    AESKey key(byte identifier, boolean cipher) {
        byte algorithm = (byte) (identifier & 0x0F);
        if ((algorithm != 0x00 && algorithm != 0x02) || (byte) ((identifier >> 4) & 0x0F) != keyVersion) {
            return null;
        }
        AESKey key = cipher ? kic : kid;
        return key.isInitialized() ? key : null;
    }

    /** True when the packet's counter at source[offset] exceeds our counter by more than margin (0..255). */
    boolean counterBelow(byte[] source, short offset, short margin) {
        short borrow = 0;
        for (short i = (short) (COUNTER_LENGTH - 1); i >= 0; i--) {
            short d = (short) ((source[(short) (offset + i)] & 0xFF) - (counter[i] & 0xFF) - borrow);
            borrow = (short) (d < 0 ? 1 : 0);
            difference[i] = (byte) d;
        }
        if (borrow != 0) {
            return false;
        }
        for (short i = 0; i < (short) (COUNTER_LENGTH - 1); i++) {
            if (difference[i] != 0) {
                return true;
            }
        }
        return (short) (difference[(short) (COUNTER_LENGTH - 1)] & 0xFF) > margin;
    }

    /** Records the counter of an accepted packet; the caller holds the transaction. */
    void setCounter(byte[] source, short offset) {
        Util.arrayCopy(source, offset, counter, (short) 0, COUNTER_LENGTH);
    }

    /** The MCIM's admin interface, or null when that instance does not exist or refuses us. */
    McimAdmin mcim() {
        AID aid = JCSystem.lookupAID(mcimAid, (short) 0, (byte) mcimAid.length);
        return aid == null ? null : (McimAdmin) JCSystem.getAppletShareableInterfaceObject(aid, (byte) 0);
    }

    boolean isMcim(AID client) {
        return client != null && client.equals(mcimAid, (short) 0, (byte) mcimAid.length);
    }
}
