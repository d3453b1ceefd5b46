package dev.herald.hub.internal.health;

import dev.herald.hub.internal.http.Refusal;
import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.Responses;
import dev.herald.hub.internal.http.Route;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
import java.util.function.BooleanSupplier;

/**
 * {@code GET /healthz} (the process is up), {@code GET /readyz} (the store answers and the hub is
 * not shutting down). The store check must be cheap, never block the event loop: a log that probes
 * its store does so in the background and reports the last probe (Redis: see {@code
 * RedisEventLog#isAvailable}).
 */
@ChannelHandler.Sharable
public final class HealthHandler extends ChannelInboundHandlerAdapter {
  private final BooleanSupplier storeAvailable;
  private final BooleanSupplier shuttingDown;

  /** Answers from the given checks. */
  public HealthHandler(BooleanSupplier storeAvailable, BooleanSupplier shuttingDown) {
    this.storeAvailable = storeAvailable;
    this.shuttingDown = shuttingDown;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    RequestInfo info = RequestInfo.of(ctx.channel());
    if (!(msg instanceof io.netty.handler.codec.http.HttpRequest)
        || info == null
        || !(info.route() == Route.HEALTH || info.route() == Route.READY)) {
      ctx.fireChannelRead(msg);
      return;
    }
    ReferenceCountUtil.release(msg);
    boolean keepAlive = info.keepAlive();
    if (info.route() == Route.HEALTH) {
      Responses.json(ctx.channel(), HttpResponseStatus.OK, "{\"status\":\"up\"}", keepAlive);
      return;
    }
    if (shuttingDown.getAsBoolean()) {
      throw Refusal.unavailable("shutting_down", "the hub is shutting down", 1);
    }
    if (!storeAvailable.getAsBoolean()) {
      throw Refusal.unavailable(
          "store_unavailable",
          "the event store is not reachable or does not answer; check its logs",
          1);
    }
    Responses.json(ctx.channel(), HttpResponseStatus.OK, "{\"status\":\"ready\"}", keepAlive);
  }
}
