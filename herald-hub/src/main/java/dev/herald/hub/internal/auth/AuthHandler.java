package dev.herald.hub.internal.auth;

import dev.herald.hub.internal.http.Refusal;
import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.ResponseOrder;
import dev.herald.hub.internal.http.Route;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Authenticates {@code GET /events}, {@code POST /events}, {@code GET /presence} and {@code GET
 * /stats} (401s), after route and size and before anything about the request's content; records the
 * {@link Principal} on the channel for the endpoints' 403 checks ({@link Access}). In dev mode (no
 * key) every request is {@link Principal#ANONYMOUS}.
 *
 * <p>Tokens are verified on the event loop when that cannot block (HMAC, a PEM key, or a token in
 * the cache); a JWKS verification runs on {@code blocking}, with the connection's later messages
 * held by {@link ResponseOrder} until it is done, so requests are still answered in order.
 */
@ChannelHandler.Sharable
public final class AuthHandler extends ChannelInboundHandlerAdapter {
  private static final AttributeKey<Principal> PRINCIPAL = AttributeKey.valueOf("herald.principal");

  private final Optional<Authenticator> authenticator;
  private final Executor blocking;

  /**
   * Authenticates with {@code authenticator}, or none for dev mode; JWKS verifications run on
   * {@code blocking}.
   */
  public AuthHandler(Optional<Authenticator> authenticator, Executor blocking) {
    this.authenticator = authenticator;
    this.blocking = blocking;
  }

  /** The principal of the request in progress on {@code channel}. */
  public static Principal principal(Channel channel) {
    Principal principal = channel.attr(PRINCIPAL).get();
    if (principal == null) {
      throw new IllegalStateException("the request was not authenticated");
    }
    return principal;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    Channel channel = ctx.channel();
    if (!RequestInfo.routed(channel, msg, Route.PUBLISH)
        && !RequestInfo.routed(channel, msg, Route.SUBSCRIBE)
        && !RequestInfo.routed(channel, msg, Route.PRESENCE)
        && !RequestInfo.routed(channel, msg, Route.STATS)) {
      ctx.fireChannelRead(msg);
      return;
    }
    channel.attr(PRINCIPAL).set(null);
    if (authenticator.isEmpty()) {
      channel.attr(PRINCIPAL).set(Principal.ANONYMOUS);
      ctx.fireChannelRead(msg);
      return;
    }
    Authenticator auth = authenticator.get();
    String token;
    Optional<Principal> cached;
    try {
      token = auth.token((HttpRequest) msg);
      cached = auth.cached(token);
      if (cached.isEmpty() && !auth.mayBlock()) {
        cached = Optional.of(auth.verify(token));
      }
    } catch (RuntimeException refused) {
      ReferenceCountUtil.release(msg);
      throw refused;
    }
    if (cached.isPresent()) {
      channel.attr(PRINCIPAL).set(cached.get());
      ctx.fireChannelRead(msg);
      return;
    }
    verifyOffLoop(ctx, msg, auth, token);
  }

  private void verifyOffLoop(ChannelHandlerContext ctx, Object msg, Authenticator auth, String t) {
    Channel channel = ctx.channel();
    ResponseOrder.awaitResponse(channel);
    try {
      blocking.execute(
          () -> {
            Principal principal = null;
            RuntimeException failure = null;
            try {
              principal = auth.verify(t);
            } catch (RuntimeException e) {
              failure = e;
            }
            Principal verified = principal;
            RuntimeException refused = failure;
            ctx.executor().execute(() -> resume(ctx, msg, verified, refused));
          });
    } catch (RejectedExecutionException e) {
      ReferenceCountUtil.release(msg);
      throw Refusal.retryLater(
          HttpResponseStatus.SERVICE_UNAVAILABLE,
          "shutting_down",
          "the hub is shutting down; retry later",
          1);
    }
  }

  private static void resume(
      ChannelHandlerContext ctx, Object msg, Principal principal, RuntimeException failure) {
    Channel channel = ctx.channel();
    if (failure != null) {
      ReferenceCountUtil.release(msg);
      ctx.fireExceptionCaught(failure);
      return;
    }
    channel.attr(PRINCIPAL).set(principal);
    ctx.fireChannelRead(msg);
    // After the request went on: a publish holds the connection again until it is answered.
    ResponseOrder.responded(channel);
  }
}
