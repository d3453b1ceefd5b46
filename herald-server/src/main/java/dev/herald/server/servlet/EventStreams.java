package dev.herald.server.servlet;

import dev.herald.core.Comment;
import dev.herald.core.SseEncoder;
import dev.herald.core.internal.Checks;
import dev.herald.core.internal.JsonStrings;
import dev.herald.server.Broker;
import dev.herald.server.CloseReason;
import dev.herald.server.InvalidTopicException;
import dev.herald.server.Position;
import dev.herald.server.Subscription;
import dev.herald.server.Topics;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.Set;

/**
 * The Servlet adapter: streams a {@link Broker}'s events over any Servlet 6 container (Tomcat,
 * Jetty, Undertow, Spring MVC), asynchronous, with non-blocking writes and a bounded byte queue per
 * stream. Call it from your own servlet or controller; to serve {@code ?topic=} requests with no
 * code, register the ready-made {@link EventStreamServlet} instead (it calls {@link #handle}).
 *
 * <p>Use {@link #handle} to serve {@code GET /events?topic=...}, or {@link #stream} from a
 * controller that picks the topics itself (after its own authorisation, say). The stream resumes
 * from the {@code Last-Event-ID} header or, for browsers, {@code ?lastEventId=} (the header wins).
 * The response is {@code 200 text/event-stream; charset=utf-8} with {@code Cache-Control: no-store}
 * and {@code X-Accel-Buffering: no}, flushed at once with an opening comment. A client that reads
 * slower than events arrive has its stream closed once {@link Builder#maxBufferBytes} of frames are
 * waiting (it reconnects with {@code Last-Event-ID} and replays what it missed); a client that goes
 * away is noticed on the next write (heartbeats make sure there is one) and its subscription is
 * released. A {@code HEAD} request gets the head a {@code GET} would get, or its error status, and
 * no subscription. The request must be async-supported (the servlet and every filter in front of
 * it); if it is not, the answer is 500 with a JSON error {@code async_unsupported}, and nothing is
 * subscribed.
 *
 * <pre>{@code
 * // Spring MVC: the application chooses the topics.
 * @GetMapping("/me/events")
 * void events(HttpServletRequest request, HttpServletResponse response, Principal user)
 *     throws IOException {
 *   sse.stream(request, response, Set.of("members/" + user.getName()));
 * }
 * }</pre>
 *
 * @see EventStreamServlet
 */
public final class EventStreams {
  /** Default {@link Builder#maxBufferBytes}: 1 MiB. */
  public static final long DEFAULT_MAX_BUFFER_BYTES = 1L << 20;

  private static final byte[] OPENING = SseEncoder.encode(new Comment("ok"));
  private static final String ASYNC_UNSUPPORTED =
      "event streams need asynchronous requests: the servlet and every filter in front of it must"
          + " be async-supported (setAsyncSupported(true), or <async-supported>true</async-supported>"
          + " in web.xml)";

  private final Broker broker;
  private final long maxBufferBytes;

  private EventStreams(Builder builder) {
    this.broker = builder.broker;
    this.maxBufferBytes = builder.maxBufferBytes;
  }

  /** Returns an adapter for {@code broker} with the default 1 MiB per-stream buffer. */
  public static EventStreams create(Broker broker) {
    return builder(broker).build();
  }

  /** Returns a builder of an adapter for {@code broker}. */
  public static Builder builder(Broker broker) {
    return new Builder(broker);
  }

  /**
   * Serves a subscribe request whose topics are its {@code topic} query parameters (repeatable).
   * Answers 400 with a JSON error body when there is none, too many, or an invalid one.
   */
  public void handle(HttpServletRequest request, HttpServletResponse response) throws IOException {
    String[] topics = request.getParameterValues("topic");
    if (topics == null || topics.length == 0) {
      error(response, 400, "topic_missing", "name at least one topic with ?topic=<name>");
      return;
    }
    stream(request, response, Set.copyOf(Arrays.asList(topics)));
  }

  /**
   * Streams {@code topics} to the client of this request from the position its {@code
   * Last-Event-ID} (or {@code ?lastEventId=}) names, live only if none. Returns at once: the
   * request is asynchronous from here on, and ends when the client goes away, the stream is too
   * slow, or the broker closes. Answers 400 (JSON error body) for invalid topics, 500 {@code
   * async_unsupported} if the request is not async-supported, 503 if the broker is closed. A {@code
   * HEAD} request gets the same head or error status, without a subscription.
   */
  public void stream(HttpServletRequest request, HttpServletResponse response, Set<String> topics)
      throws IOException {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(response, "response");
    Objects.requireNonNull(topics, "topics");
    Set<String> checked;
    try {
      checked = Topics.checkAll(topics);
    } catch (InvalidTopicException e) {
      String code = topics.size() > Topics.MAX_TOPICS ? "too_many_topics" : "topic_invalid";
      error(response, 400, code, e.getMessage());
      return;
    }
    String lastEventId = request.getHeader("Last-Event-ID");
    if (lastEventId == null) {
      lastEventId = request.getParameter("lastEventId");
    }
    Position position = Position.parse(lastEventId == null ? "" : lastEventId);
    if (!request.isAsyncSupported()) {
      // startAsync() would throw; the container's answer would not say why.
      error(response, 500, "async_unsupported", ASYNC_UNSUPPORTED);
      return;
    }
    if ("HEAD".equals(request.getMethod())) {
      // The head a GET would get, and no subscription: there is no body to stream, and the
      // container discards what is written, so the stream would never notice the client leave.
      if (broker.isClosed()) {
        error(response, 503, "shutting_down", "the server is shutting down; retry shortly");
      } else {
        writeHead(response);
      }
      return;
    }
    ServletOutputStream out = response.getOutputStream();
    // Async first, then subscribe: nothing that can fail after the subscription exists leaves it
    // open.
    AsyncContext context = request.startAsync();
    // No async timeout: streams live until the client, the broker or a write ends them.
    context.setTimeout(0);
    AsyncResponseSink stream = new AsyncResponseSink(maxBufferBytes, OPENING);
    Subscription subscription;
    try {
      // Live before the head is sent: an event published after the client sees the stream open
      // is delivered. Frames queue behind the opening comment until the writer starts.
      subscription = broker.subscribe(checked, position, stream);
    } catch (IllegalStateException e) {
      response.setHeader("Retry-After", "1");
      error(response, 503, "shutting_down", "the server is shutting down; retry shortly");
      context.complete();
      return;
    }
    writeHead(response);
    stream.start(context, out, subscription);
  }

  private static void writeHead(HttpServletResponse response) {
    response.setStatus(200);
    response.setContentType("text/event-stream; charset=utf-8");
    response.setHeader("Cache-Control", "no-store");
    response.setHeader("X-Accel-Buffering", "no");
  }

  private static void error(HttpServletResponse response, int status, String code, String message)
      throws IOException {
    byte[] body =
        ("{\"error\":"
                + JsonStrings.quote(code)
                + ",\"message\":"
                + JsonStrings.quote(message)
                + "}")
            .getBytes(StandardCharsets.UTF_8);
    response.setStatus(status);
    response.setContentType("application/json; charset=utf-8");
    response.setHeader("Cache-Control", "no-store");
    response.setContentLength(body.length);
    response.getOutputStream().write(body);
  }

  /** Builds a {@link EventStreams}. */
  public static final class Builder {
    private final Broker broker;
    private long maxBufferBytes = DEFAULT_MAX_BUFFER_BYTES;

    private Builder(Broker broker) {
      this.broker = Objects.requireNonNull(broker, "broker");
    }

    /**
     * Sets how many bytes of frames may wait for one slow client before its stream is closed
     * ({@link CloseReason#SLOW_CONSUMER}); default 1 MiB.
     */
    public Builder maxBufferBytes(long maxBufferBytes) {
      this.maxBufferBytes = Checks.positive("maxBufferBytes", maxBufferBytes);
      return this;
    }

    /** Returns the adapter. */
    public EventStreams build() {
      return new EventStreams(this);
    }
  }
}
