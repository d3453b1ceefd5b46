package dev.herald.sqlite;

import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One append waiting for the writer. {@code key} and {@code keyed} are both null unless it is
 * idempotent; then {@code keyed} is what the caller holds, and every failure of {@code future} (the
 * log closed, the file failing) reaches it.
 */
record Append(
    List<Publication> batch,
    CompletableFuture<List<StoredEvent>> future,
    IdempotencyKey key,
    CompletableFuture<AppendReceipt> keyed)
    implements WriteLoop.Task {

  static Append of(List<Publication> batch) {
    return new Append(batch, new CompletableFuture<>(), null, null);
  }

  static Append keyed(List<Publication> batch, IdempotencyKey key) {
    CompletableFuture<List<StoredEvent>> future = new CompletableFuture<>();
    CompletableFuture<AppendReceipt> keyed = new CompletableFuture<>();
    // Failures are completed on future only, wherever they happen; one link passes them on.
    future.whenComplete(
        (events, failure) -> {
          if (failure != null) {
            keyed.completeExceptionally(failure);
          }
        });
    return new Append(batch, future, key, keyed);
  }

  boolean idempotent() {
    return key != null;
  }
}
