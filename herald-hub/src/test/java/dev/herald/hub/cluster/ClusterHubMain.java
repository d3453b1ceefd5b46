package dev.herald.hub.cluster;

import dev.herald.hub.Hub;
import dev.herald.hub.TestStores;
import java.util.concurrent.CountDownLatch;

/**
 * A hub node on Redis in a child process, for {@link ClusterTest}'s killed-node test: prints its
 * port, then serves until it is killed.
 */
public final class ClusterHubMain {
  private ClusterHubMain() {}

  /** {@code args[0]}: the Redis URL; {@code args[1]}: the key prefix. */
  public static void main(String[] args) throws InterruptedException {
    Hub hub = TestStores.on(Hub.builder().port(0), args[0], args[1]).build().start();
    System.out.println("port " + hub.address().getPort());
    System.out.flush();
    new CountDownLatch(1).await();
  }
}
