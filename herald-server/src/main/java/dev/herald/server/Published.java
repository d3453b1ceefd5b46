package dev.herald.server;

import java.util.List;

/**
 * The outcome of {@link Broker#publish(List, java.util.Optional)}.
 *
 * @param ids the ids of the batch, in order
 * @param replayed {@code true} when an idempotency key had been used before: nothing new was
 *     published and {@code reached} is all zeros
 * @param reached per event, how many live subscriptions on this node it was handed to
 */
public record Published(List<Long> ids, boolean replayed, List<Integer> reached) {
  /** Copies the lists. */
  public Published {
    ids = List.copyOf(ids);
    reached = List.copyOf(reached);
  }
}
