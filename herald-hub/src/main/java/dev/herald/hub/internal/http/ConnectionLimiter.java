package dev.herald.hub.internal.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts open connections, in total and per client address, and the rate of new connections (a
 * token bucket, against reconnect storms). A connection over any limit is refused with 503 {@code
 * too_many_connections} and {@code Retry-After} — or, when its request asks for an event stream,
 * shed ({@link Shedding}: 200, a jittered {@code retry:}, an end), so a browser's EventSource comes
 * back later instead of failing for good. Connections already open are never evicted. A limit of 0
 * means none.
 *
 * <p>To know whether a refused connection asks for a stream its request head must be read; that is
 * bounded so refused connections stay cheap. A connection refused over the rate of new connections
 * alone fits the connection limits, so its head is always read. Of those over a connection limit,
 * the first {@value #SHED_RESERVE} open at a time are read (within the head timeout and size
 * limits) and then answered and closed, the next {@value #PROBE_RESERVE} may still ask {@code GET
 * /healthz}, {@code /readyz} or {@code /metrics} (a liveness probe must not fail because the hub is
 * busy, and a restart would only make it busier; any other request is refused), and every one
 * beyond is answered 503 as soon as it opens, before it can hold a place. A shed answer takes one
 * round trip, so the shed reserve only fills when clients open connections and send nothing.
 */
@ChannelHandler.Sharable
public final class ConnectionLimiter extends ChannelInboundHandlerAdapter implements StaysOnStream {
  /** Refused connections that may still ask a probe, at most, at a time. */
  public static final int PROBE_RESERVE = 16;

  /** Refused connections whose request head is read, to shed a stream request, at most at once. */
  public static final int SHED_RESERVE = 256;

  private static final Set<String> PROBES = Set.of("/healthz", "/readyz", "/metrics");
  private static final AttributeKey<Refusal> REFUSED = AttributeKey.valueOf("herald.overLimit");
  // Present on a refused connection that holds a place of a reserve: TRUE for the shed reserve
  // (its stream request is shed, a probe answered), FALSE for the probe reserve (probes only).
  private static final AttributeKey<Boolean> RESERVED = AttributeKey.valueOf("herald.reserved");
  // Present on a connection refused over the rate only, within the connection limits: its head
  // is read like any connection's, and it holds no place of a reserve.
  private static final AttributeKey<Boolean> UNCOUNTED = AttributeKey.valueOf("herald.uncounted");
  // Present once a reserved connection asked a probe: the rest of that request passes.
  private static final AttributeKey<Boolean> PROBING = AttributeKey.valueOf("herald.probing");
  private static final int RETRY_AFTER_SECONDS = 5;

  private final int maxConnections;
  private final int maxPerAddress;
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicInteger reserved = new AtomicInteger();
  private final AtomicInteger shedReserved = new AtomicInteger();
  private final ConcurrentHashMap<InetAddress, Integer> perAddress = new ConcurrentHashMap<>();
  private final RateLimiter newConnections;

  /** Limits connections; 0 disables a limit. */
  public ConnectionLimiter(int maxConnections, int maxPerAddress) {
    this(maxConnections, maxPerAddress, RateLimiter.perSecond(0));
  }

  /** Limits connections and the rate of new ones ({@code newConnections}, one shared key). */
  public ConnectionLimiter(int maxConnections, int maxPerAddress, RateLimiter newConnections) {
    this.maxConnections = maxConnections;
    this.maxPerAddress = maxPerAddress;
    this.newConnections = newConnections;
  }

  /** The connections open now. */
  public int openConnections() {
    return open.get();
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    int total = open.incrementAndGet();
    boolean over = maxConnections > 0 && total > maxConnections;
    InetAddress address = address(ctx.channel());
    if (address != null) {
      int mine = perAddress.merge(address, 1, Integer::sum);
      over |= maxPerAddress > 0 && mine > maxPerAddress;
    }
    Refusal refusal = null;
    if (over) {
      refusal =
          Refusal.unavailable(
              "too_many_connections",
              "the hub has reached its connection limit"
                  + " (--max-connections or --max-connections-per-ip); retry later",
              RETRY_AFTER_SECONDS);
    } else {
      // Only connections within the other limits spend a token: refused ones cost nothing.
      int retry = newConnections.acquire("");
      if (retry > 0) {
        refusal =
            Refusal.unavailable(
                "too_many_connections",
                "too many new connections per second (--max-new-connections-per-second);"
                    + " retry later",
                retry);
      }
    }
    Channel channel = ctx.channel();
    if (refusal != null && !over) {
      // Over the rate only: the connection fits the connection limits, so reading its head costs
      // what an admitted one would. Every stream request of a reconnect storm is shed, however
      // many arrive at once (a 503 would end a browser's EventSource for good).
      channel.attr(REFUSED).set(refusal);
      channel.attr(RESERVED).set(Boolean.TRUE);
      channel.attr(UNCOUNTED).set(Boolean.TRUE);
    } else if (refusal != null) {
      channel.attr(REFUSED).set(refusal);
      if (shedReserved.incrementAndGet() <= SHED_RESERVE) {
        channel.attr(RESERVED).set(Boolean.TRUE);
      } else {
        shedReserved.decrementAndGet();
        if (reserved.incrementAndGet() <= PROBE_RESERVE) {
          channel.attr(RESERVED).set(Boolean.FALSE);
        } else {
          reserved.decrementAndGet();
        }
      }
    }
    ctx.fireChannelActive();
    if (refusal != null && !channel.hasAttr(RESERVED)) {
      // Answered at once: the connection is closed before it can hold a place.
      ctx.fireExceptionCaught(refusal);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    open.decrementAndGet();
    if (ctx.channel().hasAttr(RESERVED) && !ctx.channel().hasAttr(UNCOUNTED)) {
      (ctx.channel().attr(RESERVED).get() ? shedReserved : reserved).decrementAndGet();
    }
    InetAddress address = address(ctx.channel());
    if (address != null) {
      perAddress.computeIfPresent(address, (a, count) -> count == 1 ? null : count - 1);
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    // hasAttr first: attr() would add an empty attribute to every connection on its first read.
    Channel channel = ctx.channel();
    // Bytes and HTTP/2 frames pass: before a protocol's handlers (a TLS handshake) or on an HTTP/2
    // connection, whose streams are admitted one by one (admitStream).
    if (!channel.hasAttr(REFUSED) || channel.hasAttr(PROBING) || !(msg instanceof HttpObject)) {
      ctx.fireChannelRead(msg);
      return;
    }
    if (msg instanceof HttpRequest request && channel.hasAttr(RESERVED) && isProbe(request)) {
      channel.attr(PROBING).set(Boolean.TRUE);
      // Answered, then closed: the place in the reserve is for the next probe.
      HttpUtil.setKeepAlive(request, false);
      ctx.fireChannelRead(msg);
      return;
    }
    if (msg instanceof HttpRequest request) {
      // For the log line: the router, which records requests, is not reached.
      RequestInfo.set(
          channel,
          new RequestInfo(request.method().name(), Router.path(request.uri()), null, false));
      if (Boolean.TRUE.equals(channel.attr(RESERVED).get())) {
        // A stream request of the shed reserve hears the refusal as "come back later".
        Shedding.mark(channel, request);
      }
      ReferenceCountUtil.release(msg);
      throw channel.attr(REFUSED).get();
    }
    ReferenceCountUtil.release(msg);
  }

  /**
   * The refusal of a connection that was over a limit as it opened and is not kept for a probe, to
   * be answered once its protocol is known (a TLS connection after its handshake); empty for a
   * connection within the limits.
   */
  public static Optional<Refusal> refusedAtOpen(Channel connection) {
    return connection.hasAttr(REFUSED) && !connection.hasAttr(RESERVED)
        ? Optional.ofNullable(connection.attr(REFUSED).get())
        : Optional.empty();
  }

  /**
   * Admits a request on an HTTP/2 stream of {@code stream.parent()}, by that connection's limits:
   * on a connection within them, every stream; on one that was over a limit as it opened, only a
   * probe ({@code /healthz}, {@code /readyz}, {@code /metrics}) on a connection of a reserve.
   * Either way the connection is closed (with {@code GOAWAY}) once that stream ends.
   *
   * @throws Refusal 503 {@code too_many_connections} for any other request of a refused connection
   *     (shed, for a stream request)
   */
  public static void admitStream(Channel stream, HttpRequest request) {
    Channel connection = stream.parent();
    if (connection == null || !connection.hasAttr(REFUSED)) {
      return;
    }
    stream.closeFuture().addListener(closed -> connection.close());
    if (connection.hasAttr(RESERVED) && isProbe(request)) {
      return;
    }
    RequestInfo.set(
        stream, new RequestInfo(request.method().name(), Router.path(request.uri()), null, false));
    // The request head is read already: a stream request is shed, whatever reserve (if any).
    Shedding.mark(stream, request);
    throw connection.attr(REFUSED).get();
  }

  private static boolean isProbe(HttpRequest request) {
    return HttpMethod.GET.equals(request.method()) && PROBES.contains(Router.path(request.uri()));
  }

  private static InetAddress address(Channel channel) {
    SocketAddress remote = channel.remoteAddress();
    return remote instanceof InetSocketAddress inet ? inet.getAddress() : null;
  }
}
