package org.mcim.shared;

import javacard.framework.Shareable;

/**
 * The bootstrap applet's OTA entry point, offered to the MCIM applet so that an ENVELOPE reaches the
 * bootstrap applet whichever of the two is selected, as it would through a real UICC's toolkit framework.
 */
public interface OtaEndpoint extends Shareable {
    /**
     * Processes an ENVELOPE (SMS-PP DOWNLOAD) held in the APDU buffer: header at 0, data at 5 (dataLength
     * bytes). The buffer must be a global array (the APDU buffer). The response data (the PoR) is written at 0.
     *
     * @return the response data length (0: no PoR)
     * @throws javacard.framework.ISOException with the status word of a refused ENVELOPE
     */
    short envelope(byte[] apduBuffer, short dataLength);
}
