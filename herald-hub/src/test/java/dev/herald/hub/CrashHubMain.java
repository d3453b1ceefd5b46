package dev.herald.hub;

import java.util.concurrent.CountDownLatch;

/** A hub on a SQLite file, for {@link SqliteHubTest}'s crash test: prints its port, then serves. */
public final class CrashHubMain {
  private CrashHubMain() {}

  /** {@code args[0]}: the SQLite file. */
  public static void main(String[] args) throws InterruptedException {
    Hub hub = TestStores.on(Hub.builder().port(0), "sqlite:" + args[0]).build().start();
    System.out.println("port " + hub.address().getPort());
    System.out.flush();
    new CountDownLatch(1).await();
  }
}
