package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.server.ForwardingEventLog;
import dev.herald.server.MemoryEventLog;
import dev.herald.server.Publication;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HubLimitsTest {
  @Test
  void connectionsOverTheLimitAre503WhileOpenStreamsKeepReceiving() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxConnections(2));
        SseStream b = f.subscribe("?topic=c")) {
      SseStream a = f.subscribe("?topic=c");
      // Not a probe: probes are answered even when the hub is full (HubSlowClientTest).
      HttpResponse<String> third = f.post("{\"topic\": \"c\", \"data\": \"refused\"}");
      assertThat(third.statusCode()).isEqualTo(503);
      assertThat(third.headers().firstValue("retry-after")).isPresent();
      assertThat(HubFixture.json(third.body()).get("error").asText())
          .isEqualTo("too_many_connections");
      a.close();
      assertThat(a.awaitEnd(java.time.Duration.ofSeconds(5))).isTrue();
      // b still streams: publish from a fresh connection once a's slot is free.
      String id = publishWhenASlotIsFree(f);
      assertThat(b.next().id()).hasValue(id);
    }
  }

  private static String publishWhenASlotIsFree(HubFixture f) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      HttpResponse<String> r = f.post("{\"topic\": \"c\", \"data\": \"x\"}");
      if (r.statusCode() == 201) {
        return HubFixture.json(r.body()).get("id").asText();
      }
      assertThat(r.statusCode()).isEqualTo(503);
      assertThat(System.nanoTime()).as("a slot within 10 s").isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  @Test
  void connectionsPerAddressAreLimited() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxConnectionsPerIp(1));
        SseStream a = f.subscribe("?topic=c")) {
      assertThat(a.response().statusCode()).isEqualTo(200);
      HttpResponse<String> second = f.get("/presence?topic=c");
      assertThat(second.statusCode()).isEqualTo(503);
      assertThat(HubFixture.json(second.body()).get("error").asText())
          .isEqualTo("too_many_connections");
    }
  }

  /** A memory log whose store can be switched off, as a disk or a network can fail. */
  private static final class SwitchableLog extends ForwardingEventLog {
    private volatile boolean down;

    SwitchableLog() {
      super(MemoryEventLog.builder().build());
    }

    @Override
    public CompletableFuture<List<StoredEvent>> append(List<Publication> batch) {
      if (down) {
        return CompletableFuture.failedFuture(new StoreUnavailableException("disk gone"));
      }
      return super.append(batch);
    }

    @Override
    public boolean isAvailable() {
      return !down;
    }
  }

  @Test
  void storeFailureIs503StoreUnavailableAndNothingIsPublished() throws Exception {
    SwitchableLog log = new SwitchableLog();
    try (HubFixture f = new HubFixture(Hub.builder().log(log));
        SseStream stream = f.subscribe("?topic=s")) {
      log.down = true;
      HttpResponse<String> refused = f.post("{\"topic\": \"s\", \"data\": \"lost\"}");
      assertThat(refused.statusCode()).isEqualTo(503);
      assertThat(HubFixture.json(refused.body()).get("error").asText())
          .isEqualTo("store_unavailable");
      assertThat(f.get("/readyz").statusCode()).isEqualTo(503);
      assertThat(f.get("/healthz").statusCode()).isEqualTo(200);
      assertThat(f.get("/metrics").body()).contains("herald_store_errors_total 1.0");

      log.down = false;
      assertThat(f.get("/readyz").statusCode()).isEqualTo(200);
      String marker = f.publish("{\"topic\": \"s\", \"data\": \"marker\"}");
      assertThat(stream.next().id()).hasValue(marker);
    }
  }

  @Test
  void portInUseIsAHubStartException() {
    try (HubFixture f = HubFixture.memory()) {
      Hub second = Hub.builder().port(f.hub.address().getPort()).build();
      org.assertj.core.api.Assertions.assertThatThrownBy(second::start)
          .isInstanceOf(HubStartException.class)
          .hasMessageContaining("cannot listen on");
    }
  }
}
