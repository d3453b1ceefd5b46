package dev.herald.hub.internal.subscribe;

import dev.herald.hub.internal.auth.Access;
import dev.herald.hub.internal.auth.AuthHandler;
import dev.herald.hub.internal.http.Refusal;
import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.RequestText;
import dev.herald.hub.internal.http.ResponseOrder;
import dev.herald.hub.internal.http.Responses;
import dev.herald.hub.internal.http.Route;
import dev.herald.hub.internal.http.TopicValidation;
import dev.herald.server.Broker;
import dev.herald.server.CloseReason;
import dev.herald.server.Position;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.Subscription;
import dev.herald.server.spi.CursorKey;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
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
  // As the connection limit's: streams end rarely, so a full hub stays full for a while.
  private static final int STREAMS_RETRY_AFTER = 5;

  private final Broker broker;
  private final ChannelGroup streams;
  private final FrameBuffers buffers;
  private final long maxUnsentBytes;
  private final Clock clock;
  private final Duration clockSkew;
  private final int maxStreams;

  /**
   * Subscribes on {@code broker}; each stream joins {@code streams} (so shutdown can wait for it)
   * and may hold at most {@code maxUnsentBytes} not yet sent.
   */
  public SubscribeHandler(
      Broker broker, ChannelGroup streams, ByteBufAllocator allocator, long maxUnsentBytes) {
    this(broker, streams, allocator, maxUnsentBytes, Clock.systemUTC(), Duration.ZERO, 0);
  }

  /**
   * As above; a stream whose token expires is closed ({@link CloseReason#TOKEN_EXPIRED}) at its
   * expiry plus {@code clockSkew}, by {@code clock}; with {@code maxStreams} open (0: no limit) a
   * new one is refused 503 {@code too_many_streams} (shed, for a stream request), so that the
   * connections left stay for publishers and probes.
   */
  public SubscribeHandler(
      Broker broker,
      ChannelGroup streams,
      ByteBufAllocator allocator,
      long maxUnsentBytes,
      Clock clock,
      Duration clockSkew,
      int maxStreams) {
    this.broker = broker;
    this.streams = streams;
    this.buffers = new FrameBuffers(allocator);
    this.maxUnsentBytes = maxUnsentBytes;
    this.clock = clock;
    this.clockSkew = clockSkew;
    this.maxStreams = maxStreams;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!RequestInfo.routed(ctx.channel(), msg, Route.SUBSCRIBE)) {
      ctx.fireChannelRead(msg);
      return;
    }
    HttpRequest request = (HttpRequest) msg;
    // Counted before the subscription is made: concurrent subscribes may pass the limit by as many
    // as the I/O threads, never by more.
    if (maxStreams > 0 && streams.size() >= maxStreams) {
      ReferenceCountUtil.release(msg);
      throw Refusal.unavailable(
          "too_many_streams",
          "the hub holds as many streams as it may (--max-connections, less the share kept for"
              + " other requests); retry later",
          STREAMS_RETRY_AFTER);
    }
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
    if (HttpMethod.HEAD.equals(request.method())) {
      // The head a GET would get, after the same checks, and no subscription: there is no body.
      Responses.write(ctx.channel(), headOnly(), Responses.keepAlive(ctx.channel()));
      return;
    }
    Optional<Instant> expiresAt = AuthHandler.principal(ctx.channel()).expiresAt();
    Channel channel = ctx.channel();
    ChannelSink sink = new ChannelSink(channel, buffers, maxUnsentBytes);
    // A device's newer stream replaces its older one once it is open (see open); a device without
    // an explicit position resumes from its cursor, which the broker reads.
    CompletableFuture<Subscription> subscribed =
        device.isPresent()
            ? broker.subscribeAsync(topics, given, sink, device.get())
            : broker.subscribeAsync(topics, given.orElse(Position.live()), sink);
    if (subscribed.isDone()) {
      open(channel, sink, subscribed(subscribed), expiresAt);
      return;
    }
    // The log needs a round trip (a shared log starting to announce a topic): the event loop
    // serves other connections meanwhile; requests pipelined behind this one wait.
    ResponseOrder.awaitResponse(channel);
    subscribed.whenComplete(
        (subscription, failure) -> {
          try {
            channel
                .eventLoop()
                .execute(
                    () -> {
                      try {
                        Subscription opened = subscribed(subscribed);
                        if (channel.isActive()) {
                          open(channel, sink, opened, expiresAt);
                        } else {
                          opened.close();
                        }
                      } catch (RuntimeException e) {
                        channel.pipeline().fireExceptionCaught(e);
                      } finally {
                        ResponseOrder.responded(channel);
                      }
                    });
          } catch (RejectedExecutionException e) {
            // The hub is stopping: nothing to open.
            if (subscription != null) {
              subscription.close();
            }
          }
        });
  }

  /** The subscription, or the refusal that says why there is none. */
  private static Subscription subscribed(CompletableFuture<Subscription> subscribed) {
    try {
      return subscribed.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof IllegalStateException) {
        throw Refusal.unavailable("shutting_down", "the hub is shutting down; retry later", 1);
      }
      if (e.getCause() instanceof StoreUnavailableException) {
        throw Refusal.unavailable(
            "store_unavailable", "the event store is unavailable; retry later", 1);
      }
      throw e.getCause() instanceof RuntimeException cause ? cause : e;
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

  private void open(
      Channel channel, ChannelSink sink, Subscription subscription, Optional<Instant> expiresAt) {
    sink.attach(subscription);
    RequestInfo.markStreaming(channel);
    streams.add(channel);
    expiresAt.ifPresent(expiry -> closeAtExpiry(channel, subscription, expiry));
    HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    streamHeaders(head);
    // Through the whole pipeline (CORS headers, the encoder); from here on the sink writes chunks
    // itself and is the connection's only handler, and it closes the subscription with the channel.
    channel.write(head);
    sink.start();
    // Only now, with this stream open, does the device's older stream end (REPLACED).
    subscription.opened();
  }

  private static void streamHeaders(HttpResponse head) {
    head.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
        .set("X-Accel-Buffering", "no")
        .set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
  }

  /** A stream's head with an empty body, for HEAD: the codec writes no chunk after it. */
  private static FullHttpResponse headOnly() {
    FullHttpResponse head =
        new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    streamHeaders(head);
    return head;
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

  /**
   * Asks the event stream on {@code stream} (a channel of the streams group) to come back later: a
   * {@code retry:} of {@code retryMillis}, then its end ({@link ChannelSink#comeBack}). Safe from
   * any thread; nothing happens to a channel that carries no stream (any more).
   */
  public static void comeBack(Channel stream, String reason, long retryMillis) {
    if (stream.pipeline().get("stream") instanceof ChannelSink sink) {
      sink.comeBack(reason, retryMillis);
    }
  }

  /** Releases the shared frame cache. */
  public void close() {
    buffers.close();
  }
}
