package dev.herald.hub.testing;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Certificates for tests, made by the JDK's {@code keytool} (a child process, as an operator would
 * run it) and written as the PEM files {@code --tls-cert} and {@code --tls-key} take: the chain and
 * a PKCS#8 key. No network, no BouncyCastle.
 */
public final class TestCertificates {
  private static final String PASSWORD = "changeit";

  /**
   * A certificate and its key on disk.
   *
   * @param cert the PEM chain, leaf first
   * @param key the PEM private key (PKCS#8)
   * @param leaf the leaf certificate
   * @param root the certificate a client must trust: the leaf itself when self-signed, else the CA
   */
  public record Pair(Path cert, Path key, X509Certificate leaf, X509Certificate root) {
    /** A TLS context that trusts {@link #root} only. */
    public SSLContext trusting() {
      return TestCertificates.trusting(root);
    }

    /** A JDK client that trusts {@link #root} and prefers HTTP/2. */
    public HttpClient http2Client() {
      return HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_2)
          .sslContext(trusting())
          .connectTimeout(Duration.ofSeconds(5))
          .build();
    }
  }

  private TestCertificates() {}

  /**
   * A self-signed certificate for {@code localhost} and 127.0.0.1 with a new key ({@code EC} or
   * {@code RSA}), in {@code dir} under {@code name}.
   */
  public static Pair selfSigned(Path dir, String name, String keyAlgorithm) throws Exception {
    Path store = dir.resolve(name + ".p12");
    genKeyPair(store, name, keyAlgorithm, "CN=localhost", false);
    X509Certificate leaf = (X509Certificate) load(store).getCertificate(name);
    return write(dir, name, privateKey(store, name), List.of(leaf), leaf);
  }

  /** A leaf for {@code localhost} signed by a new CA: the cert file holds the leaf, then the CA. */
  public static Pair signedByCa(Path dir, String name) throws Exception {
    Path caStore = dir.resolve(name + "-ca.p12");
    genKeyPair(caStore, "ca", "EC", "CN=Herald Test CA", true);
    Path leafStore = dir.resolve(name + ".p12");
    genKeyPair(leafStore, name, "EC", "CN=localhost", false);
    Path csr = dir.resolve(name + ".csr");
    keytool(
        "-certreq",
        "-alias",
        name,
        "-keystore",
        leafStore.toString(),
        "-storepass",
        PASSWORD,
        "-file",
        csr.toString());
    Path signed = dir.resolve(name + "-signed.pem");
    keytool(
        "-gencert",
        "-alias",
        "ca",
        "-keystore",
        caStore.toString(),
        "-storepass",
        PASSWORD,
        "-infile",
        csr.toString(),
        "-outfile",
        signed.toString(),
        "-rfc",
        "-validity",
        "2",
        "-ext",
        "SAN=dns:localhost,ip:127.0.0.1");
    X509Certificate leaf;
    try (InputStream in = Files.newInputStream(signed)) {
      leaf = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
    X509Certificate ca = (X509Certificate) load(caStore).getCertificate("ca");
    return write(dir, name, privateKey(leafStore, name), List.of(leaf, ca), ca);
  }

  /** A TLS context that trusts exactly {@code roots}. */
  public static SSLContext trusting(X509Certificate... roots) {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      for (int i = 0; i < roots.length; i++) {
        trust.setCertificateEntry("root" + i, roots[i]);
      }
      TrustManagerFactory factory =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(trust);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, factory.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code der} as a PEM block of {@code type}. */
  public static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }

  private static Pair write(
      Path dir, String name, PrivateKey key, List<X509Certificate> chain, X509Certificate root)
      throws Exception {
    StringBuilder certs = new StringBuilder();
    for (X509Certificate c : chain) {
      certs.append(pem("CERTIFICATE", c.getEncoded()));
    }
    Path cert = dir.resolve(name + "-cert.pem");
    Path keyFile = dir.resolve(name + "-key.pem");
    Files.writeString(cert, certs, StandardCharsets.US_ASCII);
    Files.writeString(keyFile, pem("PRIVATE KEY", key.getEncoded()), StandardCharsets.US_ASCII);
    return new Pair(cert, keyFile, chain.get(0), root);
  }

  private static void genKeyPair(
      Path store, String alias, String keyAlgorithm, String dname, boolean ca) throws Exception {
    List<String> args = new ArrayList<>(List.of("-genkeypair", "-alias", alias, "-keyalg"));
    args.add(keyAlgorithm);
    if (keyAlgorithm.equals("EC")) {
      args.addAll(List.of("-groupname", "secp256r1"));
    } else {
      args.addAll(List.of("-keysize", "2048"));
    }
    args.addAll(
        List.of(
            "-dname",
            dname,
            "-validity",
            "2",
            "-storetype",
            "PKCS12",
            "-keystore",
            store.toString(),
            "-storepass",
            PASSWORD,
            "-keypass",
            PASSWORD));
    args.addAll(ca ? List.of("-ext", "bc:c") : List.of("-ext", "SAN=dns:localhost,ip:127.0.0.1"));
    keytool(args.toArray(new String[0]));
  }

  private static KeyStore load(Path store) throws Exception {
    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      keys.load(in, PASSWORD.toCharArray());
    }
    return keys;
  }

  private static PrivateKey privateKey(Path store, String alias) throws Exception {
    return (PrivateKey) load(store).getKey(alias, PASSWORD.toCharArray());
  }

  private static void keytool(String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output;
    try (InputStream in = process.getInputStream()) {
      output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
      process.destroyForcibly();
      throw new IllegalStateException("keytool " + String.join(" ", args) + " failed: " + output);
    }
  }

  /** The certificates of a PEM chain, for assertions. */
  public static List<Certificate> read(Path pem) throws Exception {
    try (InputStream in = Files.newInputStream(pem)) {
      return new ArrayList<>(CertificateFactory.getInstance("X.509").generateCertificates(in));
    }
  }
}
