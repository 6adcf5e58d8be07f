package org.mcim.testutil;

/** STORE DATA blocks in the DGI format of applet-spec/profiles/personalisation.md. */
public final class Perso {
    private Perso() {
    }

    public static String dgi(String tag, String valueHex) {
        return tag + String.format("%02x", valueHex.replace(" ", "").length() / 2) + valueHex.replace(" ", "");
    }

    /** A secret DGI: its value AES-128-CBC enciphered (zero IV) under the instance's personalisation key. */
    public static String secretDgi(String tag, byte[] persoKey, String clearHex) {
        return dgi(tag, Hex.encode(Crypto.cbc(persoKey, Hex.decode(clearHex), true)));
    }

    /** 80 E2 P1 P2 Lc data: P1 08 (DGI) or 88 (DGI, last block). */
    public static String storeData(int block, boolean last, String dgis) {
        String data = dgis.replace(" ", "");
        return String.format("80E2%02X%02X%02X", last ? 0x88 : 0x08, block, data.length() / 2) + data;
    }

    /** The MCIM personalised with K / OPc, UST (service 27 set), IMSI and ICCID; SQN policy given or default. */
    public static void mcim(TestCard card, String k, String opc, String sqnPolicy) {
        card.selectMcim();
        String files = dgi("0101", "6F07 082982608200002080") + dgi("0101", "6F38 9eff1f9c00000000")
                + dgi("0101", "2FE2 00112233445566778899") + dgi("0101", "6FAD 00000002");
        card.expect(storeData(0, false, files), 0x9000);
        String secrets = secretDgi("8101", TestCard.MCIM_PERSO_KEY, k + opc);
        if (sqnPolicy != null) {
            secrets += dgi("0102", sqnPolicy);
        }
        card.expect(storeData(1, true, secrets), 0x9000);
    }

    /** The bootstrap personalised with one TAR, its MSL, key version, counter and KIc / KID. */
    public static void bootstrap(TestCard card, String tar, String msl, int keyVersion, String counter,
                                 String kic, String kid) {
        card.selectBootstrap();
        String dgis = dgi("0201", tar + msl) + dgi("0202", String.format("%02x", keyVersion) + counter)
                + secretDgi("8201", TestCard.BOOTSTRAP_PERSO_KEY, kic + kid);
        card.expect(storeData(0, true, dgis), 0x9000);
    }
}
