package dev.herald.redis;

import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Broker;
import dev.herald.server.CloseReason;
import dev.herald.server.Position;
import dev.herald.server.Retention;
import dev.herald.server.Sink;
import dev.herald.server.Subscription;
import java.time.Duration;
import java.util.Set;

/**
 * One hub node for tests: a broker on its own Redis log. Subscribing watches the topics around the
 * broker's subscription, as the broker itself will once it calls {@code watch}/{@code unwatch}:
 * watched before the broker reads history, unwatched after the subscription closed.
 */
final class Node implements AutoCloseable {
  final RedisEventLog log;
  final Broker broker;

  Node(String uri, String prefix, Retention retention, Duration heartbeat, int replayPageSize) {
    this.log = RedisEventLog.builder().uri(uri).keyPrefix(prefix).retention(retention).build();
    this.broker =
        Broker.builder()
            .log(log)
            .heartbeat(heartbeat)
            .replayPageSize(replayPageSize)
            .maxBufferedEvents(1_000_000)
            .build();
  }

  Node(String prefix) {
    this(TestRedis.URI, prefix, new Retention(100_000, Duration.ofHours(1)), Duration.ZERO, 500);
  }

  /** Subscribes; closing the result closes the subscription and unwatches its topics. */
  Subscription subscribe(Set<String> topics, Position position, Sink sink) {
    topics.forEach(log::watch);
    Subscription subscription;
    try {
      subscription = broker.subscribe(topics, position, sink);
    } catch (RuntimeException e) {
      topics.forEach(log::unwatch);
      throw e;
    }
    return new Subscription() {
      private boolean closed;

      @Override
      public Set<String> topics() {
        return subscription.topics();
      }

      @Override
      public boolean isOpen() {
        return subscription.isOpen();
      }

      @Override
      public void close() {
        close(CloseReason.CLIENT_CLOSED);
      }

      @Override
      public void close(CloseReason reason) {
        subscription.close(reason);
        synchronized (this) {
          if (closed) {
            return;
          }
          closed = true;
        }
        topics.forEach(log::unwatch);
      }
    };
  }

  @Override
  public void close() {
    broker.close();
  }
}
