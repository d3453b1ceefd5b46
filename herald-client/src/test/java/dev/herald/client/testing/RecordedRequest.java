package dev.herald.client.testing;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A request as {@link ScriptedServer} received it, byte for byte: header values keep their raw
 * bytes, so a test can check exactly what went over the wire.
 */
public final class RecordedRequest {
  private final String method;
  private final String target;
  private final List<Map.Entry<String, byte[]>> headers;
  private final byte[] body;
  private final int connection;
  private final int sequence;

  RecordedRequest(
      String method,
      String target,
      List<Map.Entry<String, byte[]>> headers,
      byte[] body,
      int connection,
      int sequence) {
    this.method = method;
    this.target = target;
    this.headers = List.copyOf(headers);
    this.body = body;
    this.connection = connection;
    this.sequence = sequence;
  }

  /** The request method, e.g. {@code GET}. */
  public String method() {
    return method;
  }

  /** The request target: path and query, as sent. */
  public String target() {
    return target;
  }

  /** The path of the target, without the query. */
  public String path() {
    return URI.create(target).getRawPath();
  }

  /** The first value of a header (name in any case), its bytes read as ISO-8859-1. */
  public Optional<String> header(String name) {
    return headerBytes(name).map(bytes -> new String(bytes, StandardCharsets.ISO_8859_1));
  }

  /** The raw bytes of the first value of a header (name in any case). */
  public Optional<byte[]> headerBytes(String name) {
    for (Map.Entry<String, byte[]> header : headers) {
      if (header.getKey().equalsIgnoreCase(name)) {
        return Optional.of(header.getValue().clone());
      }
    }
    return Optional.empty();
  }

  /** Every value of a header (name in any case), in order. */
  public List<String> headerValues(String name) {
    List<String> values = new ArrayList<>();
    for (Map.Entry<String, byte[]> header : headers) {
      if (header.getKey().equalsIgnoreCase(name)) {
        values.add(new String(header.getValue(), StandardCharsets.ISO_8859_1));
      }
    }
    return values;
  }

  /** The header names, in the order sent. */
  public List<String> headerNames() {
    return headers.stream().map(Map.Entry::getKey).toList();
  }

  /** The body bytes (empty without a body). */
  public byte[] body() {
    return body.clone();
  }

  /** The body as UTF-8 text. */
  public String bodyText() {
    return new String(body, StandardCharsets.UTF_8);
  }

  /** Which connection carried the request: 1 for the first the server accepted. */
  public int connection() {
    return connection;
  }

  /** The request's position among all the server received: 1 for the first. */
  public int sequence() {
    return sequence;
  }

  @Override
  public String toString() {
    return "#"
        + sequence
        + " "
        + method
        + " "
        + target
        + " (connection "
        + connection
        + ", "
        + headers.size()
        + " headers, "
        + body.length
        + " body bytes)";
  }
}
