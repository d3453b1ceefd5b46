package dev.herald.spring.boot.testing;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 by hand on a socket, for what a client library hides: a reader that stalls, a response
 * head read to its blank line, how a response ends. And plain requests whose body is read whole.
 */
public final class RawHttp {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  private RawHttp() {}

  /** Sends {@code method target} with the given header lines ("Name: value") on a new socket. */
  public static Socket request(int port, String method, String target, String... headers)
      throws Exception {
    return request(port, 0, method, target, headers);
  }

  /**
   * Sends a request on a new socket whose receive buffer is {@code receiveBuffer} bytes (0: the
   * system's default), for a reader that does not read.
   */
  public static Socket request(
      int port, int receiveBuffer, String method, String target, String... headers)
      throws Exception {
    Socket socket = new Socket();
    if (receiveBuffer > 0) {
      socket.setReceiveBufferSize(receiveBuffer);
    }
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    socket.setSoTimeout(10_000);
    send(socket, method, target, headers);
    return socket;
  }

  /** Sends another request on {@code socket}. */
  public static void send(Socket socket, String method, String target, String... headers)
      throws Exception {
    StringBuilder request =
        new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (String header : headers) {
      request.append(header).append("\r\n");
    }
    OutputStream out = socket.getOutputStream();
    out.write(request.append("\r\n").toString().getBytes(UTF_8));
    out.flush();
  }

  /** Reads until {@code marker} has been seen; returns everything read. */
  public static String readUntil(Socket socket, String marker) throws Exception {
    InputStream in = socket.getInputStream();
    ByteArrayOutputStream seen = new ByteArrayOutputStream();
    byte[] buffer = new byte[4096];
    while (!seen.toString(UTF_8).contains(marker)) {
      int n = in.read(buffer);
      if (n < 0) {
        throw new AssertionError("stream ended before " + marker + ": " + seen.toString(UTF_8));
      }
      seen.write(buffer, 0, n);
    }
    return seen.toString(UTF_8);
  }

  /** Reads one response head, byte by byte so as not to read past its blank line. */
  public static Head readHead(Socket socket) throws Exception {
    InputStream in = socket.getInputStream();
    ByteArrayOutputStream seen = new ByteArrayOutputStream();
    while (!seen.toString(ISO_8859_1).endsWith("\r\n\r\n")) {
      if (seen.size() > 16 * 1024) {
        throw new AssertionError("no end of head in: " + seen.toString(ISO_8859_1));
      }
      int b = in.read();
      if (b < 0) {
        throw new AssertionError("connection ended in a head: " + seen.toString(ISO_8859_1));
      }
      seen.write(b);
    }
    return Head.parse(seen.toString(ISO_8859_1));
  }

  /**
   * Reads the rest of a chunked response, from a chunk boundary: true once its terminating chunk
   * arrived (a clean end), false if the connection ended or broke without one, or nothing came for
   * ten seconds.
   */
  public static boolean readsToCleanEnd(Socket socket) throws Exception {
    socket.setSoTimeout(10_000);
    InputStream in = socket.getInputStream();
    byte[] buffer = new byte[64 * 1024];
    // Called between chunks (after a whole event was read), so what comes may be the last chunk.
    String tail = "\r\n";
    for (long total = 0; total < 256L << 20; ) {
      int n;
      try {
        n = in.read(buffer);
      } catch (SocketTimeoutException | SocketException e) {
        return false;
      }
      if (n < 0) {
        return false;
      }
      total += n;
      String joined = tail + new String(buffer, 0, n, ISO_8859_1);
      if (joined.endsWith("\r\n0\r\n\r\n")) {
        return true;
      }
      tail = joined.substring(Math.max(0, joined.length() - 16));
    }
    return false;
  }

  /** A GET (with header name, value pairs) whose body is read whole. */
  public static HttpResponse<String> get(URI uri, String... headers) throws Exception {
    return send("GET", uri, headers);
  }

  /** A request without body whose response body is read whole. */
  public static HttpResponse<String> send(String method, URI uri, String... headers)
      throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(uri)
            .timeout(Duration.ofSeconds(10))
            .method(method, HttpRequest.BodyPublishers.noBody());
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A response's status and headers (names lower-cased; the last of repeated ones). */
  public record Head(int status, Map<String, String> headers) {
    static Head parse(String head) {
      String[] lines = head.split("\r\n");
      if (!lines[0].startsWith("HTTP/1.1 ")) {
        throw new AssertionError("not a status line: " + lines[0]);
      }
      Map<String, String> headers = new HashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        headers.put(
            lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
            lines[i].substring(colon + 1).trim());
      }
      return new Head(Integer.parseInt(lines[0].substring(9, 12)), headers);
    }

    /** A header's value, or null. */
    public String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }
  }
}
