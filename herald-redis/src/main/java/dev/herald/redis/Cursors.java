package dev.herald.redis;

import dev.herald.server.spi.CursorKey;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Device cursors in Redis: one string key per device and topic set ({@link Keys#cursor}) holding
 * the cursor and when it was saved, with the retention age as its expiry. A save keeps the larger
 * of the stored and the new value, so two nodes saving one device's cursor out of order (the device
 * moved between them) never move it back.
 */
final class Cursors {
  /** Cursors per script call: a large save is split so no call holds Redis long. */
  static final int CHUNK = 500;

  /** Expiries are capped so that Redis accepts them (a "forever" retention is 100 years). */
  static final long LONGEST_EXPIRY_MILLIS = 100L * 366 * 24 * 3600 * 1000;

  private final Keys keys;
  private final long maxAgeMillis;
  private final Clock clock;

  Cursors(Keys keys, long maxAgeMillis, Clock clock) {
    this.keys = keys;
    this.maxAgeMillis = maxAgeMillis;
    this.clock = clock;
  }

  /**
   * Saves the cursors: one script per {@link #CHUNK} cursors, all sent at once (pipelined).
   * Completes when Redis ran them all; exceptionally with Lettuce's error otherwise.
   */
  CompletableFuture<Void> save(
      RedisClusterAsyncCommands<String, String> redis, Map<CursorKey, Long> cursors) {
    List<Map.Entry<CursorKey, Long>> all = new ArrayList<>(cursors.entrySet());
    long now = clock.millis();
    List<CompletableFuture<Long>> calls = new ArrayList<>();
    for (int from = 0; from < all.size(); from += CHUNK) {
      List<Map.Entry<CursorKey, Long>> chunk =
          all.subList(from, Math.min(all.size(), from + CHUNK));
      String[] scriptKeys = new String[chunk.size()];
      String[] args = new String[3 + chunk.size()];
      args[0] = Long.toString(now);
      args[1] = Long.toString(now - maxAgeMillis);
      args[2] = Long.toString(Math.max(1, Math.min(maxAgeMillis, LONGEST_EXPIRY_MILLIS)));
      for (int i = 0; i < chunk.size(); i++) {
        scriptKeys[i] = keys.cursor(chunk.get(i).getKey());
        // Ids are positive: a negative cursor would mean "before everything", which 0 says.
        args[3 + i] = Long.toString(Math.max(0, chunk.get(i).getValue()));
      }
      calls.add(Script.SAVE_CURSORS.run(redis, ScriptOutputType.INTEGER, scriptKeys, args));
    }
    return CompletableFuture.allOf(calls.toArray(new CompletableFuture<?>[0]));
  }

  /** The cursor in a stored value, unless it was saved longer than the retention age ago. */
  Optional<Long> parse(String value) {
    if (value == null) {
      return Optional.empty();
    }
    int newline = value.indexOf('\n');
    try {
      long saved = Long.parseLong(value, newline + 1, value.length(), 10);
      if (newline < 1 || saved <= clock.millis() - maxAgeMillis) {
        return Optional.empty(); // expired by this node's clock, not yet by Redis' PX
      }
      return Optional.of(Long.parseLong(value, 0, newline, 10));
    } catch (NumberFormatException | IndexOutOfBoundsException e) {
      return Optional.empty(); // not written by this log
    }
  }
}
