package dev.herald.client;

import static java.lang.System.Logger.Level.DEBUG;

import dev.herald.core.Event;
import dev.herald.core.SseLimitExceededException;
import dev.herald.core.SseParser;
import java.io.EOFException;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;

/**
 * Reads the body of an open event stream, parses it, and hands the events to the {@link
 * Dispatcher}, as fast as the consumer's demand allows and no faster.
 *
 * <p>Reading is driven by demand: body bytes are requested only while the consumer wants events,
 * and with bounded demand the parser stops after the number of events still wanted, so no more is
 * ever produced. Beyond one buffer read ahead while the last one is parsed, unread bytes stay in
 * the socket, and TCP pushes back on the server.
 *
 * <p>Every body signal is handed to the source's serial executor, and the demand is confined to it.
 * A signal of a connection that is no longer the loop's current one is dropped: nothing of a
 * dropped connection is delivered.
 */
final class StreamReader {
  /** Demand that never runs out: the consumer takes events as fast as they come. */
  static final long UNBOUNDED = Long.MAX_VALUE;

  private static final System.Logger LOG = System.getLogger(EventSource.class.getName());

  private final Config config;
  private final Executor serial;
  private final ReconnectLoop loop;
  private final Dispatcher dispatcher;

  // Confined to the serial executor: how many more events the consumer wants.
  private long demand;

  StreamReader(Config config, Executor serial, ReconnectLoop loop, Dispatcher dispatcher) {
    this.config = config;
    this.serial = serial;
    this.loop = loop;
    this.dispatcher = dispatcher;
  }

  /** Sets the demand of a consumer that is starting. */
  void start(long initialDemand) {
    demand = initialDemand;
  }

  /** Adds demand (saturating), then reads on from {@code c} if it is open. */
  void request(long n, Connection c) {
    if (demand != UNBOUNDED) {
      demand = n >= UNBOUNDED - demand ? UNBOUNDED : demand + n;
    }
    if (c != null && c.open) {
      pump(c);
    }
  }

  /** Starts reading {@code response}, which the connector found to be an event stream. */
  void open(Connection c, HttpResponse<Flow.Publisher<List<ByteBuffer>>> response) {
    c.parser =
        SseParser.builder()
            .lastEventId(loop.lastEventId())
            .maxEventBytes(config.maxEventBytes())
            .maxLineBytes(config.maxEventBytes())
            .build(new ParserHandler(c));
    c.open = true;
    c.openedAtNanos = System.nanoTime();
    c.notWaiting();
    loop.markOpen();
    // Subscribe first: a listener that closes the source in onOpen still releases the body.
    // Nothing is requested before the subscription is handed to the serial executor.
    response.body().subscribe(new BodySubscriber(c));
    LOG.log(DEBUG, "Event source {0} is open", c.uri);
    dispatcher.opened(
        new OpenResponse(response.statusCode(), response.headers(), response.version()));
  }

  /** Receives one connection's body; every signal goes to the serial executor. */
  private final class BodySubscriber implements Flow.Subscriber<List<ByteBuffer>> {
    private final Connection c;

    BodySubscriber(Connection c) {
      this.c = c;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      if (c.subscription(subscription)) {
        serial.execute(() -> onSubscribed(c));
      }
    }

    @Override
    public void onNext(List<ByteBuffer> buffers) {
      c.notWaiting();
      serial.execute(() -> onData(c, buffers));
    }

    @Override
    public void onError(Throwable error) {
      c.notWaiting();
      serial.execute(() -> onBodyEnd(c, error));
    }

    @Override
    public void onComplete() {
      c.notWaiting();
      serial.execute(() -> onBodyEnd(c, null));
    }
  }

  private void onSubscribed(Connection c) {
    if (loop.isCurrent(c)) {
      pump(c);
    }
  }

  private void onData(Connection c, List<ByteBuffer> buffers) {
    if (!loop.isCurrent(c)) {
      return;
    }
    c.requested = false;
    for (ByteBuffer buffer : buffers) {
      if (buffer.hasRemaining()) {
        c.pending.add(buffer);
      }
    }
    pump(c);
  }

  private void onBodyEnd(Connection c, Throwable error) {
    if (!loop.isCurrent(c)) {
      return;
    }
    c.requested = false;
    // Bytes that arrived before the end still count: parse them (as demand allows) first.
    c.endCause = error != null ? error : new EOFException("The server ended the stream");
    pump(c);
  }

  /** Parses pending bytes while there is demand, then asks for more or acts on the end. */
  private void pump(Connection c) {
    try {
      while (demand > 0 && !c.pending.isEmpty()) {
        if (!loop.isLive(c)) {
          return;
        }
        ByteBuffer buffer = c.pending.peek();
        if (c.pending.size() == 1 && !c.requested && c.endCause == null) {
          // Ask for the next bytes before parsing the last ones held, so that they arrive while
          // these are parsed instead of after: one buffer of read-ahead, no wait for each.
          c.requested = c.request();
        }
        if (demand == UNBOUNDED) {
          c.parser.feed(buffer);
        } else {
          // The parser stops right after the last event wanted; the rest waits in the buffer.
          c.parser.feed(buffer, (int) Math.min(demand, Integer.MAX_VALUE));
        }
        if (loop.isCurrent(c)) {
          loop.lastEventId(c.parser.lastEventId());
        }
        if (!buffer.hasRemaining()) {
          c.pending.poll();
        }
      }
    } catch (SseLimitExceededException e) {
      loop.failConnection(c, e);
      return;
    }
    if (!loop.isLive(c) || !c.pending.isEmpty()) {
      return;
    }
    if (c.endCause != null) {
      loop.failConnection(c, c.endCause);
    } else if (demand > 0 && !c.requested) {
      c.requested = c.request();
    }
  }

  private final class ParserHandler implements SseParser.Handler {
    private final Connection c;

    ParserHandler(Connection c) {
      this.c = c;
    }

    // Each callback checks the loop first: once one closed or restarted the source, the rest of
    // the buffer is dropped.

    @Override
    public void onEvent(Event event) {
      if (!loop.isLive(c)) {
        return;
      }
      loop.lastEventId(c.parser.lastEventId());
      if (demand != UNBOUNDED) {
        demand--;
      }
      dispatcher.event(event);
    }

    @Override
    public void onComment(String comment) {
      if (loop.isLive(c)) {
        dispatcher.comment(comment);
      }
    }

    @Override
    public void onRetry(Duration time) {
      if (loop.isLive(c)) {
        loop.reconnectionTime(time);
      }
    }
  }

  /** What {@link EventSourceListener#onOpen} is given. */
  private record OpenResponse(int statusCode, HttpHeaders headers, HttpClient.Version version)
      implements HttpResponse.ResponseInfo {}
}
