package dev.herald.client.testing;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PushbackInputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A scripted HTTP/1.1 server on 127.0.0.1 for client tests, in the style of OkHttp's MockWebServer:
 * enqueue {@link ScriptedResponse}s, let the client talk to {@link #uri}, then assert on the {@link
 * RecordedRequest}s.
 *
 * <pre>{@code
 * try (ScriptedServer server = ScriptedServer.start()) {
 *   server.enqueue(ScriptedResponse.eventStream().send("data: hi\n\n").drop());
 *   ... point the client at server.uri("/events") ...
 *   RecordedRequest request = server.takeRequest();
 *   assertThat(request.header("Accept")).hasValue("text/event-stream");
 * }
 * }</pre>
 *
 * <p>Raw sockets, so the script controls every byte: chunk boundaries, drops in the middle of an
 * event, stalls, BOMs, huge bodies written under real TCP backpressure. Each request takes the next
 * enqueued response (waiting for one if the queue is empty), or asks the {@link #dispatch
 * dispatcher} if one is set. Connections are kept alive between cleanly ended responses. The server
 * counts connections and notices when a client closes one, so a test can prove that a client really
 * released its sockets.
 *
 * <p>One thread per connection: a test server, not a production one.
 */
public final class ScriptedServer implements AutoCloseable {
  private static final Duration DEFAULT_WAIT = Duration.ofSeconds(10);
  private static final int MAX_HEAD_BYTES = 64 * 1024;
  private static final long POLL_MILLIS = 10;

  private final ServerSocket serverSocket;
  private final Thread acceptor;
  private final BlockingQueue<ScriptedResponse> responses = new LinkedBlockingQueue<>();
  private final BlockingQueue<RecordedRequest> requests = new LinkedBlockingQueue<>();
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private final Set<Thread> handlers = ConcurrentHashMap.newKeySet();
  private final AtomicInteger connectionCount = new AtomicInteger();
  private final AtomicInteger requestCount = new AtomicInteger();
  private final Object closedMonitor = new Object();
  private int closedConnections;
  private volatile Function<RecordedRequest, ScriptedResponse> dispatcher;
  private volatile boolean closed;

  private ScriptedServer() throws IOException {
    serverSocket = new ServerSocket();
    serverSocket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 512);
    acceptor =
        new Thread(this::acceptLoop, "scripted-server-accept-" + serverSocket.getLocalPort());
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** Starts a server on an ephemeral port of 127.0.0.1. */
  public static ScriptedServer start() {
    try {
      return new ScriptedServer();
    } catch (IOException e) {
      throw new IllegalStateException("Cannot start the scripted server", e);
    }
  }

  /** The port the server listens on. */
  public int port() {
    return serverSocket.getLocalPort();
  }

  /** {@code http://127.0.0.1:<port><path>}. */
  public URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port() + path);
  }

  /** Queues the response for the next request that has none. */
  public ScriptedServer enqueue(ScriptedResponse response) {
    responses.add(response);
    return this;
  }

  /**
   * Answers every request with {@code dispatcher} instead of the queue: for servers whose answer
   * depends on the request (a {@code Last-Event-ID}, a path).
   */
  public ScriptedServer dispatch(Function<RecordedRequest, ScriptedResponse> dispatcher) {
    this.dispatcher = dispatcher;
    return this;
  }

  /** Returns the next recorded request, waiting up to 10 s; fails the test if none comes. */
  public RecordedRequest takeRequest() {
    return takeRequest(DEFAULT_WAIT);
  }

  /** Returns the next recorded request, waiting up to {@code timeout}; fails if none comes. */
  public RecordedRequest takeRequest(Duration timeout) {
    try {
      RecordedRequest request = requests.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (request == null) {
        throw new AssertionError("No request within " + timeout);
      }
      return request;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("Interrupted while waiting for a request", e);
    }
  }

  /** How many requests the server has received. */
  public int requestCount() {
    return requestCount.get();
  }

  /** How many connections the server has accepted. */
  public int connectionCount() {
    return connectionCount.get();
  }

  /** How many accepted connections are still open. */
  public int openConnectionCount() {
    synchronized (closedMonitor) {
      return connectionCount.get() - closedConnections;
    }
  }

  /**
   * Waits until no accepted connection is open any more (every client closed its socket, or every
   * response dropped it); returns false if some are still open after {@code timeout}.
   */
  public boolean awaitNoOpenConnections(Duration timeout) throws InterruptedException {
    return awaitOpenConnections(0, timeout);
  }

  /**
   * Waits until exactly {@code count} accepted connections are open (a closed socket is seen by the
   * server a moment after the client closed it); returns false if not so after {@code timeout}.
   */
  public boolean awaitOpenConnections(int count, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (closedMonitor) {
      while (connectionCount.get() - closedConnections != count) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        // Bounded steps: an accepted connection raises the count without a notification.
        TimeUnit.NANOSECONDS.timedWait(closedMonitor, Math.min(left, 10_000_000));
      }
      return true;
    }
  }

  /** Closes the listening socket and every connection, and waits briefly for its threads. */
  @Override
  public void close() {
    closed = true;
    try {
      serverSocket.close();
    } catch (IOException ignored) {
      // Closing anyway.
    }
    for (Socket socket : sockets) {
      closeQuietly(socket);
    }
    try {
      acceptor.join(2_000);
      for (Thread handler : handlers) {
        handler.join(2_000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void acceptLoop() {
    while (!closed) {
      Socket socket;
      try {
        socket = serverSocket.accept();
      } catch (IOException e) {
        return;
      }
      int index = connectionCount.incrementAndGet();
      sockets.add(socket);
      Thread handler =
          new Thread(() -> serve(socket, index), "scripted-server-" + port() + "-conn-" + index);
      handler.setDaemon(true);
      handlers.add(handler);
      handler.start();
      if (closed) {
        closeQuietly(socket);
      }
    }
  }

  private void serve(Socket socket, int connection) {
    try {
      socket.setTcpNoDelay(true);
      PushbackInputStream in =
          new PushbackInputStream(new BufferedInputStream(socket.getInputStream()), 1);
      OutputStream out = socket.getOutputStream();
      while (!closed) {
        RecordedRequest request = readRequest(in, connection);
        if (request == null) {
          return;
        }
        requests.add(request);
        ScriptedResponse response = responseFor(request);
        if (response == null || !play(response, request, socket, in, out)) {
          return;
        }
      }
    } catch (IOException | InterruptedException e) {
      // The client went away or the server is closing: either way this connection is over.
    } finally {
      closeQuietly(socket);
      sockets.remove(socket);
      handlers.remove(Thread.currentThread());
      synchronized (closedMonitor) {
        closedConnections++;
        closedMonitor.notifyAll();
      }
    }
  }

  private ScriptedResponse responseFor(RecordedRequest request) throws InterruptedException {
    Function<RecordedRequest, ScriptedResponse> dispatch = dispatcher;
    if (dispatch != null) {
      return dispatch.apply(request);
    }
    while (!closed) {
      ScriptedResponse response = responses.poll(POLL_MILLIS, TimeUnit.MILLISECONDS);
      if (response != null) {
        return response;
      }
    }
    return null;
  }

  // ---- Requests ----

  private RecordedRequest readRequest(InputStream in, int connection) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        return null;
      }
      head.write(b);
      if (head.size() > MAX_HEAD_BYTES) {
        throw new IOException("Request head too large");
      }
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    byte[] bytes = head.toByteArray();
    List<byte[]> lines = splitLines(bytes, bytes.length - 4);
    String requestLine = new String(lines.get(0), StandardCharsets.ISO_8859_1);
    String[] parts = requestLine.split(" ");
    if (parts.length != 3) {
      throw new IOException("Bad request line: " + requestLine);
    }
    List<Map.Entry<String, byte[]>> headers = new ArrayList<>();
    long contentLength = 0;
    boolean chunked = false;
    for (byte[] line : lines.subList(1, lines.size())) {
      int colon = indexOf(line, (byte) ':');
      if (colon <= 0) {
        throw new IOException("Bad header line");
      }
      String name = new String(line, 0, colon, StandardCharsets.ISO_8859_1);
      int start = colon + 1;
      int end = line.length;
      while (start < end && (line[start] == ' ' || line[start] == '\t')) {
        start++;
      }
      while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t')) {
        end--;
      }
      byte[] value = Arrays.copyOfRange(line, start, end);
      headers.add(new AbstractMap.SimpleImmutableEntry<>(name, value));
      String text = new String(value, StandardCharsets.ISO_8859_1);
      if (name.equalsIgnoreCase("Content-Length")) {
        contentLength = Long.parseLong(text.trim());
      } else if (name.equalsIgnoreCase("Transfer-Encoding")
          && text.toLowerCase(Locale.ROOT).contains("chunked")) {
        chunked = true;
      }
    }
    byte[] body = chunked ? readChunkedBody(in) : in.readNBytes((int) contentLength);
    if (body.length < contentLength) {
      return null;
    }
    return new RecordedRequest(
        parts[0], parts[1], headers, body, connection, requestCount.incrementAndGet());
  }

  private static byte[] readChunkedBody(InputStream in) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    while (true) {
      String sizeLine = readLine(in);
      int semicolon = sizeLine.indexOf(';');
      int size =
          Integer.parseInt(
              (semicolon < 0 ? sizeLine : sizeLine.substring(0, semicolon)).trim(), 16);
      if (size == 0) {
        while (!readLine(in).isEmpty()) {
          // Trailers are ignored.
        }
        return body.toByteArray();
      }
      body.write(in.readNBytes(size));
      readLine(in);
    }
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) >= 0 && b != '\n') {
      if (b != '\r') {
        line.write(b);
      }
    }
    if (b < 0) {
      throw new IOException("End of stream in a chunked request body");
    }
    return line.toString(StandardCharsets.ISO_8859_1);
  }

  /** Splits the first {@code length} bytes at each CRLF. */
  private static List<byte[]> splitLines(byte[] bytes, int length) {
    List<byte[]> lines = new ArrayList<>();
    int start = 0;
    for (int i = 0; i + 1 < length; i++) {
      if (bytes[i] == '\r' && bytes[i + 1] == '\n') {
        lines.add(Arrays.copyOfRange(bytes, start, i));
        start = i + 2;
        i++;
      }
    }
    lines.add(Arrays.copyOfRange(bytes, start, length));
    return lines;
  }

  private static int indexOf(byte[] bytes, byte b) {
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] == b) {
        return i;
      }
    }
    return -1;
  }

  // ---- Responses ----

  /** Plays one response; returns whether the connection can serve another request. */
  private boolean play(
      ScriptedResponse response,
      RecordedRequest request,
      Socket socket,
      PushbackInputStream in,
      OutputStream out)
      throws IOException, InterruptedException {
    if (response.status == ScriptedResponse.NO_RESPONSE) {
      awaitClientGone(socket, in);
      return false;
    }
    Body body = new Body(response, out);
    StringBuilder head = new StringBuilder();
    head.append("HTTP/1.1 ").append(response.status).append(' ');
    head.append(reason(response.status)).append("\r\n");
    for (Map.Entry<String, String> header : response.headers) {
      head.append(header.getKey()).append(": ").append(header.getValue()).append("\r\n");
    }
    boolean noBodyAllowed =
        response.status == 204 || response.status == 304 || request.method().equals("HEAD");
    switch (response.framing) {
      case NONE:
        if (!noBodyAllowed) {
          head.append("Content-Length: 0\r\n");
        }
        break;
      case FIXED:
        head.append("Content-Length: ").append(response.fixedBody.length).append("\r\n");
        break;
      case CHUNKED:
        head.append("Transfer-Encoding: chunked\r\n");
        break;
      case CLOSE_DELIMITED:
        head.append("Connection: close\r\n");
        break;
    }
    head.append("\r\n");
    out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
    if (response.framing == ScriptedResponse.Framing.FIXED) {
      body.raw(response.fixedBody);
    }
    for (ScriptedResponse.Step step : response.steps) {
      if (body.dropped) {
        return false;
      }
      if (step instanceof ScriptedResponse.Send) {
        body.send(((ScriptedResponse.Send) step).bytes());
      } else if (step instanceof ScriptedResponse.Produce) {
        ((ScriptedResponse.Produce) step).producer().produce(body);
      } else if (step instanceof ScriptedResponse.Signal) {
        ((ScriptedResponse.Signal) step).latch().countDown();
      } else if (step instanceof ScriptedResponse.Await) {
        if (!awaitLatch(((ScriptedResponse.Await) step).latch(), socket, in)) {
          return false;
        }
      }
    }
    if (body.dropped) {
      return false;
    }
    switch (response.ending) {
      case DROP:
        return false;
      case STALL:
        awaitClientGone(socket, in);
        return false;
      case END:
      default:
        if (response.framing == ScriptedResponse.Framing.CHUNKED) {
          out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
          out.flush();
        }
        return response.framing != ScriptedResponse.Framing.CLOSE_DELIMITED;
    }
  }

  /** Writes body bytes with the response's framing, honouring its drop-after limit. */
  private static final class Body implements ScriptedResponse.BodyWriter {
    private final ScriptedResponse response;
    private final OutputStream out;
    private long written;
    boolean dropped;

    Body(ScriptedResponse response, OutputStream out) {
      this.response = response;
      this.out = out;
    }

    void raw(byte[] bytes) throws IOException {
      int n = allowed(bytes.length);
      out.write(bytes, 0, n);
      out.flush();
      written += n;
      dropIfLimitReached(n < bytes.length);
    }

    @Override
    public void send(byte[] bytes) throws IOException {
      if (dropped) {
        throw new IOException("Connection dropped by the script");
      }
      if (response.framing != ScriptedResponse.Framing.CHUNKED) {
        raw(bytes);
        return;
      }
      if (bytes.length == 0) {
        return; // An empty chunk would end the body.
      }
      int n = allowed(bytes.length);
      // The chunk header announces the full piece: a drop lands in the middle of a chunk.
      out.write((Integer.toHexString(bytes.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.write(bytes, 0, n);
      if (n == bytes.length) {
        out.write('\r');
        out.write('\n');
      }
      out.flush();
      written += n;
      dropIfLimitReached(n < bytes.length);
    }

    private int allowed(int length) {
      if (response.dropAfterBytes < 0) {
        return length;
      }
      return (int) Math.min(length, Math.max(0, response.dropAfterBytes - written));
    }

    private void dropIfLimitReached(boolean cut) {
      if (cut || (response.dropAfterBytes >= 0 && written >= response.dropAfterBytes)) {
        dropped = true;
      }
    }
  }

  /** Waits for the latch; returns false if the client left or the server closed first. */
  private boolean awaitLatch(CountDownLatch latch, Socket socket, PushbackInputStream in)
      throws IOException, InterruptedException {
    while (!closed) {
      if (latch.await(POLL_MILLIS, TimeUnit.MILLISECONDS)) {
        return true;
      }
      if (clientGone(socket, in)) {
        return false;
      }
    }
    return false;
  }

  /** Blocks until the client closes the connection (or the server closes). */
  private void awaitClientGone(Socket socket, InputStream in) throws IOException {
    socket.setSoTimeout(0);
    byte[] discard = new byte[1024];
    while (!closed && in.read(discard) >= 0) {
      // A client that is waiting for a response sends nothing; whatever comes is ignored.
    }
  }

  private static boolean clientGone(Socket socket, PushbackInputStream in) throws IOException {
    socket.setSoTimeout(1);
    try {
      int b = in.read();
      if (b < 0) {
        return true;
      }
      in.unread(b);
      return false;
    } catch (SocketTimeoutException e) {
      return false;
    } finally {
      socket.setSoTimeout(0);
    }
  }

  private static String reason(int status) {
    switch (status) {
      case 200:
        return "OK";
      case 204:
        return "No Content";
      case 301:
        return "Moved Permanently";
      case 302:
        return "Found";
      case 303:
        return "See Other";
      case 307:
        return "Temporary Redirect";
      case 308:
        return "Permanent Redirect";
      case 400:
        return "Bad Request";
      case 401:
        return "Unauthorized";
      case 403:
        return "Forbidden";
      case 404:
        return "Not Found";
      case 408:
        return "Request Timeout";
      case 429:
        return "Too Many Requests";
      case 500:
        return "Internal Server Error";
      case 502:
        return "Bad Gateway";
      case 503:
        return "Service Unavailable";
      default:
        return "Status";
    }
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException ignored) {
      // Nothing to do.
    }
  }
}
