package dev.herald.hub.internal.metrics;

import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.Responses;
import dev.herald.hub.internal.http.Route;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;

/** {@code GET /metrics}: every meter of the hub in the Prometheus text format. */
@ChannelHandler.Sharable
public final class MetricsHandler extends ChannelInboundHandlerAdapter {
  private static final String PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8";

  private final HubMetrics metrics;

  /** Serves {@code metrics}. */
  public MetricsHandler(HubMetrics metrics) {
    this.metrics = metrics;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!RequestInfo.routed(ctx.channel(), msg, Route.METRICS)) {
      ctx.fireChannelRead(msg);
      return;
    }
    ReferenceCountUtil.release(msg);
    byte[] body = metrics.scrape().getBytes(StandardCharsets.UTF_8);
    Responses.write(
        ctx.channel(),
        Responses.full(HttpResponseStatus.OK, PROMETHEUS, body),
        Responses.keepAlive(ctx.channel()));
  }
}
