package dev.herald.client;

import dev.herald.client.testing.ScriptedResponse;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A server-side producer that writes numbered events of a fixed size as fast as TCP lets it,
 * counting the bytes the socket accepted: if a client buffers without bound, that count runs to the
 * total at once; if it pushes back, the count stalls.
 */
final class Firehose {
  static final int EVENT_BYTES = 4096;

  final int events;
  final AtomicLong written = new AtomicLong();

  Firehose(long totalBytes) {
    this.events = (int) (totalBytes / EVENT_BYTES);
  }

  ScriptedResponse response() {
    return ScriptedResponse.eventStream()
        .produce(
            writer -> {
              for (int id = 1; id <= events; id++) {
                byte[] frame = frame(id);
                writer.send(frame);
                written.addAndGet(frame.length);
              }
            })
        .stall();
  }

  long totalBytes() {
    return (long) events * EVENT_BYTES;
  }

  static byte[] frame(int id) {
    String head = "id: " + id + "\ndata: ";
    byte[] frame = new byte[EVENT_BYTES];
    Arrays.fill(frame, (byte) 'x');
    byte[] headBytes = head.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    System.arraycopy(headBytes, 0, frame, 0, headBytes.length);
    frame[EVENT_BYTES - 2] = '\n';
    frame[EVENT_BYTES - 1] = '\n';
    return frame;
  }

  /**
   * Waits until the producer stops making progress (blocked by TCP) and returns how much it wrote;
   * polls a measurement, bounded by {@code maxMillis}.
   */
  long awaitStalled(long maxMillis) throws InterruptedException {
    long deadline = System.currentTimeMillis() + maxMillis;
    long last = -1;
    int stable = 0;
    while (System.currentTimeMillis() < deadline) {
      long now = written.get();
      stable = now == last ? stable + 1 : 0;
      if (stable >= 5) {
        return now;
      }
      last = now;
      Thread.sleep(100);
    }
    return written.get();
  }
}
