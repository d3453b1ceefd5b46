package dev.herald.server.spi;

import dev.herald.server.Broker;
import dev.herald.server.CloseReason;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.TopicPresence;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The deployment-wide directory of open streams, for brokers of several nodes sharing one log
 * (Redis): it lets a device's new stream on one node replace its older stream on another, lists the
 * devices connected to any node, and counts the live subscriptions an event reached on the other
 * nodes. Given to {@link Broker.Builder#presence}; without one a broker knows only its own node.
 *
 * <p>The broker calls every method from its own or its callers' threads and expects none to block:
 * the writes ({@link #opened}, {@link #closed}, {@link #subscriptionsChanged}) are sent on and
 * their failures are the directory's to repair (for example by rewriting this node's entries from
 * {@link Local} once the store is back); the reads answer with futures.
 */
public interface Presence extends AutoCloseable {
  /**
   * Connects the directory to its broker; called once, by the broker's constructor, before any
   * other method.
   */
  void bind(Local local);

  /**
   * A device stream of this node has opened (its transport wrote the response head) and taken the
   * device's place: record it, and have the device's older stream of the same topic set, on
   * whichever other node, closed with {@link CloseReason#REPLACED} (through that node's {@link
   * Local#replaced}). If the directory finds that stream is in fact the newer one, it closes this
   * one instead, through this node's {@link Local#replaced}.
   */
  void opened(Stream stream);

  /** A device stream this directory was told had {@link #opened} has ended. */
  void closed(Stream stream);

  /**
   * The number of this node's open subscriptions covering {@code topic} changed; the directory
   * reads the current number from {@link Local#subscriptionCount} when it sends it.
   */
  void subscriptionsChanged(String topic);

  /**
   * The device streams and subscriptions covering {@code topic} on the other live nodes.
   *
   * @return completes exceptionally with {@link StoreUnavailableException} if the directory cannot
   *     be read
   */
  CompletableFuture<TopicPresence> remote(String topic);

  /**
   * How many open subscriptions on the other live nodes cover each of {@code topics}.
   *
   * @return topic to count, topics without any left out; completes exceptionally with {@link
   *     StoreUnavailableException} if the directory cannot be read
   */
  CompletableFuture<Map<String, Integer>> remoteSubscriptionCounts(Set<String> topics);

  /**
   * Removes this node's entries and stops; called by {@link Broker#close} after every subscription
   * ended.
   */
  @Override
  void close();

  /** What a broker tells its directory about its own node. Thread-safe, never blocks. */
  interface Local {
    /** How many open subscriptions on this node cover {@code topic}. */
    int subscriptionCount(String topic);

    /** Every topic covered by an open subscription on this node, with its count. */
    Map<String, Integer> subscriptionCounts();

    /** The open device streams of this node that {@link Presence#opened} was told of. */
    List<Stream> deviceStreams();

    /**
     * Closes this node's stream {@code streamId} of {@code key} with {@link CloseReason#REPLACED},
     * if it is still open: a newer stream of the device took its place.
     */
    void replaced(CursorKey key, String streamId);
  }

  /**
   * One device stream of this node.
   *
   * @param key the device and the topics of its stream
   * @param streamId names this stream among the node's streams of the same key (unique per broker)
   * @param since when the stream opened
   */
  record Stream(CursorKey key, String streamId, Instant since) {
    /** Checks the parts. */
    public Stream {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(streamId, "streamId");
      Objects.requireNonNull(since, "since");
    }
  }
}
