package dev.herald.hub.internal.tls;

import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The hub's TLS server context, from a PEM certificate chain and key ({@link PemKeys}), with ALPN
 * offering {@code h2} and {@code http/1.1}, TLS 1.3 and 1.2, and the cipher suites HTTP/2 allows
 * (RFC 9113, appendix A). The JDK's TLS engine does the work ({@link SslProvider#JDK}): no native
 * library to ship (docs/performance.md, "HTTP/2 and TLS", has the measurement behind that choice).
 * The system property {@value #ENGINE_PROPERTY}{@code =openssl} switches to BoringSSL for an
 * operator who puts netty-tcnative-boringssl-static on the class path; the benchmark uses it to
 * measure the whole hub on both engines.
 *
 * <p><b>Reloading.</b> Certificates are renewed in place (certbot, cert-manager, a secret mount),
 * so {@link #context()}, which each new connection asks for, checks the two files at most once per
 * {@value #CHECK_INTERVAL_MILLIS} ms (their size, modification time and file key, following
 * symbolic links) and, when either changed, loads the pair again. New connections then get the new
 * certificate; open connections and their streams keep the one they were opened with. A pair that
 * does not load (a key written before its certificate, a damaged file) leaves the current context
 * in place and is logged once per change of the files; the next check tries again.
 */
public final class ServerTls {
  /**
   * The system property that names the TLS engine: {@code jdk} (the default) or {@code openssl}.
   */
  public static final String ENGINE_PROPERTY = "herald.tls.engine";

  /** How often, at most, the files are checked for a change. */
  static final long CHECK_INTERVAL_MILLIS = 1000;

  private static final Logger LOG = LoggerFactory.getLogger(ServerTls.class);

  private final Path certFile;
  private final Path keyFile;
  private final LongSupplier nanos;
  private volatile Loaded current;
  private volatile long nextCheck;
  // The files' state whose load failed: logged once, retried when they change again.
  private FileState failed;

  private record FileState(Object cert, Object key) {}

  private record Loaded(
      SslContext context, X509Certificate leaf, int chainLength, FileState files) {}

  private ServerTls(Path certFile, Path keyFile, LongSupplier nanos) {
    this.certFile = certFile;
    this.keyFile = keyFile;
    this.nanos = nanos;
    this.current = load(state());
    this.nextCheck = nanos.getAsLong() + TimeUnit.MILLISECONDS.toNanos(CHECK_INTERVAL_MILLIS);
  }

  /**
   * Loads the chain in {@code certFile} and the key in {@code keyFile}.
   *
   * @throws IllegalArgumentException if either cannot be read, the key does not belong to the first
   *     certificate, or the JDK cannot use them; the message names the file and the fix
   */
  public static ServerTls load(Path certFile, Path keyFile) {
    return new ServerTls(
        Objects.requireNonNull(certFile, "certFile"),
        Objects.requireNonNull(keyFile, "keyFile"),
        System::nanoTime);
  }

  /** Checks that the pair loads, without keeping it. */
  public static void check(Path certFile, Path keyFile) {
    load(certFile, keyFile);
  }

  /**
   * The engine {@value #ENGINE_PROPERTY} names.
   *
   * @throws IllegalArgumentException for another name, or {@code openssl} without netty-tcnative
   */
  static SslProvider engine() {
    String name = System.getProperty(ENGINE_PROPERTY, "jdk");
    switch (name.toLowerCase(Locale.ROOT)) {
      case "jdk":
        return SslProvider.JDK;
      case "openssl":
        if (!OpenSsl.isAvailable()) {
          throw new IllegalArgumentException(
              "-D"
                  + ENGINE_PROPERTY
                  + "=openssl needs netty-tcnative-boringssl-static for this platform on the class"
                  + " path ("
                  + OpenSsl.unavailabilityCause()
                  + ")");
        }
        return SslProvider.OPENSSL;
      default:
        throw new IllegalArgumentException(
            "-D" + ENGINE_PROPERTY + " must be jdk or openssl, not \"" + name + "\"");
    }
  }

  /**
   * The context for a new connection: the current one, reloaded first if the files changed since
   * the last check (at most one check per second; a reload takes a few milliseconds).
   */
  public SslContext context() {
    long now = nanos.getAsLong();
    if (now - nextCheck >= 0) {
      reloadIfChanged(now);
    }
    return current.context();
  }

  private synchronized void reloadIfChanged(long now) {
    if (now - nextCheck < 0) {
      return; // another connection checked meanwhile
    }
    nextCheck = now + TimeUnit.MILLISECONDS.toNanos(CHECK_INTERVAL_MILLIS);
    FileState files;
    try {
      files = state();
    } catch (IllegalArgumentException e) {
      logFailure(null, e);
      return;
    }
    if (files.equals(current.files()) || files.equals(failed)) {
      return;
    }
    try {
      Loaded loaded = load(files);
      current = loaded;
      failed = null;
      LOG.info("TLS certificate reloaded: {}", describe(loaded));
    } catch (IllegalArgumentException e) {
      logFailure(files, e);
    }
  }

  private void logFailure(FileState files, IllegalArgumentException e) {
    if (files == null || !files.equals(failed)) {
      LOG.warn(
          "TLS certificate not reloaded, new connections keep the current one ({}): {}",
          describe(current),
          e.getMessage());
    }
    failed = files;
  }

  /** The certificate served now, for the banner and the log. */
  public String description() {
    return describe(current);
  }

  private static String describe(Loaded loaded) {
    X509Certificate leaf = loaded.leaf();
    return leaf.getSubjectX500Principal().getName()
        + ", "
        + leaf.getPublicKey().getAlgorithm()
        + " key, chain of "
        + loaded.chainLength()
        + ", valid until "
        + leaf.getNotAfter().toInstant();
  }

  /** The files' identity now: a change of either means a reload. */
  private FileState state() {
    return new FileState(attributes(certFile, "--tls-cert"), attributes(keyFile, "--tls-key"));
  }

  private static Object attributes(Path file, String flag) {
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
      return List.of(
          a.size(),
          a.lastModifiedTime(),
          a.fileKey() == null ? file.toRealPath().toString() : a.fileKey());
    } catch (IOException e) {
      throw new IllegalArgumentException(flag + " " + file + " cannot be read: " + e, e);
    }
  }

  private Loaded load(FileState files) {
    List<X509Certificate> chain = PemKeys.chain(certFile);
    PrivateKey key = PemKeys.privateKey(keyFile);
    X509Certificate leaf = chain.get(0);
    PemKeys.checkPair(key, leaf, keyFile, certFile);
    if (leaf.getNotAfter().toInstant().isBefore(Instant.now())) {
      LOG.warn(
          "the TLS certificate in {} expired at {}: clients will refuse it",
          certFile,
          leaf.getNotAfter().toInstant());
    }
    SslProvider engine = engine();
    try {
      SslContext context =
          SslContextBuilder.forServer(key, chain.toArray(new X509Certificate[0]))
              .sslProvider(engine)
              .protocols("TLSv1.3", "TLSv1.2")
              .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
              .applicationProtocolConfig(
                  new ApplicationProtocolConfig(
                      ApplicationProtocolConfig.Protocol.ALPN,
                      ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                      ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                      ApplicationProtocolNames.HTTP_2,
                      ApplicationProtocolNames.HTTP_1_1))
              .build();
      return new Loaded(context, leaf, chain.size(), files);
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException(
          (engine == SslProvider.JDK ? "the JDK's" : "BoringSSL's")
              + " TLS engine cannot serve TLS with --tls-cert "
              + certFile
              + " and --tls-key "
              + keyFile
              + ": "
              + e.getMessage(),
          e);
    }
  }
}
