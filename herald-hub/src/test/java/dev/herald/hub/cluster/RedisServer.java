package dev.herald.hub.cluster;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A redis-server child process of the test, on a free port, with an append-only file (fsync on
 * every write) in a directory of the test: stopped and started again, it finds its data.
 */
final class RedisServer implements AutoCloseable {
  private static final String BINARY = "/usr/bin/redis-server";

  private final Path dir;
  private final int port;
  private Process process;

  RedisServer(Path dir) {
    this.dir = dir;
    try (ServerSocket socket = new ServerSocket(0)) {
      this.port = socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String uri() {
    return "redis://127.0.0.1:" + port;
  }

  /** Starts the server and waits (at most 15 s) until it accepts connections. */
  void start() throws Exception {
    List<String> command =
        List.of(
            BINARY,
            "--port",
            Integer.toString(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            dir.toString());
    Process started = new ProcessBuilder(command).redirectErrorStream(true).start();
    process = started;
    CompletableFuture<Void> ready = new CompletableFuture<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader lines =
                  new BufferedReader(new InputStreamReader(started.getInputStream(), UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                  if (line.contains("Ready to accept connections")) {
                    ready.complete(null);
                  }
                }
              } catch (IOException e) {
                ready.completeExceptionally(e);
              }
              ready.completeExceptionally(new IllegalStateException("redis-server exited"));
            },
            "redis-server-" + port);
    reader.setDaemon(true);
    reader.start();
    ready.get(15, TimeUnit.SECONDS);
  }

  /** Stops the server as an operator would: SIGTERM, it flushes its append-only file and exits. */
  void stop() throws InterruptedException {
    process.destroy();
    assertThat(process.waitFor(15, TimeUnit.SECONDS)).as("redis-server stopped").isTrue();
  }

  @Override
  public void close() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
