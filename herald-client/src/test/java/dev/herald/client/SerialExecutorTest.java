package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** One task at a time, in order, on the pool or on a thread that offered to help while it waits. */
@Timeout(60)
class SerialExecutorTest {
  private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(10);

  private final ThreadPoolExecutor pool =
      (ThreadPoolExecutor)
          Executors.newFixedThreadPool(
              2,
              runnable -> {
                Thread thread = new Thread(runnable, "serial-test-pool");
                thread.setDaemon(true);
                return thread;
              });
  private final SerialExecutor serial = new SerialExecutor(pool);
  private final List<String> ranOn = new CopyOnWriteArrayList<>();

  @AfterEach
  void stopPool() throws InterruptedException {
    pool.shutdownNow();
    assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  private Runnable recording() {
    return () -> ranOn.add(Thread.currentThread().getName());
  }

  /** Parks until tasks are handed to this thread, bounded. */
  private void awaitHanded() {
    long deadline = System.nanoTime() + WAIT_NANOS;
    while (!serial.handed() && System.nanoTime() < deadline) {
      LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(100));
    }
    assertThat(serial.handed()).as("tasks handed to the waiting helper").isTrue();
  }

  /** Waits, bounded, until {@code counts[index]} reaches {@code value}. */
  private static void awaitAtLeast(AtomicIntegerArray counts, int index, int value) {
    long deadline = System.nanoTime() + WAIT_NANOS;
    while (counts.get(index) < value && System.nanoTime() < deadline) {
      LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(100));
    }
  }

  @Test
  void withoutAHelperTasksRunOnThePool() throws InterruptedException {
    CountDownLatch ran = new CountDownLatch(1);
    serial.execute(recording());
    serial.execute(ran::countDown);
    assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(ranOn).containsExactly("serial-test-pool");
  }

  @Test
  void aTaskFromAnotherThreadIsHandedToTheWaitingHelperAndRunsOnIt() throws Exception {
    serial.offerHelp();
    Thread submitter = new Thread(() -> serial.execute(recording()), "submitter");
    submitter.start();
    awaitHanded();
    serial.withdrawHelp();
    submitter.join(10_000);
    assertThat(ranOn).containsExactly(Thread.currentThread().getName());
    assertThat(pool.getTaskCount()).as("no pool thread involved").isZero();
  }

  @Test
  void aTaskTheHelperSubmitsItselfIsHandedToIt() {
    serial.offerHelp();
    serial.execute(recording());
    assertThat(serial.handed()).isTrue();
    assertThat(ranOn).as("nothing runs before the helper withdraws").isEmpty();
    serial.withdrawHelp();
    assertThat(ranOn).containsExactly(Thread.currentThread().getName());
    assertThat(pool.getTaskCount()).isZero();
  }

  @Test
  void withdrawingWithoutTasksRunsNothingAndLaterTasksGoToThePool() throws InterruptedException {
    serial.offerHelp();
    serial.withdrawHelp();
    assertThat(serial.handed()).isFalse();
    assertThat(ranOn).isEmpty();
    CountDownLatch ran = new CountDownLatch(1);
    serial.execute(recording());
    serial.execute(ran::countDown);
    assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(ranOn).containsExactly("serial-test-pool");
  }

  @Test
  void handedTasksCanBePassedOnToThePool() throws InterruptedException {
    serial.offerHelp();
    CountDownLatch ran = new CountDownLatch(1);
    serial.execute(recording());
    serial.execute(ran::countDown);
    serial.withdrawHelpToPool();
    assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(ranOn).containsExactly("serial-test-pool");
    assertThat(serial.handed()).isFalse();
  }

  /**
   * Several submitters and a helper that keeps offering and withdrawing: the duty to run tasks
   * moves between the helper and the pool, and still no two tasks overlap and each submitter's
   * tasks run in its order, all of them.
   */
  @Test
  void tasksRunOneAtATimeInOrderWhileTheDutyMovesBetweenHelperAndPool() throws Exception {
    int submitters = 3;
    int perSubmitter = 3000;
    AtomicBoolean running = new AtomicBoolean();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicInteger disorders = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    AtomicInteger onHelper = new AtomicInteger();
    int[] next = new int[submitters];
    AtomicIntegerArray completed = new AtomicIntegerArray(submitters);
    Thread helperThread = Thread.currentThread();
    ExecutorService submitting = Executors.newFixedThreadPool(submitters);
    try {
      for (int s = 0; s < submitters; s++) {
        int submitter = s;
        submitting.execute(
            () -> {
              for (int i = 0; i < perSubmitter; i++) {
                if (i % 100 == 0) {
                  // In bursts, so the executor goes idle now and then and the duty moves.
                  awaitAtLeast(completed, submitter, i);
                }
                int sequence = i;
                serial.execute(
                    () -> {
                      if (!running.compareAndSet(false, true)) {
                        overlaps.incrementAndGet();
                      }
                      // Confined by the executor: plain array access is safe only if it works.
                      if (next[submitter] != sequence) {
                        disorders.incrementAndGet();
                      }
                      next[submitter] = sequence + 1;
                      if (Thread.currentThread() == helperThread) {
                        onHelper.incrementAndGet();
                      }
                      done.incrementAndGet();
                      running.set(false);
                      completed.incrementAndGet(submitter);
                    });
              }
            });
      }
      long deadline = System.nanoTime() + WAIT_NANOS * 3;
      while (done.get() < submitters * perSubmitter && System.nanoTime() < deadline) {
        serial.offerHelp();
        if (!serial.handed()) {
          LockSupport.parkNanos(this, TimeUnit.MICROSECONDS.toNanos(200));
        }
        serial.withdrawHelp();
      }
    } finally {
      submitting.shutdownNow();
    }
    // The last tasks may still be finishing on the pool.
    long deadline = System.nanoTime() + WAIT_NANOS;
    while (done.get() < submitters * perSubmitter && System.nanoTime() < deadline) {
      LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(10));
    }
    assertThat(done).hasValue(submitters * perSubmitter);
    assertThat(overlaps).hasValue(0);
    assertThat(disorders).hasValue(0);
    assertThat(onHelper.get()).as("the helper ran some of them").isPositive();
  }
}
