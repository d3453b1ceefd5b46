package dev.herald.sqlite;

import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What one attempt at a group commit wrote in the open transaction, and how its appends are
 * answered once that transaction has ended. The writer fills it; after the commit it is handed to
 * whoever answers the appends (the completer thread, or the publisher that committed inline), and
 * never touched by the writer again.
 */
final class GroupWrite {
  /** One append of the group, stored (under a savepoint if the group was retried), uncommitted. */
  record Stored(Append append, List<StoredEvent> events) {}

  /** An idempotent append whose key was known: answered with the ids stored the first time. */
  record Replay(Append append, List<Long> ids) {}

  final List<Stored> stored = new ArrayList<>();
  final List<Replay> replays = new ArrayList<>();

  /** The last id assigned so far; the group's events take the ids after the one it starts at. */
  long nextId;

  GroupWrite(long lastId) {
    nextId = lastId;
  }

  /**
   * Every event stored, in id order, as the listener is told them: read-only, as the list of a
   * single append is also what its future completes with.
   */
  List<StoredEvent> events() {
    List<StoredEvent> all;
    if (stored.size() == 1) {
      all = stored.get(0).events();
    } else {
      all = new ArrayList<>();
      for (Stored s : stored) {
        all.addAll(s.events());
      }
    }
    return Collections.unmodifiableList(all);
  }

  /** Answers the appends of a committed group, holding no lock. */
  void complete() {
    for (Stored s : stored) {
      if (s.append().idempotent()) {
        s.append().keyed().complete(new AppendReceipt(ids(s.events()), false));
      }
      s.append().future().complete(s.events());
    }
    answerReplays();
  }

  /** Answers the appends whose keys were known; all a group of nothing but replays needs. */
  void answerReplays() {
    for (Replay replay : replays) {
      replay.append().keyed().complete(new AppendReceipt(replay.ids(), true));
    }
  }

  private static List<Long> ids(List<StoredEvent> events) {
    List<Long> ids = new ArrayList<>(events.size());
    for (StoredEvent event : events) {
      ids.add(event.id());
    }
    return ids;
  }
}
