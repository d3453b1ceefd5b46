package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/** The store and publishing flags added with cluster mode and batch/idempotent publishing. */
class ServeStoreFlagsTest {
  @Test
  void redisKeyPrefixDefaultsToHeraldAndReadsFlagAndEnvironment() {
    assertThat(CliRun.serve(Map.of()).redisKeyPrefix).isEqualTo("herald:");
    assertThat(CliRun.serve(Map.of("HERALD_REDIS_KEY_PREFIX", "env:")).redisKeyPrefix)
        .isEqualTo("env:");
    assertThat(
            CliRun.serve(Map.of("HERALD_REDIS_KEY_PREFIX", "env:"), "--redis-key-prefix", "flag:")
                .redisKeyPrefix)
        .isEqualTo("flag:");
  }

  @Test
  void batchAndIdempotencyFlagsHaveDefaultsAndReadTheEnvironment() {
    ServeCommand defaults = CliRun.serve(Map.of());
    assertThat(defaults.maxBatchEvents).isEqualTo(1000);
    assertThat(defaults.idempotencyWindow).isEqualTo(java.time.Duration.ofHours(24));
    ServeCommand env =
        CliRun.serve(Map.of("HERALD_MAX_BATCH_EVENTS", "50", "HERALD_IDEMPOTENCY_WINDOW", "10m"));
    assertThat(env.maxBatchEvents).isEqualTo(50);
    assertThat(env.idempotencyWindow).isEqualTo(java.time.Duration.ofMinutes(10));
    assertThat(CliRun.serve(Map.of(), "--max-batch-events", "7").maxBatchEvents).isEqualTo(7);
  }

  @ParameterizedTest
  @CsvSource({
    "--max-batch-events, 0, maxBatchEvents must be positive: 0",
    "--io-threads, -2, ioThreads must be positive: -2"
  })
  void aCountBelowItsMinimumIsRefusedWithAClearMessage(String flag, String value, String message) {
    ServeCommand serve = CliRun.serve(Map.of(), flag, value, "--store", "memory");
    org.assertj.core.api.Assertions.assertThatThrownBy(serve::hub)
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining(message);
  }

  @Test
  void ioThreadsDefaultToOnePerCoreAndReadFlagAndEnvironment() {
    assertThat(CliRun.serve(Map.of()).ioThreads).isZero(); // 0: one per core
    assertThat(CliRun.serve(Map.of(), "--store", "memory").hub()).isNotNull();
    assertThat(CliRun.serve(Map.of("HERALD_IO_THREADS", "3")).ioThreads).isEqualTo(3);
    assertThat(CliRun.serve(Map.of("HERALD_IO_THREADS", "3"), "--io-threads", "1").ioThreads)
        .isEqualTo(1);
  }

  @Test
  void bannerNeverShowsTheRedisPassword() {
    ServeCommand serve = CliRun.serve(Map.of(), "--store", "redis://:s3cret-pass@127.0.0.1:6379/2");
    String banner = serve.banner(new InetSocketAddress("127.0.0.1", 8080));
    assertThat(banner)
        .doesNotContain("s3cret-pass")
        .contains("store:     redis://:***@127.0.0.1:6379/2");
  }

  @Test
  void aRedisClusterStorePassesThroughToTheHubWithItsPasswordMasked() {
    String uri = "redis-cluster://:s3cret-pass@127.0.0.1:7000,127.0.0.1:7001";
    ServeCommand serve = CliRun.serve(Map.of(), "--store", uri);
    assertThat(serve.store).isEqualTo(uri);
    assertThat(serve.storeSpec()).isNotNull(); // parsed, not opened: no cluster needed
    assertThat(serve.banner(new InetSocketAddress("127.0.0.1", 8080)))
        .doesNotContain("s3cret-pass")
        .contains("store:     redis-cluster://:***@127.0.0.1:7000,127.0.0.1:7001");
  }

  @Test
  void aRedisClusterStoreWithoutSeedsIsRefusedWithTheAcceptedForms() {
    ServeCommand serve = CliRun.serve(Map.of(), "--store", "redis-cluster://");
    org.assertj.core.api.Assertions.assertThatThrownBy(serve::hub)
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("store \"redis-cluster://\" is not a Redis URL")
        .hasMessageContaining("redis-cluster://[:password@]host:port[,host:port...]");
  }

  @Test
  void aRedisSentinelStorePassesThroughToTheHubWithItsPasswordMasked() {
    String uri = "redis-sentinel://:s3cret-pass@127.0.0.1:26379,127.0.0.1:26380/0#herald";
    ServeCommand serve = CliRun.serve(Map.of(), "--store", uri);
    assertThat(serve.storeSpec()).isNotNull(); // parsed, not opened: no Sentinel needed
    assertThat(serve.banner(new InetSocketAddress("127.0.0.1", 8080)))
        .doesNotContain("s3cret-pass")
        .contains("store:     redis-sentinel://:***@127.0.0.1:26379,127.0.0.1:26380/0#herald");
  }

  @Test
  void aRedisSentinelStoreWithoutItsMasterIsRefusedWithTheAcceptedForms() {
    ServeCommand serve = CliRun.serve(Map.of(), "--store", "redis-sentinel://127.0.0.1:26379");
    org.assertj.core.api.Assertions.assertThatThrownBy(serve::hub)
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("store \"redis-sentinel://127.0.0.1:26379\" is not a Redis URL")
        .hasMessageContaining(
            "redis-sentinel://[:password@]host:port[,host:port...][/db]#<master>");
  }

  @Test
  void unreachableRedisIsRefusedAtStartWithAClearMessageWithoutItsPassword() throws Exception {
    int closedPort;
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    CommandLine line = Herald.commandLine(Map.of());
    java.io.StringWriter err = new java.io.StringWriter();
    line.setErr(new java.io.PrintWriter(err));
    int exit =
        line.execute(
            "serve", "--port", "0", "--store", "redis://:s3cret@127.0.0.1:" + closedPort + "/0");

    assertThat(exit).isEqualTo(1);
    assertThat(err.toString())
        .contains("cannot open the store redis://:***@127.0.0.1:" + closedPort)
        .doesNotContain("s3cret");
  }
}
