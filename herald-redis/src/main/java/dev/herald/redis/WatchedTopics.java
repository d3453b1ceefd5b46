package dev.herald.redis;

import java.lang.System.Logger.Level;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The topics a node watches for the {@link Announcer}: counted, each with its subscription to the
 * topic's channel on the Pub/Sub connection, so that a node hears only what its subscribers want.
 * May be called from any thread.
 */
final class WatchedTopics {
  // The log's logger: to operators these are the log's messages.
  private static final System.Logger LOG = System.getLogger(RedisEventLog.class.getName());

  private final Keys keys;
  private final Connections connections;
  private final long timeoutMillis;

  /**
   * Told, with the reason, when a subscription failed or Redis is late to confirm it: its topic's
   * notifications may be missed from now until a catch-up. The future completes once the log counts
   * them as lost (a gap), so a stream that starts after it is caught up.
   */
  private final Function<String, CompletableFuture<Void>> lost;

  /** Guarded by itself, as is closing. */
  private final Map<String, Interest> interests = new HashMap<>();

  private volatile boolean closed;

  /**
   * @param lost told when a subscription failed or is late, from any thread; its future completes
   *     once notifications count as lost
   */
  WatchedTopics(
      Keys keys, Connections connections, Function<String, CompletableFuture<Void>> lost) {
    this.keys = keys;
    this.connections = connections;
    this.timeoutMillis = connections.timeoutMillis();
    this.lost = lost;
  }

  /** See {@link RedisEventLog#watch}: never completes exceptionally. */
  CompletableFuture<Void> watch(String topic) {
    if (closed) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> ready;
    synchronized (interests) {
      Interest interest = interests.get(topic);
      if (interest == null) {
        interest = new Interest();
        interests.put(topic, interest);
        interest.ready = subscribe(topic, interest);
      }
      interest.count++;
      ready = interest.ready;
    }
    // A copy: callers cannot complete the one every watcher of the topic shares.
    return ready.copy();
  }

  /** See {@link RedisEventLog#unwatch}. */
  void unwatch(String topic) {
    synchronized (interests) {
      Interest interest = interests.get(topic);
      if (interest == null) {
        // A caller's bug, but not worth failing a subscription's close over.
        LOG.log(Level.WARNING, "unwatch of a topic that is not watched: " + topic);
        return;
      }
      if (--interest.count > 0) {
        return;
      }
      interests.remove(topic);
      if (!closed) {
        // Sent after this topic's SUBSCRIBE on the same connection, so Redis applies it last.
        connections
            .pubSub()
            .async()
            .unsubscribe(keys.channel(topic))
            .whenComplete(
                (ok, error) -> {
                  if (error != null) {
                    // Notifications that still arrive are ignored: the topic is not watched.
                    LOG.log(Level.DEBUG, "unsubscribing from " + topic + " failed: " + error);
                  }
                });
      }
    }
  }

  /** Whether any of {@code topics} is watched. */
  boolean any(Set<String> topics) {
    synchronized (interests) {
      for (String topic : topics) {
        if (interests.containsKey(topic)) {
          return true;
        }
      }
      return false;
    }
  }

  /**
   * Each watched topic with the sequence read before its channel was subscribed: its events up to
   * that id were published before, so they were never due to be announced (0 until subscribed).
   */
  Map<String, Long> since() {
    Map<String, Long> since = new HashMap<>();
    synchronized (interests) {
      interests.forEach((topic, interest) -> since.put(topic, interest.since));
    }
    return since;
  }

  /** Stops subscribing and unsubscribing: the connection is about to close. */
  void close() {
    synchronized (interests) {
      closed = true;
    }
  }

  /**
   * Subscribes to the topic's channel. The result completes, never exceptionally, once Redis
   * confirmed the subscription, or once the log counts the topic's notifications as lost because
   * the subscription failed or Redis did not confirm it within the command timeout (plus 500 ms). A
   * stream may start only then: one that started while Redis still had the SUBSCRIBE to take would
   * miss the events published in between, as nothing would announce them, and no catch-up would
   * come to read them while the connection works.
   */
  private CompletableFuture<Void> subscribe(String topic, Interest interest) {
    CompletableFuture<Void> subscribed;
    try {
      // The sequence before the SUBSCRIBE: events up to it were published before the
      // subscription, so they were never due to be announced, and a catch-up skips them. Read
      // first, never after Redis confirmed the subscription: an event published in between is
      // notified (and announced) like any later one, and a catch-up that skipped it would leave a
      // silent gap in a live stream. Until it is known (0) a catch-up skips nothing.
      subscribed =
          connections
              .redis()
              .hget(keys.meta, "seq")
              .toCompletableFuture()
              .thenCompose(
                  seq ->
                      connections
                          .pubSub()
                          .async()
                          .subscribe(keys.channel(topic))
                          .toCompletableFuture()
                          .thenAccept(
                              confirmed -> interest.since = seq == null ? 0 : Long.parseLong(seq)));
    } catch (RuntimeException e) {
      subscribed = CompletableFuture.failedFuture(e);
    }
    CompletableFuture<Void> ready = new CompletableFuture<>();
    subscribed.whenComplete(
        (ok, error) -> {
          if (error == null) {
            ready.complete(null);
          } else {
            lost.apply("subscribing to the channel of topic " + topic + " failed: " + error)
                .whenComplete((done, never) -> ready.complete(null));
          }
        });
    CompletableFuture<Void> confirmation = subscribed;
    CompletableFuture.delayedExecutor(timeoutMillis + 500, TimeUnit.MILLISECONDS)
        .execute(
            () -> {
              if (!confirmation.isDone()) {
                lost.apply(
                        "Redis has not confirmed the subscription to the channel of topic "
                            + topic
                            + " within "
                            + (timeoutMillis + 500)
                            + " ms")
                    .whenComplete((done, never) -> ready.complete(null));
              }
            });
    return ready;
  }

  /** One watched topic: how many watches, and its subscription. */
  private static final class Interest {
    int count;
    CompletableFuture<Void> ready;

    /** The sequence before the subscription: events up to it were never due; 0 until then. */
    volatile long since;
  }
}
