package dev.herald.hub.internal.tls;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECKey;
import java.security.interfaces.RSAKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a server's certificate chain and private key from PEM files, in the forms certificate tools
 * write: the chain as one or more {@code CERTIFICATE} blocks (leaf first; text between blocks, as
 * {@code openssl x509 -text} leaves, is ignored), the key as PKCS#8 ({@code PRIVATE KEY}, RSA or
 * EC), PKCS#1 ({@code RSA PRIVATE KEY}) or SEC1 ({@code EC PRIVATE KEY}, with its curve). An
 * encrypted key is refused with a sentence saying how to decrypt it. Every failure is an {@link
 * IllegalArgumentException} that names the file and what is wrong with it.
 */
final class PemKeys {
  private static final Pattern BLOCK =
      Pattern.compile(
          "-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]*?)-----END \\1-----", Pattern.DOTALL);
  // DER encodings of the algorithm identifiers a traditional key is wrapped in.
  private static final byte[] RSA_ALGORITHM = {
    0x30,
    0x0d,
    0x06,
    0x09,
    0x2a,
    (byte) 0x86,
    0x48,
    (byte) 0x86,
    (byte) 0xf7,
    0x0d,
    0x01,
    0x01,
    0x01,
    0x05,
    0x00
  };
  private static final byte[] EC_PUBLIC_KEY_OID = {
    0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01
  };

  private PemKeys() {}

  /** The chain in {@code file}, leaf first. */
  static List<X509Certificate> chain(Path file) {
    String text = read(file, "--tls-cert");
    List<X509Certificate> chain = new ArrayList<>();
    Matcher m = BLOCK.matcher(text);
    try {
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      while (m.find()) {
        if (!m.group(1).equals("CERTIFICATE")) {
          if (m.group(1).contains("PRIVATE KEY")) {
            throw new IllegalArgumentException(
                "--tls-cert " + file + " holds a private key; give the key with --tls-key");
          }
          continue;
        }
        chain.add(
            (X509Certificate)
                factory.generateCertificate(new java.io.ByteArrayInputStream(base64(m, file))));
      }
    } catch (CertificateException e) {
      throw new IllegalArgumentException(
          "--tls-cert " + file + " holds a certificate that cannot be read: " + e.getMessage(), e);
    }
    if (chain.isEmpty()) {
      throw new IllegalArgumentException(
          "--tls-cert "
              + file
              + " holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the certificate"
              + " chain, leaf first");
    }
    return List.copyOf(chain);
  }

  /** The private key in {@code file}: PKCS#8, PKCS#1 (RSA) or SEC1 (EC). */
  static PrivateKey privateKey(Path file) {
    String text = read(file, "--tls-key");
    Matcher m = BLOCK.matcher(text);
    while (m.find()) {
      String type = m.group(1);
      switch (type) {
        case "PRIVATE KEY":
          return pkcs8(base64(m, file), file);
        case "RSA PRIVATE KEY":
          return decode("RSA", wrap(0, RSA_ALGORITHM, base64(m, file)), file);
        case "EC PRIVATE KEY":
          byte[] sec1 = base64(m, file);
          byte[] algorithm = sequence(concat(EC_PUBLIC_KEY_OID, curveOf(sec1, file)));
          return decode("EC", wrap(0, algorithm, sec1), file);
        case "ENCRYPTED PRIVATE KEY":
          throw new IllegalArgumentException(
              "--tls-key "
                  + file
                  + " is encrypted; the hub reads unencrypted keys only (decrypt it with"
                  + " `openssl pkey -in "
                  + file
                  + " -out key.pem` and keep that file readable by the hub alone)");
        default:
          // Parameters (EC PARAMETERS) or certificates in the same file: skip them.
      }
    }
    throw new IllegalArgumentException(
        "--tls-key "
            + file
            + " holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)");
  }

  /**
   * Checks that {@code key} belongs to the leaf certificate: signs a test message with it and
   * verifies it with the certificate's public key.
   */
  static void checkPair(PrivateKey key, X509Certificate leaf, Path keyFile, Path certFile) {
    String algorithm =
        key instanceof RSAKey ? "SHA256withRSA" : key instanceof ECKey ? "SHA256withECDSA" : null;
    if (algorithm == null) {
      throw new IllegalArgumentException(
          "--tls-key " + keyFile + " is a " + key.getAlgorithm() + " key; give an RSA or EC key");
    }
    byte[] message = "herald".getBytes(StandardCharsets.US_ASCII);
    boolean matches;
    try {
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(message);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(leaf.getPublicKey());
      verifier.update(message);
      matches = verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      matches = false;
    }
    if (!matches) {
      throw new IllegalArgumentException(
          "--tls-key "
              + keyFile
              + " does not belong to the first certificate in --tls-cert "
              + certFile
              + " ("
              + leaf.getSubjectX500Principal().getName()
              + "); give the key of that certificate, and the certificate first in its chain");
    }
  }

  private static PrivateKey pkcs8(byte[] der, Path file) {
    for (String algorithm : new String[] {"RSA", "EC"}) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        // Try the next algorithm.
      }
    }
    throw new IllegalArgumentException(
        "--tls-key " + file + " holds a PKCS#8 key that is neither RSA nor EC, or is damaged");
  }

  private static PrivateKey decode(String algorithm, byte[] pkcs8, Path file) {
    try {
      return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "--tls-key " + file + " holds a damaged " + algorithm + " key: " + e.getMessage(), e);
    }
  }

  /**
   * The named curve of a SEC1 {@code ECPrivateKey}: the OID in its {@code [0] parameters}. A key
   * without one (its curve given elsewhere) is refused: PKCS#8 says which curve it is on.
   */
  private static byte[] curveOf(byte[] sec1, Path file) {
    try {
      return curveOf(sec1);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--tls-key " + file + " holds a damaged EC key (" + e.getMessage() + ")", e);
    }
  }

  private static byte[] curveOf(byte[] sec1) {
    Der outer = new Der(sec1, 0);
    if (outer.tag == 0x30) {
      int at = outer.contentStart;
      int end = outer.contentStart + outer.length;
      while (at < end) {
        Der field = new Der(sec1, at);
        if (field.tag == (byte) 0xa0) {
          Der oid = new Der(sec1, field.contentStart);
          if (oid.tag == 0x06) {
            byte[] copy = new byte[oid.end() - field.contentStart];
            System.arraycopy(sec1, field.contentStart, copy, 0, copy.length);
            return copy;
          }
        }
        at = field.end();
      }
    }
    throw new IllegalArgumentException(
        "an EC key without its named curve; convert it to PKCS#8 with `openssl pkey`");
  }

  /** A PKCS#8 {@code PrivateKeyInfo}: version, algorithm identifier, the key as an octet string. */
  private static byte[] wrap(int version, byte[] algorithm, byte[] key) {
    return sequence(concat(new byte[] {0x02, 0x01, (byte) version}, algorithm, tlv(0x04, key)));
  }

  private static byte[] sequence(byte[] content) {
    return tlv(0x30, content);
  }

  private static byte[] tlv(int tag, byte[] content) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(content.length + 6);
    out.write(tag);
    int n = content.length;
    if (n < 0x80) {
      out.write(n);
    } else {
      int bytes = n > 0xffffff ? 4 : n > 0xffff ? 3 : n > 0xff ? 2 : 1;
      out.write(0x80 | bytes);
      for (int i = bytes - 1; i >= 0; i--) {
        out.write(n >>> (8 * i));
      }
    }
    out.writeBytes(content);
    return out.toByteArray();
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      out.writeBytes(part);
    }
    return out.toByteArray();
  }

  private static byte[] base64(Matcher m, Path file) {
    try {
      return Base64.getMimeDecoder().decode(m.group(2));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          file + ": the " + m.group(1) + " block is not valid base64: " + e.getMessage(), e);
    }
  }

  private static String read(Path file, String flag) {
    try {
      return Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IllegalArgumentException(flag + " " + file + " cannot be read: " + e, e);
    }
  }

  /** One DER element's header: tag, length and where its content starts. */
  private static final class Der {
    final byte tag;
    final int length;
    final int contentStart;

    Der(byte[] der, int at) {
      if (at + 2 > der.length) {
        throw new IllegalArgumentException("truncated DER");
      }
      tag = der[at];
      int first = der[at + 1] & 0xff;
      if (first < 0x80) {
        length = first;
        contentStart = at + 2;
      } else {
        int bytes = first & 0x7f;
        int n = 0;
        for (int i = 0; i < bytes; i++) {
          n = (n << 8) | (der[at + 2 + i] & 0xff);
        }
        length = n;
        contentStart = at + 2 + bytes;
      }
      if (length < 0 || contentStart + length > der.length) {
        throw new IllegalArgumentException("truncated DER");
      }
    }

    int end() {
      return contentStart + length;
    }
  }
}
