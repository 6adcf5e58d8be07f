package org.mcim.usim;

import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;
import org.mcim.shared.Bytes;

/**
 * AUTHENTICATE (3GPP TS 31.102 §7.1.2) with Milenage. 3G context (P2 81): data 10 RAND 10 AUTN; success
 * DB 08 RES 10 CK 10 IK [08 Kc] (Kc only with UST service 27, GSM access), synchronisation failure DC 0E AUTS,
 * MAC failure 9862. GSM context (P2 80, only with service 27): data 10 RAND; answer 04 SRES 08 Kc.
 * AUTN = SQN ^ AK || AMF || MAC-A and AUTS = SQN_MS ^ AK* || MAC-S with MAC-S = f1*(SQN_MS, RAND, AMF 0000)
 * (TS 33.102 §6.3.2, §6.3.3). SRES = c2(RES) and Kc = c3(CK, IK) (TS 33.102 §6.8.1.2).
 */
final class Authentication {
    static final byte CONTEXT_GSM = (byte) 0x80;
    static final byte CONTEXT_3G = (byte) 0x81;
    private static final short GSM_ACCESS_SERVICE = 27;

    private static final byte TAG_SUCCESS = (byte) 0xDB;
    private static final byte TAG_SYNC_FAILURE = (byte) 0xDC;
    private static final short SW_MAC_FAILURE = (short) 0x9862;
    private static final short SW_CONTEXT_NOT_SUPPORTED = (short) 0x9864;
    private static final byte[] RESYNC_AMF = {0, 0}; // TS 33.102 §6.3.3: AMF* is the dummy 0000

    private static final short LENGTH_3G = 34;
    private static final short LENGTH_GSM = 17;
    private static final short RAND_OFFSET = ISO7816.OFFSET_CDATA + 1;
    private static final short AUTN_OFFSET = ISO7816.OFFSET_CDATA + 18;

    // work: RAND, AUTN, OUT2, OUT, SQN.
    private static final short RAND = 0;
    private static final short AUTN = 16;
    private static final short OUT2 = 32;
    private static final short OUT = 48;
    private static final short SQN = 64;

    private final Milenage milenage = new Milenage();
    private final SqnArray sqns = new SqnArray();
    private final FileSystem files;
    private final byte[] work;

    Authentication(FileSystem files) {
        this.files = files;
        work = JCSystem.makeTransientByteArray((short) (SQN + SqnArray.SQN_LENGTH), JCSystem.CLEAR_ON_DESELECT);
    }

    void setKeys(byte[] source, short offset) {
        milenage.setKeys(source, offset);
    }

    void setConstants(byte[] source, short offset) {
        if (!Milenage.validRotations(source, offset)) {
            ISOException.throwIt(ISO7816.SW_WRONG_DATA);
        }
        milenage.setConstants(source, offset);
    }

    void setSqnPolicy(byte[] source, short offset) {
        sqns.setPolicy(source, offset);
    }

    /** The command is in buffer (header at 0, data at 5); the response is written at 0; returns its length. */
    short authenticate(byte[] buffer, short lc) {
        if (!milenage.isKeyed()) {
            ISOException.throwIt(ISO7816.SW_CONDITIONS_NOT_SATISFIED);
        }
        if (buffer[ISO7816.OFFSET_P1] != 0) {
            ISOException.throwIt(ISO7816.SW_INCORRECT_P1P2);
        }
        byte context = buffer[ISO7816.OFFSET_P2];
        if (context == CONTEXT_3G) {
            return umts(buffer, lc);
        }
        if (context == CONTEXT_GSM) {
            return gsm(buffer, lc);
        }
        ISOException.throwIt(ISO7816.SW_INCORRECT_P1P2);
        return 0;
    }

    private short umts(byte[] buffer, short lc) {
        if (lc != LENGTH_3G) {
            ISOException.throwIt(ISO7816.SW_WRONG_LENGTH);
        }
        if (buffer[ISO7816.OFFSET_CDATA] != 16 || buffer[(short) (AUTN_OFFSET - 1)] != 16) {
            ISOException.throwIt(ISO7816.SW_WRONG_DATA);
        }
        Util.arrayCopyNonAtomic(buffer, RAND_OFFSET, work, RAND, (short) 16);
        Util.arrayCopyNonAtomic(buffer, AUTN_OFFSET, work, AUTN, (short) 16);
        milenage.start(work, RAND);
        milenage.out((short) 2, work, OUT2);
        Util.arrayCopyNonAtomic(work, AUTN, work, SQN, SqnArray.SQN_LENGTH);
        Bytes.xor(work, SQN, work, OUT2, SqnArray.SQN_LENGTH); // SQN = (SQN ^ AK) ^ AK
        milenage.out1(work, SQN, work, (short) (AUTN + 6), work, OUT);
        if (!Bytes.constantTimeEquals(work, OUT, work, (short) (AUTN + 8), (short) 8)) {
            ISOException.throwIt(SW_MAC_FAILURE);
        }
        if (!sqns.isFresh(work, SQN)) {
            return synchronisationFailure(buffer);
        }
        JCSystem.beginTransaction();
        sqns.accept(work, SQN);
        JCSystem.commitTransaction();

        short o = 0;
        buffer[o++] = TAG_SUCCESS;
        buffer[o++] = 8;
        o = Util.arrayCopyNonAtomic(work, (short) (OUT2 + 8), buffer, o, (short) 8);
        buffer[o++] = 16;
        short ck = o;
        milenage.out((short) 3, buffer, ck);
        o += 16;
        buffer[o++] = 16;
        short ik = o;
        milenage.out((short) 4, buffer, ik);
        o += 16;
        if (files.serviceAvailable(GSM_ACCESS_SERVICE)) {
            buffer[o++] = 8;
            kc(buffer, ck, ik, o);
            o += 8;
        }
        return o;
    }

    /** DC 0E (SQN_MS ^ AK*) || MAC-S. */
    private short synchronisationFailure(byte[] buffer) {
        sqns.copySqnMs(work, SQN);
        milenage.out((short) 5, work, OUT);
        buffer[0] = TAG_SYNC_FAILURE;
        buffer[1] = 14;
        Util.arrayCopyNonAtomic(work, SQN, buffer, (short) 2, SqnArray.SQN_LENGTH);
        Bytes.xor(buffer, (short) 2, work, OUT, SqnArray.SQN_LENGTH);
        milenage.out1(work, SQN, RESYNC_AMF, (short) 0, work, OUT);
        Util.arrayCopyNonAtomic(work, (short) (OUT + 8), buffer, (short) 8, (short) 8);
        return 16;
    }

    /** 04 SRES 08 Kc. */
    private short gsm(byte[] buffer, short lc) {
        if (!files.serviceAvailable(GSM_ACCESS_SERVICE)) {
            ISOException.throwIt(SW_CONTEXT_NOT_SUPPORTED);
        }
        if (lc != LENGTH_GSM) {
            ISOException.throwIt(ISO7816.SW_WRONG_LENGTH);
        }
        if (buffer[ISO7816.OFFSET_CDATA] != 16) {
            ISOException.throwIt(ISO7816.SW_WRONG_DATA);
        }
        milenage.start(buffer, RAND_OFFSET);
        milenage.out((short) 2, work, OUT2);
        milenage.out((short) 3, work, OUT);
        milenage.out((short) 4, work, AUTN);
        buffer[0] = 4;
        // c2 for a 64-bit RES: the XOR of its two 32-bit halves (the padding words are zero).
        Util.arrayCopyNonAtomic(work, (short) (OUT2 + 8), buffer, (short) 1, (short) 4);
        Bytes.xor(buffer, (short) 1, work, (short) (OUT2 + 12), (short) 4);
        buffer[5] = 8;
        kc(work, OUT, AUTN, (short) 0);
        Util.arrayCopyNonAtomic(work, (short) 0, buffer, (short) 6, (short) 8);
        return 14;
    }

    /** Kc = CK1 ^ CK2 ^ IK1 ^ IK2 (64-bit halves), written into the same array at kcOffset. */
    private static void kc(byte[] array, short ck, short ik, short kcOffset) {
        for (short i = 0; i < 8; i++) {
            array[(short) (kcOffset + i)] = (byte) (array[(short) (ck + i)] ^ array[(short) (ck + 8 + i)]
                    ^ array[(short) (ik + i)] ^ array[(short) (ik + 8 + i)]);
        }
    }
}
