package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * An event stream on the wire, byte for byte, once its connection's pipeline is stripped to the
 * stream alone: chunks and heartbeats, what the client sends afterwards, the clean end at shutdown,
 * and many short-lived streams leaking neither connections, subscriptions nor buffers.
 */
class HubStreamTest {
  private static final String GET = "GET /events?topic=%s HTTP/1.1\r\nHost: x\r\n\r\n";

  /** A raw HTTP/1.1 connection reading bytes as they come. */
  private static final class RawStream implements AutoCloseable {
    final Socket socket = new Socket();
    final ByteArrayOutputStream received = new ByteArrayOutputStream();
    final InputStream in;

    RawStream(HubFixture f, String topic) throws IOException {
      socket.connect(new InetSocketAddress("127.0.0.1", f.hub.address().getPort()), 5000);
      socket.setSoTimeout(200);
      in = socket.getInputStream();
      send(String.format(GET, topic));
    }

    void send(String text) throws IOException {
      send(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    void send(byte[] bytes) throws IOException {
      socket.getOutputStream().write(bytes);
      socket.getOutputStream().flush();
    }

    String text() {
      return received.toString(StandardCharsets.ISO_8859_1);
    }

    /** Reads until what arrived so far contains {@code expected} {@code times} times. */
    String await(String expected, int times, Duration timeout) throws IOException {
      long deadline = System.nanoTime() + timeout.toNanos();
      byte[] buffer = new byte[8192];
      while (count(text(), expected) < times) {
        assertThat(System.nanoTime())
            .as("%dx %s within %s; got %s", times, expected, timeout, text())
            .isLessThan(deadline);
        try {
          int n = in.read(buffer);
          assertThat(n).as("end of stream before %s; got %s", expected, text()).isPositive();
          received.write(buffer, 0, n);
        } catch (SocketTimeoutException e) {
          // Nothing yet: check the deadline and read again.
        }
      }
      return text();
    }

    String await(String expected) throws IOException {
      return await(expected, 1, Duration.ofSeconds(10));
    }

    /** Reads to the end of the stream; returns everything received. */
    String readToEnd(Duration timeout) throws IOException {
      long deadline = System.nanoTime() + timeout.toNanos();
      byte[] buffer = new byte[8192];
      while (true) {
        assertThat(System.nanoTime()).as("end of stream within %s", timeout).isLessThan(deadline);
        try {
          int n = in.read(buffer);
          if (n < 0) {
            return text();
          }
          received.write(buffer, 0, n);
        } catch (SocketTimeoutException e) {
          // Not ended yet.
        }
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  private static double connections(String metrics) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("(?m)^herald_connections ([0-9.]+)$").matcher(metrics);
    assertThat(m.find()).as("herald_connections in %s", metrics).isTrue();
    return Double.parseDouble(m.group(1));
  }

  private static int count(String text, String part) {
    int n = 0;
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + part.length())) {
      n++;
    }
    return n;
  }

  @Test
  void aStreamIsChunkedByHandAndKeepsItsHeartbeats() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().heartbeat(Duration.ofMillis(100)));
        RawStream stream = new RawStream(f, "quiet")) {
      String head = stream.await("\r\n\r\n");
      assertThat(head)
          .startsWith("HTTP/1.1 200 OK\r\n")
          .containsIgnoringCase("transfer-encoding: chunked\r\n")
          .containsIgnoringCase("content-type: text/event-stream; charset=utf-8\r\n");
      // The opening comment, then heartbeats, each its own chunk.
      String text = stream.await("2\r\n:\n\r\n", 2, Duration.ofSeconds(10));
      assertThat(text).contains("\r\n\r\n4\r\n:ok\n\r\n");
      HubEndToEndTest.waitForSubscriptions(f, 1);
      f.publish("{\"topic\": \"quiet\", \"data\": \"hello\"}");
      assertThat(stream.await("data: hello\n\n\r\n")).containsPattern("\r\n[0-9a-f]+\r\nid: ");
    }
  }

  @Test
  void whatTheClientSendsAfterItsGetIsIgnored() throws Exception {
    try (HubFixture f = HubFixture.memory();
        RawStream stream = new RawStream(f, "t")) {
      stream.await(":ok\n");
      // A pipelined publish, another subscribe, then binary noise: none of it is a request now.
      stream.send(
          "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + "Content-Length: 35\r\n\r\n{\"topic\": \"t\", \"data\": \"sneaked\"}\r\n");
      stream.send(String.format(GET, "other"));
      byte[] noise = new byte[256 * 1024];
      new Random(42).nextBytes(noise);
      stream.send(noise);
      f.publish("{\"topic\": \"t\", \"data\": \"real\"}");
      String text = stream.await("data: real\n\n\r\n");
      assertThat(text).doesNotContain("sneaked");
      assertThat(count(text, "HTTP/1.1")).as("one response head").isEqualTo(1);
      assertThat(f.get("/metrics").body())
          .contains("herald_events_published_total 1.0")
          .contains("herald_subscriptions_active 1.0");
    }
  }

  @Test
  void shutdownEndsAStrippedStreamWithTheTerminatingChunk() throws Exception {
    HubFixture f = HubFixture.memory();
    try (RawStream stream = new RawStream(f, "t")) {
      stream.await(":ok\n");
      f.publish("{\"topic\": \"t\", \"data\": \"before\"}");
      stream.await("data: before\n\n\r\n");
      f.close();
      // Asked back (a retry: of about a second, jittered), then the terminating chunk.
      assertThat(stream.readToEnd(Duration.ofSeconds(15)))
          .matches(
              "(?s).*data: before\n\n\r\n[0-9a-f]+\r\n: shed draining\nretry: \\d+\n\n\r\n0\r\n\r\n");
    } finally {
      f.close();
    }
  }

  @Test
  void twoThousandShortStreamsLeaveNoConnectionSubscriptionOrBuffer() throws Exception {
    ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();
    ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    try (LogCapture logs = new LogCapture();
        HubFixture f =
            new HubFixture(
                Hub.builder().heartbeat(Duration.ofMillis(50)).maxNewConnectionsPerSecond(0))) {

      f.publish("{\"topic\": \"t\", \"data\": \"history\"}");
      for (int i = 0; i < 2000; i++) {
        try (RawStream stream = new RawStream(f, "t")) {
          if (i % 2 == 0) {
            stream.await(":ok\n");
          }
          if (i % 3 == 0) {
            // A reset instead of a close, and half the time before the head came back.
            stream.socket.setSoLinger(true, 0);
          }
          if (i % 5 == 0) {
            stream.send("garbage\r\n\r\n");
          }
        }
        if (i % 200 == 0) {
          f.publish("{\"topic\": \"t\", \"data\": \"live " + i + "\"}");
        }
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      String metrics = f.get("/metrics").body();
      // The metrics request's own connection (and perhaps the publisher's) remain.
      while (!(metrics.contains("herald_subscriptions_active 0.0") && connections(metrics) <= 2)) {
        assertThat(System.nanoTime()).as("streams gone; %s", metrics).isLessThan(deadline);
        Thread.sleep(50);
        metrics = f.get("/metrics").body();
      }
      // Leaks are reported when a tracked buffer has been collected and another is allocated.
      for (int i = 0; i < 5; i++) {
        System.gc();
        List<ByteBuf> probes = new ArrayList<>();
        for (int j = 0; j < 100; j++) {
          probes.add(PooledByteBufAllocator.DEFAULT.directBuffer(16));
        }
        probes.forEach(ByteBuf::release);
      }
      f.publish("{\"topic\": \"t\", \"data\": \"after\"}");
      assertThat(logs.lines()).noneMatch(line -> line.contains("LEAK"));
    } finally {
      ResourceLeakDetector.setLevel(level);
    }
  }
}
