package org.mcim.usim;

import javacard.framework.JCSystem;
import javacard.framework.Util;
import javacard.security.AESKey;
import javacard.security.KeyBuilder;
import javacardx.crypto.Cipher;
import org.mcim.shared.Bytes;

/**
 * Milenage, 3GPP TS 35.206 §4.1. E_K is AES-128; with TEMP = E_K(RAND ^ OPc):
 * OUT1 = E_K(TEMP ^ rot(IN1 ^ OPc, r1) ^ c1) ^ OPc with IN1 = SQN || AMF || SQN || AMF (f1 = OUT1[0..8),
 * f1* = OUT1[8..16)); OUTi = E_K(rot(TEMP ^ OPc, ri) ^ ci) ^ OPc for i = 2..5 (f5 = OUT2[0..6),
 * f2 = OUT2[8..16), f3 = OUT3, f4 = OUT4, f5* = OUT5[0..6)).
 */
final class Milenage {
    static final short BLOCK = 16;
    static final short CONSTANTS_LENGTH = 5 * BLOCK + 5; // c1..c5, then r1..r5 in bits

    // TS 35.206 §4.1 default constants: c1 = 0, c2 = 1, c3 = 2, c4 = 4, c5 = 8 (in the last byte);
    // r1..r5 = 64, 0, 32, 64, 96 bits.
    private static final byte[] DEFAULT_C_LAST_BYTES = {0, 1, 2, 4, 8};
    private static final byte[] DEFAULT_R = {64, 0, 32, 64, 96};

    private static final short TEMP = 0;
    private static final short X = BLOCK;
    private static final short Y = 2 * BLOCK;

    private final AESKey k;
    private final byte[] opc = new byte[BLOCK];
    private final byte[] c = new byte[5 * BLOCK];
    private final byte[] r = new byte[5];
    private final Cipher aes;
    private final byte[] work;

    Milenage() {
        k = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES, KeyBuilder.LENGTH_AES_128, false);
        aes = Cipher.getInstance(Cipher.ALG_AES_BLOCK_128_ECB_NOPAD, false);
        work = JCSystem.makeTransientByteArray((short) (3 * BLOCK), JCSystem.CLEAR_ON_DESELECT);
        for (short i = 0; i < 5; i++) {
            c[(short) (i * BLOCK + BLOCK - 1)] = DEFAULT_C_LAST_BYTES[i];
        }
        Util.arrayCopy(DEFAULT_R, (short) 0, r, (short) 0, (short) 5);
    }

    /** K (16 bytes) then OPc (16 bytes). */
    void setKeys(byte[] source, short offset) {
        k.setKey(source, offset);
        Util.arrayCopy(source, (short) (offset + BLOCK), opc, (short) 0, BLOCK);
    }

    /** c1..c5 (16 bytes each) then r1..r5 (one byte each, a left rotation in bits, 0..127). */
    void setConstants(byte[] source, short offset) {
        Util.arrayCopy(source, offset, c, (short) 0, (short) (5 * BLOCK));
        Util.arrayCopy(source, (short) (offset + 5 * BLOCK), r, (short) 0, (short) 5);
    }

    static boolean validRotations(byte[] source, short offset) {
        for (short i = 0; i < 5; i++) {
            if (source[(short) (offset + 5 * BLOCK + i)] < 0) {
                return false;
            }
        }
        return true;
    }

    boolean isKeyed() {
        return k.isInitialized();
    }

    /** TEMP = E_K(RAND ^ OPc), kept for the f-functions of this RAND. */
    void start(byte[] rand, short randOffset) {
        Util.arrayCopyNonAtomic(rand, randOffset, work, TEMP, BLOCK);
        Bytes.xor(work, TEMP, opc, (short) 0, BLOCK);
        aes.init(k, Cipher.MODE_ENCRYPT);
        aes.doFinal(work, TEMP, BLOCK, work, TEMP);
    }

    /** OUT1 for this SQN (6 bytes) and AMF (2 bytes): f1 = MAC-A in the first 8 bytes, f1* = MAC-S in the last 8. */
    void out1(byte[] sqn, short sqnOffset, byte[] amf, short amfOffset, byte[] out, short outOffset) {
        Util.arrayCopyNonAtomic(sqn, sqnOffset, work, X, (short) 6);
        Util.arrayCopyNonAtomic(amf, amfOffset, work, (short) (X + 6), (short) 2);
        Util.arrayCopyNonAtomic(work, X, work, (short) (X + 8), (short) 8);
        Bytes.xor(work, X, opc, (short) 0, BLOCK);
        finish((short) 0, out, outOffset, true);
    }

    /** OUTi for i = 2..5. */
    void out(short i, byte[] out, short outOffset) {
        Util.arrayCopyNonAtomic(work, TEMP, work, X, BLOCK);
        Bytes.xor(work, X, opc, (short) 0, BLOCK);
        finish((short) (i - 1), out, outOffset, false);
    }

    /** out = E_K(rot(X, r) ^ c [^ TEMP]) ^ OPc with the constants of function index 0..4. */
    private void finish(short index, byte[] out, short outOffset, boolean addTemp) {
        rotateLeft(work, X, work, Y, r[index]);
        Bytes.xor(work, Y, c, (short) (index * BLOCK), BLOCK);
        if (addTemp) {
            Bytes.xor(work, Y, work, TEMP, BLOCK);
        }
        aes.doFinal(work, Y, BLOCK, out, outOffset);
        Bytes.xor(out, outOffset, opc, (short) 0, BLOCK);
    }

    /** to = from rotated left by {@code bits} (0..127) as one 128-bit big-endian value; the ranges must differ. */
    static void rotateLeft(byte[] from, short fromOffset, byte[] to, short toOffset, byte bits) {
        short byteShift = (short) ((bits >> 3) & 0x0F);
        short bitShift = (short) (bits & 7);
        for (short i = 0; i < BLOCK; i++) {
            short hi = (short) (from[(short) (fromOffset + ((i + byteShift) & 0x0F))] & 0xFF);
            short lo = (short) (from[(short) (fromOffset + ((i + byteShift + 1) & 0x0F))] & 0xFF);
            to[(short) (toOffset + i)] = (byte) ((hi << bitShift) | (lo >> (8 - bitShift)));
        }
    }
}
