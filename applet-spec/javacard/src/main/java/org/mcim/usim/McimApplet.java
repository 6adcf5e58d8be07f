package org.mcim.usim;

import javacard.framework.AID;
import javacard.framework.APDU;
import javacard.framework.Applet;
import javacard.framework.CardRuntimeException;
import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Shareable;
import javacard.framework.Util;
import org.mcim.shared.DgiSink;
import org.mcim.shared.InstallParams;
import org.mcim.shared.McimAdmin;
import org.mcim.shared.OtaEndpoint;
import org.mcim.shared.Personaliser;

/**
 * The MCIM: a USIM application for TR 33.812 subcase 2b on jCardSim. Terminal commands: SELECT, READ BINARY,
 * UPDATE BINARY (TS 102 221 §11.1), AUTHENTICATE (TS 31.102 §7.1.2), STORE DATA (personalisation, DGI format
 * of applet-spec/profiles/personalisation.md), and ENVELOPE, handed to the bootstrap applet as a UICC's toolkit
 * framework would. Through {@link McimAdmin} the bootstrap applet runs remote file management with ADM rights,
 * STORE DATA and SET STATUS (lock / unlock).
 *
 * Install data (TLVs): 80 10 personalisation key (needed for the secret DGIs), 4F L AID of the bootstrap
 * applet (its OTA endpoint and the one client allowed to administer this instance).
 */
public final class McimApplet extends Applet implements McimAdmin, DgiSink {
    private static final byte TAG_PERSO_KEY = (byte) 0x80;
    private static final byte TAG_OTA_AID = (byte) 0x4F;

    static final short DGI_FILE = (short) 0x0101;
    static final short DGI_SQN_POLICY = (short) 0x0102;
    static final short DGI_MILENAGE_CONSTANTS = (short) 0x0103;
    static final short DGI_SUBSCRIBER_KEYS = (short) 0x8101;

    private static final byte INS_SELECT = (byte) 0xA4;
    private static final byte INS_READ_BINARY = (byte) 0xB0;
    private static final byte INS_UPDATE_BINARY = (byte) 0xD6;
    private static final byte INS_AUTHENTICATE = (byte) 0x88;
    private static final byte INS_STORE_DATA = (byte) 0xE2;
    private static final byte INS_SET_STATUS = (byte) 0xF0;
    private static final byte INS_ENVELOPE = (byte) 0xC2;
    private static final byte SET_STATUS_APPLICATION = (byte) 0x40; // GP SET STATUS P1, DIGEST §5.4

    private final byte[] aid;
    private final byte[] otaAid;
    private final FileSystem files;
    private final Authentication authentication;
    private final Personaliser personaliser;

    public static void install(byte[] bArray, short bOffset, byte bLength) {
        new McimApplet(bArray, bOffset).register(bArray, (short) (bOffset + 1), bArray[bOffset]);
    }

    private McimApplet(byte[] bArray, short bOffset) {
        aid = copy(bArray, (short) (bOffset + 1), bArray[bOffset]);
        short ota = InstallParams.find(bArray, bOffset, TAG_OTA_AID);
        otaAid = ota < 0 ? null : copy(bArray, ota, bArray[(short) (ota - 1)]);
        short key = InstallParams.find(bArray, bOffset, TAG_PERSO_KEY);
        if (key >= 0) {
            key = InstallParams.require(bArray, bOffset, TAG_PERSO_KEY, (short) 16);
        }
        files = new FileSystem(aid);
        authentication = new Authentication(files);
        personaliser = new Personaliser(this, bArray, key);
    }

    private static byte[] copy(byte[] source, short offset, byte length) {
        byte[] bytes = new byte[length];
        Util.arrayCopy(source, offset, bytes, (short) 0, length);
        return bytes;
    }

    /** A LOCKED application cannot be selected (GP Card Specification v2.3 §5.3.1 [M]). */
    public boolean select() {
        if (personaliser.state() == Personaliser.LOCKED) {
            return false;
        }
        files.reset(FileSystem.CONTACT);
        return true;
    }

    public void process(APDU apdu) {
        byte[] buffer = apdu.getBuffer();
        // jCardSim keeps routing commands to an applet whose select() refused: refuse them here too.
        if (personaliser.state() == Personaliser.LOCKED) {
            ISOException.throwIt(ISO7816.SW_CONDITIONS_NOT_SATISFIED);
        }
        if (selectingApplet()) {
            boolean withFcp = buffer[ISO7816.OFFSET_P2] == 0x04;
            send(apdu, files.selectAdf(FileSystem.CONTACT, buffer, withFcp));
            return;
        }
        byte ins = buffer[ISO7816.OFFSET_INS];
        checkClass(buffer[ISO7816.OFFSET_CLA], ins);
        switch (ins) {
            case INS_SELECT:
                send(apdu, files.select(FileSystem.CONTACT, buffer, receive(apdu)));
                return;
            case INS_READ_BINARY:
                short le = apdu.setOutgoing();
                short count = files.readBinary(FileSystem.CONTACT, FileSystem.PIN, buffer, le);
                apdu.setOutgoingLength(count);
                apdu.sendBytes((short) 0, count);
                return;
            case INS_UPDATE_BINARY:
                files.updateBinary(FileSystem.CONTACT, FileSystem.PIN, buffer, receive(apdu));
                return;
            case INS_AUTHENTICATE:
                short lc = receive(apdu);
                if (!personaliser.isPersonalised()) {
                    ISOException.throwIt(ISO7816.SW_CONDITIONS_NOT_SATISFIED);
                }
                send(apdu, authentication.authenticate(buffer, lc));
                return;
            case INS_STORE_DATA:
                personaliser.storeData(buffer, receive(apdu));
                return;
            case INS_SET_STATUS:
                // Locking is the issuer's business: only over the OTA channel (McimAdmin).
                ISOException.throwIt(ISO7816.SW_SECURITY_STATUS_NOT_SATISFIED);
                return;
            case INS_ENVELOPE:
                send(apdu, forwardEnvelope(buffer, receive(apdu)));
                return;
            default:
                ISOException.throwIt(ISO7816.SW_INS_NOT_SUPPORTED);
        }
    }

    private short forwardEnvelope(byte[] buffer, short lc) {
        AID endpoint = otaAid == null ? null : JCSystem.lookupAID(otaAid, (short) 0, (byte) otaAid.length);
        OtaEndpoint ota = endpoint == null ? null
                : (OtaEndpoint) JCSystem.getAppletShareableInterfaceObject(endpoint, (byte) 0);
        if (ota == null) {
            ISOException.throwIt(ISO7816.SW_INS_NOT_SUPPORTED);
        }
        return ota.envelope(buffer, lc);
    }

    /**
     * Only the bootstrap applet gets the admin interface. jCardSim passes the AID of the selected applet as the
     * client (not the caller's context), which is this instance when an ENVELOPE came in through it; a real
     * JCRE never passes a server's own AID for another context, so accepting it grants nobody else.
     */
    public Shareable getShareableInterfaceObject(AID client, byte parameter) {
        if (otaAid == null || client == null) {
            return null;
        }
        if (client.equals(otaAid, (short) 0, (byte) otaAid.length) || client.equals(aid, (short) 0, (byte) aid.length)) {
            return this;
        }
        return null;
    }

    public void beginRemoteSession() {
        files.reset(FileSystem.REMOTE);
    }

    public short adminCommand(byte[] apduBuffer, short length) {
        short count = 0;
        short sw = ISO7816.SW_NO_ERROR;
        try {
            count = adminDispatch(apduBuffer, length);
        } catch (ISOException e) {
            sw = e.getReason();
        } catch (CardRuntimeException e) {
            sw = ISO7816.SW_UNKNOWN;
        }
        if (sw != ISO7816.SW_NO_ERROR) {
            count = 0;
        }
        Util.setShort(apduBuffer, count, sw);
        return (short) (count + 2);
    }

    private short adminDispatch(byte[] buffer, short length) {
        if (length < 5) {
            ISOException.throwIt(ISO7816.SW_WRONG_LENGTH);
        }
        byte ins = buffer[ISO7816.OFFSET_INS];
        checkClass(buffer[ISO7816.OFFSET_CLA], ins);
        short p3 = (short) (buffer[ISO7816.OFFSET_LC] & 0xFF);
        if (ins == INS_READ_BINARY) {
            if (length != 5) {
                ISOException.throwIt(ISO7816.SW_WRONG_LENGTH);
            }
            return files.readBinary(FileSystem.REMOTE, FileSystem.ADM, buffer, p3);
        }
        if (length != (short) (ISO7816.OFFSET_CDATA + p3)) {
            ISOException.throwIt(ISO7816.SW_WRONG_LENGTH);
        }
        switch (ins) {
            case INS_SELECT:
                return files.select(FileSystem.REMOTE, buffer, p3);
            case INS_UPDATE_BINARY:
                files.updateBinary(FileSystem.REMOTE, FileSystem.ADM, buffer, p3);
                return 0;
            case INS_STORE_DATA:
                personaliser.storeData(buffer, p3);
                return 0;
            case INS_SET_STATUS:
                setStatus(buffer, p3);
                return 0;
            default:
                ISOException.throwIt(ISO7816.SW_INS_NOT_SUPPORTED);
                return 0;
        }
    }

    /** SET STATUS 80 F0 40 {8F lock | 0F unlock} Lc AID (GP Card Specification v2.3 §11.10 [M]). */
    private void setStatus(byte[] buffer, short lc) {
        if (buffer[ISO7816.OFFSET_P1] != SET_STATUS_APPLICATION) {
            ISOException.throwIt(ISO7816.SW_INCORRECT_P1P2);
        }
        if (lc != (short) aid.length || Util.arrayCompare(buffer, ISO7816.OFFSET_CDATA, aid, (short) 0, lc) != 0) {
            ISOException.throwIt(Personaliser.SW_REFERENCED_DATA_NOT_FOUND);
        }
        byte target = buffer[ISO7816.OFFSET_P2];
        if (target == Personaliser.LOCKED) {
            personaliser.lock();
        } else if (target == Personaliser.PERSONALISED) {
            personaliser.unlock();
        } else {
            ISOException.throwIt(ISO7816.SW_INCORRECT_P1P2);
        }
    }

    public void storeDgi(short dgi, byte[] buffer, short offset, short length) {
        switch (dgi) {
            case DGI_FILE:
                if (length < 2) {
                    ISOException.throwIt(ISO7816.SW_WRONG_DATA);
                }
                files.personalise(Util.getShort(buffer, offset), buffer, (short) (offset + 2), (short) (length - 2));
                return;
            case DGI_SQN_POLICY:
                checkLength(length, SqnArray.POLICY_LENGTH);
                authentication.setSqnPolicy(buffer, offset);
                return;
            case DGI_MILENAGE_CONSTANTS:
                checkLength(length, Milenage.CONSTANTS_LENGTH);
                authentication.setConstants(buffer, offset);
                return;
            case DGI_SUBSCRIBER_KEYS:
                checkLength(length, (short) (2 * Milenage.BLOCK));
                authentication.setKeys(buffer, offset);
                return;
            default:
                ISOException.throwIt(Personaliser.SW_REFERENCED_DATA_NOT_FOUND);
        }
    }

    private static void checkLength(short length, short expected) {
        if (length != expected) {
            ISOException.throwIt(ISO7816.SW_WRONG_DATA);
        }
    }

    /** Interindustry class (b8 = 0) for the ISO commands, proprietary class (b8 = 1) for the others. */
    private static void checkClass(byte cla, byte ins) {
        boolean iso = ins == INS_SELECT || ins == INS_READ_BINARY || ins == INS_UPDATE_BINARY
                || ins == INS_AUTHENTICATE;
        boolean proprietary = ins == INS_STORE_DATA || ins == INS_SET_STATUS || ins == INS_ENVELOPE;
        if (!iso && !proprietary) {
            ISOException.throwIt(ISO7816.SW_INS_NOT_SUPPORTED);
        }
        if (iso == ((cla & 0x80) != 0)) {
            ISOException.throwIt(ISO7816.SW_CLA_NOT_SUPPORTED);
        }
    }

    private static short receive(APDU apdu) {
        short lc = apdu.setIncomingAndReceive();
        if (lc != apdu.getIncomingLength()) {
            ISOException.throwIt(ISO7816.SW_WRONG_LENGTH);
        }
        return lc;
    }

    private static void send(APDU apdu, short length) {
        if (length > 0) {
            apdu.setOutgoingAndSend((short) 0, length);
        }
    }
}
