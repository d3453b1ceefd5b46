package dev.herald.sqlite;

import dev.herald.core.Event;
import dev.herald.server.Publication;
import dev.herald.server.StoredEvent;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Run by {@link CrashTest} in a child JVM: opens the log and appends events one at a time, printing
 * {@code <id> <n>} for each as soon as its append has completed, until it is killed.
 */
public final class CrashChild {
  private CrashChild() {}

  /** Arguments: the database file, then {@code true} or {@code false} for fsync. */
  public static void main(String[] args) throws Exception {
    SqliteEventLog log =
        SqliteEventLog.builder()
            .path(Path.of(args[0]))
            .fsync(Boolean.parseBoolean(args[1]))
            .build();
    log.listener(events -> {});
    for (int n = 0; n < 10_000_000; n++) {
      StoredEvent stored =
          log.append(List.of(Publication.of("crash", Event.of("n" + n))))
              .get(10, TimeUnit.SECONDS)
              .get(0);
      System.out.println(stored.id() + " " + n);
      System.out.flush();
    }
  }
}
