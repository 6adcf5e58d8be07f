package org.mcim.usim;

import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;

/**
 * The MCIM's transparent EFs (TS 31.102 §4.2 for the USIM EFs, TS 102 221 §13.2 for EF.ICCID under the MF)
 * with SELECT, READ BINARY and UPDATE BINARY as TS 102 221 §11.1.1-§11.1.4 define them. Two selection
 * contexts: the terminal's (CONTACT) and the remote command session's (REMOTE), so that OTA file management
 * does not move the terminal's current file. Access rules follow the TS 31.102 conditions: ALW, PIN (this
 * applet has no PIN1; the terminal is treated as holding it), ADM (remote file management only), NEV.
 */
final class FileSystem {
    static final byte CONTACT = 0;
    static final byte REMOTE = 1;

    static final short MF = (short) 0x3F00;
    static final short ADF = (short) 0x7FFF; // the current application's ADF, TS 102 221 §8.3
    private static final short NONE = -1;

    static final byte ALW = 0;
    static final byte PIN = 1;
    static final byte ADM = 2;
    static final byte NEV = 3;

    // Access rules, referenced from the FCP as records of EF.ARR 6F06 (8B 03 6F06 rr): read, update.
    private static final byte[] RULE_READ = {ALW, PIN, PIN, ALW};
    private static final byte[] RULE_UPDATE = {ADM, ADM, PIN, NEV};
    private static final byte RULE_ALW_ADM = 0;
    private static final byte RULE_PIN_ADM = 1;
    private static final byte RULE_PIN_PIN = 2;
    private static final byte RULE_ALW_NEV = 3;
    private static final short EF_ARR = (short) 0x6F06;
    private static final short MF_ARR = (short) 0x2F06;

    // The file table: FID, SFI (0: none), size, access rule, parent (true: MF, false: ADF).
    private static final short[] FIDS = {
        (short) 0x2FE2, // ICCID (under MF)
        (short) 0x6F07, // IMSI
        (short) 0x6F08, // KEYS
        (short) 0x6F09, // KEYSPS
        (short) 0x6F31, // HPPLMN
        (short) 0x6F38, // UST
        (short) 0x6F46, // SPN
        (short) 0x6F5B, // START-HFN
        (short) 0x6F5C, // THRESHOLD
        (short) 0x6F73, // PSLOCI
        (short) 0x6F78, // ACC
        (short) 0x6F7B, // FPLMN
        (short) 0x6F7E, // LOCI
        (short) 0x6FAD, // AD
    };
    private static final byte[] SFIS = {0x02, 0x07, 0x08, 0x09, 0x12, 0x04, 0x00, 0x0F, 0x10, 0x0C, 0x06, 0x0D, 0x0B,
        0x03};
    private static final short[] SIZES = {10, 9, 33, 33, 1, 8, 17, 6, 3, 14, 2, 12, 11, 4};
    private static final byte[] RULES = {RULE_ALW_NEV, RULE_PIN_ADM, RULE_PIN_PIN, RULE_PIN_PIN, RULE_PIN_ADM,
        RULE_PIN_ADM, RULE_ALW_ADM, RULE_PIN_PIN, RULE_PIN_ADM, RULE_PIN_PIN, RULE_PIN_ADM, RULE_PIN_PIN, RULE_PIN_PIN,
        RULE_ALW_ADM};
    private static final short MF_FILES = 1; // the first MF_FILES entries are under the MF

    static final short UST = (short) 0x6F38;

    // FCP template, TS 102 221 §11.1.1.4: tags and fixed values.
    private static final byte FCP = 0x62;
    private static final byte[] EF_DESCRIPTOR = {(byte) 0x82, 0x02, 0x41, 0x21}; // shareable transparent EF
    private static final byte[] DF_DESCRIPTOR = {(byte) 0x82, 0x02, 0x78, 0x21}; // shareable DF / ADF
    private static final byte[] LCSI_OPERATIONAL = {(byte) 0x8A, 0x01, 0x05};
    private static final byte TAG_FID = (byte) 0x83;
    private static final byte TAG_DF_NAME = (byte) 0x84;
    private static final byte TAG_SECURITY_REFERENCE = (byte) 0x8B;
    private static final byte TAG_FILE_SIZE = (byte) 0x80;
    private static final byte TAG_SFI = (byte) 0x88;

    private final byte[] data;
    private final short[] offsets;
    private final byte[] aid;
    /** Per context: current DF, then current EF index (NONE when no EF is selected). */
    private final short[] selection;

    FileSystem(byte[] aid) {
        this.aid = aid;
        offsets = new short[FIDS.length];
        short total = 0;
        for (short i = 0; i < (short) FIDS.length; i++) {
            offsets[i] = total;
            total += SIZES[i];
        }
        data = new byte[total];
        Util.arrayFillNonAtomic(data, (short) 0, total, (byte) 0xFF);
        // CLEAR_ON_RESET: the remote context is used while the bootstrap applet is the selected one.
        selection = JCSystem.makeTransientShortArray((short) 4, JCSystem.CLEAR_ON_RESET);
        reset(CONTACT);
        reset(REMOTE);
    }

    /** The context starts at the ADF with no EF selected (after applet selection, or a new remote session). */
    void reset(byte context) {
        selection[(short) (2 * context)] = ADF;
        selection[(short) (2 * context + 1)] = NONE;
    }

    /**
     * SELECT (TS 102 221 §11.1.1) with the command in buffer (header at 0, data at 5). P1 00 selects by FID
     * (MF, the ADF as 7FFF, or an EF under the current DF), P1 04 by the ADF's AID. P2 04 returns the FCP,
     * P2 0C nothing. Only the first-occurrence forms are supported (other P2 values: 6A86).
     *
     * @return the response length in buffer
     */
    short select(byte context, byte[] buffer, short lc) {
        byte p1 = buffer[ISO7816.OFFSET_P1];
        byte p2 = buffer[ISO7816.OFFSET_P2];
        if (p2 != 0x04 && p2 != 0x0C) {
            ISOException.throwIt(ISO7816.SW_INCORRECT_P1P2);
        }
        short file;
        if (p1 == 0x04) {
            if (lc != (short) aid.length
                    || Util.arrayCompare(buffer, ISO7816.OFFSET_CDATA, aid, (short) 0, lc) != 0) {
                ISOException.throwIt(ISO7816.SW_FILE_NOT_FOUND);
            }
            file = ADF;
        } else if (p1 == 0x00) {
            if (lc != 2) {
                ISOException.throwIt(ISO7816.SW_WRONG_LENGTH);
            }
            file = Util.getShort(buffer, ISO7816.OFFSET_CDATA);
        } else {
            ISOException.throwIt(ISO7816.SW_INCORRECT_P1P2);
            return 0;
        }
        return selectFile(context, file, buffer, p2 == 0x04);
    }

    /** Selects the ADF itself, as SELECT by AID does when the applet is selected; returns the FCP length. */
    short selectAdf(byte context, byte[] buffer, boolean withFcp) {
        return selectFile(context, ADF, buffer, withFcp);
    }

    private short selectFile(byte context, short fid, byte[] buffer, boolean withFcp) {
        if (fid == MF || fid == ADF) {
            selection[(short) (2 * context)] = fid;
            selection[(short) (2 * context + 1)] = NONE;
            return withFcp ? dfFcp(fid, buffer) : 0;
        }
        short index = find(fid, selection[(short) (2 * context)] == MF);
        if (index == NONE) {
            ISOException.throwIt(ISO7816.SW_FILE_NOT_FOUND);
        }
        selection[(short) (2 * context + 1)] = index;
        return withFcp ? efFcp(index, buffer) : 0;
    }

    /**
     * READ BINARY (TS 102 221 §11.1.3): P1 b8 set means P1 b5-b1 is an SFI in the current DF and P2 the
     * offset; otherwise P1-P2 is a 15-bit offset into the current EF. Le 00 (ne 0 or 256) reads to the end
     * of the file; a larger Le than what is left gives 6Cxx with the number of bytes left.
     */
    short readBinary(byte context, byte accessLevel, byte[] buffer, short le) {
        short index = targetEf(context, buffer);
        checkAccess(RULE_READ[RULES[index]], accessLevel);
        short offset = offsetInFile(buffer);
        short left = (short) (SIZES[index] - offset);
        if (left <= 0) {
            ISOException.throwIt(ISO7816.SW_WRONG_P1P2);
        }
        short count = (le == 0 || le == 256) ? (left > 256 ? 256 : left) : le;
        if (count > left) {
            ISOException.throwIt((short) (ISO7816.SW_CORRECT_LENGTH_00 | left));
        }
        Util.arrayCopyNonAtomic(data, (short) (offsets[index] + offset), buffer, (short) 0, count);
        return count;
    }

    /** UPDATE BINARY (TS 102 221 §11.1.4), P1-P2 as for READ BINARY; the data must fit in the file. */
    void updateBinary(byte context, byte accessLevel, byte[] buffer, short lc) {
        short index = targetEf(context, buffer);
        checkAccess(RULE_UPDATE[RULES[index]], accessLevel);
        short offset = offsetInFile(buffer);
        if (offset >= SIZES[index]) {
            ISOException.throwIt(ISO7816.SW_WRONG_P1P2);
        }
        if (lc == 0 || lc > (short) (SIZES[index] - offset)) {
            ISOException.throwIt(ISO7816.SW_WRONG_LENGTH);
        }
        Util.arrayCopy(buffer, ISO7816.OFFSET_CDATA, data, (short) (offsets[index] + offset), lc);
    }

    /** Personalisation: the content of an EF from offset 0, whatever its access rule. */
    void personalise(short fid, byte[] source, short offset, short length) {
        short index = find(fid, true);
        if (index == NONE) {
            index = find(fid, false);
        }
        if (index == NONE) {
            ISOException.throwIt(ISO7816.SW_FILE_NOT_FOUND);
        }
        if (length > SIZES[index]) {
            ISOException.throwIt(ISO7816.SW_WRONG_DATA);
        }
        Util.arrayCopy(source, offset, data, offsets[index], length);
    }

    /** Service n of EF.UST (TS 31.102 §4.2.8: service n is bit (n-1) mod 8 of byte (n-1) / 8). */
    boolean serviceAvailable(short service) {
        short bit = (short) (service - 1);
        short index = find(UST, false);
        if ((short) (bit >> 3) >= SIZES[index]) {
            return false;
        }
        return (data[(short) (offsets[index] + (bit >> 3))] & (1 << (bit & 7))) != 0;
    }

    private short targetEf(byte context, byte[] buffer) {
        byte p1 = buffer[ISO7816.OFFSET_P1];
        if ((p1 & 0x80) != 0) {
            if ((p1 & 0x60) != 0) {
                ISOException.throwIt(ISO7816.SW_INCORRECT_P1P2);
            }
            short index = findSfi((byte) (p1 & 0x1F), selection[(short) (2 * context)] == MF);
            if (index == NONE) {
                ISOException.throwIt(ISO7816.SW_FILE_NOT_FOUND);
            }
            selection[(short) (2 * context + 1)] = index;
            return index;
        }
        short index = selection[(short) (2 * context + 1)];
        if (index == NONE) {
            ISOException.throwIt(ISO7816.SW_COMMAND_NOT_ALLOWED);
        }
        return index;
    }

    private static short offsetInFile(byte[] buffer) {
        byte p1 = buffer[ISO7816.OFFSET_P1];
        short p2 = (short) (buffer[ISO7816.OFFSET_P2] & 0xFF);
        return (p1 & 0x80) != 0 ? p2 : (short) (((p1 & 0x7F) << 8) | p2);
    }

    private static void checkAccess(byte condition, byte accessLevel) {
        if (condition == NEV || condition > accessLevel) {
            ISOException.throwIt(ISO7816.SW_SECURITY_STATUS_NOT_SATISFIED);
        }
    }

    private static short find(short fid, boolean underMf) {
        for (short i = 0; i < (short) FIDS.length; i++) {
            if (FIDS[i] == fid && (i < MF_FILES) == underMf) {
                return i;
            }
        }
        return NONE;
    }

    private static short findSfi(byte sfi, boolean underMf) {
        for (short i = 0; i < (short) SFIS.length; i++) {
            if (sfi != 0 && SFIS[i] == sfi && (i < MF_FILES) == underMf) {
                return i;
            }
        }
        return NONE;
    }

    /** 62 L {82 02 4121, 83 02 FID, 8A 01 05, 8B 03 6F06 rr, 80 02 size, 88 01 SFI<<3 | 88 00}. */
    private static short efFcp(short index, byte[] out) {
        short o = beginFcp(out, EF_DESCRIPTOR, FIDS[index]);
        o = lcsiAndSecurity(out, o, EF_ARR, (byte) (RULES[index] + 1));
        out[o++] = TAG_FILE_SIZE;
        out[o++] = 2;
        o = Util.setShort(out, o, SIZES[index]);
        out[o++] = TAG_SFI;
        if (SFIS[index] == 0) {
            out[o++] = 0;
        } else {
            out[o++] = 1;
            out[o++] = (byte) (SFIS[index] << 3);
        }
        out[1] = (byte) (o - 2);
        return o;
    }

    /** 62 L {82 02 7821, 83 02 FID, [84 L AID], 8A 01 05, 8B 03 2F06|6F06 01}. */
    private short dfFcp(short fid, byte[] out) {
        short o = beginFcp(out, DF_DESCRIPTOR, fid);
        if (fid == ADF) {
            out[o++] = TAG_DF_NAME;
            out[o++] = (byte) aid.length;
            o = Util.arrayCopyNonAtomic(aid, (short) 0, out, o, (short) aid.length);
        }
        o = lcsiAndSecurity(out, o, fid == MF ? MF_ARR : EF_ARR, (byte) 1);
        out[1] = (byte) (o - 2);
        return o;
    }

    private static short beginFcp(byte[] out, byte[] descriptor, short fid) {
        out[0] = FCP;
        short o = Util.arrayCopyNonAtomic(descriptor, (short) 0, out, (short) 2, (short) descriptor.length);
        out[o++] = TAG_FID;
        out[o++] = 2;
        return Util.setShort(out, o, fid);
    }

    private static short lcsiAndSecurity(byte[] out, short o, short arr, byte record) {
        o = Util.arrayCopyNonAtomic(LCSI_OPERATIONAL, (short) 0, out, o, (short) LCSI_OPERATIONAL.length);
        out[o++] = TAG_SECURITY_REFERENCE;
        out[o++] = 3;
        o = Util.setShort(out, o, arr);
        out[o++] = record;
        return o;
    }
}
