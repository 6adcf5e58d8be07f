package org.mcim.bootstrap;

import javacard.framework.AID;
import javacard.framework.APDU;
import javacard.framework.Applet;
import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Shareable;
import javacard.framework.Util;
import org.mcim.shared.DgiSink;
import org.mcim.shared.InstallParams;
import org.mcim.shared.OtaEndpoint;
import org.mcim.shared.Personaliser;

/**
 * The bootstrap applet: holds the bootstrap OTA credentials and is the card's SMS-PP OTA endpoint on jCardSim,
 * which has no toolkit framework. ENVELOPE (SMS-PP DOWNLOAD) 80 C2 00 00 Lc D1... is accepted when this applet
 * is selected or, through {@link OtaEndpoint}, when the MCIM is; the PoR comes back as the ENVELOPE response
 * data with 9000 whatever SPI2 b6 asks (a real UICC would send it in SMS-SUBMIT through SEND SHORT MESSAGE,
 * jCardSim has no proactive side). Personalisation: STORE DATA with the DGIs of
 * applet-spec/profiles/personalisation.md.
 *
 * Install data (TLVs): 80 10 personalisation key (for DGI 8201), 4F L AID of the MCIM instance it administers.
 */
public final class BootstrapApplet extends Applet implements OtaEndpoint, DgiSink {
    private static final byte TAG_PERSO_KEY = (byte) 0x80;
    private static final byte TAG_MCIM_AID = (byte) 0x4F;

    static final short DGI_TAR = (short) 0x0201;
    static final short DGI_KEY_SET = (short) 0x0202;
    static final short DGI_KEYS = (short) 0x8201;

    private static final byte INS_ENVELOPE = (byte) 0xC2;
    private static final byte INS_STORE_DATA = (byte) 0xE2;
    private static final short WORK_SIZE = 256;

    private final OtaConfiguration configuration;
    private final SecuredPacket securedPacket;
    private final Personaliser personaliser;
    private final byte[] work;

    public static void install(byte[] bArray, short bOffset, byte bLength) {
        new BootstrapApplet(bArray, bOffset).register(bArray, (short) (bOffset + 1), bArray[bOffset]);
    }

    private BootstrapApplet(byte[] bArray, short bOffset) {
        short mcim = InstallParams.require(bArray, bOffset, TAG_MCIM_AID, (short) -1);
        byte[] mcimAid = new byte[bArray[(short) (mcim - 1)]];
        Util.arrayCopy(bArray, mcim, mcimAid, (short) 0, (short) mcimAid.length);
        short key = InstallParams.find(bArray, bOffset, TAG_PERSO_KEY);
        if (key >= 0) {
            key = InstallParams.require(bArray, bOffset, TAG_PERSO_KEY, (short) 16);
        }
        configuration = new OtaConfiguration(mcimAid);
        securedPacket = new SecuredPacket(configuration);
        personaliser = new Personaliser(this, bArray, key);
        // CLEAR_ON_RESET: also used while the MCIM is the selected applet.
        work = JCSystem.makeTransientByteArray(WORK_SIZE, JCSystem.CLEAR_ON_RESET);
    }

    public void process(APDU apdu) {
        if (selectingApplet()) {
            return;
        }
        byte[] buffer = apdu.getBuffer();
        if ((buffer[ISO7816.OFFSET_CLA] & 0x80) == 0) {
            ISOException.throwIt(ISO7816.SW_CLA_NOT_SUPPORTED);
        }
        byte ins = buffer[ISO7816.OFFSET_INS];
        if (ins != INS_ENVELOPE && ins != INS_STORE_DATA) {
            ISOException.throwIt(ISO7816.SW_INS_NOT_SUPPORTED);
        }
        short lc = apdu.setIncomingAndReceive();
        if (lc != apdu.getIncomingLength()) {
            ISOException.throwIt(ISO7816.SW_WRONG_LENGTH);
        }
        if (ins == INS_STORE_DATA) {
            personaliser.storeData(buffer, lc);
            return;
        }
        short length = envelope(buffer, lc);
        if (length > 0) {
            apdu.setOutgoingAndSend((short) 0, length);
        }
    }

    public short envelope(byte[] apduBuffer, short dataLength) {
        if (apduBuffer[ISO7816.OFFSET_P1] != 0 || apduBuffer[ISO7816.OFFSET_P2] != 0) {
            ISOException.throwIt(ISO7816.SW_INCORRECT_P1P2);
        }
        if (!personaliser.isPersonalised()) {
            ISOException.throwIt(ISO7816.SW_CONDITIONS_NOT_SATISFIED);
        }
        Util.arrayCopyNonAtomic(apduBuffer, ISO7816.OFFSET_CDATA, work, (short) 0, dataLength);
        short packetLength = SmsPpDownload.extractCommandPacket(work, dataLength);
        return securedPacket.process(work, packetLength, apduBuffer);
    }

    /** ENVELOPEs may come in through the MCIM (the selected USIM), and only through it. */
    public Shareable getShareableInterfaceObject(AID client, byte parameter) {
        return configuration.isMcim(client) ? this : null;
    }

    public void storeDgi(short dgi, byte[] buffer, short offset, short length) {
        switch (dgi) {
            case DGI_TAR:
                configuration.addTar(buffer, offset, length);
                return;
            case DGI_KEY_SET:
                configuration.setKeySet(buffer, offset, length);
                return;
            case DGI_KEYS:
                configuration.setKeys(buffer, offset, length);
                return;
            default:
                ISOException.throwIt(Personaliser.SW_REFERENCED_DATA_NOT_FOUND);
        }
    }
}
