package dev.herald.hub.internal.publish;

import dev.herald.hub.internal.auth.Access;
import dev.herald.hub.internal.auth.AuthHandler;
import dev.herald.hub.internal.auth.Principal;
import dev.herald.hub.internal.http.RateLimiter;
import dev.herald.hub.internal.http.Refusal;
import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.RequestText;
import dev.herald.hub.internal.http.ResponseOrder;
import dev.herald.hub.internal.http.Responses;
import dev.herald.hub.internal.http.Route;
import dev.herald.hub.internal.metrics.HubMetrics;
import dev.herald.server.Broker;
import dev.herald.server.IdempotencyConflictException;
import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.PublishOutcomeUnknownException;
import dev.herald.server.PublishReceipt;
import dev.herald.server.ReplicationUnconfirmedException;
import dev.herald.server.StoreUnavailableException;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
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
 * is 503 {@code store_unavailable} when nothing was published, and 503 {@code outcome_unknown} when
 * the store lost its answer and could not tell in time whether it stored the events.
 */
@ChannelHandler.Sharable
public final class PublishHandler extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(PublishHandler.class);

  private final Broker broker;
  private final HubMetrics metrics;
  private final Clock clock;
  private final RateLimiter publishRate;
  private final int maxBatchEvents;
  private final Duration idempotencyWindow;
  // Publishes handed to the broker and not answered yet: a drain waits for them (guarded by this).
  private int inFlight;

  /**
   * Publishes on {@code broker}, stamping member-form events with {@code clock}, at most at {@code
   * publishRate} events per token subject (per client address when anonymous; a batch takes one
   * token per event), with at most {@code maxBatchEvents} events per batch, remembering {@code
   * Idempotency-Key}s for {@code idempotencyWindow}.
   */
  public PublishHandler(
      Broker broker,
      HubMetrics metrics,
      Clock clock,
      RateLimiter publishRate,
      int maxBatchEvents,
      Duration idempotencyWindow) {
    this.maxBatchEvents = maxBatchEvents;
    this.idempotencyWindow = idempotencyWindow;
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
    Optional<IdempotencyKey> key;
    try {
      // The media type (415) and the token (401) were checked upstream.
      String mime = String.valueOf(HttpUtil.getMimeType(request));
      Optional<String> memberId = RequestText.header(request, "Member-ID", "topic_invalid");
      parsed =
          PublishRequest.parseAny(
              memberId,
              request.content().nioBuffer(),
              mime.equalsIgnoreCase("application/x-ndjson"),
              clock,
              maxBatchEvents);
      key = idempotencyKey(ctx.channel(), request, memberId, parsed);
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
    limitRate(ctx.channel(), publications.size());
    publish(ctx.channel(), parsed, key);
  }

  /**
   * The request's {@code Idempotency-Key}, scoped to the token's subject (so two tenants' keys
   * never collide) and with a fingerprint of what the request asks: its {@code Member-ID}, media
   * type and body in canonical JSON, so a retry that differs only in property order or whitespace
   * is the same request. Every store compares this fingerprint as it is.
   */
  private Optional<IdempotencyKey> idempotencyKey(
      Channel channel,
      FullHttpRequest request,
      Optional<String> memberId,
      PublishRequest.Parsed parsed) {
    // Most publishes carry no key: a lookup without the list getAll builds.
    if (!request.headers().contains("Idempotency-Key")) {
      return Optional.empty();
    }
    List<String> values = request.headers().getAll("Idempotency-Key");
    String value = values.get(0);
    if (values.size() > 1 || !IdempotencyKey.isValid(value)) {
      throw Refusal.badRequest(
          "idempotency_key_invalid",
          "Idempotency-Key must be one header of 1-255 visible ASCII characters");
    }
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
    for (String part :
        new String[] {
          String.valueOf(memberId.orElse(null)),
          String.valueOf(HttpUtil.getMimeType(request)).toLowerCase(java.util.Locale.ROOT)
        }) {
      digest.update(part.getBytes(StandardCharsets.UTF_8));
      digest.update((byte) 0);
    }
    // ASCII: the canonical form escapes everything else.
    digest.update(parsed.canonicalJson().getBytes(StandardCharsets.US_ASCII));
    String scope = AuthHandler.principal(channel).subject().map(sub -> "sub:" + sub).orElse("");
    return Optional.of(
        new IdempotencyKey(
            scope, value, HexFormat.of().formatHex(digest.digest()), idempotencyWindow));
  }

  /**
   * {@code {"id": ..., "reached": n}} for one event, {@code {"ids": [...], "reached": [...]}} for a
   * batch: reached counts the live subscriptions on this node each event was handed to.
   */
  private static String answer(PublishReceipt published, PublishRequest.Parsed parsed) {
    if (!parsed.batch()) {
      return "{\"id\":\""
          + published.ids().get(0)
          + "\",\"reached\":"
          + published.reached().get(0)
          + "}";
    }
    StringBuilder s = new StringBuilder("{\"ids\":[");
    for (int i = 0; i < published.ids().size(); i++) {
      s.append(i == 0 ? "\"" : ",\"").append(published.ids().get(i)).append('"');
    }
    s.append("],\"reached\":[");
    for (int i = 0; i < published.reached().size(); i++) {
      s.append(i == 0 ? "" : ",").append(published.reached().get(i));
    }
    return s.append("]}").toString();
  }

  private synchronized void started() {
    inFlight++;
  }

  // After the answer's callback: the answer is written (queued on the event loop) first.
  private synchronized void answered() {
    if (--inFlight == 0) {
      notifyAll();
    }
  }

  /**
   * Waits until no publish awaits its store, at most {@code millis}: a shutting-down hub answers
   * every publish it took before it closes connections.
   *
   * @return whether none is left
   */
  public synchronized boolean awaitNoneInFlight(long millis) throws InterruptedException {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(millis);
    while (inFlight > 0) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  private void limitRate(Channel channel, int events) {
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
    int retry = publishRate.acquire(key, events);
    if (retry > 0) {
      throw Refusal.retryLater(
          HttpResponseStatus.TOO_MANY_REQUESTS,
          "rate_limited",
          "too many events from this publisher (--publish-rate); retry later",
          retry);
    }
  }

  private void publish(
      Channel channel, PublishRequest.Parsed parsed, Optional<IdempotencyKey> key) {
    boolean keepAlive = Responses.keepAlive(channel);
    long start = System.nanoTime();
    CompletableFuture<PublishReceipt> stored;
    try {
      stored = broker.publish(parsed.publications(), key);
    } catch (IllegalStateException e) {
      throw Refusal.unavailable("shutting_down", "the hub is shutting down; retry later", 1);
    }
    started();
    // A pipelined request must not be answered before this one.
    ResponseOrder.awaitResponse(channel);
    stored
        .whenComplete(
            (events, failure) -> {
              if (failure == null) {
                metrics.publishAcknowledged(System.nanoTime() - start);
                FullHttpResponse response =
                    Responses.full(
                        HttpResponseStatus.CREATED,
                        Responses.JSON,
                        answer(events, parsed).getBytes(StandardCharsets.UTF_8));
                if (events.replayed()) {
                  response.headers().set("Idempotent-Replayed", "true");
                }
                Responses.write(channel, response, keepAlive);
                ResponseOrder.responded(channel);
                return;
              }
              Throwable cause =
                  failure instanceof CompletionException ? failure.getCause() : failure;
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
              } else if (cause instanceof PublishOutcomeUnknownException) {
                metrics.storeError();
                LOG.warn("store lost its answer to a publish: {}", cause.getMessage());
                channel
                    .pipeline()
                    .fireExceptionCaught(
                        Refusal.unavailable(
                            "outcome_unknown",
                            key.isPresent()
                                ? "the event store did not answer in time, so it is not known whether"
                                    + " this was published; retry with the same Idempotency-Key, which"
                                    + " publishes it at most once"
                                : "the event store did not answer in time, so it is not known whether"
                                    + " this was published; a retry may publish it twice. Send an"
                                    + " Idempotency-Key with your publishes, so a retry with the same"
                                    + " key publishes at most once",
                            1));
              } else if (cause instanceof ReplicationUnconfirmedException unconfirmed) {
                metrics.storeError();
                LOG.warn(
                    "store could not confirm a publish on its replicas: {}", cause.getMessage());
                channel
                    .pipeline()
                    .fireExceptionCaught(
                        Refusal.unavailable(
                            "replication_unconfirmed",
                            "stored on the primary, confirmed by "
                                + unconfirmed.confirmed()
                                + " of "
                                + unconfirmed.required()
                                + " replicas before the timeout; it may be lost if the primary fails"
                                + (key.isPresent()
                                    ? "; retry with the same Idempotency-Key, which publishes it at"
                                        + " most once"
                                    : "; a retry publishes it again. Send an Idempotency-Key with"
                                        + " your publishes, so a retry with the same key publishes at"
                                        + " most once"),
                            1));
              } else if (cause instanceof IdempotencyConflictException) {
                channel
                    .pipeline()
                    .fireExceptionCaught(
                        Refusal.of(
                            HttpResponseStatus.UNPROCESSABLE_ENTITY,
                            "idempotency_key_conflict",
                            cause.getMessage()));
              } else if (cause instanceof UnsupportedOperationException) {
                channel
                    .pipeline()
                    .fireExceptionCaught(
                        Refusal.of(
                            HttpResponseStatus.NOT_IMPLEMENTED,
                            "idempotency_unsupported",
                            "this hub's store does not support Idempotency-Key yet; publish without"
                                + " it"));
              } else {
                channel.pipeline().fireExceptionCaught(cause);
              }
            })
        .whenComplete((answer, failure) -> answered());
  }
}
