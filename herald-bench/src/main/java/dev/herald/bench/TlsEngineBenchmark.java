package dev.herald.bench;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * TLS's cost per delivery on the hub's side, by engine: one operation encrypts what one delivery
 * writes to one connection (an event's HTTP/1.1 chunk of {@code bytes}, or {@code batch} of them
 * when a drain writes several at once) into TLS records, with the JDK's {@code SSLEngine} (what the
 * hub uses) or netty-tcnative's BoringSSL, after a real TLS 1.3 handshake (AES-GCM, the suite
 * clients pick). The certificate is made by keytool.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
@State(Scope.Thread)
public class TlsEngineBenchmark {
  @Param({"JDK", "OPENSSL"})
  public SslProvider provider;

  @Param({"150", "4096"})
  public int bytes;

  @Param({"1", "16"})
  public int batch;

  private SSLEngine server;
  private ByteBuffer plain;
  private ByteBuffer records;
  private Path dir;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("herald-tls-bench");
    Path store = dir.resolve("bench.p12");
    Process keytool =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair",
                "-alias",
                "bench",
                "-keyalg",
                "EC",
                "-groupname",
                "secp256r1",
                "-dname",
                "CN=localhost",
                "-validity",
                "2",
                "-storetype",
                "PKCS12",
                "-keystore",
                store.toString(),
                "-storepass",
                "changeit",
                "-keypass",
                "changeit")
            .redirectErrorStream(true)
            .start();
    keytool.getInputStream().readAllBytes();
    if (keytool.waitFor() != 0) {
      throw new IllegalStateException("keytool failed");
    }
    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      keys.load(in, "changeit".toCharArray());
    }
    PrivateKey key = (PrivateKey) keys.getKey("bench", "changeit".toCharArray());
    X509Certificate cert = (X509Certificate) keys.getCertificate("bench");
    SslContext serverContext = SslContextBuilder.forServer(key, cert).sslProvider(provider).build();
    SslContext clientContext =
        SslContextBuilder.forClient()
            .sslProvider(SslProvider.JDK)
            .trustManager(InsecureTrustManagerFactory.INSTANCE)
            .build();
    server = serverContext.newEngine(ByteBufAllocator.DEFAULT);
    SSLEngine client = clientContext.newEngine(ByteBufAllocator.DEFAULT, "localhost", 443);
    handshake(client, server);
    byte[] chunk = new byte[bytes];
    byte[] line = ("id: 1763715600000123\ndata: ").getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(line, 0, chunk, 0, Math.min(line.length, bytes));
    for (int i = line.length; i < bytes; i++) {
      chunk[i] = (byte) ('a' + i % 26);
    }
    plain = ByteBuffer.allocateDirect(bytes * batch);
    for (int i = 0; i < batch; i++) {
      plain.put(chunk);
    }
    plain.flip();
    records = ByteBuffer.allocateDirect(bytes * batch + 64 * 1024);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    try (var files = Files.list(dir)) {
      for (Path file : files.toList()) {
        Files.delete(file);
      }
    }
    Files.delete(dir);
  }

  /** Encrypts one delivery (or a batch of them): the records a connection's write carries. */
  @Benchmark
  public int encrypt() throws SSLException {
    plain.rewind();
    records.clear();
    int produced = 0;
    while (plain.hasRemaining()) {
      SSLEngineResult result = server.wrap(plain, records);
      produced += result.bytesProduced();
    }
    return produced;
  }

  private static void handshake(SSLEngine client, SSLEngine server) throws SSLException {
    ByteBuffer toServer = ByteBuffer.allocate(1 << 17);
    ByteBuffer toClient = ByteBuffer.allocate(1 << 17);
    ByteBuffer sink = ByteBuffer.allocate(1 << 17);
    ByteBuffer empty = ByteBuffer.allocate(0);
    client.beginHandshake();
    server.beginHandshake();
    for (int round = 0; round < 200; round++) {
      if (done(client) && done(server)) {
        return;
      }
      client.wrap(empty, toServer);
      runTasks(client);
      toServer.flip();
      server.unwrap(toServer, sink);
      toServer.compact();
      runTasks(server);
      server.wrap(empty, toClient);
      runTasks(server);
      toClient.flip();
      client.unwrap(toClient, sink);
      toClient.compact();
      runTasks(client);
      sink.clear();
    }
    throw new IllegalStateException("the TLS handshake did not finish");
  }

  private static boolean done(SSLEngine engine) {
    SSLEngineResult.HandshakeStatus status = engine.getHandshakeStatus();
    return status == SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING
        || status == SSLEngineResult.HandshakeStatus.FINISHED;
  }

  private static void runTasks(SSLEngine engine) {
    Runnable task;
    while ((task = engine.getDelegatedTask()) != null) {
      task.run();
    }
  }
}
