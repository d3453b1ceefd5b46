package dev.herald.hub.internal.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Read timeouts, against clients that hold a connection without finishing a request (slowloris):
 *
 * <ul>
 *   <li><b>head</b>: a request head must be complete within this time of its first byte, and a new
 *       connection must send its first head within this time of opening; a partial head is then
 *       answered 408 {@code request_timeout}, a connection that sent nothing is closed;
 *   <li><b>body</b>: a request body must be complete within this time of its head (408);
 *   <li><b>idle</b>: a keep-alive connection may wait this long for its next request, then it is
 *       closed.
 * </ul>
 *
 * While the hub works on a request (its answer is not out yet), no timeout runs: the hub, not the
 * client, is taking the time. Drips do not extend a deadline: it is set when its phase begins. A
 * connection that became an event stream loses this handler with every other request handler, so
 * streams are never timed out here (their heartbeats keep them alive through proxies).
 *
 * <p>One per connection, right after the codec. A timeout of zero is off. One timer at a time: a
 * later deadline does not reschedule it; when it fires early it sets itself for the new deadline.
 */
public final class RequestTimeouts extends ChannelDuplexHandler {
  private static final Logger LOG = LoggerFactory.getLogger(RequestTimeouts.class);

  private enum Phase {
    /** The hub is answering, or nothing to time. */
    NONE,
    HEAD,
    BODY,
    IDLE,
    /** The connection is closing: nothing more to time. */
    DONE
  }

  private final long headNanos;
  private final long bodyNanos;
  private final long idleNanos;
  private ChannelHandlerContext ctx;
  private Phase phase = Phase.NONE;
  // When the current phase expires, 0 for never.
  private long deadline;
  private ScheduledFuture<?> timer;
  private long timerAt;
  // Requests whose head was read and whose answer is not out yet.
  private int pending;
  // The body of the last request read is not complete yet.
  private boolean inBody;
  // A request head was read in the current read.
  private boolean readHead;
  // Bytes of a head arrived (for the head phase: a partial request, not a silent connection).
  private boolean partialHead;

  /** Timeouts of the given lengths; {@link Duration#ZERO} turns one off. */
  public RequestTimeouts(Duration head, Duration body, Duration idle) {
    this.headNanos = head.toNanos();
    this.bodyNanos = body.toNanos();
    this.idleNanos = idle.toNanos();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    enter(Phase.HEAD);
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest) {
      pending++;
      inBody = true;
      readHead = true;
      partialHead = false;
    }
    if (msg instanceof LastHttpContent) {
      inBody = false;
    }
    ctx.fireChannelRead(msg);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (phase != Phase.DONE) {
      if (inBody && pending <= 1) {
        // The body is the client's to send, even if its request was answered at its head.
        if (phase != Phase.BODY) {
          enter(Phase.BODY);
        }
      } else if (pending > 0) {
        enter(Phase.NONE);
      } else if (!readHead) {
        // Bytes came and made no request: part of a head. Its deadline runs from the first.
        partialHead = true;
        if (phase != Phase.HEAD) {
          enter(Phase.HEAD);
        }
      } else if (phase != Phase.IDLE) {
        // Requests read and answered while reading: wait for the next one.
        enter(Phase.IDLE);
      }
    }
    readHead = false;
    ctx.fireChannelReadComplete();
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof HttpResponse response && !KeepAlive.of(response)) {
      enter(Phase.DONE);
    } else if (answers(msg) && phase != Phase.DONE) {
      pending = Math.max(0, pending - 1);
      if (pending == 0 && !inBody) {
        enter(Phase.IDLE);
      }
    }
    ctx.write(msg, promise);
  }

  /** Whether {@code msg} ends the answer to a request: not an interim 100 Continue. */
  private static boolean answers(Object msg) {
    if (msg instanceof FullHttpResponse response) {
      return response.status().codeClass() != HttpStatusClass.INFORMATIONAL;
    }
    return msg instanceof LastHttpContent;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    stop();
    ctx.fireChannelInactive();
  }

  /** Removed when the connection became an event stream: streams have no read timeout. */
  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    stop();
  }

  private void stop() {
    phase = Phase.DONE;
    deadline = 0;
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  private void enter(Phase next) {
    phase = next;
    long length =
        switch (next) {
          case HEAD -> headNanos;
          case BODY -> bodyNanos;
          case IDLE -> idleNanos;
          case NONE, DONE -> 0;
        };
    if (length <= 0) {
      deadline = 0; // a timer already set finds nothing to do
      return;
    }
    deadline = System.nanoTime() + length;
    if (timer == null || timerAt - deadline > 0) {
      if (timer != null) {
        timer.cancel(false);
      }
      schedule();
    }
  }

  private void schedule() {
    timerAt = deadline;
    timer =
        ctx.executor().schedule(this::expire, deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
  }

  private void expire() {
    timer = null;
    if (deadline == 0 || !ctx.channel().isActive()) {
      return;
    }
    if (deadline - System.nanoTime() > 0) {
      schedule();
      return;
    }
    Phase expired = phase;
    enter(Phase.DONE);
    if (expired == Phase.BODY || (expired == Phase.HEAD && partialHead)) {
      if (expired == Phase.HEAD) {
        // Whatever the router recorded belongs to an earlier request on this connection.
        RequestInfo.set(ctx.channel(), new RequestInfo("-", "-", null, false));
      }
      ctx.fireExceptionCaught(
          Refusal.of(
              HttpResponseStatus.REQUEST_TIMEOUT,
              "request_timeout",
              expired == Phase.BODY
                  ? "the request body did not arrive in time (--request-body-timeout)"
                  : "the request head did not arrive in time (--request-head-timeout)"));
      return;
    }
    LOG.debug("closing {}: {} timeout", ctx.channel().remoteAddress(), expired);
    ctx.close();
  }
}
