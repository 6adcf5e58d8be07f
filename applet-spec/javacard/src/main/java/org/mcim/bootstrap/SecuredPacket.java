package org.mcim.bootstrap;

import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;
import javacard.security.Signature;
import javacardx.crypto.Cipher;
import org.mcim.shared.Bytes;
import org.mcim.shared.McimAdmin;

/**
 * The receiving entity of ETSI TS 102 225 secured packets in their SMS-PP form (TS 31.115 §4; DIGEST §1):
 * command packet CPL(2) CHL SPI(2) KIc KID TAR(3) | CNTR(5) PCNTR [CC(8)] data padding, where the part after
 * TAR may be AES-CBC enciphered (zero IV) and the CC is the leftmost 8 bytes of AES-CMAC over the packet
 * without the CC field (from CPL on). A packet that passes every check has its counter recorded (inside a
 * transaction) and its data run as a compact remote command script (TS 102 226 §5.1) against the MCIM; a
 * refused packet changes nothing. The PoR 02 71 00 RPL(2) RHL TAR CNTR PCNTR RSC [CC] data padding
 * (TS 31.115 §4.2) is secured as SPI2 asks when the packet was accepted and sent in clear (RHL 0A) when it was
 * refused: keys the packet could not prove knowledge of are not used to answer it, as TS 102 225 Table 6 has
 * for status 06 ("the Response Packet is sent unciphered with no RC/CC/DS") [M].
 */
final class SecuredPacket {
    // Response status codes, TS 102 225 §5.1.2 Table 6 (DIGEST §1.7).
    static final byte POR_OK = 0x00;
    static final byte RC_CC_DS_FAILED = 0x01;
    static final byte COUNTER_LOW = 0x02;
    static final byte COUNTER_HIGH = 0x03;
    static final byte CIPHERING_ERROR = 0x05;
    static final byte UNIDENTIFIED_SECURITY_ERROR = 0x06;
    static final byte TAR_UNKNOWN = 0x09;
    static final byte INSUFFICIENT_SECURITY_LEVEL = 0x0A;

    // Command packet offsets (from CPL).
    private static final short CHL = 2;
    private static final short SPI1 = 3;
    private static final short SPI2 = 4;
    private static final short KIC = 5;
    private static final short KID = 6;
    private static final short TAR = 7;
    private static final short CNTR = 10;
    private static final short PCNTR = 15;
    private static final short CC = 16;
    private static final short HEADER_IN_CC = 16; // CPL..PCNTR, the CC input before the secured data
    private static final short CC_LENGTH = 8;
    private static final short COUNTER_LENGTH = 5;
    private static final short BLOCK = 16;

    // SPI coding, TS 102 225 §5.1.1 (DIGEST §1.3).
    private static final byte SPI1_CHECKSUM_MASK = 0x03;
    private static final byte CHECKSUM_CC = 0x02;
    private static final byte SPI1_CIPHER = 0x04;
    private static final byte SPI1_COUNTER_SHIFT = 3;
    private static final byte COUNTER_HIGHER = 2;
    private static final byte COUNTER_ONE_HIGHER = 3;
    private static final byte SPI2_POR_MASK = 0x03;
    private static final byte POR_ALWAYS = 0x01;
    private static final byte POR_ON_ERROR = 0x02;
    private static final byte SPI2_POR_CHECKSUM_SHIFT = 2;
    private static final byte SPI2_POR_CIPHER = 0x10;
    private static final byte KEY_ALGORITHM_MASK = 0x0F;
    private static final byte ALGORITHM_IMPLICIT = 0x00;
    private static final byte ALGORITHM_AES = 0x02; // AES-CBC for KIc, AES-CMAC for KID (b4b3 = 00)

    // PoR layout (from the UDH).
    private static final byte[] RESPONSE_UDH = {0x02, 0x71, 0x00}; // UDHL, IEI 71 response packet, IEIDL 0
    private static final short POR_RPL = 3;
    private static final short POR_RHL = 5;
    private static final short POR_TAR = 6;
    private static final short POR_CNTR = 9;
    private static final short POR_PCNTR = 14;
    private static final short POR_RSC = 15;
    private static final short POR_HEADER = 16;
    private static final short RHL_WITHOUT_CHECKSUM = 0x0A;
    /** Response data cut to fit a short APDU response with the largest header and padding. */
    private static final short POR_DATA_MAX = 200;

    // Compact format: commands whose P3 is Le (TS 102 226 §5.1; case 2 of ISO/IEC 7816-3).
    private static final byte INS_READ_BINARY = (byte) 0xB0;
    private static final byte INS_READ_RECORD = (byte) 0xB2;
    private static final byte INS_GET_RESPONSE = (byte) 0xC0;
    private static final byte INS_GET_DATA = (byte) 0xCA;

    private final OtaConfiguration configuration;
    private final Cipher cbc;
    private final Signature cmac;
    /** The last command's response while the PoR is built, then the CMAC output. */
    private final byte[] scratch;
    private final short[] script; // executed commands, length of the last response
    /** The command's counter once known (in clear or deciphered), zeros before: copied into the PoR. */
    private final byte[] porCounter;

    SecuredPacket(OtaConfiguration configuration) {
        this.configuration = configuration;
        cbc = Cipher.getInstance(Cipher.ALG_AES_BLOCK_128_CBC_NOPAD, false);
        cmac = Signature.getInstance(Signature.ALG_AES_CMAC_128, false);
        // CLEAR_ON_RESET: an ENVELOPE can arrive through the MCIM while the MCIM is the selected applet.
        scratch = JCSystem.makeTransientByteArray((short) 258, JCSystem.CLEAR_ON_RESET);
        script = JCSystem.makeTransientShortArray((short) 2, JCSystem.CLEAR_ON_RESET);
        porCounter = JCSystem.makeTransientByteArray(COUNTER_LENGTH, JCSystem.CLEAR_ON_RESET);
    }

    /**
     * Processes the command packet in packet[0..length) (the array is used as work space) and writes the PoR to
     * apduBuffer[0..), which also carries the remote commands to the MCIM.
     *
     * @return the PoR length, 0 when SPI2 asks for none
     */
    short process(byte[] packet, short length, byte[] apduBuffer) {
        if (length < CNTR) {
            ISOException.throwIt(ISO7816.SW_WRONG_DATA); // no TAR to answer to
        }
        byte status = verify(packet, length);
        byte porMode = (byte) (packet[SPI2] & SPI2_POR_MASK);
        if (status != POR_OK) {
            return porMode == POR_ALWAYS || porMode == POR_ON_ERROR
                    ? buildPor(packet, status, false, apduBuffer) : 0;
        }
        byte counterMode = (byte) ((packet[SPI1] >> SPI1_COUNTER_SHIFT) & 0x03);
        if (counterMode == COUNTER_HIGHER || counterMode == COUNTER_ONE_HIGHER) {
            JCSystem.beginTransaction();
            configuration.setCounter(packet, CNTR);
            JCSystem.commitTransaction();
        }
        short dataStart = (short) (CC + checksumLength(packet[SPI1]));
        short dataEnd = (short) (length - (packet[PCNTR] & 0xFF));
        runScript(packet, dataStart, dataEnd, apduBuffer);
        return porMode == POR_ALWAYS ? buildPor(packet, POR_OK, true, apduBuffer) : 0;
    }

    /** Every check of TS 102 225 §5.1 in order; deciphers the packet in place when it is ciphered. */
    private byte verify(byte[] p, short length) {
        byte spi1 = p[SPI1];
        boolean ciphered = (spi1 & SPI1_CIPHER) != 0;
        Util.arrayFillNonAtomic(porCounter, (short) 0, COUNTER_LENGTH, (byte) 0); // unknown until deciphered
        if (!ciphered && length >= CC) {
            Util.arrayCopyNonAtomic(p, CNTR, porCounter, (short) 0, COUNTER_LENGTH);
        }
        short tar = configuration.findTar(p, TAR);
        if (tar < 0) {
            return TAR_UNKNOWN;
        }
        byte checksum = (byte) (spi1 & SPI1_CHECKSUM_MASK);
        byte porChecksum = (byte) ((p[SPI2] >> SPI2_POR_CHECKSUM_SHIFT) & 0x03);
        short ccLength = checksumLength(spi1);
        if ((checksum != 0 && checksum != CHECKSUM_CC) || (porChecksum != 0 && porChecksum != CHECKSUM_CC)
                || (p[SPI2] & SPI2_POR_MASK) == 0x03 || (short) (p[CHL] & 0xFF) != (short) (0x0D + ccLength)
                || Util.getShort(p, (short) 0) != (short) (length - 2) || length < (short) (CC + ccLength)) {
            return UNIDENTIFIED_SECURITY_ERROR; // header not understood, or RC / DS, which are not supported
        }
        if (!meetsMinimumSecurityLevel(spi1, configuration.minimumSecurityLevel(tar))) {
            return INSUFFICIENT_SECURITY_LEVEL;
        }
        if ((ciphered || (p[SPI2] & SPI2_POR_CIPHER) != 0) && configuration.key(p[KIC], true) == null) {
            return CIPHERING_ERROR;
        }
        if ((ccLength != 0 || porChecksum == CHECKSUM_CC) && configuration.key(p[KID], false) == null) {
            return UNIDENTIFIED_SECURITY_ERROR;
        }
        if (ciphered) {
            short cipherLength = (short) (length - CNTR);
            if ((short) (cipherLength % BLOCK) != 0) {
                return CIPHERING_ERROR;
            }
            cbc.init(configuration.key(p[KIC], true), Cipher.MODE_DECRYPT); // zero IV
            cbc.doFinal(p, CNTR, cipherLength, p, CNTR);
        }
        // The CC first: nothing deciphered is looked at, or echoed, before the packet is proven authentic (a
        // padding-count check before it would answer 05 or 01 depending on the plaintext of foreign packets).
        if (ccLength != 0 && !checksumMatches(p, length)) {
            return RC_CC_DS_FAILED;
        }
        if (ciphered) {
            Util.arrayCopyNonAtomic(p, CNTR, porCounter, (short) 0, COUNTER_LENGTH);
        }
        if ((short) (p[PCNTR] & 0xFF) > (short) (length - CC - ccLength)) {
            return ciphered ? CIPHERING_ERROR : UNIDENTIFIED_SECURITY_ERROR;
        }
        return checkCounter(p, (byte) ((spi1 >> SPI1_COUNTER_SHIFT) & 0x03));
    }

    private boolean checksumMatches(byte[] p, short length) {
        cmac.init(configuration.key(p[KID], false), Signature.MODE_SIGN);
        cmac.update(p, (short) 0, HEADER_IN_CC);
        cmac.sign(p, (short) (CC + CC_LENGTH), (short) (length - CC - CC_LENGTH), scratch, (short) 0);
        return Bytes.constantTimeEquals(scratch, (short) 0, p, CC, CC_LENGTH);
    }

    /** SPI1 b5b4 (DIGEST §1.3): 10 the counter must be higher than ours, 11 exactly one higher. */
    private byte checkCounter(byte[] p, byte mode) {
        if (mode == COUNTER_HIGHER && !configuration.counterBelow(p, CNTR, (short) 0)) {
            return COUNTER_LOW;
        }
        if (mode == COUNTER_ONE_HIGHER) {
            if (!configuration.counterBelow(p, CNTR, (short) 0)) {
                return COUNTER_LOW;
            }
            if (configuration.counterBelow(p, CNTR, (short) 1)) {
                return COUNTER_HIGH;
            }
        }
        return POR_OK;
    }

    /**
     * The minimum security level of a TAR is coded like SPI1 (TS 102 226 §8.2.1.3.2.4.2, "minimum SPI1" [M]):
     * the packet must have at least its integrity (none < RC < CC < DS), ciphering if it has it, and at least
     * its counter mode (none < present < higher < one higher).
     */
    static boolean meetsMinimumSecurityLevel(byte spi1, byte msl) {
        return (spi1 & SPI1_CHECKSUM_MASK) >= (msl & SPI1_CHECKSUM_MASK)
                && ((msl & SPI1_CIPHER) == 0 || (spi1 & SPI1_CIPHER) != 0)
                && ((spi1 >> SPI1_COUNTER_SHIFT) & 0x03) >= ((msl >> SPI1_COUNTER_SHIFT) & 0x03);
    }

    private static short checksumLength(byte spi1) {
        return (spi1 & SPI1_CHECKSUM_MASK) == CHECKSUM_CC ? CC_LENGTH : 0;
    }

    /**
     * Runs the compact script (TS 102 226 §5.1): C-APDUs one after the other, each CLA INS P1 P2 P3 [data]
     * with P3 = Le for case 2 commands and Lc otherwise (case 4 commands carry no Le, as in T=0), until one
     * does not end with 9000. Leaves the last response (data || SW) in scratch.
     */
    private void runScript(byte[] p, short offset, short end, byte[] apduBuffer) {
        short executed = 0;
        short response = 2;
        Util.setShort(scratch, (short) 0, ISO7816.SW_NO_ERROR);
        McimAdmin mcim = configuration.mcim();
        if (mcim != null) {
            mcim.beginRemoteSession();
        }
        while (offset < end) {
            executed++;
            short commandLength = commandLength(p, offset, end);
            if (commandLength < 0) {
                response = 2;
                Util.setShort(scratch, (short) 0, ISO7816.SW_WRONG_LENGTH);
                break;
            }
            if (mcim == null) {
                response = 2;
                Util.setShort(scratch, (short) 0, ISO7816.SW_FILE_NOT_FOUND);
                break;
            }
            Util.arrayCopyNonAtomic(p, offset, apduBuffer, (short) 0, commandLength);
            response = mcim.adminCommand(apduBuffer, commandLength);
            Util.arrayCopyNonAtomic(apduBuffer, (short) 0, scratch, (short) 0, response);
            offset += commandLength;
            if (Util.getShort(scratch, (short) (response - 2)) != ISO7816.SW_NO_ERROR) {
                break;
            }
        }
        script[0] = executed;
        script[1] = response;
    }

    private static short commandLength(byte[] p, short offset, short end) {
        if ((short) (end - offset) < 5) {
            return -1;
        }
        byte ins = p[(short) (offset + 1)];
        if (ins == INS_READ_BINARY || ins == INS_READ_RECORD || ins == INS_GET_RESPONSE || ins == INS_GET_DATA) {
            return 5;
        }
        short length = (short) (5 + (p[(short) (offset + 4)] & 0xFF));
        return length > (short) (end - offset) ? -1 : length;
    }

    /** The PoR into out[0..); with OK status its data is the compact response: count, SW, data. */
    private short buildPor(byte[] p, byte status, boolean secured, byte[] out) {
        boolean withChecksum = secured && ((p[SPI2] >> SPI2_POR_CHECKSUM_SHIFT) & 0x03) == CHECKSUM_CC;
        boolean ciphered = secured && (p[SPI2] & SPI2_POR_CIPHER) != 0;
        short ccLength = withChecksum ? CC_LENGTH : 0;
        short end = (short) (POR_HEADER + ccLength);
        if (status == POR_OK) {
            short response = script[1];
            short dataLength = (short) (response - 2);
            if (dataLength > POR_DATA_MAX) {
                dataLength = POR_DATA_MAX;
            }
            out[end++] = (byte) script[0];
            end = Util.arrayCopyNonAtomic(scratch, dataLength, out, end, (short) 2);
            end = Util.arrayCopyNonAtomic(scratch, (short) 0, out, end, dataLength);
        }
        short padding = 0;
        if (ciphered) {
            // Padding 80 00.. up to the AES block (as onomondo-uicc does); PCNTR counts it and the CC covers it.
            padding = (short) ((BLOCK - (short) ((end - POR_CNTR) % BLOCK)) % BLOCK);
            if (padding != 0) {
                Util.arrayFillNonAtomic(out, end, padding, (byte) 0);
                out[end] = (byte) 0x80;
                end += padding;
            }
        }
        Util.arrayCopyNonAtomic(RESPONSE_UDH, (short) 0, out, (short) 0, (short) RESPONSE_UDH.length);
        Util.setShort(out, POR_RPL, (short) (end - POR_RHL));
        out[POR_RHL] = (byte) (RHL_WITHOUT_CHECKSUM + ccLength);
        Util.arrayCopyNonAtomic(p, TAR, out, POR_TAR, (short) 3);
        Util.arrayCopyNonAtomic(porCounter, (short) 0, out, POR_CNTR, COUNTER_LENGTH);
        out[POR_PCNTR] = (byte) padding;
        out[POR_RSC] = status;
        if (withChecksum) {
            cmac.init(configuration.key(p[KID], false), Signature.MODE_SIGN);
            cmac.update(out, (short) 0, POR_HEADER);
            cmac.sign(out, (short) (POR_HEADER + CC_LENGTH), (short) (end - POR_HEADER - CC_LENGTH), scratch,
                    (short) 0);
            Util.arrayCopyNonAtomic(scratch, (short) 0, out, POR_HEADER, CC_LENGTH);
        }
        if (ciphered) {
            cbc.init(configuration.key(p[KIC], true), Cipher.MODE_ENCRYPT);
            cbc.doFinal(out, POR_CNTR, (short) (end - POR_CNTR), out, POR_CNTR);
        }
        return end;
    }
}
