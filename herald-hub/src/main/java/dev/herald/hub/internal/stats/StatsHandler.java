package dev.herald.hub.internal.stats;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.herald.hub.internal.auth.AuthHandler;
import dev.herald.hub.internal.http.CorsHandler;
import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.Responses;
import dev.herald.hub.internal.http.Route;
import dev.herald.hub.internal.metrics.HubMetrics;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * {@code GET /stats}: the hub's live numbers as one JSON object, for the console (and anyone who
 * would rather not parse Prometheus text):
 *
 * <pre>{@code
 * {"connections": 3, "streams": 1, "publishesPerSecond": 12.5, "deliveriesPerSecond": 25.0,
 *  "rateWindowSeconds": 2.0, "published": 130, "delivered": 260, "replayed": 0,
 *  "slowConsumerCloses": 0, "storeErrors": 0, "refusals": {"not_found": 1},
 *  "store": {"log": "SqliteEventLog", "available": true}, "shuttingDown": false,
 *  "uptimeSeconds": 42}
 * }</pre>
 *
 * Counts are since the hub started; rates are per second over the window since an earlier ask
 * ({@link Rates}). With a key configured the request needs a valid token (any subject: the numbers
 * name no topic), and a browser page from an origin outside the CORS allowlist is refused.
 */
@ChannelHandler.Sharable
public final class StatsHandler extends ChannelInboundHandlerAdapter {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final HubMetrics metrics;
  private final BooleanSupplier storeAvailable;
  private final BooleanSupplier shuttingDown;
  private final String log;
  private final LongSupplier nanoTime;
  private final long started;
  private final Rates rates;

  /**
   * Answers from {@code metrics}; {@code storeAvailable} is the cheap check {@code /readyz} makes,
   * {@code log} names the event log's kind (a class name, never its configuration).
   */
  public StatsHandler(
      HubMetrics metrics,
      BooleanSupplier storeAvailable,
      BooleanSupplier shuttingDown,
      String log,
      LongSupplier nanoTime) {
    this.metrics = metrics;
    this.storeAvailable = storeAvailable;
    this.shuttingDown = shuttingDown;
    this.log = log;
    this.nanoTime = nanoTime;
    this.started = nanoTime.getAsLong();
    HubMetrics.Totals now = metrics.totals();
    this.rates = new Rates(started, now.published(), now.delivered());
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!RequestInfo.routed(ctx.channel(), msg, Route.STATS)) {
      ctx.fireChannelRead(msg);
      return;
    }
    ReferenceCountUtil.release(msg);
    CorsHandler.checkOrigin(ctx.channel());
    AuthHandler.principal(ctx.channel()); // authenticated: any valid token may read the numbers
    Responses.json(
        ctx.channel(), HttpResponseStatus.OK, body(), Responses.keepAlive(ctx.channel()));
  }

  private String body() {
    long now = nanoTime.getAsLong();
    HubMetrics.Totals totals = metrics.totals();
    Rates.Rate rate = rates.sample(now, totals.published(), totals.delivered());
    ObjectNode body = JSON.createObjectNode();
    body.put("connections", totals.connections());
    body.put("streams", totals.streams());
    body.put("publishesPerSecond", round(rate.published()));
    body.put("deliveriesPerSecond", round(rate.delivered()));
    body.put("rateWindowSeconds", round(rate.windowSeconds()));
    body.put("published", totals.published());
    body.put("delivered", totals.delivered());
    body.put("replayed", totals.replayed());
    body.put("slowConsumerCloses", totals.slowConsumerCloses());
    body.put("storeErrors", totals.storeErrors());
    ObjectNode refusals = body.putObject("refusals");
    totals.refusals().forEach(refusals::put);
    ObjectNode store = body.putObject("store");
    store.put("log", log);
    store.put("available", storeAvailable.getAsBoolean());
    body.put("shuttingDown", shuttingDown.getAsBoolean());
    body.put("uptimeSeconds", (now - started) / 1_000_000_000L);
    return body.toString();
  }

  private static double round(double value) {
    return Math.round(value * 100) / 100.0;
  }
}
