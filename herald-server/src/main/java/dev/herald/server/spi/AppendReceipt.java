package dev.herald.server.spi;

import java.util.List;

/**
 * What an idempotent append did.
 *
 * @param ids the ids of the batch, in order: new ones, or those of the first append with the key
 * @param replayed {@code true} when the key had been used: nothing new was stored
 */
public record AppendReceipt(List<Long> ids, boolean replayed) {
  /** Copies the ids. */
  public AppendReceipt {
    ids = List.copyOf(ids);
  }
}
