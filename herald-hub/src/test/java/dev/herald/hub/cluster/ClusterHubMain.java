package dev.herald.hub.cluster;

import dev.herald.hub.Hub;
import java.util.concurrent.CountDownLatch;

/**
 * A hub node on Redis in a child process, for {@link ClusterTest}'s killed-node test: prints its
 * port, then serves until it is killed.
 */
public final class ClusterHubMain {
  private ClusterHubMain() {}

  /** {@code args[0]}: the Redis URL; {@code args[1]}: the key prefix. */
  public static void main(String[] args) throws InterruptedException {
    Hub hub = Hub.builder().port(0).store(args[0]).redisKeyPrefix(args[1]).build().start();
    System.out.println("port " + hub.address().getPort());
    System.out.flush();
    new CountDownLatch(1).await();
  }
}
