package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.hub.internal.tls.ServerTls;
import dev.herald.hub.testing.TestCertificates;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hub on BoringSSL ({@code -Dherald.tls.engine=openssl} with netty-tcnative on the class path,
 * as the benchmark runs it): the same API over h2 and HTTP/1.1 as on the JDK's engine; and a name
 * it does not know refused at start, saying which ones it knows.
 */
class HubTlsEngineTest {
  @TempDir Path dir;

  @AfterEach
  void clear() {
    System.clearProperty(ServerTls.ENGINE_PROPERTY);
  }

  @Test
  void servesStreamsOverH2AndHttp11OnBoringSsl() throws Exception {
    TestCertificates.Pair cert = TestCertificates.selfSigned(dir, "boring", "RSA");
    System.setProperty(ServerTls.ENGINE_PROPERTY, "openssl");
    try (HubFixture f = new HubFixture(Hub.builder().tls(cert.cert(), cert.key()))) {
      String base = "https://localhost:" + f.hub.address().getPort();
      HttpClient h2 = cert.http2Client();
      try (SseStream stream = SseStream.open(h2, URI.create(base + "/events?topic=b"))) {
        assertThat(stream.response().version()).isEqualTo(HttpClient.Version.HTTP_2);
        Transports.Client publisher =
            new Transports.JdkClient(h2, base, "HTTP_2", Transports.Transport.H2_TLS, f);
        String id = publisher.publish("{\"topic\":\"b\",\"data\":\"over boringssl\"}");
        assertThat(stream.next().id()).contains(id);
      }
      HttpClient h1 =
          HttpClient.newBuilder()
              .version(HttpClient.Version.HTTP_1_1)
              .sslContext(cert.http2Client().sslContext())
              .build();
      Transports.Client plain =
          new Transports.JdkClient(h1, base, "HTTP_1_1", Transports.Transport.H2_TLS, f);
      assertThat(plain.send("GET", "/healthz", null).status()).isEqualTo(200);
    }
  }

  @Test
  void refusesAnEngineItDoesNotKnowAtStart() throws Exception {
    TestCertificates.Pair cert = TestCertificates.selfSigned(dir, "unknown", "EC");
    System.setProperty(ServerTls.ENGINE_PROPERTY, "gnutls");
    assertThatThrownBy(() -> Hub.builder().tls(cert.cert(), cert.key()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must be jdk or openssl, not \"gnutls\"");
  }
}
