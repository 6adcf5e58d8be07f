package org.mcim.testutil;

import com.licel.jcardsim.bouncycastle.crypto.engines.AESEngine;
import com.licel.jcardsim.bouncycastle.crypto.macs.CMac;
import com.licel.jcardsim.bouncycastle.crypto.params.KeyParameter;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/** Host-side AES for building test inputs (JCE AES-CBC, and the CMAC of the Bouncy Castle jCardSim ships). */
public final class Crypto {
    private Crypto() {
    }

    public static byte[] cbc(byte[] key, byte[] data, boolean encrypt) {
        try {
            Cipher cipher = Cipher.getInstance("AES/CBC/NoPadding");
            cipher.init(encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"),
                    new IvParameterSpec(new byte[16]));
            return cipher.doFinal(data);
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public static byte[] cmac(byte[] key, byte[] data) {
        CMac mac = new CMac(new AESEngine(), 128);
        mac.init(new KeyParameter(key));
        mac.update(data, 0, data.length);
        byte[] out = new byte[16];
        mac.doFinal(out, 0);
        return out;
    }
}
