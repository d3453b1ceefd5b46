package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.client.EventSource;
import dev.herald.client.EventSourceListener;
import dev.herald.core.Event;
import dev.herald.redis.testing.RedisProcess;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rolling restart's first half, as deployed: two {@code herald serve} processes on one Redis (a
 * private redis-server child) behind nginx, subscribers (herald-client EventSources) and a steady
 * publisher through nginx. SIGTERM to one node: it drains over {@code --drain}, its subscribers
 * move to the other node spread over the window, the process exits 0, and every acknowledged event
 * reaches every subscriber exactly once, in order.
 *
 * <p>The number of streams is {@code -Dherald.drainTest.streams} (default 500, which fits the CI
 * budget on a shared 2-core machine), the drain window {@code -Dherald.drainTest.drainSeconds}
 * (default 4); the 5,000 streams with a 10 s drain are run by hand (docs/performance.md).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class DrainBehindNginxProcessTest {
  private static final Path NGINX = Path.of("/usr/sbin/nginx");
  private static final int STREAMS = Integer.getInteger("herald.drainTest.streams", 500);
  private static final Duration DRAIN =
      Duration.ofSeconds(Integer.getInteger("herald.drainTest.drainSeconds", 4));
  private static final Duration BOUND = Duration.ofSeconds(60);
  private static final Pattern BANNER =
      Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)");

  @TempDir Path dir;

  private final List<Process> processes = new ArrayList<>();
  private RedisProcess redis;

  @AfterEach
  void stop() {
    for (Process process : processes) {
      process.destroyForcibly();
    }
    if (redis != null) {
      redis.close();
    }
  }

  @Test
  void aDrainedNodesSubscribersMoveSpreadOverTheWindowAndLoseNothing() throws Exception {
    assertThat(Files.isExecutable(NGINX)).as("nginx (Debian package nginx) is installed").isTrue();
    redis = new RedisProcess(dir, false);
    redis.start();
    String store = "redis://127.0.0.1:" + redis.port();
    Process a = serve("a", store);
    Process b = serve("b", store);
    int portA = port("a", a);
    int portB = port("b", b);
    int lb = nginx(portA, portB);
    URI events = URI.create("http://127.0.0.1:" + lb + "/events");

    HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    List<Subscriber> subscribers = new ArrayList<>();
    try {
      for (int i = 0; i < STREAMS; i++) {
        subscribers.add(new Subscriber(http, URI.create(events + "?topic=drain")));
      }
      await(() -> subscribers.stream().allMatch(s -> s.opens.get() >= 1), "every stream open");
      long onA = streamsOn(http, portA);
      System.out.println(
          "drain test: " + STREAMS + " streams, " + onA + " on the node drained, drain " + DRAIN);

      Publisher publisher = new Publisher(http, events);
      Thread publishing = new Thread(publisher, "test-publisher");
      publishing.start();
      await(() -> publisher.acknowledged.size() >= 20, "publishes flowing");

      long sigterm = System.nanoTime();
      for (Subscriber s : subscribers) {
        s.since = sigterm;
      }
      // Arrivals at the node that stays, as it counts them: its open streams every 250 ms, the
      // first count taken before the SIGTERM (a sampler's first request, slow on a loaded machine,
      // would miss the earliest arrivals).
      List<Long> onB = new java.util.concurrent.CopyOnWriteArrayList<>();
      onB.add(streamsOn(http, portB));
      AtomicBoolean sampling = new AtomicBoolean(true);
      Thread sampler =
          new Thread(
              () -> {
                long next = sigterm;
                while (sampling.get()) {
                  try {
                    next += TimeUnit.MILLISECONDS.toNanos(250);
                    TimeUnit.NANOSECONDS.sleep(Math.max(0, next - System.nanoTime()));
                    onB.add(streamsOn(http, portB));
                  } catch (Exception e) {
                    return;
                  }
                }
              },
              "test-sampler");
      sampler.setDaemon(true); // a failed assertion below must not leave it running
      sampler.start();
      a.destroy(); // SIGTERM
      assertThat(a.waitFor(DRAIN.toSeconds() + 20, TimeUnit.SECONDS))
          .as("the drained node exits")
          .isTrue();
      long exitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sigterm);
      assertThat(a.exitValue()).as("exit status; log: %s", log("a")).isZero();
      // A little more publishing on the node that stays, then everything must have arrived.
      int before = publisher.acknowledged.size();
      await(() -> publisher.acknowledged.size() >= before + 20, "publishes after the drain");
      publisher.stop.set(true);
      publishing.join(BOUND.toMillis());
      List<String> acknowledged = List.copyOf(publisher.acknowledged);
      await(
          () -> subscribers.stream().allMatch(s -> s.received.size() >= acknowledged.size()),
          "every acknowledged event at every subscriber");

      for (Subscriber s : subscribers) {
        assertThat(List.copyOf(s.received))
            .as("exactly once, in order")
            .containsExactlyElementsOf(acknowledged);
      }
      await(
          () -> {
            try {
              return streamsOn(http, portB) == STREAMS;
            } catch (Exception e) {
              throw new IllegalStateException("the node that stays did not answer", e);
            }
          },
          "every stream on the node that stays");
      // Sampled until every stream is there (the last clients come back up to 1.5 s after the
      // drained node asked them, which may be after it exited), and once more at the end.
      sampling.set(false);
      sampler.join(BOUND.toMillis());
      onB.add(streamsOn(http, portB));
      // Reconnections: every stream of the drained node came back (some more than once: shed by
      // a draining node they reached through nginx's kept-alive connections), spread over time.
      List<Long> moves = new ArrayList<>();
      for (Subscriber s : subscribers) {
        moves.addAll(s.reopenedAt);
      }
      long moved = subscribers.stream().filter(s -> !s.reopenedAt.isEmpty()).count();
      assertThat(moved).as("subscribers that moved").isGreaterThanOrEqualTo(onA);
      // Quarter seconds after the SIGTERM, up to the drain window and the longest retry after it.
      int slots = (int) (DRAIN.toMillis() / 250) + 12;
      int[] histogram = new int[slots];
      for (long at : moves) {
        histogram[(int) Math.min(slots - 1, at / 250)]++;
      }
      System.out.println(
          "drain test: node exited 0 after "
              + exitedMillis
              + " ms; "
              + moved
              + " subscribers moved ("
              + moves.size()
              + " reconnections); reconnections per 250 ms after SIGTERM: "
              + Arrays.toString(histogram)
              + "; "
              + acknowledged.size()
              + " events acknowledged, each received once by each of "
              + STREAMS);
      // The same seen by the node that stays: new streams per 250 ms (its count's rises).
      List<Long> arrivals = new ArrayList<>();
      for (int i = 1; i < onB.size(); i++) {
        arrivals.add(Math.max(0, onB.get(i) - onB.get(i - 1)));
      }
      long arrived = arrivals.stream().mapToLong(Long::longValue).sum();
      System.out.println(
          "drain test: streams arriving at the other node per 250 ms after SIGTERM: " + arrivals);
      assertThat(arrived).as("streams that arrived").isGreaterThanOrEqualTo(onA);
      // Streams are asked back at 200 a second at least, evenly over the window, each client then
      // waiting a jittered 0.5-1.5 s: no quarter second brings half of the arrivals, and the middle
      // 80% of them span 750 ms or more (all at once: both fail).
      for (long count : arrivals) {
        assertThat(count).isLessThan(arrived / 2);
      }
      long seen = 0;
      int first = -1;
      int last = -1;
      for (int i = 0; i < arrivals.size(); i++) {
        seen += arrivals.get(i);
        if (first < 0 && seen >= arrived / 10) {
          first = i;
        }
        if (last < 0 && seen >= arrived * 9 / 10) {
          last = i;
        }
      }
      System.out.println(
          "drain test: middle 80% of the arrivals span " + (last - first) * 250 + " ms");
      assertThat((last - first) * 250).isGreaterThanOrEqualTo(750);
    } finally {
      for (Subscriber s : subscribers) {
        s.source.close();
      }
      b.destroy();
    }
  }

  private Process serve(String name, String store) throws IOException {
    Process process =
        new ProcessBuilder(
                HeraldProcess.command(
                    "serve",
                    "--port",
                    "0",
                    "--store",
                    store,
                    "--drain",
                    DRAIN.toSeconds() + "s",
                    "--heartbeat",
                    "2s"))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve(name + ".log").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
            .start();
    processes.add(process);
    return process;
  }

  private String log(String name) throws IOException {
    return Files.readString(dir.resolve(name + ".log"));
  }

  private int port(String name, Process process) throws Exception {
    long deadline = System.nanoTime() + BOUND.toNanos();
    while (true) {
      Matcher m = BANNER.matcher(log(name));
      if (m.find()) {
        return Integer.parseInt(m.group(1));
      }
      assertThat(process.isAlive()).as("%s runs; log: %s", name, log(name)).isTrue();
      assertThat(System.nanoTime())
          .as("%s's banner; log: %s", name, log(name))
          .isLessThan(deadline);
      Thread.sleep(50); // polling the log file for the banner, bounded
    }
  }

  /** nginx in front of both nodes, as scripts/cluster-nginx.sh configures it: its port. */
  private int nginx(int portA, int portB) throws Exception {
    int port;
    try (ServerSocket free = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    }
    Path home = dir.resolve("nginx");
    Files.createDirectories(home.resolve("logs"));
    int connections = 4 * STREAMS + 1024;
    String user = "root".equals(System.getProperty("user.name")) ? "user root;\n" : "";
    Files.writeString(
        home.resolve("nginx.conf"),
        user
            + "worker_processes 1;\n"
            + "worker_rlimit_nofile "
            + connections
            + ";\n"
            + "pid "
            + home.resolve("nginx.pid")
            + ";\n"
            + "error_log "
            + home.resolve("logs/error.log")
            + " warn;\n"
            + "events { worker_connections "
            + connections
            + "; }\n"
            + "http {\n"
            + "  access_log off;\n"
            + "  client_body_temp_path "
            + home.resolve("body")
            + ";\n"
            + "  proxy_temp_path "
            + home.resolve("proxy")
            + ";\n"
            + "  fastcgi_temp_path "
            + home.resolve("fastcgi")
            + ";\n"
            + "  uwsgi_temp_path "
            + home.resolve("uwsgi")
            + ";\n"
            + "  scgi_temp_path "
            + home.resolve("scgi")
            + ";\n"
            + "  upstream herald {\n"
            + "    server 127.0.0.1:"
            + portA
            + " max_fails=1 fail_timeout=10s;\n"
            + "    server 127.0.0.1:"
            + portB
            + " max_fails=1 fail_timeout=10s;\n"
            + "    keepalive 32;\n"
            + "  }\n"
            + "  server {\n"
            + "    listen 127.0.0.1:"
            + port
            + ";\n"
            + "    location / {\n"
            + "      proxy_pass http://herald;\n"
            + "      proxy_http_version 1.1;\n"
            + "      proxy_set_header Connection \"\";\n"
            + "      proxy_set_header Host $host;\n"
            + "      proxy_buffering off;\n"
            + "      proxy_cache off;\n"
            + "      proxy_read_timeout 1h;\n"
            + "      proxy_connect_timeout 2s;\n"
            + "    }\n"
            + "  }\n"
            + "}\n");
    Process nginx =
        new ProcessBuilder(
                NGINX.toString(),
                "-p",
                home.toString(),
                "-c",
                home.resolve("nginx.conf").toString(),
                "-g",
                "daemon off;")
            .redirectErrorStream(true)
            .redirectOutput(home.resolve("logs/stdout.log").toFile())
            .start();
    processes.add(nginx);
    HttpClient http = HttpClient.newHttpClient();
    URI ready = URI.create("http://127.0.0.1:" + port + "/readyz");
    await(
        () -> {
          try {
            return http.send(
                        HttpRequest.newBuilder(ready).build(),
                        HttpResponse.BodyHandlers.discarding())
                    .statusCode()
                == 200;
          } catch (IOException e) {
            return false;
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
          }
        },
        "nginx answers");
    return port;
  }

  private static long streamsOn(HttpClient http, int port) throws Exception {
    String metrics =
        http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    Matcher m = Pattern.compile("(?m)^herald_subscriptions_active (\\d+)").matcher(metrics);
    assertThat(m.find()).isTrue();
    return Long.parseLong(m.group(1));
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + BOUND.toNanos();
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as(what + " within " + BOUND).isLessThan(deadline);
      Thread.sleep(20); // polling the clients' state, bounded by the deadline
    }
  }

  /** One EventSource through nginx: what it received, and when it reopened after the SIGTERM. */
  private static final class Subscriber implements EventSourceListener {
    final ConcurrentLinkedQueue<String> received = new ConcurrentLinkedQueue<>();
    final ConcurrentLinkedQueue<Long> reopenedAt = new ConcurrentLinkedQueue<>();
    final AtomicInteger opens = new AtomicInteger();
    final EventSource source;
    volatile long since;

    Subscriber(HttpClient http, URI uri) {
      source =
          EventSource.builder(uri)
              .httpClient(http)
              .reconnectionTime(Duration.ofMillis(500))
              .listener(this)
              .build();
      source.start();
    }

    @Override
    public void onOpen(HttpResponse.ResponseInfo response) {
      if (opens.incrementAndGet() > 1 && since != 0) {
        reopenedAt.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since));
      }
    }

    @Override
    public void onEvent(Event event) {
      received.add(event.data());
    }
  }

  /**
   * Publishes 0, 1, 2, ... every 20 ms through nginx, each with its own {@code Idempotency-Key},
   * retried until acknowledged (a publish cut by the drain may or may not be stored: the key makes
   * its retry publish it at most once).
   */
  private static final class Publisher implements Runnable {
    final ConcurrentLinkedQueue<String> acknowledged = new ConcurrentLinkedQueue<>();
    final AtomicBoolean stop = new AtomicBoolean();
    private final HttpClient http;
    private final URI events;

    Publisher(HttpClient http, URI events) {
      this.http = http;
      this.events = events;
    }

    @Override
    public void run() {
      for (int seq = 0; !stop.get(); seq++) {
        String data = Integer.toString(seq);
        HttpRequest request =
            HttpRequest.newBuilder(events)
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", "drain-test-" + seq)
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"topic\": \"drain\", \"data\": \"" + data + "\"}"))
                .build();
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (System.nanoTime() < deadline) {
          try {
            if (http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 201) {
              acknowledged.add(data);
              break;
            }
          } catch (IOException e) {
            // Cut by the drain: retried with the same key.
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
          sleep(50);
        }
        sleep(20);
      }
    }

    private static void sleep(long millis) {
      try {
        Thread.sleep(millis); // the publisher's pace
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
