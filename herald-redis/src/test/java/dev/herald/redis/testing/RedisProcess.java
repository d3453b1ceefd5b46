package dev.herald.redis.testing;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * A redis-server child process of the test on a free port (127.0.0.1), which tests stop and start
 * again; persistent, it keeps an append-only file (fsync on every write) so a restart finds its
 * data. {@link #sentinel} makes it a Redis Sentinel instead ({@code redis-server --sentinel}).
 */
public final class RedisProcess implements AutoCloseable {
  private static final String BINARY = "/usr/bin/redis-server";

  private final Path dir;
  private final boolean persistent;
  private final List<String> extraArgs;
  private final int port;

  /** The master a Sentinel watches, {@code "<name> 127.0.0.1 <port>"}; null for a server. */
  private final String monitored;

  /** How many Sentinels must agree that the master is down (a Sentinel's quorum). */
  private final int quorum;

  private Process process;

  /** The server's last lines of output, across restarts, to say what it did when a wait fails. */
  private final java.util.ArrayDeque<String> recentLines = new java.util.ArrayDeque<>();

  /**
   * Picks a free port; nothing runs until {@link #start()}.
   *
   * @param dir where it keeps its append-only file
   * @param persistent whether a restarted server finds the data again (AOF, fsync always)
   */
  public RedisProcess(Path dir, boolean persistent) {
    this(dir, persistent, List.of());
  }

  /**
   * Like {@link #RedisProcess(Path, boolean)}, with more redis-server arguments (a cluster node's).
   */
  public RedisProcess(Path dir, boolean persistent, List<String> extraArgs) {
    this(dir, persistent, extraArgs, null, 1);
  }

  private RedisProcess(
      Path dir, boolean persistent, List<String> extraArgs, String monitored, int quorum) {
    this.dir = dir;
    this.persistent = persistent;
    this.extraArgs = List.copyOf(extraArgs);
    this.port = freePort();
    this.monitored = monitored;
    this.quorum = quorum;
  }

  /**
   * A Redis Sentinel on a free port, watching the master {@code masterName} at 127.0.0.1:{@code
   * masterPort} with a quorum of one (it alone decides a failover, after a second without answers);
   * nothing runs until {@link #start()}, which returns once it monitors the master.
   *
   * @param dir where it writes its configuration file (Sentinel rewrites it)
   */
  public static RedisProcess sentinel(Path dir, String masterName, int masterPort) {
    return sentinel(dir, masterName, masterPort, 1);
  }

  /**
   * Like {@link #sentinel(Path, String, int)}, one of several Sentinels: {@code quorum} of them
   * must agree that the master is down, and a majority of them elects the one that fails over.
   */
  public static RedisProcess sentinel(Path dir, String masterName, int masterPort, int quorum) {
    return new RedisProcess(dir, false, List.of(), masterName + " 127.0.0.1 " + masterPort, quorum);
  }

  /**
   * A replica of {@code master} (no persistence) on a free port; nothing runs until {@link
   * #start()}.
   */
  public static RedisProcess replicaOf(Path dir, RedisProcess master) {
    return new RedisProcess(
        dir, false, List.of("--replicaof", "127.0.0.1", Integer.toString(master.port())));
  }

  /** Whether redis-server is installed where these processes look for it. */
  public static boolean isInstalled() {
    return java.nio.file.Files.isExecutable(Path.of(BINARY));
  }

  /** A TCP port free on 127.0.0.1 a moment ago. */
  public static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The port it listens on. */
  public int port() {
    return port;
  }

  /** The Redis URI of this server, e.g. {@code redis://127.0.0.1:40123}. */
  public String uri() {
    return "redis://127.0.0.1:" + port;
  }

  /** Starts the server and waits (bounded) until it accepts connections. */
  public void start() throws Exception {
    List<String> command = new ArrayList<>(List.of(BINARY, "--port", "" + port));
    command.addAll(List.of("--bind", "127.0.0.1", "--save", "", "--dir", dir.toString()));
    if (persistent) {
      command.addAll(List.of("--appendonly", "yes", "--appendfsync", "always"));
    } else {
      command.addAll(List.of("--appendonly", "no"));
    }
    command.addAll(extraArgs);
    String readyLine = "Ready to accept connections";
    if (monitored != null) {
      // Sentinel needs a configuration file it can rewrite, and logs no "ready" line of its own.
      Path config = dir.resolve("sentinel-" + port + ".conf");
      String name = monitored.substring(0, monitored.indexOf(' '));
      java.nio.file.Files.writeString(
          config,
          String.join(
              "\n",
              "port " + port,
              "bind 127.0.0.1",
              "dir " + dir,
              "sentinel monitor " + monitored + " " + quorum,
              "sentinel down-after-milliseconds " + name + " 1000",
              "sentinel failover-timeout " + name + " 10000",
              ""));
      command = List.of(BINARY, config.toString(), "--sentinel");
      readyLine = "+monitor master " + name;
    }
    String awaited = readyLine;
    process = new ProcessBuilder(command).redirectErrorStream(true).start();
    CompletableFuture<Void> ready = new CompletableFuture<>();
    Process started = process;
    Thread reader =
        new Thread(
            () -> {
              // The last lines, to say why it exited (a port taken meanwhile, a bad argument).
              java.util.ArrayDeque<String> last = new java.util.ArrayDeque<>();
              try (BufferedReader lines =
                  new BufferedReader(new InputStreamReader(started.getInputStream(), UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                  if (line.contains(awaited)) {
                    ready.complete(null);
                  }
                  synchronized (recentLines) {
                    recentLines.add(line);
                    if (recentLines.size() > 40) {
                      recentLines.poll();
                    }
                  }
                  if (!ready.isDone()) {
                    last.add(line);
                    if (last.size() > 10) {
                      last.poll();
                    }
                  }
                }
              } catch (IOException e) {
                ready.completeExceptionally(e);
              }
              ready.completeExceptionally(
                  new IllegalStateException(
                      "redis-server on port " + port + " exited:\n" + String.join("\n", last)));
            },
            "redis-server-output-" + port);
    reader.setDaemon(true);
    reader.start();
    try {
      ready.get(15, TimeUnit.SECONDS);
    } catch (Exception e) {
      // Not ready: never leave it running for a caller that has not registered it yet.
      process.destroyForcibly();
      throw e;
    }
  }

  /** A server without persistence, in a new directory under {@code parent}, started. */
  public static RedisProcess started(Path parent) throws Exception {
    RedisProcess redis =
        new RedisProcess(java.nio.file.Files.createTempDirectory(parent, "redis"), false);
    redis.start();
    return redis;
  }

  /** A replica of {@code master}, in a new directory under {@code parent}, started. */
  public static RedisProcess startedReplicaOf(Path parent, RedisProcess master) throws Exception {
    RedisProcess replica =
        replicaOf(java.nio.file.Files.createTempDirectory(parent, "redis"), master);
    replica.start();
    return replica;
  }

  /** Stops the server as an operator would (SIGTERM: it flushes its append-only file). */
  public void stop() throws InterruptedException {
    process.destroy();
    assertThat(process.waitFor(15, TimeUnit.SECONDS)).as("redis-server stopped").isTrue();
  }

  /**
   * Freezes the server (SIGSTOP): its connections stay open and take commands, which it runs only
   * once {@linkplain #resume() resumed} — Redis hanging, not gone.
   */
  public void pause() throws Exception {
    signal("-STOP");
  }

  /** Lets a {@linkplain #pause() paused} server run again (SIGCONT). */
  public void resume() throws Exception {
    signal("-CONT");
  }

  /**
   * Kills the server (SIGKILL, so it flushes nothing), paused or not, and waits until it exited.
   */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    assertThat(process.waitFor(15, TimeUnit.SECONDS)).as("redis-server killed").isTrue();
  }

  private void signal(String signal) throws Exception {
    Process kill = new ProcessBuilder("kill", signal, Long.toString(process.pid())).start();
    assertThat(kill.waitFor(10, TimeUnit.SECONDS)).as("kill %s ran", signal).isTrue();
    assertThat(kill.exitValue()).as("kill %s succeeded", signal).isZero();
  }

  /** The server's last 40 lines of output (those of earlier runs first), for failure messages. */
  public String recentLog() {
    synchronized (recentLines) {
      return String.join("\n", recentLines);
    }
  }

  /** One section of the server's {@code INFO}; a server that does not answer in 5 s throws. */
  public String info(String section) {
    return (String) call("INFO", section);
  }

  /**
   * One field of a command's line in {@code INFO commandstats} ({@code calls}, {@code
   * failed_calls}, ...) since the server started or its last {@code CONFIG RESETSTAT}; 0 if the
   * command has not run.
   */
  public long commandStat(String command, String field) {
    for (String line : info("commandstats").split("\r?\n")) {
      if (line.startsWith("cmdstat_" + command + ":")) {
        for (String part : line.substring(line.indexOf(':') + 1).split(",")) {
          if (part.startsWith(field + "=")) {
            return Long.parseLong(part.substring(field.length() + 1));
          }
        }
      }
    }
    return 0;
  }

  /**
   * Runs one command on a connection of its own and returns the reply: a {@code String} (simple or
   * bulk string), a {@code Long}, a {@code List} of replies, or null. An error reply, or no answer
   * within 5 s (connecting or reading), throws.
   *
   * <p>A plain socket, not a Lettuce client: the wait loops poll with this, and a Lettuce client
   * created and shut down per poll twice hung a CI run for longer than its command timeout (51 s
   * and 148 s over a bounded wait), while this is bounded by its socket's timeouts.
   */
  public Object call(String... args) {
    try (java.net.Socket socket = new java.net.Socket()) {
      socket.connect(new java.net.InetSocketAddress("127.0.0.1", port), 5_000);
      socket.setSoTimeout(5_000);
      StringBuilder request = new StringBuilder("*").append(args.length).append("\r\n");
      for (String arg : args) {
        byte[] bytes = arg.getBytes(UTF_8);
        request.append('$').append(bytes.length).append("\r\n").append(arg).append("\r\n");
      }
      socket.getOutputStream().write(request.toString().getBytes(UTF_8));
      socket.getOutputStream().flush();
      return reply(
          new java.io.DataInputStream(new java.io.BufferedInputStream(socket.getInputStream())));
    } catch (IOException e) {
      throw new UncheckedIOException("redis-server on port " + port + " did not answer", e);
    }
  }

  private Object reply(java.io.DataInputStream in) throws IOException {
    String line = line(in);
    char kind = line.charAt(0);
    String rest = line.substring(1);
    switch (kind) {
      case '+':
        return rest;
      case '-':
        throw new IllegalStateException("redis-server on port " + port + ": " + rest);
      case ':':
        return Long.parseLong(rest);
      case '$':
        int length = Integer.parseInt(rest);
        if (length < 0) {
          return null;
        }
        byte[] bytes = new byte[length + 2];
        in.readFully(bytes);
        return new String(bytes, 0, length, UTF_8);
      case '*':
        int count = Integer.parseInt(rest);
        if (count < 0) {
          return null;
        }
        List<Object> items = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          items.add(reply(in));
        }
        return items;
      default:
        throw new IllegalStateException("not a RESP reply from port " + port + ": " + line);
    }
  }

  private static String line(java.io.DataInputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    int b;
    while ((b = in.read()) != '\n') {
      if (b < 0) {
        throw new java.io.EOFException("the connection closed mid-reply");
      }
      if (b != '\r') {
        line.append((char) b);
      }
    }
    return line.toString();
  }

  /**
   * Stalls replication from this master to {@code replica} for good: freezes the replica (SIGSTOP),
   * then closes this master's replication connections ({@code CLIENT KILL TYPE replica}), so
   * nothing it runs from now on reaches the replica (a frozen replica cannot reconnect). Writes
   * acknowledged before may still be in the replica's socket buffer and are applied once it runs
   * again.
   */
  public void stallReplicationTo(RedisProcess replica) throws Exception {
    replica.pause();
    assertThat((Long) call("CLIENT", "KILL", "TYPE", "replica"))
        .as("replication connections closed")
        .isPositive();
  }

  /** Polls {@code condition} until it holds, for at most 30 s; exceptions count as not yet. */
  public static void await(BooleanSupplier condition, String what) {
    await(condition, what, 30);
  }

  /** Polls {@code condition} until it holds, for at most {@code seconds}; exceptions: not yet. */
  public static void await(BooleanSupplier condition, String what, int seconds) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (true) {
      try {
        if (condition.getAsBoolean()) {
          return;
        }
      } catch (RuntimeException e) {
        // not yet: a process is starting or failing over
      }
      assertThat(System.nanoTime()).as("timed out waiting until %s", what).isLessThan(deadline);
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50)); // polling a state, bounded
    }
  }

  /** Whether the process runs (it may be {@linkplain #pause() paused}). */
  public boolean isAlive() {
    return process != null && process.isAlive();
  }

  /** Kills the server if it still runs (SIGKILL), waiting a bounded time for it to exit. */
  @Override
  public void close() {
    if (process != null && process.isAlive()) {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
