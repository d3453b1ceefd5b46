package dev.herald.hub.internal.subscribe;

import dev.herald.hub.internal.auth.Access;
import dev.herald.hub.internal.auth.AuthHandler;
import dev.herald.hub.internal.http.Refusal;
import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.RequestText;
import dev.herald.hub.internal.http.ResponseOrder;
import dev.herald.hub.internal.http.Route;
import dev.herald.hub.internal.http.TopicValidation;
import dev.herald.redis.RedisEventLog;
import dev.herald.server.Broker;
import dev.herald.server.CloseReason;
import dev.herald.server.CursorKey;
import dev.herald.server.EventLog;
import dev.herald.server.Position;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.Subscription;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /events}: reads the topics and the position (400s), checks the origin and the token's
 * subscribe rights (403s), subscribes on the broker (live from that moment), then writes the
 * response head and an opening comment, flushed at once. The broker never calls a sink on the
 * subscribing thread, so every frame it queues lands after the head.
 */
@ChannelHandler.Sharable
public final class SubscribeHandler extends ChannelInboundHandlerAdapter {
  /** The header naming the member whose topic ({@code members/<id>}) to follow. */
  public static final String MEMBER_ID = "Member-ID";

  private static final Logger LOG = LoggerFactory.getLogger(SubscribeHandler.class);

  /**
   * Watcher threads: each waits for at most one Redis round trip per topic at a time, so a few keep
   * up with any rate of new topics while Redis answers.
   */
  private static final int WATCHER_THREADS = 4;

  private final Broker broker;
  private final ChannelGroup streams;
  private final FrameBuffers buffers;
  private final long maxUnsentBytes;
  private final Clock clock;
  private final Duration clockSkew;
  private final ThreadPoolExecutor watchers;

  /**
   * Subscribes on {@code broker}; each stream joins {@code streams} (so shutdown can wait for it)
   * and may hold at most {@code maxUnsentBytes} not yet sent.
   */
  public SubscribeHandler(
      Broker broker, ChannelGroup streams, ByteBufAllocator allocator, long maxUnsentBytes) {
    this(broker, streams, allocator, maxUnsentBytes, Clock.systemUTC(), Duration.ZERO);
  }

  /**
   * As above; a stream whose token expires is closed ({@link CloseReason#TOKEN_EXPIRED}) at its
   * expiry plus {@code clockSkew}, by {@code clock}.
   */
  public SubscribeHandler(
      Broker broker,
      ChannelGroup streams,
      ByteBufAllocator allocator,
      long maxUnsentBytes,
      Clock clock,
      Duration clockSkew) {
    this.broker = broker;
    this.streams = streams;
    this.buffers = new FrameBuffers(allocator);
    this.maxUnsentBytes = maxUnsentBytes;
    this.clock = clock;
    this.clockSkew = clockSkew;
    this.watchers = watchers(broker);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!RequestInfo.routed(ctx.channel(), msg, Route.SUBSCRIBE)) {
      ctx.fireChannelRead(msg);
      return;
    }
    HttpRequest request = (HttpRequest) msg;
    Set<String> topics;
    Optional<Position> given;
    Optional<String> device;
    try {
      RequestText query = RequestText.query(request.uri());
      topics = topics(request, query);
      given = position(request, query);
      device = deviceId(request, query);
    } finally {
      ReferenceCountUtil.release(msg);
    }
    Access.subscribe(ctx.channel(), topics);
    Optional<Instant> expiresAt = AuthHandler.principal(ctx.channel()).expiresAt();
    // The device cursor is a store read: on a watcher thread when the store is shared (Redis).
    if (watchers == null) {
      open(ctx.channel(), topics, position(given, device, topics), expiresAt, device);
    } else {
      watchThenOpen(
          ctx.channel(), topics, () -> position(given, device, topics), expiresAt, device);
    }
  }

  /** An explicit Last-Event-ID wins; a device without one resumes from its cursor. */
  private Position position(Optional<Position> given, Optional<String> device, Set<String> topics) {
    try {
      return given
          .or(() -> device.flatMap(d -> broker.devicePosition(d, topics)))
          .orElse(Position.live());
    } catch (StoreUnavailableException e) {
      throw Refusal.unavailable(
          "store_unavailable", "the event store is unavailable; retry later", 1);
    }
  }

  /** The {@code Device-Id} header, else {@code ?deviceId=}: 1-128 visible ASCII characters. */
  private static Optional<String> deviceId(HttpRequest request, RequestText parameters) {
    String value = request.headers().get("Device-Id");
    if (value == null) {
      List<String> query = parameters.all("deviceId", "device_id_invalid");
      if (query.isEmpty()) {
        return Optional.empty();
      }
      value = query.get(0);
    }
    if (!CursorKey.isValidDeviceId(value)) {
      throw Refusal.badRequest(
          "device_id_invalid", "Device-Id must be 1-128 visible ASCII characters, no spaces");
    }
    return Optional.of(value);
  }

  /**
   * On a shared log (Redis) the first watch of a topic on this node is a round trip to Redis, up to
   * the command timeout per topic while Redis is unreachable: too long for the event loop, which
   * serves many other connections. So the topics are watched first on a watcher thread; then, back
   * on the event loop, the broker's own watch finds them ready and the subscription opens and
   * writes its head as usual. Requests pipelined behind this one wait meanwhile.
   */
  private void watchThenOpen(
      Channel channel,
      Set<String> topics,
      java.util.function.Supplier<Position> positions,
      Optional<Instant> expiresAt,
      Optional<String> device) {
    EventLog log = broker.log();
    ResponseOrder.awaitResponse(channel);
    Runnable watchAndOpen =
        () -> {
          List<String> watched = new ArrayList<>(topics.size());
          try {
            for (String topic : topics) {
              log.watch(topic);
              watched.add(topic);
            }
          } catch (RuntimeException e) {
            // The broker's own watch meets the same failure and refuses the subscription.
            LOG.debug("watching {} topics ahead of a subscription failed: {}", topics.size(), e);
          }
          Position[] position = {null};
          RuntimeException[] refused = {null};
          try {
            position[0] = positions.get();
          } catch (RuntimeException e) {
            refused[0] = e;
          }
          Runnable openAndRelease =
              () -> {
                try {
                  if (refused[0] != null) {
                    throw refused[0];
                  }
                  if (channel.isActive()) {
                    open(channel, topics, position[0], expiresAt, device);
                  }
                } catch (RuntimeException e) {
                  channel.pipeline().fireExceptionCaught(e);
                } finally {
                  // The subscription holds its own watches now (or failed and holds none).
                  watched.forEach(log::unwatch);
                  ResponseOrder.responded(channel);
                }
              };
          try {
            channel.eventLoop().execute(openAndRelease);
          } catch (RejectedExecutionException e) {
            watched.forEach(log::unwatch); // the hub is stopping: nothing to open
          }
        };
    try {
      watchers.execute(watchAndOpen);
    } catch (RejectedExecutionException e) {
      ResponseOrder.responded(channel);
      if (watchers.isShutdown()) {
        throw Refusal.unavailable("shutting_down", "the hub is shutting down; retry later", 1);
      }
      // Thousands of subscribes wait for Redis already: it is down or far too slow.
      throw Refusal.unavailable(
          "store_unavailable", "the event store is not answering; retry later", 1);
    }
  }

  private void open(
      Channel channel,
      Set<String> topics,
      Position position,
      Optional<Instant> expiresAt,
      Optional<String> device) {
    ChannelSink sink = new ChannelSink(channel, buffers, maxUnsentBytes);
    Subscription subscription;
    try {
      // A device's newer stream replaces its older one once it is open (below).
      subscription =
          device.isPresent()
              ? broker.subscribe(topics, position, sink, device.get())
              : broker.subscribe(topics, position, sink);
    } catch (IllegalStateException e) {
      throw Refusal.unavailable("shutting_down", "the hub is shutting down; retry later", 1);
    }
    sink.attach(subscription);
    RequestInfo.markStreaming(channel);
    streams.add(channel);
    expiresAt.ifPresent(expiry -> closeAtExpiry(channel, subscription, expiry));
    HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    head.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
        .set("X-Accel-Buffering", "no")
        .set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
    // Through the whole pipeline (CORS headers, the encoder); from here on the sink writes chunks
    // itself and is the connection's only handler, and it closes the subscription with the channel.
    channel.write(head);
    sink.start();
    // Only now, with this stream open, does the device's older stream end (REPLACED).
    subscription.opened();
  }

  /**
   * Ends the stream when its token expires: the client reconnects with a fresh token. The timer
   * runs on the channel's event loop and is cancelled when the connection closes first.
   */
  private void closeAtExpiry(Channel channel, Subscription subscription, Instant expiry) {
    long delay = Math.max(0, Duration.between(clock.instant(), expiry.plus(clockSkew)).toMillis());
    ScheduledFuture<?> timer =
        channel
            .eventLoop()
            .schedule(
                () -> subscription.close(CloseReason.TOKEN_EXPIRED), delay, TimeUnit.MILLISECONDS);
    channel.closeFuture().addListener((ChannelFutureListener) f -> timer.cancel(false));
  }

  private static Set<String> topics(HttpRequest request, RequestText parameters) {
    List<String> names = new ArrayList<>(parameters.all("topic", "topic_invalid"));
    RequestText.header(request, MEMBER_ID, "topic_invalid")
        .ifPresent(member -> names.add(TopicValidation.memberTopic(member)));
    return TopicValidation.check(names);
  }

  /** The position the client gave, if it gave one (an empty one means live only). */
  private static Optional<Position> position(HttpRequest request, RequestText parameters) {
    String header = request.headers().get("Last-Event-ID");
    if (header != null) {
      return Optional.of(Position.parse(header));
    }
    List<String> query = parameters.all("lastEventId", "bad_request");
    return query.isEmpty() ? Optional.empty() : Optional.of(Position.parse(query.get(0)));
  }

  /** Releases the shared frame cache and stops the watcher threads. */
  public void close() {
    buffers.close();
    if (watchers != null) {
      watchers.shutdownNow();
    }
  }

  /** Threads for watching topics of a shared log, or null when the log announces everything. */
  private static ThreadPoolExecutor watchers(Broker broker) {
    if (!(broker.log() instanceof RedisEventLog)) {
      return null;
    }
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            WATCHER_THREADS,
            WATCHER_THREADS,
            30,
            TimeUnit.SECONDS,
            // Bounded: past it, subscribes are refused rather than queued without end.
            new ArrayBlockingQueue<>(10_000),
            runnable -> {
              Thread thread = new Thread(runnable, "herald-watch");
              thread.setDaemon(true);
              return thread;
            });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }
}
