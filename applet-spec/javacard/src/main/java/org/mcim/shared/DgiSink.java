package org.mcim.shared;

/** Receives the data grouping identifiers (DGIs) of STORE DATA blocks, already deciphered for 8xxx DGIs. */
public interface DgiSink {
    /**
     * Stores one DGI. Throws ISOException 6A88 for a DGI the applet does not know and 6A80 for a value of
     * the wrong length or content.
     */
    void storeDgi(short dgi, byte[] buffer, short offset, short length);
}
