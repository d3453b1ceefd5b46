package dev.herald.hub.internal.publish;

import dev.herald.hub.internal.auth.Access;
import dev.herald.hub.internal.auth.AuthHandler;
import dev.herald.hub.internal.auth.Principal;
import dev.herald.hub.internal.http.RateLimiter;
import dev.herald.hub.internal.http.Refusal;
import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.ResponseOrder;
import dev.herald.hub.internal.http.Responses;
import dev.herald.hub.internal.http.Route;
import dev.herald.hub.internal.metrics.HubMetrics;
import dev.herald.server.Broker;
import dev.herald.server.Publication;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /events}: reads the body into one publication or a batch of them (400s, with the
 * index of the bad element of a batch), checks the origin and the token's publish rights (403s) and
 * the publisher's rate (429), and publishes it. The 201 is written from the publish future's
 * callback, once the event is durable, so the event loop never waits for the store; a store failure
 * is 503 {@code store_unavailable} and nothing was published.
 */
@ChannelHandler.Sharable
public final class PublishHandler extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(PublishHandler.class);

  private final Broker broker;
  private final HubMetrics metrics;
  private final Clock clock;
  private final RateLimiter publishRate;
  private final int maxBatchEvents;

  /** The default most events in one batch publish. */
  public static final int DEFAULT_MAX_BATCH_EVENTS = 1000;

  /** Publishes on {@code broker}, stamping member-form events with {@code clock}; no rate limit. */
  public PublishHandler(Broker broker, HubMetrics metrics, Clock clock) {
    this(broker, metrics, clock, RateLimiter.perSecond(0), DEFAULT_MAX_BATCH_EVENTS);
  }

  /**
   * Publishes on {@code broker}, stamping member-form events with {@code clock}, at most at {@code
   * publishRate} per token subject (per client address when anonymous; a batch counts as one
   * request), with at most {@code maxBatchEvents} events per batch.
   */
  public PublishHandler(
      Broker broker, HubMetrics metrics, Clock clock, RateLimiter publishRate, int maxBatchEvents) {
    this.maxBatchEvents = maxBatchEvents;
    this.broker = broker;
    this.metrics = metrics;
    this.clock = clock;
    this.publishRate = publishRate;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof FullHttpRequest)
        || !RequestInfo.routed(ctx.channel(), msg, Route.PUBLISH)) {
      ctx.fireChannelRead(msg);
      return;
    }
    FullHttpRequest request = (FullHttpRequest) msg;
    PublishRequest.Parsed parsed;
    try {
      // The media type (415) and the token (401) were checked upstream.
      String mime = String.valueOf(HttpUtil.getMimeType(request));
      parsed =
          PublishRequest.parseAny(
              Optional.ofNullable(request.headers().get("Member-ID")),
              request.content().nioBuffer(),
              mime.equalsIgnoreCase("application/x-ndjson"),
              clock,
              maxBatchEvents);
    } finally {
      ReferenceCountUtil.release(msg);
    }
    List<Publication> publications = parsed.publications();
    for (int i = 0; i < publications.size(); i++) {
      try {
        Access.publish(ctx.channel(), publications.get(i).topics());
      } catch (Refusal refusal) {
        throw parsed.batch() ? refusal.at(i) : refusal;
      }
    }
    limitRate(ctx.channel());
    publish(ctx.channel(), parsed);
  }

  /** {@code {"id": ...}} for one event, {@code {"ids": [...]}} for a batch. */
  private static String answer(List<StoredEvent> events, PublishRequest.Parsed parsed) {
    if (!parsed.batch()) {
      return "{\"id\":\"" + events.get(0).id() + "\"}";
    }
    StringBuilder s = new StringBuilder("{\"ids\":[");
    for (int i = 0; i < events.size(); i++) {
      s.append(i == 0 ? "\"" : ",\"").append(events.get(i).id()).append('"');
    }
    return s.append("]}").toString();
  }

  private void limitRate(Channel channel) {
    if (!publishRate.enabled()) {
      return;
    }
    Principal principal = AuthHandler.principal(channel);
    String key =
        principal
            .subject()
            .map(sub -> "sub:" + sub)
            .orElseGet(
                () ->
                    "ip:"
                        + (channel.remoteAddress() instanceof InetSocketAddress inet
                            ? inet.getAddress().getHostAddress()
                            : String.valueOf(channel.remoteAddress())));
    int retry = publishRate.acquire(key);
    if (retry > 0) {
      throw Refusal.retryLater(
          HttpResponseStatus.TOO_MANY_REQUESTS,
          "rate_limited",
          "too many events from this publisher (--publish-rate); retry later",
          retry);
    }
  }

  private void publish(Channel channel, PublishRequest.Parsed parsed) {
    boolean keepAlive = Responses.keepAlive(channel);
    long start = System.nanoTime();
    CompletableFuture<List<StoredEvent>> stored;
    try {
      stored = broker.publishAll(parsed.publications());
    } catch (IllegalStateException e) {
      throw Refusal.unavailable("shutting_down", "the hub is shutting down; retry later", 1);
    }
    // A pipelined request must not be answered before this one.
    ResponseOrder.awaitResponse(channel);
    stored.whenComplete(
        (events, failure) -> {
          if (failure == null) {
            metrics.publishAcknowledged(System.nanoTime() - start);
            Responses.json(channel, HttpResponseStatus.CREATED, answer(events, parsed), keepAlive);
            ResponseOrder.responded(channel);
            return;
          }
          Throwable cause = failure instanceof CompletionException ? failure.getCause() : failure;
          if (cause instanceof StoreUnavailableException) {
            metrics.storeError();
            LOG.warn("store refused a publish: {}", cause.getMessage());
            channel
                .pipeline()
                .fireExceptionCaught(
                    Refusal.unavailable(
                        "store_unavailable",
                        "the event store is unavailable, nothing was published; retry later",
                        1));
          } else {
            channel.pipeline().fireExceptionCaught(cause);
          }
        });
  }
}
