package dev.herald.spring.boot.secure;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.spring.boot.HeraldPublisher;
import dev.herald.spring.boot.testing.CloseRecorder;
import dev.herald.spring.boot.testing.RawHttp;
import dev.herald.spring.boot.testing.StreamClient;
import dev.herald.spring.boot.testing.TestApps;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.context.ConfigurableApplicationContext;

/** A user streams their own topic, and only theirs, behind Spring Security. */
@Timeout(60)
class SecurityTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static ConfigurableApplicationContext context;
  private static HeraldPublisher publisher;
  private static CloseRecorder recorder;

  @BeforeAll
  static void start() {
    context = TestApps.start(SecureApp.class);
    publisher = context.getBean(HeraldPublisher.class);
    recorder = context.getBean(CloseRecorder.class);
  }

  @AfterAll
  static void stop() {
    context.close();
  }

  private static String basic(String user) {
    String credentials = user + ":" + user + "-secret";
    return "Basic "
        + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void eachUserStreamsTheirOwnTopicOnly() throws Exception {
    try (StreamClient alice =
            StreamClient.open(
                TestApps.uri(context, "/me/events"), "", Map.of("Authorization", basic("alice")));
        StreamClient bob =
            StreamClient.open(
                TestApps.uri(context, "/members/bob/events"),
                "",
                Map.of("Authorization", basic("bob")))) {
      publisher.publish("members/bob", "for bob").get(10, TimeUnit.SECONDS);
      publisher.publish("members/alice", "for alice").get(10, TimeUnit.SECONDS);

      assertThat(alice.next(WAIT).data()).isEqualTo("for alice");
      assertThat(bob.next(WAIT).data()).isEqualTo("for bob");
      assertThat(alice.poll(Duration.ofMillis(200))).as("nothing of bob's").isEmpty();
    }
  }

  @Test
  void anotherUsersTopicIsForbiddenAndStrangersAreAskedToLogIn() throws Exception {
    int opened = recorder.opened();

    HttpResponse<String> forbidden =
        RawHttp.get(TestApps.uri(context, "/members/bob/events"), "Authorization", basic("alice"));
    HttpResponse<String> anonymous = RawHttp.get(TestApps.uri(context, "/me/events"));
    HttpResponse<String> wrongPassword =
        RawHttp.get(
            TestApps.uri(context, "/me/events"),
            "Authorization",
            "Basic " + Base64.getEncoder().encodeToString("alice:bob-secret".getBytes()));

    assertThat(forbidden.statusCode()).isEqualTo(403);
    assertThat(anonymous.statusCode()).isEqualTo(401);
    assertThat(anonymous.headers().firstValue("WWW-Authenticate").orElseThrow())
        .startsWith("Basic");
    assertThat(wrongPassword.statusCode()).isEqualTo(401);
    assertThat(recorder.opened()).as("subscriptions opened").isEqualTo(opened);
  }

  @Test
  void securedStreamsResumeFromLastEventId() throws Exception {
    String first =
        Long.toString(publisher.publish("members/alice", "one").get(10, TimeUnit.SECONDS).id());
    String second =
        Long.toString(publisher.publish("members/alice", "two").get(10, TimeUnit.SECONDS).id());
    try (StreamClient alice =
        StreamClient.open(
            TestApps.uri(context, "/me/events"), first, Map.of("Authorization", basic("alice")))) {
      assertThat(alice.next(WAIT).id()).hasValue(second);
      alice.restart();
      String third =
          Long.toString(publisher.publish("members/alice", "three").get(10, TimeUnit.SECONDS).id());
      assertThat(alice.next(WAIT).id()).hasValue(third);
    }
  }
}
