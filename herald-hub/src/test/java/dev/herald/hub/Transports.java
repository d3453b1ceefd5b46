package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.core.Event;
import dev.herald.hub.testing.H2Client;
import dev.herald.hub.testing.TestCertificates;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * The protocols the hub speaks, each with a way to start a hub for it and a client of it, so one
 * API test runs over HTTP/1.1, HTTP/2 over TLS (ALPN, the JDK client) and cleartext HTTP/2 by prior
 * knowledge (a Netty client) with the same assertions.
 */
final class Transports {
  private Transports() {}

  /** One self-signed certificate for every TLS hub of this JVM (made on first use). */
  private static final class Certificate {
    static final TestCertificates.Pair PAIR = make();

    private static TestCertificates.Pair make() {
      try {
        Path dir = Files.createTempDirectory("herald-transports");
        dir.toFile().deleteOnExit();
        return TestCertificates.selfSigned(dir, "transports", "EC");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }

  static TestCertificates.Pair cert() {
    return Certificate.PAIR;
  }

  /** A protocol: how to start a hub for it and talk to it. */
  enum Transport {
    HTTP_1_1,
    H2_TLS,
    H2C;

    HubFixture hub(Hub.Builder builder) {
      return new HubFixture(this == H2_TLS ? builder.tls(cert().cert(), cert().key()) : builder);
    }

    Client client(HubFixture f) throws Exception {
      int port = f.hub.address().getPort();
      return switch (this) {
        case HTTP_1_1 -> new JdkClient(f.client, "http://127.0.0.1:" + port, "HTTP_1_1", this, f);
        case H2_TLS ->
            new JdkClient(cert().http2Client(), "https://localhost:" + port, "HTTP_2", this, f);
        case H2C -> new NettyClient(H2Client.cleartext(port));
      };
    }
  }

  /** One answer, whatever the protocol. */
  record Answer(int status, HttpHeadersView headers, String body) {
    JsonNode json() throws Exception {
      return HubFixture.json(body);
    }
  }

  /** Header lookup by name in any case. */
  interface HttpHeadersView {
    String get(String name);
  }

  /** An open event stream. */
  interface Stream extends AutoCloseable {
    int status();

    String header(String name);

    /** The next event within 10 s, failing the test otherwise. */
    Event next() throws Exception;

    @Override
    void close() throws Exception;
  }

  /** A client of one protocol. */
  interface Client extends AutoCloseable {
    Answer send(String method, String path, String body, String... headers) throws Exception;

    Stream subscribe(String path, String... headers) throws Exception;

    /** A stream that stops reading once its head has arrived. */
    AutoCloseable stalled(String path) throws Exception;

    @Override
    void close() throws Exception;

    default String publish(String json, String... headers) throws Exception {
      String[] all = new String[headers.length + 2];
      all[0] = "Content-Type";
      all[1] = "application/json";
      System.arraycopy(headers, 0, all, 2, headers.length);
      Answer answer = send("POST", "/events", json, all);
      assertThat(answer.status()).as(answer.body()).isEqualTo(201);
      return answer.json().get("id").asText();
    }
  }

  /** The JDK client: HTTP/1.1 in clear, or HTTP/2 negotiated over TLS (checked on each answer). */
  static final class JdkClient implements Client {
    private final HttpClient client;
    private final String base;
    private final HttpClient.Version version;
    private final Transport transport;
    private final HubFixture f;

    JdkClient(HttpClient client, String base, String version, Transport transport, HubFixture f) {
      this.client = client;
      this.base = base;
      this.version = HttpClient.Version.valueOf(version);
      this.transport = transport;
      this.f = f;
    }

    @Override
    public Answer send(String method, String path, String body, String... headers)
        throws Exception {
      HttpRequest.Builder request =
          HttpRequest.newBuilder(URI.create(base + path))
              .timeout(Duration.ofSeconds(10))
              .method(
                  method,
                  body == null
                      ? HttpRequest.BodyPublishers.noBody()
                      : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
      if (headers.length > 0) {
        request.headers(headers);
      }
      HttpResponse<String> response =
          client.send(request.build(), HttpResponse.BodyHandlers.ofString());
      assertThat(response.version()).isEqualTo(version);
      return new Answer(
          response.statusCode(),
          name -> response.headers().firstValue(name).orElse(null),
          response.body());
    }

    @Override
    public Stream subscribe(String path, String... headers) throws Exception {
      SseStream stream = SseStream.open(client, URI.create(base + path), headers);
      assertThat(stream.response().version()).isEqualTo(version);
      return new Stream() {
        @Override
        public int status() {
          return stream.response().statusCode();
        }

        @Override
        public String header(String name) {
          return stream.response().headers().firstValue(name).orElse(null);
        }

        @Override
        public Event next() throws Exception {
          return stream.next();
        }

        @Override
        public void close() throws Exception {
          stream.close();
        }
      };
    }

    @Override
    public AutoCloseable stalled(String path) throws Exception {
      if (transport == Transport.H2_TLS) {
        H2Client h2 = H2Client.tls(f.hub.address().getPort(), cert().root());
        H2Client.Exchange exchange = h2.get(path).stallAfterHead();
        assertThat(exchange.status()).isEqualTo(200);
        return h2;
      }
      Socket socket = new Socket();
      socket.setReceiveBufferSize(4096);
      socket.connect(new InetSocketAddress("127.0.0.1", f.hub.address().getPort()), 5000);
      socket
          .getOutputStream()
          .write(
              ("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      return socket;
    }

    @Override
    public void close() {
      // The JDK client's connections close with it (Java 21) or when collected.
    }
  }

  /**
   * The Netty HTTP/2 client, cleartext by prior knowledge: every request a stream of one
   * connection.
   */
  static final class NettyClient implements Client {
    private final H2Client client;

    NettyClient(H2Client client) {
      this.client = client;
    }

    @Override
    public Answer send(String method, String path, String body, String... headers)
        throws Exception {
      H2Client.Exchange exchange = client.send(method, path, body, lower(headers));
      String text = exchange.body();
      return new Answer(exchange.status(), name -> headerOf(exchange, name), text);
    }

    private static String headerOf(H2Client.Exchange exchange, String name) {
      try {
        return exchange.wireHeader(name);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }

    /** HTTP/2 header names are lower case (RFC 9113, section 8.2.1). */
    private static String[] lower(String[] headers) {
      String[] lowered = headers.clone();
      for (int i = 0; i < lowered.length; i += 2) {
        lowered[i] = lowered[i].toLowerCase(Locale.ROOT);
      }
      return lowered;
    }

    @Override
    public Stream subscribe(String path, String... headers) throws Exception {
      H2Client.Exchange exchange = client.get(path, lower(headers));
      exchange.head();
      return new Stream() {
        @Override
        public int status() {
          try {
            return exchange.status();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }

        @Override
        public String header(String name) {
          return headerOf(exchange, name);
        }

        @Override
        public Event next() throws Exception {
          Event event = exchange.next(Duration.ofSeconds(10));
          assertThat(event).as("an event within 10 s").isNotNull();
          return event;
        }

        @Override
        public void close() {
          exchange.cancel();
        }
      };
    }

    @Override
    public AutoCloseable stalled(String path) throws Exception {
      H2Client.Exchange exchange = client.get(path).stallAfterHead();
      assertThat(exchange.status()).isEqualTo(200);
      return exchange::cancel;
    }

    @Override
    public void close() {
      client.close();
    }
  }
}
