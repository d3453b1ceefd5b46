package dev.herald.sqlite;

import static dev.herald.sqlite.Logs.append;
import static dev.herald.sqlite.Logs.publication;
import static dev.herald.sqlite.Logs.readAll;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.server.StoredEvent;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Kills a process that is appending (SIGKILL, mid-stream) and checks that every append it saw
 * acknowledged is in the file, in order, with its id. With fsync off this relies on WAL with {@code
 * synchronous=NORMAL}: a commit is in the operating system before the append completes, so it
 * survives the process dying (not a power loss, which needs fsync on).
 */
@Timeout(60)
class CrashTest {
  private static final int ACKNOWLEDGED = 300;

  @TempDir Path dir;

  /** One acknowledged append as the child printed it. */
  private record Ack(long id, String data) {}

  @ParameterizedTest(name = "fsync={0}")
  @ValueSource(booleans = {false, true})
  void everyAcknowledgedAppendSurvivesTheProcessBeingKilled(boolean fsync) throws Exception {
    Path file = dir.resolve("events.db");
    Process child =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-cp",
                System.getProperty("java.class.path"),
                CrashChild.class.getName(),
                file.toString(),
                Boolean.toString(fsync))
            .redirectError(dir.resolve("child.err").toFile())
            .start();
    List<Ack> acks = new ArrayList<>();
    try {
      BlockingQueue<String> lines = new LinkedBlockingQueue<>();
      Thread pump = new Thread(() -> pump(child, lines), "child-stdout");
      pump.setDaemon(true);
      pump.start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
      while (acks.size() < ACKNOWLEDGED) {
        String line = lines.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
        assertThat(line)
            .as("acknowledgement %d; child stderr:%n%s", acks.size(), stderr())
            .isNotNull();
        String[] parts = line.split(" ");
        acks.add(new Ack(Long.parseLong(parts[0]), "n" + parts[1]));
      }
    } finally {
      child.destroyForcibly();
      assertThat(child.waitFor(20, TimeUnit.SECONDS)).as("child killed").isTrue();
    }
    assertThat(child.exitValue()).as("killed, not exited").isNotZero();

    try (SqliteEventLog log = SqliteEventLog.builder().path(file).fsync(fsync).build()) {
      log.listener(events -> {});
      List<StoredEvent> stored = readAll(log, Set.of("crash"), 500);
      assertThat(stored.size()).isGreaterThanOrEqualTo(acks.size());
      List<Ack> survived =
          stored.subList(0, acks.size()).stream()
              .map(e -> new Ack(e.id(), e.event().data()))
              .toList();
      assertThat(survived).as("the acknowledged appends, in order, ids unchanged").isEqualTo(acks);
      long newest = stored.get(stored.size() - 1).id();
      assertThat(log.lastId()).isEqualTo(newest);
      assertThat(append(log, publication("after the crash", "crash")).id()).isGreaterThan(newest);
    }
  }

  private static void pump(Process child, BlockingQueue<String> lines) {
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        lines.add(line);
      }
    } catch (IOException e) {
      // The child was killed: its output ends here.
    }
  }

  private String stderr() {
    try {
      return Files.readString(dir.resolve("child.err"));
    } catch (IOException e) {
      return "(no stderr: " + e + ")";
    }
  }
}
