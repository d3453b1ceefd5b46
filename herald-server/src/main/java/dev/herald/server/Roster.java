package dev.herald.server;

import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.Presence;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Who is connected: the subscriptions and device streams of this node, read from the broker's topic
 * index, and those of the other nodes, asked of the {@link Presence}. Also what the presence sees
 * of this node.
 */
final class Roster {
  private static final System.Logger LOG = System.getLogger(Broker.class.getName());

  // Device streams oldest first; streams opened in the same millisecond by device id, so every
  // node lists them in the same order.
  private static final Comparator<DeviceStream> OLDEST_FIRST =
      Comparator.comparing(DeviceStream::since).thenComparing(DeviceStream::deviceId);

  private final TopicIndex index;
  private final Devices devices;
  private final Presence presence;

  Roster(TopicIndex index, Devices devices, Presence presence) {
    this.index = index;
    this.devices = devices;
    this.presence = presence;
  }

  /** The opened device streams on this node covering {@code topic}, oldest first. */
  List<DeviceStream> devices(String topic) {
    List<DeviceStream> result = new ArrayList<>();
    for (BrokerSubscription subscription : index.members(topic)) {
      if (subscription.device() != null && subscription.wasOpened() && subscription.isOpen()) {
        result.add(new DeviceStream(subscription.device().deviceId(), subscription.since()));
      }
    }
    result.sort(OLDEST_FIRST);
    return result;
  }

  /** How many open subscriptions on this node cover {@code topic}. */
  int count(String topic) {
    return index.count(topic);
  }

  /** This node's view of {@code topic} plus the other nodes'; never blocks. */
  CompletableFuture<TopicPresence> presence(String topic) {
    List<DeviceStream> here = devices(topic);
    int count = count(topic);
    CompletableFuture<TopicPresence> remote;
    try {
      remote = presence.remote(topic);
    } catch (RuntimeException e) {
      remote = CompletableFuture.failedFuture(e);
    }
    return remote.thenApply(
        elsewhere -> {
          List<DeviceStream> all = new ArrayList<>(here);
          all.addAll(elsewhere.devices());
          all.sort(OLDEST_FIRST);
          return new TopicPresence(topic, all, count + elsewhere.subscriptions());
        });
  }

  /**
   * The subscriptions on other nodes covering the batch's topics; none when the presence cannot
   * answer (a publish must not fail over a count).
   */
  CompletableFuture<Map<String, Integer>> remoteCounts(List<Publication> batch) {
    Set<String> topics = new HashSet<>();
    for (Publication publication : batch) {
      topics.addAll(publication.topics());
    }
    CompletableFuture<Map<String, Integer>> counts;
    try {
      counts = presence.remoteSubscriptionCounts(topics);
    } catch (RuntimeException e) {
      counts = CompletableFuture.failedFuture(e);
    }
    return counts.exceptionally(
        failure -> {
          LOG.log(
              System.Logger.Level.DEBUG,
              "could not count remote subscriptions; reached counts this node only: " + failure);
          return Map.of();
        });
  }

  /** What the presence sees of this node. */
  Presence.Local local() {
    return new Presence.Local() {
      @Override
      public int subscriptionCount(String topic) {
        return count(topic);
      }

      @Override
      public Map<String, Integer> subscriptionCounts() {
        return index.counts();
      }

      @Override
      public List<Presence.Stream> deviceStreams() {
        return devices.streams();
      }

      @Override
      public void replaced(CursorKey key, String streamId) {
        devices.replaced(key, streamId);
      }
    };
  }
}
