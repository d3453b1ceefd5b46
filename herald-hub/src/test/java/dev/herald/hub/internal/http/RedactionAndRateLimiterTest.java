package dev.herald.hub.internal.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RedactionAndRateLimiterTest {
  @ParameterizedTest
  @ValueSource(
      strings = {
        "/events?access_token=SECRET",
        "/events?topic=t&access_token=SECRET&x=1",
        "invalid hex byte 'zz' at index 5 of 'topic=%zz&ACCESS_TOKEN=SECRET'",
        "/events?access%5Ftoken%3DSECRET",
        "GET /events?access_token=SECRET HTTP/1.1"
      })
  void queryTokenValuesAreRedactedWhereverTheyAppear(String text) {
    String redacted = Redaction.redact(text);
    assertThat(redacted).doesNotContain("SECRET").contains("REDACTED");
  }

  @Test
  void textWithoutATokenIsUnchanged() {
    assertThat(Redaction.redact("/events?topic=t&lastEventId=5"))
        .isEqualTo("/events?topic=t&lastEventId=5");
  }

  @Test
  void bucketAllowsABurstThenRefillsAtTheRatePerKey() {
    AtomicLong now = new AtomicLong();
    RateLimiter limiter = new RateLimiter(2, 2, now::get);
    assertThat(limiter.acquire("a")).isZero();
    assertThat(limiter.acquire("a")).isZero();
    assertThat(limiter.acquire("a")).isEqualTo(1);
    assertThat(limiter.acquire("b")).as("another key has its own bucket").isZero();
    now.addAndGet(500_000_000L); // half a second: one token at 2/s
    assertThat(limiter.acquire("a")).isZero();
    assertThat(limiter.acquire("a")).isEqualTo(1);
  }

  @Test
  void batchTakesOneTokenPerEventAndLargerThanABurstWaitsForAFullBucket() {
    AtomicLong clock = new AtomicLong();
    RateLimiter limiter = new RateLimiter(10, 10, clock::get);
    assertThat(limiter.acquire("k", 6)).isZero();
    assertThat(limiter.acquire("k", 6)).isEqualTo(1);
    assertThat(limiter.acquire("k", 4)).isZero();
    clock.addAndGet(1_000_000_000L);
    assertThat(limiter.acquire("k", 50)).isZero(); // a full bucket lets a huge batch through
    assertThat(limiter.acquire("k", 1)).isEqualTo(1);
  }

  @Test
  void rateZeroMeansNoLimit() {
    RateLimiter limiter = RateLimiter.perSecond(0);
    assertThat(limiter.enabled()).isFalse();
    for (int i = 0; i < 10_000; i++) {
      assertThat(limiter.acquire("k")).isZero();
    }
  }
}
