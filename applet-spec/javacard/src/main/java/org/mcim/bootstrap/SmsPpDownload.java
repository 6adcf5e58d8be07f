package org.mcim.bootstrap;

import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.Util;

/**
 * Finds the command packet in the data of an ENVELOPE (SMS-PP DOWNLOAD), as a terminal builds it
 * (TS 31.111 §7.1.1 / TS 102 223 §7.1; DIGEST §2-§3):
 * D1 L { 82 02 83 81, [06|86 address], 8B|0B L SMS-DELIVER TPDU } where the TPDU (TS 23.040 §9.2.2.1) is
 * first octet (MTI 00, UDHI set), TP-OA, TP-PID 7F, TP-DCS, TP-SCTS(7), TP-UDL, TP-UD, and TP-UD starts with a
 * user data header holding the command packet identifier IE 70 00 (TS 31.115 §4). Concatenated SMS are not
 * supported. Anything malformed is refused with 6A80 (no PoR: there is no packet to answer).
 */
final class SmsPpDownload {
    private static final byte SMS_PP_DOWNLOAD = (byte) 0xD1;
    private static final byte TAG_DEVICE_IDENTITIES = 0x02;
    private static final byte TAG_SMS_TPDU = 0x0B;
    private static final byte THREE_BYTE_TAG = 0x7F;
    private static final byte SOURCE_NETWORK = (byte) 0x83;
    private static final byte DESTINATION_UICC = (byte) 0x81;
    private static final byte PID_SIM_DATA_DOWNLOAD = 0x7F;
    private static final byte IEI_COMMAND_PACKET = 0x70;
    private static final byte IEI_CONCATENATION_8BIT = 0x00;
    private static final byte IEI_CONCATENATION_16BIT = 0x08;

    private SmsPpDownload() {
    }

    /**
     * Moves the command packet (from CPL to its end) to the start of {@code data} and returns its length.
     */
    static short extractCommandPacket(byte[] data, short length) {
        if (length < 2 || data[0] != SMS_PP_DOWNLOAD) {
            refuse();
        }
        short offset = 1;
        short bodyLength = (short) (data[offset++] & 0xFF);
        if (bodyLength == 0x81) {
            bodyLength = (short) (data[offset++] & 0xFF);
        } else if (bodyLength > 0x7F) {
            refuse();
        }
        short end = (short) (offset + bodyLength);
        if (end != length) {
            refuse();
        }
        boolean fromNetwork = false;
        short tpdu = -1;
        short tpduEnd = -1;
        while (offset < end) {
            if ((short) (end - offset) < 2) {
                refuse();
            }
            byte tag = (byte) (data[offset++] & 0x7F); // b8 of a one-byte COMPREHENSION-TLV tag is CR
            if (tag == THREE_BYTE_TAG) {
                refuse();
            }
            short valueLength = (short) (data[offset++] & 0xFF);
            if (valueLength == 0x81 && offset < end) {
                valueLength = (short) (data[offset++] & 0xFF);
            } else if (valueLength > 0x7F) {
                refuse();
            }
            if (valueLength > (short) (end - offset)) {
                refuse();
            }
            if (tag == TAG_DEVICE_IDENTITIES) {
                fromNetwork = valueLength == 2 && data[offset] == SOURCE_NETWORK
                        && data[(short) (offset + 1)] == DESTINATION_UICC;
            } else if (tag == TAG_SMS_TPDU) {
                tpdu = offset;
                tpduEnd = (short) (offset + valueLength);
            }
            offset += valueLength;
        }
        if (!fromNetwork || tpdu < 0) {
            refuse();
        }
        return userDataPacket(data, tpdu, tpduEnd);
    }

    private static short userDataPacket(byte[] data, short tpdu, short end) {
        byte firstOctet = data[tpdu];
        if ((firstOctet & 0x03) != 0 || (firstOctet & 0x40) == 0) {
            refuse(); // not an SMS-DELIVER, or no user data header
        }
        short offset = (short) (tpdu + 1);
        short originatorDigits = (short) (data[offset] & 0xFF);
        offset += (short) (2 + ((originatorDigits + 1) >> 1));
        if ((short) (offset + 10) > end || data[offset] != PID_SIM_DATA_DOWNLOAD) {
            refuse();
        }
        offset += 9; // PID, DCS, SCTS
        short userDataLength = (short) (data[offset++] & 0xFF);
        if ((short) (offset + userDataLength) != end || userDataLength < 1) {
            refuse();
        }
        short headerLength = (short) (data[offset] & 0xFF);
        short packet = (short) (offset + 1 + headerLength);
        if (packet > end) {
            refuse();
        }
        if (!hasCommandPacketIdentifier(data, (short) (offset + 1), packet)) {
            refuse();
        }
        short packetLength = (short) (end - packet);
        Util.arrayCopyNonAtomic(data, packet, data, (short) 0, packetLength);
        return packetLength;
    }

    private static boolean hasCommandPacketIdentifier(byte[] data, short offset, short end) {
        boolean found = false;
        while ((short) (offset + 2) <= end) {
            byte iei = data[offset];
            short ieLength = (short) (data[(short) (offset + 1)] & 0xFF);
            if (iei == IEI_CONCATENATION_8BIT || iei == IEI_CONCATENATION_16BIT) {
                return false;
            }
            found |= iei == IEI_COMMAND_PACKET && ieLength == 0;
            offset += (short) (2 + ieLength);
        }
        return found && offset == end;
    }

    private static void refuse() {
        ISOException.throwIt(ISO7816.SW_WRONG_DATA);
    }
}
