package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.hub.testing.H2Client;
import dev.herald.hub.testing.TestCertificates;
import io.netty.handler.codec.http2.Http2Error;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
      // 64 KiB fill the stalled stream's window, 256 KiB its buffer at the hub: 400 KiB cut it.
      int events = 40;
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < events; i++) {
        ids.add(f.publish("{\"topic\": \"flood\", \"data\": " + body(10_000) + "}"));
      }
      for (String id : ids) {
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
      assertThat(client.goAway().get(10, java.util.concurrent.TimeUnit.SECONDS).errorCode())
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
      H2Client.Exchange head = client.send("HEAD", "/events", null);
      assertThat(head.status()).isEqualTo(405);
      assertThat(head.head().headers().get("allow")).isEqualTo("GET, POST");
      assertThat(head.awaitEnd(Duration.ofSeconds(5))).isTrue();
      assertThat(head.body()).isEmpty();
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
}
