package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.hub.testing.H2Client;
import dev.herald.hub.testing.TestCertificates;
import io.netty.handler.codec.http2.Http2Error;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP/2 specifics, over real sockets with a Netty HTTP/2 client: many streams share one
 * connection, each with its own flow control (a stalled stream is cut as a slow consumer, its
 * neighbours go on), SETTINGS_MAX_CONCURRENT_STREAMS, GOAWAY on shutdown, HEAD without content.
 */
class Http2StreamsTest {
  @TempDir static Path dir;
  static TestCertificates.Pair cert;

  @BeforeAll
  static void certificate() throws Exception {
    cert = TestCertificates.selfSigned(dir, "streams", "EC");
  }

  private static String body(int bytes) {
    return "\"" + "x".repeat(bytes) + "\"";
  }

  @Test
  void stalledStreamIsCutAsSlowConsumerWhileItsNeighbourOnTheSameConnectionGoesOn()
      throws Exception {
    try (HubFixture f =
            new HubFixture(Hub.builder().maxBufferBytes(256 * 1024).heartbeat(Duration.ZERO));
        H2Client client = H2Client.cleartext(f.hub.address().getPort())) {
      H2Client.Exchange fast = client.get("/events?topic=flood");
      H2Client.Exchange slow = client.get("/events?topic=flood").stallAfterHead();
      assertThat(fast.status()).isEqualTo(200);
      assertThat(slow.status()).isEqualTo(200);
      // 64 KiB fill the stalled stream's window, 256 KiB its buffer at the hub: 600 KiB cut it.
      // Paced by the fast reader, so only the stalled stream ever has unsent bytes piling up.
      for (int i = 0; i < 60; i++) {
        String id = f.publish("{\"topic\": \"flood\", \"data\": " + body(10_000) + "}");
        Event event = fast.next(Duration.ofSeconds(10));
        assertThat(event).as("the fast stream gets every event").isNotNull();
        assertThat(event.id()).contains(id);
      }
      slow.resume();
      assertThat(slow.awaitEnd(Duration.ofSeconds(10))).as("the stalled stream was cut").isFalse();
      assertThat(slow.wasReset()).isTrue();
      // Its neighbour is still live on the same connection.
      String after = f.publish("{\"topic\": \"flood\", \"data\": \"after\"}");
      assertThat(fast.next(Duration.ofSeconds(10)).id()).contains(after);
      assertThat(client.isOpen()).isTrue();
      assertThat(f.get("/metrics").body())
          .containsPattern("herald_slow_consumer_closes_total(\\{[^}]*\\})? 1\\.0");
    }
  }

  @Test
  void advertisesMaxConcurrentStreamsAndRefusesTheStreamOverIt() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxStreamsPerConnection(3));
        H2Client client = H2Client.cleartext(f.hub.address().getPort())) {
      assertThat(client.serverSettings().maxConcurrentStreams()).isEqualTo(3L);
      List<H2Client.Exchange> open = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        open.add(client.get("/events?topic=t" + i));
        assertThat(open.get(i).status()).isEqualTo(200);
      }
      // Netty's client enforces the limit too; a fourth stream never gets a response head.
      assertThat(
              org.junit.jupiter.api.Assertions.assertThrows(
                  Exception.class, () -> client.get("/events?topic=t3").status()))
          .isNotNull();
      open.get(0).cancel();
      assertThat(open.get(0).awaitEnd(Duration.ofSeconds(5))).isFalse();
      // Once one ends, another may open.
      assertThat(awaitStatus(client, "/events?topic=t4")).isEqualTo(200);
    }
  }

  private static int awaitStatus(H2Client client, String path) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (true) {
      try {
        return client.get(path).status();
      } catch (Exception e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(20); // the hub closes the cancelled stream asynchronously; bounded
      }
    }
  }

  @Test
  void shutdownSendsGoAwayAndEndsEveryStreamCleanly() throws Exception {
    HubFixture f = new HubFixture(Hub.builder());
    try (H2Client client = H2Client.cleartext(f.hub.address().getPort())) {
      H2Client.Exchange a = client.get("/events?topic=a");
      H2Client.Exchange b = client.get("/events?topic=b");
      assertThat(a.status()).isEqualTo(200);
      assertThat(b.status()).isEqualTo(200);
      f.close();
      assertThat(client.goAway().get(10, java.util.concurrent.TimeUnit.SECONDS))
          .isEqualTo(Http2Error.NO_ERROR.code());
      assertThat(a.awaitEnd(Duration.ofSeconds(10))).as("a clean END_STREAM").isTrue();
      assertThat(b.awaitEnd(Duration.ofSeconds(10))).as("a clean END_STREAM").isTrue();
      client.closed().get(10, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  @Test
  void headIsAnsweredWithHeadersOnly() throws Exception {
    try (HubFixture f = HubFixture.memory();
        H2Client client = H2Client.cleartext(f.hub.address().getPort())) {
      // A refusal's head, without its JSON body.
      H2Client.Exchange refused = client.send("HEAD", "/events", null);
      assertThat(refused.status()).isEqualTo(400);
      assertThat(refused.head().headers().get("content-type"))
          .isEqualTo("application/json; charset=utf-8");
      assertThat(refused.awaitEnd(Duration.ofSeconds(5))).isTrue();
      assertThat(refused.body()).isEmpty();
      // A stream's head, ended at once.
      H2Client.Exchange head = client.send("HEAD", "/events?topic=h", null);
      assertThat(head.status()).isEqualTo(200);
      assertThat(head.head().headers().get("content-type"))
          .isEqualTo("text/event-stream; charset=utf-8");
      assertThat(head.awaitEnd(Duration.ofSeconds(5))).isTrue();
      assertThat(head.body()).isEmpty();
      H2Client.Exchange delete = client.send("DELETE", "/events", null);
      assertThat(delete.status()).isEqualTo(405);
      assertThat(delete.head().headers().get("allow")).isEqualTo("GET, HEAD, POST");
    }
  }

  @Test
  void manyStreamsOverTlsShareOneConnection() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().tls(cert.cert(), cert.key()));
        H2Client client = H2Client.tls(f.hub.address().getPort(), cert.root())) {
      List<H2Client.Exchange> streams = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        streams.add(client.get("/events?topic=many"));
      }
      for (H2Client.Exchange s : streams) {
        assertThat(s.status()).isEqualTo(200);
      }
      H2Client.Exchange publish =
          client.postJson("/events", "{\"topic\": \"many\", \"data\": \"hello\"}");
      assertThat(publish.status()).isEqualTo(201);
      assertThat(publish.body()).contains("\"reached\":20");
      for (H2Client.Exchange s : streams) {
        assertThat(s.next(Duration.ofSeconds(10)).data()).isEqualTo("hello");
      }
      H2Client.Exchange metrics = client.get("/metrics");
      assertThat(metrics.body())
          .containsPattern("herald_connections(\\{[^}]*\\})? 1\\.0")
          .containsPattern("herald_h2_connections(\\{[^}]*\\})? 1\\.0")
          .containsPattern("herald_h2_streams(\\{[^}]*\\})? 21\\.0");
    }
  }

  @Test
  void recognisesAPrefaceSentInPiecesAndAnHttp11RequestThatBeginsLikeOne() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      byte[] preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
      try (Socket socket = new Socket("127.0.0.1", f.hub.address().getPort())) {
        socket.setSoTimeout(5000);
        OutputStream out = socket.getOutputStream();
        out.write(preface, 0, 5);
        out.flush();
        // The first read held only "PRI *": the hub waits for the rest before choosing.
        assertThat(socket.getInputStream().available()).isZero();
        out.write(preface, 5, preface.length - 5);
        out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // an empty SETTINGS frame
        out.flush();
        byte[] frameHeader = socket.getInputStream().readNBytes(9);
        assertThat(frameHeader[3]).as("the hub's SETTINGS frame").isEqualTo((byte) 4);
      }
      try (RawConnection http1 = RawConnection.open(f.hub)) {
        http1.send("P");
        http1.send(
            "OST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: 25\r\nConnection: close\r\n\r\n{\"topic\": \"a\", \"data\": 1}");
        assertThat(http1.responsesUntilEnd())
            .extracting(RawConnection.Response::status)
            .containsExactly(201);
      }
    }
  }

  @Test
  void refusesTheStreamsOfAConnectionOverTheLimitButAnswersProbesThenSendsGoAway()
      throws Exception {
    try (HubFixture f =
            new HubFixture(Hub.builder().tls(cert.cert(), cert.key()).maxConnections(1));
        H2Client first = H2Client.tls(f.hub.address().getPort(), cert.root())) {
      assertThat(first.get("/healthz").status()).isEqualTo(200);
      try (H2Client over = H2Client.tls(f.hub.address().getPort(), cert.root())) {
        H2Client.Exchange refused = over.get("/events?topic=a");
        assertThat(refused.status()).isEqualTo(503);
        assertThat(refused.head().headers().get("retry-after")).isNotNull();
        assertThat(HubFixture.json(refused.body()).get("error").asText())
            .isEqualTo("too_many_connections");
        assertThat(over.goAway().get(5, TimeUnit.SECONDS)).isNotNull();
        over.closed().get(5, TimeUnit.SECONDS);
      }
      try (H2Client probe = H2Client.tls(f.hub.address().getPort(), cert.root())) {
        assertThat(probe.get("/readyz").status()).as("a probe is answered").isEqualTo(200);
        probe.closed().get(5, TimeUnit.SECONDS);
      }
      // HTTP/1.1 on the TLS port: the same 503, once the handshake is done.
      HttpClient http1 =
          HttpClient.newBuilder()
              .version(HttpClient.Version.HTTP_1_1)
              .sslContext(cert.trusting())
              .build();
      HttpResponse<String> answer =
          http1.send(
              HttpRequest.newBuilder(
                      URI.create(
                          "https://localhost:" + f.hub.address().getPort() + "/events?topic=a"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(answer.statusCode()).isEqualTo(503);
      assertThat(answer.body()).contains("too_many_connections");
      assertThat(first.get("/healthz").status())
          .as("the first connection is served")
          .isEqualTo(200);
    }
  }

  @Test
  void closesAnHttp2ConnectionThatHasHadNoStreamForTheIdleTimeout() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().idleTimeout(Duration.ofMillis(300)));
        H2Client client = H2Client.cleartext(f.hub.address().getPort())) {
      H2Client.Exchange stream = client.get("/events?topic=kept");
      assertThat(stream.status()).isEqualTo(200);
      // An open stream keeps the connection past the idle timeout.
      assertThat(client.goAway()).isNotDone();
      assertThat(stream.next(Duration.ofMillis(900))).isNull();
      assertThat(client.isOpen()).isTrue();
      stream.cancel();
      assertThat(client.goAway().get(5, TimeUnit.SECONDS)).isEqualTo(Http2Error.NO_ERROR.code());
      client.closed().get(5, TimeUnit.SECONDS);
    }
  }
}
