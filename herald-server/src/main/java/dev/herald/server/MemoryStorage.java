package dev.herald.server;

import java.util.Set;

/**
 * The memory log's storage: each event once, as a {@link MemoryStorage.Node} linked in the log-wide
 * id order (so retention by age and the byte cap drop from the oldest end), and each topic's
 * retained events in a {@link MemoryStorage.TopicLog}, a ring of those nodes searched by id.
 * Guarded by the {@link MemoryEventLog}'s lock.
 */
final class MemoryStorage {
  private MemoryStorage() {}

  /** One stored event, linked in the log-wide id order. */
  static final class Node {
    final StoredEvent event;
    final long bytes;
    int refs;
    Node prev;
    Node next;

    Node(StoredEvent event, long bytes) {
      this.event = event;
      this.bytes = bytes;
    }
  }

  /** One topic's retained events in id order: a growable ring of nodes. */
  static final class TopicLog {
    final String name;

    /**
     * The topic as the topics of its single-topic events: shared by all of them, so a retained
     * event holds no topic string and set of its own (they were a sixth of its heap, and the young
     * collections copy what the log retains).
     */
    final Set<String> asTopics;

    long droppedThrough;
    Node[] ring = new Node[2];
    int head;
    int size;
    TopicLog prevEmpty;
    TopicLog nextEmpty;

    TopicLog(String name, long droppedThrough) {
      this.name = name;
      this.asTopics = Set.of(name);
      this.droppedThrough = droppedThrough;
    }

    Node get(int i) {
      return ring[(head + i) & (ring.length - 1)];
    }

    void push(Node node) {
      if (size == ring.length) {
        Node[] bigger = new Node[ring.length * 2];
        for (int i = 0; i < size; i++) {
          bigger[i] = get(i);
        }
        ring = bigger;
        head = 0;
      }
      ring[(head + size) & (ring.length - 1)] = node;
      size++;
    }

    Node poll() {
      Node node = ring[head];
      ring[head] = null;
      head = (head + 1) & (ring.length - 1);
      size--;
      if (size == 0) {
        // An emptied topic keeps only its name and watermark: release the ring it grew.
        ring = new Node[2];
        head = 0;
      }
      return node;
    }

    /** The index of the first event with an id above {@code afterId} ({@code size} if none). */
    int firstAfter(long afterId) {
      int lo = 0;
      int hi = size;
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        if (get(mid).event.id() <= afterId) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      return lo;
    }
  }
}
