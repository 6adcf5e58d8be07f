package org.mcim.shared;

import javacard.framework.Shareable;

/**
 * What the MCIM applet lets the bootstrap applet (its OTA endpoint) do: run remote file management
 * and personalisation commands with ADM rights, in a file context of their own (TS 102 226 §6: a remote
 * command session does not disturb the terminal's current file).
 */
public interface McimAdmin extends Shareable {
    /** Starts a remote command session: the session's current DF becomes the MCIM ADF, no EF selected. */
    void beginRemoteSession();

    /**
     * Executes one C-APDU held in {@code apduBuffer[0..length)} (short form: header, then Lc and data, or Le).
     * The buffer must be a global array (the APDU buffer). The response (data || SW1 SW2) is written back at
     * offset 0 of the same buffer.
     *
     * @return the response length, status word included
     */
    short adminCommand(byte[] apduBuffer, short length);
}
