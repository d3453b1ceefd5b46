package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.core.Event;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HubDeviceTest {
  @TempDir Path dir;

  private Hub.Builder builder(String store) {
    return TestStores.on(
        Hub.builder(), store.equals("sqlite") ? "sqlite:" + dir.resolve("events.db") : "memory");
  }

  private static String publish(HubFixture f, String member, String type) throws Exception {
    return f.publish(
        "{\"event\": {\"type\": \"" + type + "\", \"body\": {}}}", "Member-ID", member);
  }

  /** Waits, bounded, until /presence lists exactly {@code devices} for the member. */
  private static JsonNode awaitPresence(HubFixture f, String member, int devices) throws Exception {
    JsonNode presence = null;
    for (int i = 0; i < 200; i++) {
      HttpResponse<String> answer = f.get("/presence?member=" + member);
      assertThat(answer.statusCode()).isEqualTo(200);
      presence = HubFixture.json(answer.body());
      if (presence.get("devices").size() == devices) {
        return presence;
      }
      Thread.sleep(25); // polling a condition, bounded by the loop
    }
    throw new AssertionError("presence never showed " + devices + " devices: " + presence);
  }

  @Test
  void newStreamOfADeviceReplacesTheOlderOneWhichEndsCleanly() throws Exception {
    try (HubFixture f = HubFixture.memory();
        SseStream older = f.subscribe("", "Member-ID", "m", "Device-Id", "phone")) {
      try (SseStream newer = f.subscribe("?deviceId=phone", "Member-ID", "m")) {
        assertThat(newer.response().statusCode()).isEqualTo(200);
        assertThat(older.awaitEnd(Duration.ofSeconds(10))).isTrue();
        assertThat(older.endedCleanly()).isTrue();
        String id = publish(f, "m", "AFTER");
        assertThat(newer.next().id()).hasValue(id);
        assertThat(older.pending()).isEmpty();
        JsonNode presence = awaitPresence(f, "m", 1);
        assertThat(presence.get("devices").get(0).get("deviceId").asText()).isEqualTo("phone");
        assertThat(presence.get("subscriptions").asInt()).isEqualTo(1);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "sqlite"})
  void deviceReconnectingWithoutLastEventIdResumesExactlyFromItsCursor(String store)
      throws Exception {
    try (HubFixture f = new HubFixture(builder(store))) {
      String first;
      String second;
      try (SseStream stream = f.subscribe("", "Member-ID", "m", "Device-Id", "phone")) {
        first = publish(f, "m", "ONE");
        second = publish(f, "m", "TWO");
        assertThat(stream.next(2))
            .extracting(e -> e.id().orElseThrow())
            .containsExactly(first, second);
      }
      awaitPresence(f, "m", 0);
      String third = publish(f, "m", "THREE");
      String fourth = publish(f, "m", "FOUR");
      try (SseStream back = f.subscribe("", "Member-ID", "m", "Device-Id", "phone")) {
        List<Event> resumed = back.next(2);
        assertThat(resumed).extracting(e -> e.id().orElseThrow()).containsExactly(third, fourth);
        String fifth = publish(f, "m", "FIVE");
        assertThat(back.next().id()).hasValue(fifth);
      }
      // Another device of the member has no cursor: it starts live.
      try (SseStream laptop = f.subscribe("", "Member-ID", "m", "Device-Id", "laptop")) {
        String sixth = publish(f, "m", "SIX");
        assertThat(laptop.next().id()).hasValue(sixth);
      }
    }
  }

  @Test
  void explicitLastEventIdWinsOverTheCursor() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      String first;
      String second;
      try (SseStream stream = f.subscribe("", "Member-ID", "m", "Device-Id", "phone")) {
        first = publish(f, "m", "ONE");
        second = publish(f, "m", "TWO");
        stream.next(2);
      }
      awaitPresence(f, "m", 0);
      try (SseStream back =
          f.subscribe("", "Member-ID", "m", "Device-Id", "phone", "Last-Event-ID", first)) {
        assertThat(back.next().id()).hasValue(second);
      }
    }
  }

  @Test
  void cursorSurvivesAHubRestartOnSqlite() throws Exception {
    String second;
    try (HubFixture f = new HubFixture(builder("sqlite"));
        SseStream stream = f.subscribe("", "Member-ID", "m", "Device-Id", "phone")) {
      publish(f, "m", "ONE");
      second = publish(f, "m", "TWO");
      assertThat(stream.next(2).get(1).id()).hasValue(second);
    } // closing the hub saves the cursors of its streams
    try (HubFixture f = new HubFixture(builder("sqlite"))) {
      String third = publish(f, "m", "THREE");
      try (SseStream back = f.subscribe("", "Member-ID", "m", "Device-Id", "phone")) {
        assertThat(back.next().id()).hasValue(third);
        String fourth = publish(f, "m", "FOUR");
        assertThat(back.next().id()).hasValue(fourth);
      }
    }
  }

  @Test
  void invalidDeviceIdsAre400() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      for (String query :
          List.of(
              "?topic=t&deviceId=" + "d".repeat(129),
              "?topic=t&deviceId=a%20b",
              "?topic=t&deviceId=")) {
        HttpResponse<String> answer = f.get("/events" + query);
        assertThat(answer.statusCode()).as(query).isEqualTo(400);
        assertThat(HubFixture.json(answer.body()).get("error").asText())
            .isEqualTo("device_id_invalid");
      }
      HttpResponse<String> header = f.get("/events?topic=t", "Device-Id", "a\"b c");
      assertThat(header.statusCode()).isEqualTo(400);
    }
  }

  @Test
  void presenceListsConnectedDevicesAndPublishTellsHowManyItReached() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      Instant before = Instant.now().minusSeconds(1);
      try (SseStream phone = f.subscribe("", "Member-ID", "m", "Device-Id", "phone");
          SseStream laptop = f.subscribe("", "Member-ID", "m", "Device-Id", "laptop")) {
        JsonNode presence = awaitPresence(f, "m", 2);
        assertThat(presence.get("topic").asText()).isEqualTo("members/m");
        assertThat(presence.get("subscriptions").asInt()).isEqualTo(2);
        for (JsonNode device : presence.get("devices")) {
          assertThat(Instant.parse(device.get("since").asText())).isAfter(before);
        }
        HttpResponse<String> both =
            f.post("{\"event\": {\"type\": \"A\", \"body\": 1}}", "Member-ID", "m");
        assertThat(HubFixture.json(both.body()).get("reached").asInt()).isEqualTo(2);
        laptop.close();
        awaitPresence(f, "m", 1);
        HttpResponse<String> one =
            f.post("{\"event\": {\"type\": \"B\", \"body\": 2}}", "Member-ID", "m");
        assertThat(HubFixture.json(one.body()).get("reached").asInt()).isEqualTo(1);
        assertThat(phone.next(2)).extracting(Event::type).containsExactly("A", "B");
      }
      assertThat(
              HubFixture.json(f.get("/presence?topic=nobody").body()).get("subscriptions").asInt())
          .isZero();
      assertThat(f.get("/presence").statusCode()).isEqualTo(400);
      assertThat(f.get("/presence?topic=a&member=b").statusCode()).isEqualTo(400);
    }
  }

  @Test
  void presenceIsAuthorisedLikeSubscribe() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET))) {
      String alice = Tokens.hs256(Tokens.claims("alice", List.of(), List.of()).build());
      assertThat(f.get("/presence?member=alice").statusCode()).isEqualTo(401);
      assertThat(f.get("/presence?member=alice", "Authorization", "Bearer " + alice).statusCode())
          .isEqualTo(200);
      HttpResponse<String> other =
          f.get("/presence?member=bob", "Authorization", "Bearer " + alice);
      assertThat(other.statusCode()).isEqualTo(403);
      assertThat(HubFixture.json(other.body()).get("error").asText())
          .isEqualTo("topic_not_allowed");
    }
  }
}
