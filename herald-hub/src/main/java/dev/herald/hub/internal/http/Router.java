package dev.herald.hub.internal.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
import java.util.function.BooleanSupplier;

/**
 * Matches each request to a {@link Route}: an unknown path is 404, a known path with the wrong
 * method 405 with {@code Allow}. {@code HEAD} goes wherever {@code GET} goes (every general-purpose
 * server must support both, RFC 9110, section 9.1): its handler answers as for {@code GET}, and the
 * codec sends the head without the body. While the hub drains, new subscriptions are 503 {@code
 * draining} (shed, for a stream request); once it shuts down, new publishes and subscriptions are
 * 503 {@code shutting_down} (health and metrics still answer). Once a channel carries an event
 * stream, anything more the client sends on it is dropped.
 */
@ChannelHandler.Sharable
public final class Router extends ChannelInboundHandlerAdapter {
  /** Seconds a client is asked to wait before retrying during shutdown. */
  private static final int SHUTDOWN_RETRY_AFTER = 1;

  /** The path prefix of the console's files other than its page ({@code /}). */
  public static final String CONSOLE_FILES = "/console/";

  private final BooleanSupplier draining;
  private final BooleanSupplier shuttingDown;
  private final boolean console;

  /** Routes requests, with the web console; {@code shuttingDown} says when to stop new work. */
  public Router(BooleanSupplier shuttingDown) {
    this(shuttingDown, true);
  }

  /**
   * Routes requests; {@code shuttingDown} says when to stop accepting new work, {@code console}
   * whether {@code /} and {@code /console/} serve the web console (else they are 404 like any
   * unknown path).
   */
  public Router(BooleanSupplier shuttingDown, boolean console) {
    this(shuttingDown, shuttingDown, console);
  }

  /**
   * Routes requests; while {@code draining} new subscriptions are refused (503 {@code draining},
   * which a stream request hears as {@link Shedding}), while {@code shuttingDown} new publishes
   * too; {@code console} as above.
   */
  public Router(BooleanSupplier draining, BooleanSupplier shuttingDown, boolean console) {
    this.draining = draining;
    this.shuttingDown = shuttingDown;
    this.console = console;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (RequestInfo.isStreaming(ctx.channel())) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (!(msg instanceof HttpRequest request)) {
      ctx.fireChannelRead(msg);
      return;
    }
    String path = path(request.uri());
    HttpMethod method = request.method();
    Shedding.mark(ctx.channel(), request);
    RequestInfo.set(
        ctx.channel(), new RequestInfo(method.name(), path, null, KeepAlive.of(request)));
    Route route;
    try {
      route = route(path, method, console);
      if (route == Route.SUBSCRIBE && draining.getAsBoolean() && !shuttingDown.getAsBoolean()) {
        throw Refusal.unavailable(
            "draining",
            "the hub is draining before it stops; reconnect, to another node or after it restarts",
            SHUTDOWN_RETRY_AFTER);
      }
      if ((route == Route.PUBLISH || route == Route.SUBSCRIBE) && shuttingDown.getAsBoolean()) {
        throw Refusal.unavailable(
            "shutting_down",
            "the hub is shutting down; retry against another node or after it restarts",
            SHUTDOWN_RETRY_AFTER);
      }
    } catch (Refusal refusal) {
      ReferenceCountUtil.release(msg);
      throw refusal;
    }
    RequestInfo.set(
        ctx.channel(), new RequestInfo(method.name(), path, route, KeepAlive.of(request)));
    ctx.fireChannelRead(msg);
  }

  /** The route for {@code path} and {@code method}; {@code console} says whether it is served. */
  static Route route(String path, HttpMethod method, boolean console) {
    if (console && (path.equals("/") || path.startsWith(CONSOLE_FILES))) {
      return onlyGet(path, method, Route.CONSOLE);
    }
    switch (path) {
      case "/events":
        if (HttpMethod.GET.equals(method) || HttpMethod.HEAD.equals(method)) {
          return Route.SUBSCRIBE;
        }
        if (HttpMethod.POST.equals(method)) {
          return Route.PUBLISH;
        }
        throw Refusal.methodNotAllowed(path, "GET, HEAD, POST");
      case "/healthz":
        return onlyGet(path, method, Route.HEALTH);
      case "/readyz":
        return onlyGet(path, method, Route.READY);
      case "/metrics":
        return onlyGet(path, method, Route.METRICS);
      case "/presence":
        return onlyGet(path, method, Route.PRESENCE);
      case "/stats":
        return onlyGet(path, method, Route.STATS);
      default:
        throw Refusal.of(
            HttpResponseStatus.NOT_FOUND,
            "not_found",
            "there is nothing at "
                + path
                + "; the hub serves "
                + (console ? "/ (the console), " : "")
                + "/events, /presence, /stats, /healthz, /readyz, /metrics");
    }
  }

  private static Route onlyGet(String path, HttpMethod method, Route route) {
    if (!HttpMethod.GET.equals(method) && !HttpMethod.HEAD.equals(method)) {
      throw Refusal.methodNotAllowed(path, "GET, HEAD");
    }
    return route;
  }

  /** The path of a request target, without query or fragment. */
  static String path(String uri) {
    int end = uri.length();
    int query = uri.indexOf('?');
    if (query >= 0) {
      end = query;
    }
    int fragment = uri.indexOf('#');
    if (fragment >= 0 && fragment < end) {
      end = fragment;
    }
    return uri.substring(0, end);
  }
}
