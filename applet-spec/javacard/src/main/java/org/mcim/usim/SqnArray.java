package org.mcim.usim;

import javacard.framework.JCSystem;
import javacard.framework.Util;

/**
 * SQN freshness in the USIM, 3GPP TS 33.102 Annex C.2 / C.3: SQN (48 bits) = SEQ || IND with 5 IND bits; the
 * USIM keeps SEQ_MS(IND) for each of the 32 IND values and accepts SQN when SEQ > SEQ_MS(IND) (C.2.2). Two
 * optional guards, both set by personalisation: SEQ at most delta ahead of the highest SEQ accepted so far
 * (C.2.1, wrap-around protection) and at most L behind it (the age limit). SQN_MS, sent back in AUTS, is the
 * highest SQN accepted so far (TS 33.102 §6.3.5). All values are 6-byte big-endian unsigned numbers.
 */
final class SqnArray {
    static final short SQN_LENGTH = 6;
    static final short POLICY_LENGTH = 2 * SQN_LENGTH;
    private static final short IND_BITS = 5;
    private static final short IND_MASK = (1 << IND_BITS) - 1;
    private static final short IND_COUNT = 1 << IND_BITS;

    // Working values, each SQN_LENGTH long.
    private static final short SEQ = 0;
    private static final short HIGHEST_SEQ = SQN_LENGTH;
    private static final short DIFFERENCE = 2 * SQN_LENGTH;

    private final byte[] seqMs = new byte[(short) (IND_COUNT * SQN_LENGTH)];
    private final byte[] highest = new byte[SQN_LENGTH];
    /** delta then L, in SEQ units; 0 turns a guard off. The delta default 2^28 is Annex C's example [M]. */
    private final byte[] policy = new byte[POLICY_LENGTH];
    private final byte[] work;

    SqnArray() {
        policy[2] = (byte) 0x10; // delta = 2^28
        work = JCSystem.makeTransientByteArray((short) (3 * SQN_LENGTH), JCSystem.CLEAR_ON_DESELECT);
    }

    /** delta (6 bytes) then L (6 bytes). */
    void setPolicy(byte[] source, short offset) {
        Util.arrayCopy(source, offset, policy, (short) 0, POLICY_LENGTH);
    }

    boolean isFresh(byte[] sqn, short offset) {
        seqOf(sqn, offset, work, SEQ);
        seqOf(highest, (short) 0, work, HIGHEST_SEQ);
        if (compare(work, SEQ, seqMs, slot(sqn, offset)) <= 0) {
            return false;
        }
        if (compare(work, SEQ, work, HIGHEST_SEQ) > 0) {
            return withinGuard(work, SEQ, work, HIGHEST_SEQ, (short) 0);
        }
        return withinGuard(work, HIGHEST_SEQ, work, SEQ, SQN_LENGTH);
    }

    /** Records a fresh SQN whose MAC verified; the caller holds the transaction. */
    void accept(byte[] sqn, short offset) {
        seqOf(sqn, offset, work, SEQ);
        seqOf(highest, (short) 0, work, HIGHEST_SEQ);
        short order = compare(work, SEQ, work, HIGHEST_SEQ);
        Util.arrayCopy(work, SEQ, seqMs, slot(sqn, offset), SQN_LENGTH);
        if (order > 0 || (order == 0 && compare(sqn, offset, highest, (short) 0) > 0)) {
            Util.arrayCopy(sqn, offset, highest, (short) 0, SQN_LENGTH);
        }
    }

    void copySqnMs(byte[] out, short offset) {
        Util.arrayCopyNonAtomic(highest, (short) 0, out, offset, SQN_LENGTH);
    }

    /** (larger - smaller) <= the guard at policyOffset, or the guard is 0 (off). */
    private boolean withinGuard(byte[] larger, short largerOffset, byte[] smaller, short smallerOffset,
                                short policyOffset) {
        if (isZero(policy, policyOffset)) {
            return true;
        }
        subtract(larger, largerOffset, smaller, smallerOffset, work, DIFFERENCE);
        return compare(work, DIFFERENCE, policy, policyOffset) <= 0;
    }

    private static short slot(byte[] sqn, short offset) {
        return (short) ((sqn[(short) (offset + SQN_LENGTH - 1)] & IND_MASK) * SQN_LENGTH);
    }

    /** SEQ = SQN >> IND_BITS. */
    private static void seqOf(byte[] sqn, short offset, byte[] out, short outOffset) {
        short carry = 0;
        for (short i = 0; i < SQN_LENGTH; i++) {
            short b = (short) (sqn[(short) (offset + i)] & 0xFF);
            out[(short) (outOffset + i)] = (byte) ((carry << (8 - IND_BITS)) | (b >> IND_BITS));
            carry = (short) (b & IND_MASK);
        }
    }

    private static short compare(byte[] a, short aOffset, byte[] b, short bOffset) {
        for (short i = 0; i < SQN_LENGTH; i++) {
            short x = (short) (a[(short) (aOffset + i)] & 0xFF);
            short y = (short) (b[(short) (bOffset + i)] & 0xFF);
            if (x != y) {
                return x > y ? (short) 1 : (short) -1;
            }
        }
        return 0;
    }

    /** out = a - b for a >= b. */
    private static void subtract(byte[] a, short aOffset, byte[] b, short bOffset, byte[] out, short outOffset) {
        short borrow = 0;
        for (short i = (short) (SQN_LENGTH - 1); i >= 0; i--) {
            short d = (short) ((a[(short) (aOffset + i)] & 0xFF) - (b[(short) (bOffset + i)] & 0xFF) - borrow);
            borrow = (short) (d < 0 ? 1 : 0);
            out[(short) (outOffset + i)] = (byte) d;
        }
    }

    private static boolean isZero(byte[] a, short offset) {
        for (short i = 0; i < SQN_LENGTH; i++) {
            if (a[(short) (offset + i)] != 0) {
                return false;
            }
        }
        return true;
    }
}
