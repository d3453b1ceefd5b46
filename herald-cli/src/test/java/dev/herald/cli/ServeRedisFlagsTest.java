package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ServeRedisFlagsTest {
  private static ServeCommand serve(Map<String, String> env, String... args) {
    CommandLine line = Herald.commandLine(env);
    String[] full = new String[args.length + 1];
    full[0] = "serve";
    System.arraycopy(args, 0, full, 1, args.length);
    return (ServeCommand) line.parseArgs(full).subcommand().commandSpec().userObject();
  }

  @Test
  void redisKeyPrefixDefaultsToHeraldAndReadsFlagAndEnvironment() {
    assertThat(serve(Map.of()).redisKeyPrefix).isEqualTo("herald:");
    assertThat(serve(Map.of("HERALD_REDIS_KEY_PREFIX", "env:")).redisKeyPrefix).isEqualTo("env:");
    assertThat(
            serve(Map.of("HERALD_REDIS_KEY_PREFIX", "env:"), "--redis-key-prefix", "flag:")
                .redisKeyPrefix)
        .isEqualTo("flag:");
  }

  @Test
  void bannerNeverShowsTheRedisPassword() {
    ServeCommand serve = serve(Map.of(), "--store", "redis://:s3cret-pass@127.0.0.1:6379/2");
    String banner = serve.banner(new InetSocketAddress("127.0.0.1", 8080));
    assertThat(banner).doesNotContain("s3cret-pass").contains("store:     redis://:***@127.0.0.1:6379/2");
  }
}
