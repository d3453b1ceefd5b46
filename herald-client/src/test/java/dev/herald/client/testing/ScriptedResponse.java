package dev.herald.client.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;

/**
 * A response for {@link ScriptedServer}: a status, headers and a script of body steps, played one
 * after the other on the connection.
 *
 * <pre>{@code
 * server.enqueue(ScriptedResponse.eventStream()
 *     .send("id: 1\ndata: one\n\n")
 *     .await(release)                  // pause until the test counts the latch down
 *     .send("id: 2\ndata: cut")
 *     .drop());                        // close the socket mid-event
 * }</pre>
 *
 * <p>Body framing: {@link #eventStream()} and any response with {@link #send} steps use chunked
 * encoding (one chunk per {@code send}, flushed at once) unless {@link #closeDelimited()} is
 * chosen; {@link #body} gives a fixed {@code Content-Length}. How the response ends: {@link #end()}
 * (the default: terminating chunk, then the connection stays open for the next request), {@link
 * #drop()} (socket closed abruptly, whatever the framing), {@link #stall()} (nothing more is sent
 * until the client goes away).
 */
public final class ScriptedResponse {
  /** Writes body bytes for {@link #produce}; blocks when the client does not read. */
  public interface BodyWriter {
    /** Sends the bytes as one flushed chunk (or raw bytes when close-delimited). */
    void send(byte[] bytes) throws IOException;

    /** Sends the UTF-8 bytes of {@code text}. */
    default void send(String text) throws IOException {
      send(text.getBytes(StandardCharsets.UTF_8));
    }
  }

  /** A body step that produces bytes in code (large or generated streams). */
  @FunctionalInterface
  public interface Producer {
    void produce(BodyWriter writer) throws IOException, InterruptedException;
  }

  enum Framing {
    NONE,
    FIXED,
    CHUNKED,
    CLOSE_DELIMITED
  }

  enum Ending {
    END,
    DROP,
    STALL
  }

  sealed interface Step permits Send, Await, Signal, Produce {}

  record Send(byte[] bytes) implements Step {}

  record Await(CountDownLatch latch) implements Step {}

  record Signal(CountDownLatch latch) implements Step {}

  record Produce(Producer producer) implements Step {}

  static final int NO_RESPONSE = -1;

  final int status;
  final List<Map.Entry<String, String>> headers = new ArrayList<>();
  final List<Step> steps = new ArrayList<>();
  Framing framing = Framing.NONE;
  byte[] fixedBody;
  Ending ending = Ending.END;
  long dropAfterBytes = -1;

  private ScriptedResponse(int status) {
    this.status = status;
  }

  /** A 200 {@code text/event-stream} response, chunked; add {@link #send} steps. */
  public static ScriptedResponse eventStream() {
    ScriptedResponse response =
        new ScriptedResponse(200).header("Content-Type", "text/event-stream");
    response.framing = Framing.CHUNKED;
    return response;
  }

  /** No response at all: the server reads the request and holds the connection, silent. */
  public static ScriptedResponse noResponse() {
    return new ScriptedResponse(NO_RESPONSE);
  }

  /** A response with this status and, until a body is set, no body ({@code Content-Length: 0}). */
  public static ScriptedResponse status(int status) {
    return new ScriptedResponse(status);
  }

  /** Adds a response header (as given: several with one name are allowed). */
  public ScriptedResponse header(String name, String value) {
    headers.add(new AbstractMap.SimpleImmutableEntry<>(name, value));
    return this;
  }

  /** Sets a fixed body, sent with {@code Content-Length}. */
  public ScriptedResponse body(String body) {
    fixedBody = body.getBytes(StandardCharsets.UTF_8);
    framing = Framing.FIXED;
    return this;
  }

  /** Sends the body without length or chunking: it ends when the server closes the socket. */
  public ScriptedResponse closeDelimited() {
    framing = Framing.CLOSE_DELIMITED;
    return this;
  }

  /** Sends the UTF-8 bytes of {@code text} as one flushed chunk. */
  public ScriptedResponse send(String text) {
    return send(text.getBytes(StandardCharsets.UTF_8));
  }

  /** Sends {@code bytes} as one flushed chunk. */
  public ScriptedResponse send(byte[] bytes) {
    streaming();
    steps.add(new Send(bytes.clone()));
    return this;
  }

  /** Lets code write body bytes (blocking under TCP backpressure like a real server). */
  public ScriptedResponse produce(Producer producer) {
    streaming();
    steps.add(new Produce(Objects.requireNonNull(producer)));
    return this;
  }

  /** Pauses until {@code latch} reaches zero (or the client leaves, or the server closes). */
  public ScriptedResponse await(CountDownLatch latch) {
    streaming();
    steps.add(new Await(latch));
    return this;
  }

  /** Counts {@code latch} down when the script reaches this point: everything before is sent. */
  public ScriptedResponse signal(CountDownLatch latch) {
    steps.add(new Signal(latch));
    return this;
  }

  /** Closes the socket once this many body bytes have been written, wherever that falls. */
  public ScriptedResponse dropAfterBytes(long bytes) {
    dropAfterBytes = bytes;
    return this;
  }

  /** Ends cleanly: terminating chunk (or complete fixed body); the connection stays usable. */
  public ScriptedResponse end() {
    ending = Ending.END;
    return this;
  }

  /** Ends by closing the socket abruptly, without a terminating chunk. */
  public ScriptedResponse drop() {
    ending = Ending.DROP;
    return this;
  }

  /** Ends by sending nothing more, holding the connection open until the client leaves. */
  public ScriptedResponse stall() {
    ending = Ending.STALL;
    return this;
  }

  private void streaming() {
    if (framing == Framing.NONE || framing == Framing.FIXED) {
      framing = Framing.CHUNKED;
      fixedBody = null;
    }
  }
}
