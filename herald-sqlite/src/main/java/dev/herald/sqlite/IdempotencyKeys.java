package dev.herald.sqlite;

import dev.herald.server.IdempotencyConflictException;
import dev.herald.server.IdempotencyKey;
import dev.herald.server.StoredEvent;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The idempotency keys of appends (table {@code idempotency_keys}), looked up and remembered by the
 * writer in the transaction that stores the events, so identical requests racing store once. The
 * retention job forgets keys past their window.
 */
final class IdempotencyKeys {
  private final PreparedStatement findKey;
  private final PreparedStatement rememberKey;

  IdempotencyKeys(WriterConnection writer) throws SQLException {
    findKey =
        writer.prepare(
            "SELECT fingerprint, ids FROM idempotency_keys"
                + " WHERE scope = ? AND key = ? AND expires_ms > ?");
    rememberKey =
        writer.prepare(
            "INSERT OR REPLACE INTO idempotency_keys (scope, key, fingerprint, ids, expires_ms)"
                + " VALUES (?, ?, ?, ?, ?)");
  }

  /**
   * The ids stored under {@code key} if it is known and within its window at {@code now}: then the
   * request is answered with them and nothing is stored again.
   *
   * @throws IdempotencyConflictException if the key is known for a different request
   */
  Optional<List<Long>> find(IdempotencyKey key, Instant now) throws SQLException {
    findKey.setString(1, key.scope());
    findKey.setString(2, key.key());
    findKey.setLong(3, now.toEpochMilli());
    String fingerprint;
    String ids;
    try (ResultSet row = findKey.executeQuery()) {
      if (!row.next()) {
        return Optional.empty();
      }
      fingerprint = row.getString(1);
      ids = row.getString(2);
    }
    if (!fingerprint.equals(key.fingerprint())) {
      throw IdempotencyConflictException.forKey(key);
    }
    List<Long> parsed = new ArrayList<>();
    for (String id : ids.split(",")) {
      parsed.add(Long.parseLong(id));
    }
    return Optional.of(parsed);
  }

  /** Remembers that {@code key} stored {@code events}, until its window from {@code now} ends. */
  void remember(IdempotencyKey key, List<StoredEvent> events, Instant now) throws SQLException {
    StringBuilder ids = new StringBuilder();
    for (StoredEvent event : events) {
      ids.append(ids.length() == 0 ? "" : ",").append(event.id());
    }
    rememberKey.setString(1, key.scope());
    rememberKey.setString(2, key.key());
    rememberKey.setString(3, key.fingerprint());
    rememberKey.setString(4, ids.toString());
    long expires;
    try {
      expires = Math.addExact(now.toEpochMilli(), key.window().toMillis());
    } catch (ArithmeticException e) {
      // A window beyond any clock: the key never expires.
      expires = Long.MAX_VALUE;
    }
    rememberKey.setLong(5, expires);
    rememberKey.executeUpdate();
  }
}
