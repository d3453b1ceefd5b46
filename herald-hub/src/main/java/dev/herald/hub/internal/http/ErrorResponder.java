package dev.herald.hub.internal.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The end of the pipeline: answers every {@link Refusal} with {@code {"error": code, "message":
 * sentence}} and its status, and logs it with its code (the first of a reason per interval in full,
 * the rest counted: {@link RefusalLog}); closes the connection after an unexpected error. A client
 * that goes away (a reset, a close in the middle of a body) is no error: one DEBUG line. Messages
 * no handler consumed (the rest of a refused request's body) are released here quietly.
 *
 * <p>Each refusal's code is also counted (the {@code herald.refusals} metric, tagged {@code
 * reason}). Nothing it logs carries a query string, and exception text is passed through {@link
 * Redaction} first.
 *
 * <p>A 503 with {@code Retry-After} to a request for an event stream is answered as {@link
 * Shedding} says instead: 200, a {@code retry:} and an end, which an EventSource survives.
 *
 * <p>Every refusal closes the connection: the request's body may be partly unread, and a fresh
 * connection is cheaper than reasoning about what is left of it.
 */
@ChannelHandler.Sharable
public final class ErrorResponder extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(ErrorResponder.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Consumer<String> refusals;
  private final RefusalLog log;

  /**
   * Answers refusals, reporting each one's reason code to {@code refusals}; logs the first refusal
   * of each reason per {@link RefusalLog#DEFAULT_INTERVAL} in full and counts the others.
   */
  public ErrorResponder(Consumer<String> refusals) {
    this.refusals = refusals;
    this.log = new RefusalLog(LOG, RefusalLog.DEFAULT_INTERVAL);
  }

  /** Logs the refusals counted and not logged yet (at shutdown). */
  public void flushLog() {
    log.flush();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ReferenceCountUtil.release(msg);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof Refusal refusal) {
      refuse(ctx, refusal);
    } else if (cause instanceof IOException || cause instanceof PrematureChannelClosureException) {
      // The peer reset, vanished or closed in the middle of a request: nothing to answer and
      // nothing wrong with the hub.
      LOG.debug(
          "connection {} failed: {}",
          ctx.channel().remoteAddress(),
          Redaction.redact(cause.toString()));
      ctx.close();
    } else {
      LOG.error("unexpected error on {}", ctx.channel().remoteAddress(), redacted(cause));
      refuse(
          ctx,
          Refusal.of(
              HttpResponseStatus.INTERNAL_SERVER_ERROR,
              "internal_error",
              "the hub failed unexpectedly; the error is in its log"));
    }
  }

  /**
   * Counts and logs a refusal answered elsewhere (on a connection that has no HTTP handlers yet,
   * such as the TLS port's first bytes), as every other: one line, or counted in a storm.
   */
  public void record(Channel channel, Refusal refusal) {
    record(channel, refusal, Redaction.redact(refusal.getMessage()));
  }

  private void record(Channel channel, Refusal refusal, String message) {
    RequestInfo info = RequestInfo.of(channel);
    refusals.accept(refusal.code());
    if (log.admit(refusal, channel.eventLoop())) {
      LOG.info(
          "refused {} {} from {}: {} {} {}",
          info == null ? "-" : info.method(),
          info == null ? "-" : info.path(),
          channel.remoteAddress(),
          refusal.status().code(),
          refusal.code(),
          message);
    }
  }

  private void refuse(ChannelHandlerContext ctx, Refusal refusal) {
    String message = Redaction.redact(refusal.getMessage());
    record(ctx.channel(), refusal, message);
    if (!ctx.channel().isActive()) {
      return;
    }
    if (RequestInfo.isStreaming(ctx.channel())) {
      // The event stream's head is out: no other response can be written on this connection.
      ctx.close();
      return;
    }
    if (Shedding.sheds(ctx.channel(), refusal)) {
      // An EventSource fails for good on a 503: it is told to come back instead.
      Responses.write(ctx.channel(), Shedding.response(refusal), false);
      return;
    }
    FullHttpResponse response =
        Responses.full(
            refusal.status(), Responses.JSON, body(refusal.code(), message, refusal.index()));
    refusal.allow().ifPresent(allow -> response.headers().set(HttpHeaderNames.ALLOW, allow));
    refusal
        .wwwAuthenticate()
        .ifPresent(value -> response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, value));
    if (refusal.retryAfterSeconds() > 0) {
      response.headers().setInt(HttpHeaderNames.RETRY_AFTER, refusal.retryAfterSeconds());
    }
    Responses.write(ctx.channel(), response, false);
  }

  /**
   * A stand-in for {@code cause} whose messages (its own and its causes') are redacted, with the
   * same stack traces: an exception's text may quote the request line and its query token.
   */
  static Throwable redacted(Throwable cause) {
    Throwable copy = new RedactedException(Redaction.redact(cause.toString()));
    copy.setStackTrace(cause.getStackTrace());
    if (cause.getCause() != null && cause.getCause() != cause) {
      copy.initCause(redacted(cause.getCause()));
    }
    return copy;
  }

  /** An exception's redacted text and stack, for the log. */
  private static final class RedactedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    RedactedException(String text) {
      super(text);
    }
  }

  /** The JSON error body. */
  public static byte[] body(String code, String message) {
    return body(code, message, java.util.OptionalInt.empty());
  }

  /** The JSON error body, with {@code "index"} when the refusal is about one batch element. */
  public static byte[] body(String code, String message, java.util.OptionalInt index) {
    ObjectNode node = JSON.createObjectNode();
    node.put("error", code);
    node.put("message", message);
    index.ifPresent(i -> node.put("index", i));
    return node.toString().getBytes(StandardCharsets.UTF_8);
  }
}
