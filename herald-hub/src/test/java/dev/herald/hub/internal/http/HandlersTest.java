package dev.herald.hub.internal.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The small handlers one at a time, in memory. */
class HandlersTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static JsonNode body(FullHttpResponse response) throws Exception {
    return JSON.readTree(response.content().toString(StandardCharsets.UTF_8));
  }

  private static HttpRequest request(HttpMethod method, String uri) {
    return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, uri);
  }

  @Test
  void decoderFailuresBecome414431And400() throws Exception {
    Object[][] cases = {
      {new TooLongHttpLineException("line"), 414, "uri_too_long"},
      {new TooLongHttpHeaderException("headers"), 431, "headers_too_large"},
      {new IllegalArgumentException("garbage"), 400, "bad_request"},
    };
    for (Object[] c : cases) {
      EmbeddedChannel channel =
          new EmbeddedChannel(
              new DecoderFailureHandler(8192, 16384), new ErrorResponder(code -> {}));
      HttpRequest bad = request(HttpMethod.GET, "/bad-request");
      bad.setDecoderResult(DecoderResult.failure((Throwable) c[0]));
      channel.writeInbound(bad);
      FullHttpResponse response = channel.readOutbound();
      assertThat(response.status().code()).isEqualTo(c[1]);
      assertThat(body(response).get("error").asText()).isEqualTo(c[2]);
      assertThat(response.headers().get(HttpHeaderNames.CONNECTION)).isEqualTo("close");
      assertThat(channel.isOpen()).isFalse();
      response.release();
    }
  }

  @Test
  void routerAnswers404And405WithAllowAndPassesKnownRoutes() throws Exception {
    EmbeddedChannel channel =
        new EmbeddedChannel(new Router(() -> false), new ErrorResponder(code -> {}));
    channel.writeInbound(request(HttpMethod.PUT, "/events?topic=x"));
    FullHttpResponse response = channel.readOutbound();
    assertThat(response.status().code()).isEqualTo(405);
    assertThat(response.headers().get(HttpHeaderNames.ALLOW)).isEqualTo("GET, HEAD, POST");
    assertThat(body(response).get("error").asText()).isEqualTo("method_not_allowed");
    response.release();

    channel = new EmbeddedChannel(new Router(() -> false), new ErrorResponder(code -> {}));
    channel.writeInbound(request(HttpMethod.GET, "/elsewhere"));
    response = channel.readOutbound();
    assertThat(response.status().code()).isEqualTo(404);
    response.release();

    // A known route passes on, with the route recorded for the endpoint handlers.
    EmbeddedChannel passing = new EmbeddedChannel(new Router(() -> false));
    passing.writeInbound(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/readyz"));
    Object routed = passing.readInbound();
    assertThat(routed).isInstanceOf(HttpRequest.class);
    assertThat(RequestInfo.of(passing).route()).isEqualTo(Route.READY);
  }

  @Test
  void everyRefusalIsLoggedOnceWithItsCode() throws Exception {
    ch.qos.logback.classic.Logger logger =
        (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(ErrorResponder.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> appender =
        new ch.qos.logback.core.read.ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    ch.qos.logback.classic.Level level = logger.getLevel();
    logger.setLevel(ch.qos.logback.classic.Level.INFO);
    try {
      EmbeddedChannel channel =
          new EmbeddedChannel(new Router(() -> false), new ErrorResponder(code -> {}));
      channel.writeInbound(request(HttpMethod.GET, "/missing?access_token=secret"));
      FullHttpResponse response = channel.readOutbound();
      response.release();
      assertThat(appender.list).hasSize(1);
      String line = appender.list.get(0).getFormattedMessage();
      assertThat(line).contains("404").contains("not_found").contains("GET /missing");
      assertThat(line).as("the query string never reaches the log").doesNotContain("secret");
    } finally {
      logger.detachAppender(appender);
      logger.setLevel(level);
    }
  }

  @Test
  void routerRefusesNewStreamsAndPublishesWhileShuttingDown() throws Exception {
    AtomicBoolean shuttingDown = new AtomicBoolean(true);
    EmbeddedChannel channel =
        new EmbeddedChannel(new Router(shuttingDown::get), new ErrorResponder(code -> {}));
    channel.writeInbound(request(HttpMethod.GET, "/events?topic=a"));
    FullHttpResponse response = channel.readOutbound();
    assertThat(response.status().code()).isEqualTo(503);
    assertThat(response.headers().get(HttpHeaderNames.RETRY_AFTER)).isNotNull();
    assertThat(body(response).get("error").asText()).isEqualTo("shutting_down");
    response.release();
  }

  @Test
  void responseOrderHoldsPipelinedRequestsUntilTheResponseIsQueued() {
    EmbeddedChannel channel = new EmbeddedChannel(new ResponseOrder());
    ResponseOrder.awaitResponse(channel);
    assertThat(channel.config().isAutoRead())
        .as("reading goes on until a message is held")
        .isTrue();
    HttpRequest next = request(HttpMethod.GET, "/healthz");
    HttpRequest after = request(HttpMethod.GET, "/readyz");
    channel.writeInbound(next, after);
    Object none = channel.readInbound();
    assertThat(none).as("held while the response is pending").isNull();
    assertThat(channel.config().isAutoRead()).as("reading stops once one is held").isFalse();
    ResponseOrder.responded(channel);
    channel.runPendingTasks();
    Object first = channel.readInbound();
    Object second = channel.readInbound();
    assertThat(first).isSameAs(next);
    assertThat(second).isSameAs(after);
    assertThat(channel.config().isAutoRead()).isTrue();
  }

  @Test
  void responseOrderLeavesReadingOnForAClientThatWaitsForEachAnswer() {
    EmbeddedChannel channel = new EmbeddedChannel(new ResponseOrder());
    for (int i = 0; i < 3; i++) {
      ResponseOrder.awaitResponse(channel);
      assertThat(channel.config().isAutoRead()).isTrue();
      ResponseOrder.responded(channel);
      channel.runPendingTasks();
      HttpRequest next = request(HttpMethod.GET, "/healthz");
      channel.writeInbound(next);
      Object passed = channel.readInbound();
      assertThat(passed).as("passes straight on once answered").isSameAs(next);
      assertThat(channel.config().isAutoRead()).isTrue();
    }
  }

  @Test
  void bodyLimitRefusesADeclaredLengthOverTheLimit() throws Exception {
    EmbeddedChannel channel =
        new EmbeddedChannel(new BodyLimitHandler(100), new ErrorResponder(code -> {}));
    HttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/events");
    post.headers().set(HttpHeaderNames.CONTENT_LENGTH, 101);
    channel.writeInbound(post);
    FullHttpResponse response = channel.readOutbound();
    assertThat(response.status().code()).isEqualTo(413);
    assertThat(body(response).get("error").asText()).isEqualTo("body_too_large");
    response.release();

    EmbeddedChannel fits = new EmbeddedChannel(new BodyLimitHandler(100));
    HttpRequest small = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/events");
    small.headers().set(HttpHeaderNames.CONTENT_LENGTH, 100);
    fits.writeInbound(small);
    Object passed = fits.readInbound();
    assertThat(passed).isSameAs(small);
  }
}
