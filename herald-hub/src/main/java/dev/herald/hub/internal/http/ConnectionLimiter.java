package dev.herald.hub.internal.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts open connections, in total and per client address, and the rate of new connections (a
 * token bucket, against reconnect storms). A connection over any limit is answered 503 {@code
 * too_many_connections} with {@code Retry-After} on its first request and closed; connections
 * already open are never evicted. A limit of 0 means none.
 */
@ChannelHandler.Sharable
public final class ConnectionLimiter extends ChannelInboundHandlerAdapter {
  private static final AttributeKey<Boolean> OVER = AttributeKey.valueOf("herald.overLimit");
  private static final int RETRY_AFTER_SECONDS = 5;

  private final int maxConnections;
  private final int maxPerAddress;
  private final AtomicInteger open = new AtomicInteger();
  private static final AttributeKey<Integer> RATE_RETRY = AttributeKey.valueOf("herald.rateRetry");
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
    if (over) {
      ctx.channel().attr(OVER).set(Boolean.TRUE);
    } else {
      // Only connections within the other limits spend a token: refused ones cost nothing.
      int retry = newConnections.acquire("");
      if (retry > 0) {
        ctx.channel().attr(RATE_RETRY).set(retry);
      }
    }
    ctx.fireChannelActive();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    open.decrementAndGet();
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
    if (channel.hasAttr(OVER) && Boolean.TRUE.equals(channel.attr(OVER).get())) {
      ReferenceCountUtil.release(msg);
      if (msg instanceof HttpRequest) {
        throw Refusal.unavailable(
            "too_many_connections",
            "the hub has reached its connection limit"
                + " (--max-connections or --max-connections-per-ip); retry later",
            RETRY_AFTER_SECONDS);
      }
      return;
    }
    Integer retry = channel.hasAttr(RATE_RETRY) ? channel.attr(RATE_RETRY).get() : null;
    if (retry != null) {
      ReferenceCountUtil.release(msg);
      if (msg instanceof HttpRequest) {
        throw Refusal.unavailable(
            "too_many_connections",
            "too many new connections per second (--max-new-connections-per-second); retry later",
            retry);
      }
      return;
    }
    ctx.fireChannelRead(msg);
  }

  private static InetAddress address(Channel channel) {
    SocketAddress remote = channel.remoteAddress();
    return remote instanceof InetSocketAddress inet ? inet.getAddress() : null;
  }
}
