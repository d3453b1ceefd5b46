package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A raw TCP connection to a hub, for what an HTTP client library would not send or would hide:
 * pipelined and malformed requests, partial heads and bodies, silence. Bytes go out as given (ISO
 * 8859-1) and come in as they arrive; every wait is bounded.
 */
final class RawConnection implements AutoCloseable {
  private final Socket socket = new Socket();
  private final InputStream in;
  private final ByteArrayOutputStream received = new ByteArrayOutputStream();
  private boolean ended;

  /** How much of {@link #received} {@link #nextResponse} has parsed. */
  private int taken;

  private RawConnection(Hub hub) throws IOException {
    socket.connect(new InetSocketAddress("127.0.0.1", hub.address().getPort()), 5000);
    // Short reads, so that each wait checks its own deadline.
    socket.setSoTimeout(50);
    in = socket.getInputStream();
  }

  /** Connects to {@code hub}. */
  static RawConnection open(Hub hub) throws IOException {
    return new RawConnection(hub);
  }

  /** Sends {@code text} and flushes. */
  RawConnection send(String text) throws IOException {
    socket.getOutputStream().write(text.getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().flush();
    return this;
  }

  /** Everything received so far. */
  String received() {
    return received.toString(StandardCharsets.ISO_8859_1);
  }

  /**
   * Reads until the hub ends the connection (end of stream or reset); true if it did within {@code
   * timeout}. Reads at least once, so a zero timeout polls.
   */
  boolean awaitEnd(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    do {
      readOnce();
    } while (!ended && System.nanoTime() < deadline);
    return ended;
  }

  /** Reads until what arrived contains {@code expected}; fails the test after {@code timeout}. */
  String await(String expected, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!received().contains(expected)) {
      assertThat(ended).as("end of connection before %s; got %s", expected, received()).isFalse();
      assertThat(System.nanoTime())
          .as("%s within %s; got %s", expected, timeout, received())
          .isLessThan(deadline);
      readOnce();
    }
    return received();
  }

  /** Reads to the end of the connection (within 10 s) and parses the responses it carried. */
  List<Response> responsesUntilEnd() throws IOException {
    assertThat(awaitEnd(Duration.ofSeconds(10)))
        .as("the hub closes the connection; got %s", received())
        .isTrue();
    return Response.parseAll(received());
  }

  /**
   * Waits (bounded, 10 s) until {@code hub} counts {@code others} open connections besides the one
   * asking: {@code /metrics} on a connection of its own, answered even when the hub is full.
   */
  static void awaitOpenConnections(Hub hub, int others) throws IOException {
    String line = "herald_connections " + (others + 1) + ".0";
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      try (RawConnection probe = open(hub)) {
        probe.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        if (probe.responsesUntilEnd().get(0).body().contains(line)) {
          return;
        }
      }
      assertThat(System.nanoTime()).as("%s within 10 s", line).isLessThan(deadline);
    }
  }

  private void readOnce() throws IOException {
    byte[] buffer = new byte[8192];
    try {
      int n = in.read(buffer);
      if (n < 0) {
        ended = true;
      } else {
        received.write(buffer, 0, n);
      }
    } catch (SocketTimeoutException e) {
      // Nothing yet: the caller checks its deadline.
    } catch (SocketException reset) {
      ended = true;
    }
  }

  /**
   * Waits (bounded, 10 s) until {@code hub} counts {@code others} open connections besides the one
   * asking, like {@link #awaitOpenConnections}, but asks on one keep-alive connection and returns
   * it open: the caller sends its next request on it. A probe closed before the next connection
   * opens may still be counted for a moment (a publisher once came as the 51st of 50 that way).
   */
  static RawConnection openWhenOthersAre(Hub hub, int others) throws IOException {
    String line = "herald_connections " + (others + 1) + ".0";
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    RawConnection probe = open(hub);
    try {
      while (true) {
        probe.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        if (probe.nextResponse(Duration.ofSeconds(10)).body().contains(line)) {
          return probe;
        }
        assertThat(System.nanoTime()).as("%s within 10 s", line).isLessThan(deadline);
      }
    } catch (IOException | RuntimeException | Error e) {
      probe.close();
      throw e;
    }
  }

  /**
   * Reads the next complete response (with a Content-Length) after those already taken by this
   * method; fails the test after {@code timeout}.
   */
  Response nextResponse(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      String text = received().substring(taken);
      int headEnd = text.indexOf("\r\n\r\n");
      if (headEnd > 0) {
        int length = 0;
        for (String header : text.substring(0, headEnd).split("\r\n")) {
          if (header.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
            length = Integer.parseInt(header.substring("content-length:".length()).trim());
          }
        }
        if (text.length() >= headEnd + 4 + length) {
          taken += headEnd + 4 + length;
          return Response.parseAll(text.substring(0, headEnd + 4 + length)).get(0);
        }
      }
      assertThat(ended).as("end of connection before a whole response; got %s", text).isFalse();
      assertThat(System.nanoTime())
          .as("a whole response within %s; got %s", timeout, text)
          .isLessThan(deadline);
      readOnce();
    }
  }

  /** Makes {@link #close} reset the connection (RST) instead of ending it. */
  void reset() throws IOException {
    socket.setSoLinger(true, 0);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }

  /**
   * One complete response: its status, headers (names in lower case) and body, which is as long as
   * its {@code Content-Length} says.
   */
  record Response(int status, Map<String, String> headers, String body) {
    /** The responses in {@code text}, one after another; each must have a Content-Length. */
    static List<Response> parseAll(String text) {
      List<Response> responses = new ArrayList<>();
      int at = 0;
      while (at < text.length()) {
        int headEnd = text.indexOf("\r\n\r\n", at);
        assertThat(headEnd).as("a complete response head in %s", text.substring(at)).isPositive();
        String[] lines = text.substring(at, headEnd).split("\r\n");
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
          int colon = lines[i].indexOf(':');
          headers.putIfAbsent(
              lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
              lines[i].substring(colon + 1).trim());
        }
        int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
        int bodyStart = headEnd + 4;
        responses.add(
            new Response(
                Integer.parseInt(lines[0].substring(9, 12)),
                headers,
                text.substring(bodyStart, bodyStart + length)));
        at = bodyStart + length;
      }
      return responses;
    }

    /** The body's {@code error} code. */
    String error() throws Exception {
      return HubFixture.json(body).get("error").asText();
    }
  }
}
