package dev.herald.hub.internal.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * Keeps responses in request order when a client pipelines: while a response is being produced off
 * the event loop (a publish waiting for its store), every message that arrives after it is held
 * here, and reading stops; when the response is queued, the held messages go on, in order.
 *
 * <p>Reading stops only once a message is actually held. A client that waits for each answer (the
 * usual one) never sends one early, and turning reading off and on for each of its requests would
 * cost two {@code epoll_ctl} calls per publish (about 4 % of the hub's CPU under per-member load,
 * docs/performance.md). What is held before reading stops is bounded by one read.
 *
 * <p>One per connection, right after the codec. Netty's {@code FlowControlHandler} is not enough:
 * it lets one more message through when a read was already requested, which is exactly the
 * pipelined request that must wait.
 */
public final class ResponseOrder extends ChannelInboundHandlerAdapter {
  // Small: one per connection, and it rarely holds more than the rest of one request.
  private final ArrayDeque<Object> held = new ArrayDeque<>(2);
  private ChannelHandlerContext ctx;
  // How many responses (or verifications) are pending; messages are held while it is above 0.
  private int holds;
  // Whether this handler turned reading off (only it turns reading back on).
  private boolean paused;

  /**
   * Holds what arrives next on {@code channel} until the matching {@link #responded}; on its event
   * loop. Holds nest: messages move on when every hold has been answered.
   */
  public static void awaitResponse(Channel channel) {
    ResponseOrder order = channel.pipeline().get(ResponseOrder.class);
    if (order != null) {
      order.holds++;
    }
  }

  /**
   * The response is queued: ends one hold, and when it was the last lets the held messages on. Safe
   * from any thread; call it after writing the response, so the next response is written after it.
   */
  public static void responded(Channel channel) {
    ResponseOrder order = channel.pipeline().get(ResponseOrder.class);
    if (order != null) {
      channel.eventLoop().execute(order::resume);
    }
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (holds > 0) {
      held.add(msg);
      if (!paused) {
        paused = true;
        ctx.channel().config().setAutoRead(false);
      }
    } else {
      ctx.fireChannelRead(msg);
    }
  }

  private void resume() {
    if (holds > 0) {
      holds--;
    }
    if (holds > 0) {
      return;
    }
    while (holds == 0 && !held.isEmpty() && ctx.channel().isActive()) {
      ctx.fireChannelRead(held.poll());
    }
    if (holds == 0) {
      ctx.fireChannelReadComplete();
      if (paused) {
        paused = false;
        ctx.channel().config().setAutoRead(true);
      }
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    releaseHeld();
    ctx.fireChannelInactive();
  }

  /** Removed when the connection became an event stream: what it held is never answered. */
  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    releaseHeld();
  }

  private void releaseHeld() {
    Object msg;
    while ((msg = held.poll()) != null) {
      ReferenceCountUtil.release(msg);
    }
  }
}
