package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.TestRedis;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code herald serve --redis-min-replicas 1} as a real process on a redis-server master with one
 * replica (child processes): a publish is acknowledged while the replica confirms it, and answered
 * 503 {@code replication_unconfirmed}, saying it is stored on the primary only, while the replica
 * is stopped (SIGSTOP); the retry with the same Idempotency-Key is acknowledged once it is back.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ServeMinReplicasProcessTest {
  @TempDir Path dir;

  private final String prefix = TestRedis.newPrefix();
  private final HttpClient http = HttpClient.newHttpClient();
  private Process serve;

  @AfterEach
  void stopServe() {
    if (serve != null) {
      serve.destroyForcibly();
    }
  }

  @Test
  void publishesWaitForTheReplicaAndSayWhatIsKnownWhenItDoesNotConfirm() throws Exception {
    Path masterDir = Files.createDirectories(dir.resolve("master"));
    Path replicaDir = Files.createDirectories(dir.resolve("replica"));
    try (RedisProcess master = new RedisProcess(masterDir, false);
        RedisProcess replica = RedisProcess.replicaOf(replicaDir, master)) {
      master.start();
      replica.start();
      RedisProcess.await(
          () -> master.info("replication").contains("state=online"), "the replica is in sync");
      String hub =
          serve(
              "--store",
              master.uri(),
              "--redis-min-replicas",
              "1",
              "--redis-min-replicas-timeout",
              "3s");

      HttpResponse<String> confirmed = publish(hub, "confirmed", "k1");
      assertThat(confirmed.statusCode()).as(confirmed.body()).isEqualTo(201);

      replica.pause();
      HttpResponse<String> unconfirmed;
      try {
        unconfirmed = publish(hub, "unconfirmed", "k2");
      } finally {
        replica.resume();
      }
      assertThat(unconfirmed.statusCode()).isEqualTo(503);
      assertThat(unconfirmed.headers().firstValue("Retry-After")).hasValue("1");
      assertThat(unconfirmed.body())
          .contains("\"replication_unconfirmed\"")
          .contains("stored on the primary, confirmed by 0 of 1 replicas before the timeout")
          .contains("may be lost if the primary fails")
          .contains("retry with the same Idempotency-Key");

      HttpResponse<String> retry = publish(hub, "unconfirmed", "k2");
      assertThat(retry.statusCode()).as(retry.body()).isEqualTo(201);
      assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
      serve.destroy();
      assertThat(serve.waitFor(15, TimeUnit.SECONDS)).isTrue();
      assertThat(TestRedis.deleteKeys(master.uri(), prefix)).isPositive();
    }
  }

  @Test
  void minReplicasOnAStoreOtherThanRedisIsAUsageError() {
    CliRun run =
        CliRun.herald(
            java.util.Map.of(), "serve", "--store", "memory", "--redis-min-replicas", "1");
    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.err()).contains("--redis-min-replicas applies to a Redis store only");
  }

  private HttpResponse<String> publish(String hub, String data, String key) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(hub + "/events"))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", key)
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    "{\"topic\":\"news\",\"data\":\"" + data + "\"}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Starts {@code herald serve} with these flags; returns the hub's URL. */
  private String serve(String... flags) throws Exception {
    List<String> args =
        new java.util.ArrayList<>(
            List.of("serve", "--port", "0", "--redis-key-prefix", prefix, "--allow-anonymous"));
    args.addAll(List.of(flags));
    HeraldProcess.Serving serving = HeraldProcess.serve(dir, args.toArray(new String[0]));
    serve = serving.process();
    return serving.url();
  }
}
