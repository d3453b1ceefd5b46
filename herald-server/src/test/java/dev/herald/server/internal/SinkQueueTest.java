package dev.herald.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.server.CloseReason;
import org.junit.jupiter.api.Test;

/** The one rule both transports' sinks keep: the bound, back-pressure at half, slow consumers. */
class SinkQueueTest {
  @Test
  void boundsQueuedBytesAndTurnsWritableAtHalfTheBound() {
    SinkQueue<String> queue = new SinkQueue<>(100);
    assertThat(queue.fits(100)).isTrue();
    assertThat(queue.fits(101)).isFalse();
    queue.add("a", 50);
    assertThat(queue.writable()).isTrue();
    queue.add("b", 1);
    assertThat(queue.writable()).isFalse();
    assertThat(queue.fits(49)).isTrue();
    assertThat(queue.fits(50)).isFalse();
    // Items made of one frame after the first count nothing.
    queue.add("b2", 0);
    assertThat(queue.poll()).isEqualTo("a");
    assertThat(queue.writable()).isTrue();
    assertThat(queue.fits(99)).isTrue();
    assertThat(queue.poll()).isEqualTo("b");
    assertThat(queue.poll()).isEqualTo("b2");
    assertThat(queue.poll()).isNull();
    assertThat(queue.isEmpty()).isTrue();
    assertThat(queue.fits(100)).isTrue();
  }

  @Test
  void anOrdinaryCloseKeepsWhatIsQueuedToBeWrittenBeforeTheEnd() {
    SinkQueue<String> queue = new SinkQueue<>(100);
    queue.add("last", 10);
    assertThat(queue.close(CloseReason.SHUTDOWN)).isTrue();
    assertThat(queue.close(CloseReason.SLOW_CONSUMER)).as("only the first end counts").isFalse();
    assertThat(queue.closing()).isEqualTo(CloseReason.SHUTDOWN);
    assertThat(queue.ending()).isTrue();
    assertThat(queue.finished()).isFalse();
    assertThat(queue.poll()).isEqualTo("last");
    queue.finish();
    assertThat(queue.finished()).isTrue();
  }

  @Test
  void aSlowConsumerLosesWhatIsQueuedAtOnce() {
    SinkQueue<String> queue = new SinkQueue<>(100);
    queue.add("x", 90);
    assertThat(queue.close(CloseReason.SLOW_CONSUMER)).isTrue();
    assertThat(queue.isEmpty()).isTrue();
    assertThat(queue.fits(100)).isTrue();
    assertThat(queue.closing()).isEqualTo(CloseReason.SLOW_CONSUMER);
  }

  @Test
  void aFinishedQueueDropsEverythingAndIgnoresALaterClose() {
    SinkQueue<String> queue = new SinkQueue<>(100);
    queue.add("x", 10);
    queue.finish();
    assertThat(queue.isEmpty()).isTrue();
    assertThat(queue.ending()).isTrue();
    assertThat(queue.close(CloseReason.SHUTDOWN)).isFalse();
    assertThat(queue.closing()).isNull();
  }
}
