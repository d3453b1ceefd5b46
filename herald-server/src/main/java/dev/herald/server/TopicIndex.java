package dev.herald.server;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Which open subscriptions cover each topic, and the fan-out of an announced event to them: the
 * broker's hot path, one map lookup per topic of the event and one offer per subscription.
 */
final class TopicIndex {
  private final ConcurrentHashMap<String, Set<BrokerSubscription>> byTopic =
      new ConcurrentHashMap<>();

  /** Adds {@code subscription} under each of its topics, calling {@code changed} for each. */
  void add(BrokerSubscription subscription, Consumer<String> changed) {
    for (String topic : subscription.topics()) {
      byTopic.compute(
          topic,
          (key, set) -> {
            Set<BrokerSubscription> members = set != null ? set : ConcurrentHashMap.newKeySet();
            members.add(subscription);
            return members;
          });
      changed.accept(topic);
    }
  }

  /** Removes {@code subscription} from each of its topics, calling {@code changed} for each. */
  void remove(BrokerSubscription subscription, Consumer<String> changed) {
    for (String topic : subscription.topics()) {
      byTopic.computeIfPresent(
          topic,
          (key, set) -> {
            set.remove(subscription);
            return set.isEmpty() ? null : set;
          });
      changed.accept(topic);
    }
  }

  /** The open subscriptions covering {@code topic}; empty if none. */
  Set<BrokerSubscription> members(String topic) {
    Set<BrokerSubscription> members = byTopic.get(topic);
    return members == null ? Set.of() : members;
  }

  /** Every open subscription, each once. */
  Set<BrokerSubscription> all() {
    Set<BrokerSubscription> all = new java.util.HashSet<>();
    byTopic.values().forEach(all::addAll);
    return all;
  }

  /** How many open subscriptions cover {@code topic}. */
  int count(String topic) {
    Set<BrokerSubscription> members = byTopic.get(topic);
    return members == null ? 0 : members.size();
  }

  /** Every topic covered by an open subscription, with its count. */
  Map<String, Integer> counts() {
    Map<String, Integer> counts = new HashMap<>();
    byTopic.forEach((topic, members) -> counts.put(topic, members.size()));
    counts.values().removeIf(n -> n == 0);
    return counts;
  }

  /**
   * Offers {@code event} to every subscription of its topics (a subscription of several of them
   * skips the repeats). Returns how many it reached in the high half and how many it was written to
   * at once in the low half: two counts without an allocation per event.
   */
  long fanOut(StoredEvent event) {
    int reached = 0;
    int delivered = 0;
    for (String topic : event.topics()) {
      Set<BrokerSubscription> members = byTopic.get(topic);
      if (members == null) {
        continue;
      }
      for (BrokerSubscription subscription : members) {
        BrokerSubscription.Offered outcome = subscription.offer(event);
        if (outcome != BrokerSubscription.Offered.SKIPPED) {
          reached++;
          if (outcome == BrokerSubscription.Offered.DELIVERED) {
            delivered++;
          }
        }
      }
    }
    return ((long) reached << 32) | delivered;
  }
}
