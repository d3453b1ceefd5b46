package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.herald.hub.testing.TestCertificates;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The TLS port, over real sockets: the PEM forms certificate tools write, a chain, reloading a
 * renewed certificate without dropping streams, and what is not TLS (plain HTTP, garbage), each
 * closed cleanly and logged once.
 */
class HubTlsTest {
  @TempDir static Path dir;
  static TestCertificates.Pair ec;
  static TestCertificates.Pair rsa;

  @BeforeAll
  static void certificates() throws Exception {
    ec = TestCertificates.selfSigned(dir, "ec", "EC");
    rsa = TestCertificates.selfSigned(dir, "rsa", "RSA");
  }

  private static HubFixture tlsHub(Path cert, Path key) {
    return new HubFixture(Hub.builder().tls(cert, key));
  }

  /** The certificate chain the hub presents to a new connection (no ALPN: HTTP/1.1). */
  private static Certificate[] presented(Hub hub, SSLContext trust) throws IOException {
    try (SSLSocket socket =
        (SSLSocket) trust.getSocketFactory().createSocket("127.0.0.1", hub.address().getPort())) {
      socket.setSoTimeout(5000);
      socket.startHandshake();
      return socket.getSession().getPeerCertificates();
    }
  }

  /** Reads until the hub ends the connection, within 5 s; what it sent. */
  private static String readToEnd(Socket socket) throws IOException {
    socket.setSoTimeout(5000);
    ByteArrayOutputStream received = new ByteArrayOutputStream();
    InputStream in = socket.getInputStream();
    byte[] buffer = new byte[4096];
    try {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        received.write(buffer, 0, n);
      }
    } catch (SocketTimeoutException e) {
      throw new AssertionError("the hub did not close the connection within 5 s: " + received);
    } catch (java.net.SocketException reset) {
      // A reset ends it too; what came before it is kept.
    }
    return received.toString(StandardCharsets.ISO_8859_1);
  }

  @Test
  void answersPlainHttpOnTheTlsPortWith400ClosesAndLogsOnce() throws Exception {
    try (LogCapture log = new LogCapture()) {
      HubFixture f = tlsHub(ec.cert(), ec.key());
      for (int i = 0; i < 5; i++) {
        try (Socket socket = new Socket("127.0.0.1", f.hub.address().getPort())) {
          socket
              .getOutputStream()
              .write(
                  "GET /events?topic=a HTTP/1.1\r\nHost: x\r\n\r\n"
                      .getBytes(StandardCharsets.US_ASCII));
          String answer = readToEnd(socket);
          assertThat(answer)
              .startsWith("HTTP/1.1 400 Bad Request\r\n")
              .contains("Connection: close");
          String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
          assertThat(HubFixture.json(body).get("error").asText()).isEqualTo("tls_required");
          assertThat(HubFixture.json(body).get("message").asText()).contains("https://");
        }
      }
      // The hub still serves TLS.
      assertThat(presented(f.hub, ec.trusting())[0]).isEqualTo(ec.leaf());
      f.close();
      List<String> lines = log.lines();
      assertThat(lines.stream().filter(l -> l.contains("400 tls_required this port")))
          .as("the first in full")
          .hasSize(1);
      assertThat(lines.stream().filter(l -> l.contains("refused 4 more: 400 tls_required")))
          .as("the others counted")
          .hasSize(1);
    }
  }

  @Test
  void closesAConnectionThatSendsGarbageAndLogsIt() throws Exception {
    long seed = System.nanoTime();
    Random random = new Random(seed);
    try (LogCapture log = new LogCapture();
        HubFixture f = tlsHub(ec.cert(), ec.key())) {
      for (int i = 0; i < 3; i++) {
        byte[] garbage = new byte[64];
        random.nextBytes(garbage);
        garbage[0] = (byte) (0x80 | garbage[0]); // neither a TLS record type nor a letter
        try (Socket socket = new Socket("127.0.0.1", f.hub.address().getPort())) {
          socket.getOutputStream().write(garbage);
          assertThat(readToEnd(socket)).as("seed " + seed).isEmpty();
        }
      }
      // A TLS record that is not a valid handshake fails the handshake: closed, logged.
      try (Socket socket = new Socket("127.0.0.1", f.hub.address().getPort())) {
        byte[] record = {0x16, 0x03, 0x01, 0x00, 0x10};
        byte[] bad = new byte[record.length + 16];
        System.arraycopy(record, 0, bad, 0, record.length);
        socket.getOutputStream().write(bad);
        readToEnd(socket);
      }
      assertThat(presented(f.hub, ec.trusting())[0]).isEqualTo(ec.leaf());
      f.close();
      assertThat(log.lines().stream().filter(l -> l.contains("tls_handshake_failed")))
          .as("seed " + seed)
          .isNotEmpty()
          .allMatch(l -> !l.contains("Exception\n"));
    }
  }

  @Test
  void closesAConnectionThatStallsBeforeOrInItsHandshakeWithinTheHeadTimeout() throws Exception {
    try (LogCapture log = new LogCapture();
        HubFixture f =
            new HubFixture(
                Hub.builder()
                    .tls(ec.cert(), ec.key())
                    .requestHeadTimeout(Duration.ofMillis(500)))) {
      // Sends nothing at all.
      try (Socket silent = new Socket("127.0.0.1", f.hub.address().getPort())) {
        long start = System.nanoTime();
        assertThat(readToEnd(silent)).isEmpty();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(4));
      }
      // Starts a handshake record announcing 512 bytes, sends 10 of them, and stalls.
      try (Socket partial = new Socket("127.0.0.1", f.hub.address().getPort())) {
        byte[] start = new byte[5 + 10];
        start[0] = 0x16; // handshake
        start[1] = 0x03;
        start[2] = 0x01;
        start[3] = 0x02; // length 0x0200
        start[4] = 0x00;
        start[5] = 0x01; // ClientHello
        partial.getOutputStream().write(start);
        long begun = System.nanoTime();
        assertThat(readToEnd(partial)).isEmpty();
        assertThat(Duration.ofNanos(System.nanoTime() - begun)).isLessThan(Duration.ofSeconds(4));
      }
      // Neither held the hub up.
      assertThat(presented(f.hub, ec.trusting())[0]).isEqualTo(ec.leaf());
      f.close();
      assertThat(log.lines().stream().filter(l -> l.contains("tls_handshake_failed")))
          .as("both refusals logged")
          .isNotEmpty();
    }
  }

  @Test
  void reloadsARenewedCertificateForNewConnectionsWithoutDroppingOpenStreams() throws Exception {
    Path cert = dir.resolve("served-cert.pem");
    Path key = dir.resolve("served-key.pem");
    Files.copy(ec.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
    Files.copy(ec.key(), key, StandardCopyOption.REPLACE_EXISTING);
    SSLContext both = TestCertificates.trusting(ec.root(), rsa.root());
    HttpClient client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_2)
            .sslContext(both)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    try (HubFixture f = tlsHub(cert, key)) {
      URI events = URI.create("https://localhost:" + f.hub.address().getPort() + "/events");
      try (SseStream open = SseStream.open(client, URI.create(events + "?topic=renew"))) {
        assertThat(open.response().sslSession().orElseThrow().getPeerCertificates()[0])
            .isEqualTo(ec.leaf());
        // Renewed in place, as certbot or a secret mount does: the key first, then the cert.
        Files.copy(rsa.key(), key, StandardCopyOption.REPLACE_EXISTING);
        Files.copy(rsa.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!presented(f.hub, both)[0].equals(rsa.leaf())) {
          assertThat(System.nanoTime()).as("the new certificate within 10 s").isLessThan(deadline);
          Thread.sleep(50); // the hub checks the files at most once a second; bounded
        }
        // The stream opened with the old certificate is still live.
        Transports.JdkClient publisher =
            new Transports.JdkClient(
                client,
                "https://localhost:" + f.hub.address().getPort(),
                "HTTP_2",
                Transports.Transport.H2_TLS,
                f);
        String id = publisher.publish("{\"topic\": \"renew\", \"data\": \"still here\"}");
        assertThat(open.next().id()).contains(id);
      }
    }
  }

  @Test
  void keepsTheCurrentCertificateWhenARenewedPairDoesNotLoad() throws Exception {
    Path cert = dir.resolve("kept-cert.pem");
    Path key = dir.resolve("kept-key.pem");
    Files.copy(ec.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
    Files.copy(ec.key(), key, StandardCopyOption.REPLACE_EXISTING);
    try (LogCapture log = new LogCapture();
        HubFixture f = tlsHub(cert, key)) {
      // Only the key was renewed: it does not belong to the certificate.
      Files.copy(rsa.key(), key, StandardCopyOption.REPLACE_EXISTING);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (log.lines().stream().noneMatch(l -> l.contains("TLS certificate not reloaded"))) {
        assertThat(System.nanoTime())
            .as("the failed reload logged within 10 s")
            .isLessThan(deadline);
        assertThat(presented(f.hub, ec.trusting())[0]).isEqualTo(ec.leaf());
        Thread.sleep(50); // the hub checks the files at most once a second; bounded
      }
      assertThat(presented(f.hub, ec.trusting())[0]).isEqualTo(ec.leaf());
      assertThat(log.lines().stream().filter(l -> l.contains("TLS certificate not reloaded")))
          .hasSize(1)
          .allMatch(l -> l.contains("does not belong to the first certificate"));
    }
  }

  @Test
  void servesTheWholeChainInTheCertFile() throws Exception {
    TestCertificates.Pair chained = TestCertificates.signedByCa(dir, "chained");
    try (HubFixture f = tlsHub(chained.cert(), chained.key())) {
      Certificate[] presented = presented(f.hub, chained.trusting());
      assertThat(presented).hasSize(2);
      assertThat(presented[0]).isEqualTo(chained.leaf());
      assertThat(presented[1]).isEqualTo(chained.root());
    }
  }

  /** Keys as {@code openssl} writes them: PKCS#1 for RSA, SEC1 (with its curve) for EC. */
  @ParameterizedTest
  @ValueSource(strings = {"RSA", "EC"})
  void readsTraditionalKeysAsOpensslWritesThem(String algorithm) throws Exception {
    TestCertificates.Pair pair = algorithm.equals("RSA") ? rsa : ec;
    Path traditional = dir.resolve(algorithm + "-traditional.pem");
    openssl("pkey", "-in", pair.key().toString(), "-traditional", "-out", traditional.toString());
    assertThat(Files.readString(traditional))
        .startsWith("-----BEGIN " + algorithm + " PRIVATE KEY-----");
    try (HubFixture f = tlsHub(pair.cert(), traditional)) {
      assertThat(presented(f.hub, pair.trusting())[0]).isEqualTo(pair.leaf());
    }
  }

  @Test
  void refusesAKeyThatIsNotTheCertificatesOrIsEncryptedOrMissing() throws Exception {
    assertThatThrownBy(() -> Hub.builder().tls(ec.cert(), rsa.key()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("does not belong to the first certificate in --tls-cert");
    Path encrypted = dir.resolve("encrypted.pem");
    Files.writeString(
        encrypted, TestCertificates.pem("ENCRYPTED PRIVATE KEY", new byte[] {0x30, 0x00}));
    assertThatThrownBy(() -> Hub.builder().tls(ec.cert(), encrypted))
        .hasMessageContaining("is encrypted");
    assertThatThrownBy(() -> Hub.builder().tls(ec.key(), ec.key()))
        .hasMessageContaining("holds a private key; give the key with --tls-key");
    assertThatThrownBy(() -> Hub.builder().tls(dir.resolve("nope.pem"), ec.key()))
        .hasMessageContaining("--tls-cert")
        .hasMessageContaining("cannot be read");
  }

  private static void openssl(String... args) throws Exception {
    boolean present =
        Files.isExecutable(Path.of("/usr/bin/openssl"))
            || Files.isExecutable(Path.of("/usr/local/bin/openssl"));
    if (!present && "true".equals(System.getenv("CI"))) {
      throw new AssertionError("openssl is missing on CI: apt-get install openssl");
    }
    assumeTrue(present, "openssl is not installed");
    List<String> command = new java.util.ArrayList<>(List.of("openssl"));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as(output).isZero();
  }
}
