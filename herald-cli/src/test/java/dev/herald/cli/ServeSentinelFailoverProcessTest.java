package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.redis.testing.SentinelGroup;
import dev.herald.redis.testing.TestRedis;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code herald serve --redis-min-replicas 1} as a real process on {@code redis-sentinel://} (a
 * master, its replica and three Sentinels as child processes), failing over while a client
 * publishes: the test freezes the replica and closes its replication link (publishes are answered
 * 503 {@code replication_unconfirmed}), kills the master (SIGKILL), waits for the Sentinels to
 * promote the replica and restarts the old master as its replica; then every publish the hub
 * answered 201 is in the history {@code herald listen} reads, once, in order.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ServeSentinelFailoverProcessTest {
  @TempDir Path dir;

  private final String prefix = TestRedis.newPrefix();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private Process serve;

  @AfterEach
  void stopServe() {
    if (serve != null) {
      serve.destroyForcibly();
    }
  }

  @Test
  void withMinReplicasEveryPublishAnswered201SurvivesTheFailover() throws Exception {
    try (SentinelGroup group = SentinelGroup.start(dir)) {
      String hub = serve(group.uri());
      List<String> acknowledged = new ArrayList<>();
      List<Integer> refused = new ArrayList<>();
      int n = 0;
      while (acknowledged.size() < 30) {
        publish(hub, "e" + n++, acknowledged, refused);
      }
      group.master().stallReplicationTo(group.replica());
      for (int i = 0; i < 3; i++) {
        publish(hub, "e" + n++, acknowledged, refused);
      }
      assertThat(refused).as("refused while the replica was frozen").contains(503);
      int acknowledgedBeforeKill = acknowledged.size();
      group.master().kill();
      group.replica().resume();
      group.awaitReplicaPromoted();
      group.restartOldMasterAsReplica();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (acknowledged.size() < acknowledgedBeforeKill + 30) {
        assertThat(System.nanoTime()).as("publishes acknowledged again").isLessThan(deadline);
        if (!publish(hub, "e" + n++, acknowledged, refused)) {
          // The hub is reconnecting: the next try a little later (bounded by the deadline above).
          java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
      }

      CliRun listened =
          CliRun.herald(
              Map.of("HERALD_URL", hub),
              "listen",
              "--last-event-id",
              "earliest",
              "--max-events",
              Integer.toString(acknowledged.size()),
              "--topic",
              "news");
      assertThat(listened.exit()).as(listened.err()).isZero();
      List<String> received = new ArrayList<>();
      Matcher data = Pattern.compile("\"data\":\"(e\\d+)\"").matcher(listened.out());
      while (data.find()) {
        received.add(data.group(1));
      }
      // What the hub refused may or may not be stored; what it acknowledged is, once, in order.
      List<String> acknowledgedReceived = new ArrayList<>(received);
      acknowledgedReceived.retainAll(acknowledged);
      assertThat(acknowledgedReceived).isEqualTo(acknowledged);
      assertThat(received).doesNotHaveDuplicates();
      System.out.printf(
          "herald serve on Sentinel, --redis-min-replicas 1: %d publishes answered 201, none lost;"
              + " refused %d (%s)%n",
          acknowledged.size(), refused.size(), refused);
    }
  }

  /** Publishes {@code data}; true if answered 201 (then recorded), else the status is recorded. */
  private boolean publish(String hub, String data, List<String> acknowledged, List<Integer> refused)
      throws Exception {
    HttpResponse<String> response;
    try {
      response =
          http.send(
              HttpRequest.newBuilder(URI.create(hub + "/events"))
                  .timeout(Duration.ofSeconds(10))
                  .header("Content-Type", "application/json")
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"topic\":\"news\",\"data\":\"" + data + "\"}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
    } catch (java.io.IOException e) {
      refused.add(0);
      return false;
    }
    if (response.statusCode() == 201) {
      acknowledged.add(data);
      return true;
    }
    refused.add(response.statusCode());
    return false;
  }

  /** Starts {@code herald serve} on the store; returns the hub's URL. */
  private String serve(String store) throws Exception {
    HeraldProcess.Serving serving =
        HeraldProcess.serve(
            dir,
            "serve",
            "--port",
            "0",
            "--redis-key-prefix",
            prefix,
            "--allow-anonymous",
            "--store",
            store,
            "--redis-min-replicas",
            "1");
    serve = serving.process();
    return serving.url();
  }
}
