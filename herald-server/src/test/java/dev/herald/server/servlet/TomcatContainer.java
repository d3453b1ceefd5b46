package dev.herald.server.servlet;

import jakarta.servlet.Servlet;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.apache.catalina.Context;
import org.apache.catalina.Wrapper;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.catalina.util.ServerInfo;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;

/**
 * Embedded Tomcat, registered the way {@link EventStreamServlet}'s Javadoc shows: 10.1 in the
 * default test run, 11 in the build's {@code tomcat-11} run, which says so with the system property
 * {@code herald.test.tomcatMajor} (checked, so a classpath mistake cannot test one version twice).
 */
final class TomcatContainer implements ServletContainer {
  /**
   * The class loader's memory-leak checks on stop, which guard redeployed web applications, each
   * warn that they cannot run without {@code --add-opens}; a strong reference keeps the level set.
   */
  private static final Logger LEAK_CHECKS =
      Logger.getLogger("org.apache.catalina.loader.WebappClassLoaderBase");

  static {
    LEAK_CHECKS.setLevel(Level.SEVERE);
  }

  private Tomcat tomcat;
  private Path baseDir;

  static String version() {
    String expected = System.getProperty("herald.test.tomcatMajor", "10");
    String running = ServerInfo.getServerNumber();
    if (!running.startsWith(expected + ".")) {
      throw new IllegalStateException(
          "expected Tomcat " + expected + " on the test classpath, found " + running);
    }
    return "Tomcat " + running;
  }

  @Override
  public int start(Servlet servlet, Chain chain) throws Exception {
    baseDir = Files.createTempDirectory("herald-tomcat");
    tomcat = new Tomcat();
    tomcat.setBaseDir(baseDir.toString());
    Connector connector = new Connector();
    connector.setProperty("address", "127.0.0.1");
    connector.setPort(0);
    tomcat.setConnector(connector);
    Context context = tomcat.addContext("", baseDir.toString());
    Wrapper wrapper = Tomcat.addServlet(context, "events", servlet);
    wrapper.setAsyncSupported(chain != Chain.SERVLET_NOT_ASYNC);
    context.addServletMappingDecoded("/events", "events");
    if (chain == Chain.FILTER_NOT_ASYNC) {
      FilterDef filter = new FilterDef();
      filter.setFilterName("pass-through");
      filter.setFilter(PASS_THROUGH);
      filter.setAsyncSupported("false");
      context.addFilterDef(filter);
      FilterMap mapping = new FilterMap();
      mapping.setFilterName("pass-through");
      mapping.addURLPatternDecoded("/*");
      context.addFilterMap(mapping);
    }
    tomcat.start();
    return connector.getLocalPort();
  }

  @Override
  public void close() throws Exception {
    if (tomcat == null) {
      return;
    }
    tomcat.stop();
    tomcat.destroy();
    try (Stream<Path> files = Files.walk(baseDir)) {
      files.sorted(Comparator.reverseOrder()).forEach(TomcatContainer::delete);
    }
  }

  private static void delete(Path path) {
    try {
      Files.delete(path);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
