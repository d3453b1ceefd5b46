package dev.herald.bench.client;

import com.launchdarkly.eventsource.ConnectStrategy;
import com.launchdarkly.eventsource.MessageEvent;
import com.launchdarkly.eventsource.StreamException;
import com.launchdarkly.eventsource.background.BackgroundEventHandler;
import com.launchdarkly.eventsource.background.BackgroundEventSource;
import com.launchdarkly.logging.LDLogger;
import dev.herald.client.EventSource;
import dev.herald.client.EventSourceListener;
import dev.herald.core.Event;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import okhttp3.OkHttpClient;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Client throughput end to end: one operation opens a fresh connection to a local server that
 * streams at full speed (see {@link LocalSseServer}) and consumes {@link
 * ClientStreams#eventsPerConnection()} events from it, then closes the source. Each consumer adds
 * up the lengths of every event's type, data and id, and the sum is checked against the stream's,
 * so no event can be skipped or mangled unnoticed. Herald's three ways of consuming and
 * okhttp-eventsource 4.1.1's two run in the same run, against the same server; the {@code events}
 * and {@code bytes} counters give events/s and (SSE payload) bytes/s directly.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@State(Scope.Benchmark)
public class ClientBenchmark {
  /** Bounds every wait for a connection's events; a healthy operation takes about a second. */
  private static final long TIMEOUT_SECONDS = 120;

  /**
   * Events a Flow subscriber requests at a time, refilled at 75 %, as Reactor's prefetch does;
   * {@code -jvmArgsAppend -Dherald.bench.flowBatch=N} changes it (to see what demand batching
   * costs).
   */
  static final int FLOW_BATCH = Integer.getInteger("herald.bench.flowBatch", 256);

  @Param({"SMALL_JSON", "LARGE_MULTILINE"})
  public ClientStreams stream;

  LocalSseServer server;
  URI uri;
  int eventsPerConnection;
  long bytesPerConnection;
  long expectedChecksum;

  /** One OkHttp client for every okhttp-eventsource source, as Herald shares one HttpClient. */
  OkHttpClient okHttpClient;

  /**
   * BackgroundEventSource's threads, kept for the whole run (by default it starts two per source),
   * so that thread start-up is not measured and {@code -prof gc} sees their allocation.
   */
  ExecutorService okhttpStreamThreads;

  ExecutorService okhttpEventThread;

  /** Bytes and events consumed, reported by JMH as rates next to the operation rate. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Counters {
    public long bytes;
    public long events;

    @Setup(Level.Iteration)
    public void reset() {
      bytes = 0;
      events = 0;
    }
  }

  @Setup
  public void setUp() throws IOException {
    byte[] block = stream.blockBytes();
    server = LocalSseServer.start(block, stream.repeats());
    uri = server.uri();
    eventsPerConnection = stream.eventsPerConnection();
    bytesPerConnection = (long) block.length * stream.repeats();
    expectedChecksum = stream.expectedChecksum();
    okHttpClient = new OkHttpClient();
    okhttpStreamThreads = Executors.newCachedThreadPool(daemon("okhttp-eventsource-stream"));
    okhttpEventThread = Executors.newSingleThreadExecutor(daemon("okhttp-eventsource-events"));
  }

  @TearDown
  public void tearDown() throws IOException {
    okhttpStreamThreads.shutdownNow();
    okhttpEventThread.shutdownNow();
    okHttpClient.dispatcher().executorService().shutdown();
    okHttpClient.connectionPool().evictAll();
    server.close();
  }

  // ---- Herald ----

  /** Herald with a listener ({@link EventSource#start()}): callbacks on its executor. */
  @Benchmark
  public void heraldCallback(Counters counters) throws InterruptedException {
    CallbackConsumer consumer = new CallbackConsumer(eventsPerConnection);
    try (EventSource source = EventSource.builder(uri).listener(consumer).build()) {
      source.start();
      consumer.await();
    }
    record(counters, consumer.checksum, consumer.error);
  }

  /** Herald's blocking {@link EventSource#events()} stream, read on the benchmark thread. */
  @Benchmark
  public void heraldStream(Counters counters) {
    long[] checksum = {0};
    try (EventSource source = EventSource.builder(uri).build();
        Stream<Event> events = source.events()) {
      events.limit(eventsPerConnection).forEach(event -> checksum[0] += heraldChecksum(event));
    }
    record(counters, checksum[0], null);
  }

  /** Herald as a {@link Flow.Publisher}, requesting {@link #FLOW_BATCH} (256) events at a time. */
  @Benchmark
  public void heraldFlow(Counters counters) throws InterruptedException {
    FlowConsumer consumer = new FlowConsumer(eventsPerConnection, FLOW_BATCH);
    EventSource source = EventSource.builder(uri).build();
    source.subscribe(consumer);
    try {
      consumer.await();
    } finally {
      source.close();
    }
    record(counters, consumer.checksum, consumer.error);
  }

  /** Herald as a {@link Flow.Publisher} with unbounded demand ({@code request(Long.MAX_VALUE)}). */
  @Benchmark
  public void heraldFlowUnbounded(Counters counters) throws InterruptedException {
    FlowConsumer consumer = new FlowConsumer(eventsPerConnection, Long.MAX_VALUE);
    EventSource source = EventSource.builder(uri).build();
    source.subscribe(consumer);
    try {
      consumer.await();
    } finally {
      source.close();
    }
    record(counters, consumer.checksum, consumer.error);
  }

  // ---- okhttp-eventsource 4.1.1 ----

  /**
   * okhttp-eventsource's synchronous API, the way its README reads a stream: {@code readMessage()}
   * in a loop on the caller's thread, default settings.
   */
  @Benchmark
  public void okhttpEventSourceSync(Counters counters) {
    long checksum = 0;
    com.launchdarkly.eventsource.EventSource source = okhttpBuilder().build();
    try {
      for (int i = 0; i < eventsPerConnection; i++) {
        checksum += okhttpChecksum(source.readMessage());
      }
    } catch (StreamException e) {
      throw new IllegalStateException("okhttp-eventsource failed after some events", e);
    } finally {
      source.close();
    }
    record(counters, checksum, null);
  }

  /**
   * okhttp-eventsource's {@link BackgroundEventSource} with a handler: one thread reads and parses,
   * another runs the handler (its default layout, on threads kept for the run).
   */
  @Benchmark
  public void okhttpEventSourceBackground(Counters counters) throws InterruptedException {
    BackgroundConsumer consumer = new BackgroundConsumer(eventsPerConnection);
    BackgroundEventSource source =
        new BackgroundEventSource.Builder(consumer, okhttpBuilder())
            .streamExecutor(okhttpStreamThreads)
            .eventsExecutor(okhttpEventThread)
            .build();
    try {
      source.start();
      consumer.await();
    } finally {
      source.close();
    }
    record(counters, consumer.checksum, consumer.error);
  }

  // ---- Control ----

  /**
   * The ceiling: a plain socket that sends the request and reads the whole response into a 64 KiB
   * buffer without parsing anything. Its events/s is how fast the server and loopback carry the
   * stream; a client near it is limited by the server, not by itself.
   */
  @Benchmark
  public void rawSocketBaseline(Counters counters) throws IOException {
    long read = 0;
    try (Socket socket = new Socket(uri.getHost(), uri.getPort())) {
      socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
      socket
          .getOutputStream()
          .write(
              ("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[64 * 1024];
      for (int n; (n = in.read(buffer)) >= 0; ) {
        read += n;
      }
    }
    if (read < bytesPerConnection) {
      throw new IllegalStateException("Read " + read + " of at least " + bytesPerConnection);
    }
    counters.events += eventsPerConnection;
    counters.bytes += bytesPerConnection;
  }

  // ---- Plumbing ----

  private com.launchdarkly.eventsource.EventSource.Builder okhttpBuilder() {
    return new com.launchdarkly.eventsource.EventSource.Builder(
            ConnectStrategy.http(uri).httpClient(okHttpClient))
        .logger(LDLogger.none());
  }

  static long heraldChecksum(Event event) {
    Optional<String> id = event.id();
    return event.type().length() + event.data().length() + (id.isPresent() ? id.get().length() : 0);
  }

  static long okhttpChecksum(MessageEvent message) {
    String id = message.getLastEventId();
    return message.getEventName().length()
        + message.getData().length()
        + (id == null ? 0 : id.length());
  }

  private void record(Counters counters, long checksum, Throwable error) {
    if (error != null) {
      throw new IllegalStateException("The consumer failed", error);
    }
    if (checksum != expectedChecksum) {
      throw new IllegalStateException(
          "Checksum " + checksum + " != expected " + expectedChecksum + ": events lost or mangled");
    }
    counters.events += eventsPerConnection;
    counters.bytes += bytesPerConnection;
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return task -> {
      Thread thread = new Thread(task, name);
      thread.setDaemon(true);
      return thread;
    };
  }

  /** Waits for a consumer that counts on another thread; fails rather than hang. */
  abstract static class Awaited {
    final CountDownLatch done = new CountDownLatch(1);
    final int expected;
    // Written on the consumer's thread, read after done.await().
    int received;
    long checksum;
    Throwable error;

    Awaited(int expected) {
      this.expected = expected;
    }

    /** Counts one event; true when it was the last one wanted. */
    final boolean count(long eventChecksum) {
      checksum += eventChecksum;
      if (++received == expected) {
        done.countDown();
        return true;
      }
      return false;
    }

    final void failBeforeEnd(Throwable cause) {
      if (received < expected && error == null) {
        error = cause;
        done.countDown();
      }
    }

    final void await() throws InterruptedException {
      if (!done.await(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        throw new IllegalStateException(
            "Only " + received + " of " + expected + " events in " + TIMEOUT_SECONDS + " s");
      }
    }
  }

  static final class CallbackConsumer extends Awaited implements EventSourceListener {
    CallbackConsumer(int expected) {
      super(expected);
    }

    @Override
    public void onEvent(Event event) {
      count(heraldChecksum(event));
    }

    @Override
    public void onError(Throwable error, Optional<Duration> retryDelay) {
      // The server ends the response after the last event: an end-of-stream error is expected then.
      failBeforeEnd(error);
    }
  }

  static final class FlowConsumer extends Awaited implements Flow.Subscriber<Event> {
    private final long batch;
    private final long refill;
    private Flow.Subscription subscription;
    private long outstanding;

    FlowConsumer(int expected, long batch) {
      super(expected);
      this.batch = batch;
      this.refill = batch == Long.MAX_VALUE ? 0 : batch - batch / 4;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      this.subscription = subscription;
      outstanding = batch;
      subscription.request(batch);
    }

    @Override
    public void onNext(Event event) {
      if (count(heraldChecksum(event))) {
        subscription.cancel();
        return;
      }
      if (refill > 0 && --outstanding <= batch - refill) {
        outstanding += refill;
        subscription.request(refill);
      }
    }

    @Override
    public void onError(Throwable error) {
      failBeforeEnd(error);
    }

    @Override
    public void onComplete() {
      failBeforeEnd(new IllegalStateException("Completed early"));
    }
  }

  static final class BackgroundConsumer extends Awaited implements BackgroundEventHandler {
    BackgroundConsumer(int expected) {
      super(expected);
    }

    @Override
    public void onMessage(String event, MessageEvent message) {
      count(okhttpChecksum(message));
    }

    @Override
    public void onOpen() {}

    @Override
    public void onClosed() {}

    @Override
    public void onComment(String comment) {}

    @Override
    public void onError(Throwable error) {
      failBeforeEnd(error);
    }
  }
}
