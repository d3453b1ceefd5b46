package dev.herald.server;

import java.util.List;

/**
 * What {@link Broker#publish(List, java.util.Optional)} answers once the batch is stored: its ids,
 * whether an idempotency key made it a replay of an earlier publish, and how many streams each
 * event reached. ({@link Publication} is what is published; the store's own answer is {@link
 * dev.herald.server.spi.AppendReceipt}.)
 *
 * @param ids the ids of the batch, in order
 * @param replayed {@code true} when an idempotency key had been used before: nothing new was
 *     published and {@code reached} is all zeros
 * @param reached per event, how many live subscriptions it was handed to: on this node, plus those
 *     the {@link dev.herald.server.spi.Presence} counts on the others
 */
public record PublishReceipt(List<Long> ids, boolean replayed, List<Integer> reached) {
  /** Copies the lists. */
  public PublishReceipt {
    ids = List.copyOf(ids);
    reached = List.copyOf(reached);
  }
}
