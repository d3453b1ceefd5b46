package dev.herald.spring.boot.internal;

import dev.herald.server.Broker;
import org.springframework.context.SmartLifecycle;

/**
 * Closes the broker when the application stops, before the web server shuts down: every stream ends
 * with {@link dev.herald.server.CloseReason#SHUTDOWN}, so each response ends cleanly after what was
 * queued (clients see the end of the stream and reconnect, to another instance if there is one) and
 * the server's graceful shutdown does not wait out its timeout on streams that never end. Its phase
 * is after the application's own beans (default phase) and before the web server's graceful
 * shutdown.
 */
public final class BrokerLifecycle implements SmartLifecycle {
  /** Between {@link SmartLifecycle#DEFAULT_PHASE} and the web server's graceful shutdown. */
  public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 512;

  private final Broker broker;
  private volatile boolean running;

  /** Closes {@code broker} on stop. */
  public BrokerLifecycle(Broker broker) {
    this.broker = broker;
  }

  @Override
  public void start() {
    running = true;
  }

  /** Closes the broker: it cannot be started again. */
  @Override
  public void stop() {
    running = false;
    broker.close();
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }
}
