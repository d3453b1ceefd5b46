package dev.herald.hub.cluster;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.hub.Hub;
import dev.herald.hub.TestStores;
import dev.herald.hub.cluster.Follower.Received;
import dev.herald.hub.cluster.Publisher.Answer;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.TestRedis;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cluster mode: several hub nodes on one Redis, real sockets, real processes. The promise under
 * test: an event the hub acknowledged (201) reaches every subscriber exactly once, in order,
 * whichever node it is on or moves to, even when a node is killed or Redis restarts.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ClusterTest {
  @TempDir Path dir;

  private final String prefix = TestRedis.newPrefix();
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private final Publisher publisher = new Publisher(http);
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
    TestRedis.deleteKeys(TestRedis.URI, prefix);
  }

  @Test
  void threeNodesDeliverEveryEventOnceInOrderAndAMovedSubscriberResumesExactly() throws Exception {
    URI a = node(TestRedis.URI);
    URI b = node(TestRedis.URI);
    URI c = node(TestRedis.URI);
    Follower bothOnB = follow("?topic=red&topic=blue", b);
    Follower bothOnC = follow("?topic=red&topic=blue", c);
    Follower redOnC = follow("?topic=red", c);
    Follower mover = follow("?topic=red&topic=blue", b, c);
    int n = 90;
    List<String> all = Collections.synchronizedList(new ArrayList<>());
    List<String> red = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch someSent = new CountDownLatch(15);
    CountDownLatch moreSent = new CountDownLatch(45);
    // Publishers on A keep going while the mover leaves B and comes back on C.
    CompletableFuture<Void> publishing =
        CompletableFuture.runAsync(
            () -> {
              for (int i = 0; i < n; i++) {
                // Every third event goes to both topics: one id, delivered once per stream.
                String[] topics =
                    i % 3 == 0
                        ? new String[] {"red", "blue"}
                        : new String[] {i % 3 == 1 ? "red" : "blue"};
                Answer answer = publish(a, "e" + i, topics);
                assertThat(answer.status()).as(answer.body()).isEqualTo(201);
                all.add(answer.id());
                if (topics[0].equals("red")) {
                  red.add(answer.id());
                }
                someSent.countDown();
                moreSent.countDown();
              }
            });

    assertThat(someSent.await(20, TimeUnit.SECONDS)).isTrue();
    assertThat(mover.awaitId(all.get(9))).as("the mover got events on B").isTrue();
    mover.disconnect();
    int receivedOnB = mover.ids().size();
    assertThat(moreSent.await(20, TimeUnit.SECONDS)).isTrue();
    assertThat(all.size()).as("events were published while it was away").isGreaterThan(receivedOnB);
    // Back on another node with Last-Event-ID: what it missed is replayed, then live, while the
    // publisher is still writing.
    mover.moveTo(1);
    publishing.get(30, TimeUnit.SECONDS);

    String newest = all.get(n - 1);
    for (Follower follower : List.of(bothOnB, bothOnC, mover)) {
      assertThat(follower.awaitId(newest)).as("%s got %s", follower, newest).isTrue();
    }
    String newestRed = red.get(red.size() - 1);
    assertThat(redOnC.awaitId(newestRed)).as("%s got %s", redOnC, newestRed).isTrue();
    assertThat(bothOnB.ids()).as("every event once, in order, on B").isEqualTo(all);
    assertThat(bothOnC.ids()).as("every event once, in order, on C").isEqualTo(all);
    assertThat(redOnC.ids()).as("the red events once, in order").isEqualTo(red);
    assertThat(mover.ids())
        .as("B, then C from its Last-Event-ID: no gap, no duplicate")
        .isEqualTo(all);
    assertThat(mover.connections()).containsExactly(b, c);
    assertThat(mover.received().subList(0, receivedOnB)).extracting(Received::node).containsOnly(b);
    List<String> data = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      data.add("e" + i);
    }
    assertThat(bothOnC.received()).extracting(Received::data).isEqualTo(data);
    for (Follower follower : List.of(bothOnB, bothOnC, redOnC, mover)) {
      assertThat(follower.received()).extracting(Received::type).containsOnly("message");
    }
  }

  @Test
  void subscribersOfAKilledNodeResumeOnTheOtherNodesWithoutLoss() throws Exception {
    URI a = node(TestRedis.URI);
    URI b = node(TestRedis.URI);
    Process child = startChild(TestRedis.URI);
    URI k = URI.create("http://127.0.0.1:" + port(child));
    Follower kThenA = follow("?topic=k", k, a);
    Follower kThenB = follow("?topic=k&topic=other", k, b);
    Follower onB = follow("?topic=k", b);
    int n = 80;
    List<String> acked = Collections.synchronizedList(new ArrayList<>());
    Set<String> unanswered = Collections.synchronizedSet(new HashSet<>());
    CountDownLatch halfway = new CountDownLatch(n / 2);
    // One publisher, half of its events through the doomed node: ack order is id order.
    CompletableFuture<Void> publishing =
        CompletableFuture.runAsync(
            () -> {
              boolean kAlive = true;
              for (int i = 0; i < n; i++) {
                URI target = kAlive && i % 2 == 0 ? k : a;
                try {
                  Answer answer = publisher.publish(target, "k" + i, "k");
                  assertThat(answer.status()).as(answer.body()).isEqualTo(201);
                  acked.add(answer.id());
                } catch (IOException e) {
                  // Killed while it handled the publish: stored or not, never acknowledged.
                  assertThat(target).isEqualTo(k);
                  unanswered.add("k" + i);
                  kAlive = false;
                } catch (Exception e) {
                  throw new AssertionError(e);
                }
                halfway.countDown();
              }
            });

    assertThat(halfway.await(30, TimeUnit.SECONDS)).isTrue();
    child.destroyForcibly();
    assertThat(child.waitFor(10, TimeUnit.SECONDS)).as("the node is dead").isTrue();
    publishing.get(30, TimeUnit.SECONDS);

    String newest = acked.get(acked.size() - 1);
    for (Follower follower : List.of(kThenA, kThenB, onB)) {
      assertThat(follower.awaitId(newest)).as("%s got %s", follower, newest).isTrue();
      assertDeliveredOnceInOrder(follower, acked, unanswered);
    }
    assertThat(kThenA.connections()).as("failed over to A").containsExactly(k, a);
    assertThat(kThenB.connections()).as("failed over to B").containsExactly(k, b);
    assertThat(onB.connections()).as("never disturbed").containsExactly(b);
  }

  @Test
  void redisRestartLosesNoAcknowledgedEventAndRefusesPublishesMeanwhile() throws Exception {
    RedisProcess redis = new RedisProcess(dir, true);
    resources.add(redis);
    redis.start();
    URI a = node(redis.uri());
    URI b = node(redis.uri());
    Follower onA = follow("?topic=r", a);
    Follower onB = follow("?topic=r&topic=s", b);
    Follower failingOver = follow("?topic=r", b, a);
    List<String> acked = new ArrayList<>();
    Set<String> refused = new HashSet<>();
    Map<String, String> dataById = new HashMap<>();
    int next = 0;
    for (; next < 10; next++) {
      Answer answer = publish(next % 2 == 0 ? a : b, "r" + next, "r", "s");
      assertThat(answer.status()).as(answer.body()).isEqualTo(201);
      acked.add(answer.id());
      dataById.put(answer.id(), "r" + next);
    }
    assertThat(onB.awaitId(acked.get(9))).isTrue();

    redis.stop();

    awaitStatus(() -> ready(a), 503, "A's /readyz says the store is down");
    awaitStatus(() -> ready(b), 503, "B's /readyz says the store is down");
    for (URI node : List.of(a, b)) {
      long start = System.nanoTime();
      Answer answer = publish(node, "r" + next, "r");
      assertThat(answer.status()).as(answer.body()).isEqualTo(503);
      assertThat(answer.error()).isEqualTo("store_unavailable");
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .as("refused fast, not after a hang")
          .isLessThan(Duration.ofSeconds(3));
      refused.add("r" + next++);
    }
    // A subscriber arriving during the outage gets what is published once Redis is back.
    Follower lateOnB = follow("?topic=r", b);

    redis.start();

    // Publish as soon as Redis takes writes again: a publisher's retry, bounded.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    int firstAfter = acked.size();
    while (acked.size() == firstAfter) {
      assertThat(System.nanoTime()).as("Redis took writes within 20 s").isLessThan(deadline);
      Answer answer = publish(a, "r" + next, "r");
      if (answer.acknowledged()) {
        acked.add(answer.id());
        dataById.put(answer.id(), "r" + next);
      } else {
        assertThat(answer.status()).isEqualTo(503);
        assertThat(answer.error()).isEqualTo("store_unavailable");
        refused.add("r" + next);
        Thread.sleep(20); // a publisher's retry back-off, not synchronisation
      }
      next++;
    }
    awaitStatus(() -> ready(a), 200, "A is ready again");
    awaitStatus(() -> ready(b), 200, "B is ready again");
    for (int i = 0; i < 10; i++, next++) {
      Answer answer = publish(i % 2 == 0 ? b : a, "r" + next, "r");
      assertThat(answer.status()).as(answer.body()).isEqualTo(201);
      acked.add(answer.id());
      dataById.put(answer.id(), "r" + next);
    }

    String newest = acked.get(acked.size() - 1);
    for (Follower follower : List.of(onA, onB, failingOver, lateOnB)) {
      assertThat(follower.awaitId(newest)).as("%s got %s", follower, newest).isTrue();
    }
    for (Follower follower : List.of(onA, onB, failingOver)) {
      assertDeliveredOnceInOrder(follower, acked, refused);
      for (Received event : follower.received()) {
        if (dataById.containsKey(event.id())) {
          assertThat(event.data()).isEqualTo(dataById.get(event.id()));
        }
      }
    }
    assertDeliveredOnceInOrder(lateOnB, acked.subList(firstAfter, acked.size()), refused);
    assertThat(lateOnB.ids()).doesNotContainAnyElementsOf(acked.subList(0, firstAfter));
  }

  @Test
  void subscribingWhileRedisIsSilentDoesNotHoldUpOtherConnections() throws Exception {
    SilentProxy proxy = new SilentProxy(6379);
    resources.add(proxy);
    URI node = node(proxy.uri());
    follow("?topic=warm", node);

    proxy.silence();
    // The first watch of a new topic waits for Redis, up to its command timeout (2 s)...
    long start = System.nanoTime();
    CompletableFuture<HttpResponse<InputStream>> cold =
        http.sendAsync(
            HttpRequest.newBuilder(node.resolve("/events?topic=cold")).build(),
            HttpResponse.BodyHandlers.ofInputStream());
    // ... but never on an event loop: fresh connections (spread over every event loop) are
    // answered meanwhile.
    for (int i = 0; i < 2 * Runtime.getRuntime().availableProcessors() + 2; i++) {
      long begin = System.nanoTime();
      assertThat(healthz(node)).isEqualTo("HTTP/1.1 200 OK");
      assertThat(Duration.ofNanos(System.nanoTime() - begin))
          .as("/healthz while a subscribe waits for Redis")
          .isLessThan(Duration.ofMillis(1500));
    }
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .as("the probes ran while the subscribe waited")
        .isLessThan(Duration.ofSeconds(2));
    HttpResponse<InputStream> opened = cold.get(15, TimeUnit.SECONDS);
    assertThat(opened.statusCode()).as("the stream opens anyway, live").isEqualTo(200);
    opened.body().close();
    proxy.close(); // Redis "gone" for good: the node's connections reset, so it closes quickly
  }

  /** The status line of GET /healthz on a new connection, read within 10 s. */
  private static String healthz(URI node) throws IOException {
    try (Socket socket = new Socket(node.getHost(), node.getPort())) {
      socket.setSoTimeout(10_000);
      socket
          .getOutputStream()
          .write(
              "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                  .getBytes(UTF_8));
      return new BufferedReader(new InputStreamReader(socket.getInputStream(), UTF_8)).readLine();
    }
  }

  /**
   * Every acknowledged id arrived once and in order; anything else that arrived is a publish that
   * was not acknowledged (refused or cut off), which Redis may still have stored.
   */
  private static void assertDeliveredOnceInOrder(
      Follower follower, List<String> acked, Set<String> notAcknowledged) {
    List<Received> received = follower.received();
    assertThat(received).extracting(Received::type).containsOnly("message");
    List<Long> ids = received.stream().map(e -> Long.parseLong(e.id())).toList();
    assertThat(ids)
        .as("strictly increasing: in order, no duplicate")
        .isSorted()
        .doesNotHaveDuplicates();
    assertThat(follower.ids()).as("every acknowledged event").containsAll(acked);
    Set<String> ackedIds = new HashSet<>(acked);
    for (Received event : received) {
      if (!ackedIds.contains(event.id())) {
        assertThat(notAcknowledged).as("an event nobody acknowledged").contains(event.data());
      }
    }
  }

  private URI node(String redisUri) {
    Hub hub = TestStores.on(Hub.builder().port(0), redisUri, prefix).publishRate(0).build().start();
    resources.add(hub);
    return URI.create("http://127.0.0.1:" + hub.address().getPort());
  }

  private Follower follow(String query, URI... nodes) throws Exception {
    Follower follower = new Follower(http, query, List.of(nodes));
    resources.add(follower);
    return follower.start();
  }

  private Answer publish(URI node, String data, String... topics) {
    try {
      return publisher.publish(node, data, topics);
    } catch (Exception e) {
      throw new AssertionError("publishing to " + node + " failed", e);
    }
  }

  private int ready(URI node) {
    try {
      return publisher.ready(node);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static void awaitStatus(IntSupplier status, int expected, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (status.getAsInt() != expected) {
      assertThat(System.nanoTime()).as("timed out waiting until %s", what).isLessThan(deadline);
      Thread.sleep(20); // polling a health endpoint, bounded
    }
  }

  private Process startChild(String redisUri) throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process process =
        new ProcessBuilder(
                java.toString(),
                "-Xshare:auto",
                "-XX:TieredStopAtLevel=1",
                "-cp",
                System.getProperty("java.class.path"),
                ClusterHubMain.class.getName(),
                redisUri,
                prefix)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    resources.add(
        () -> {
          process.destroyForcibly();
          process.waitFor(10, TimeUnit.SECONDS);
        });
    return process;
  }

  private static int port(Process process) throws Exception {
    BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8));
    CompletableFuture<String> line =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return out.readLine();
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    String first = line.get(30, TimeUnit.SECONDS);
    assertThat(first).as("the child hub's port").startsWith("port ");
    return Integer.parseInt(first.substring(5).trim());
  }
}
