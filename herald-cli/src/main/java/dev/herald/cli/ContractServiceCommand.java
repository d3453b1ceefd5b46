package dev.herald.cli;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code herald contract-service}: runs the test service that LaunchDarkly's SSE client conformance
 * harness ({@code sse-contract-tests}) drives, wrapping herald-client's {@code EventSource}. It
 * prints its base URL on stdout and runs until the harness sends {@code DELETE /}.
 *
 * <pre>{@code
 * java -jar herald.jar contract-service --port 8000 &
 * sse-contract-tests --url http://127.0.0.1:8000 --stop-service-at-end
 * }</pre>
 */
@Command(
    name = "contract-service",
    // A tool for the conformance harness, not for users: it runs, but the main help omits it.
    hidden = true,
    mixinStandardHelpOptions = true,
    description = {
      "Run the SSE contract-test service (for LaunchDarkly's sse-contract-tests harness)",
      "around herald-client, on 127.0.0.1. DELETE / stops it."
    })
final class ContractServiceCommand implements Callable<Integer> {
  @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--port",
      defaultValue = "8000",
      description = "The port on 127.0.0.1; 0 picks a free one.")
  int port;

  @Override
  public Integer call() throws InterruptedException {
    if (port < 0 || port > 65535) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--port must be 0-65535, not " + port);
    }
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    ContractService service;
    try {
      service = ContractService.start(port, err);
    } catch (UncheckedIOException e) {
      err.println("herald contract-service: " + e.getMessage());
      err.flush();
      return 1;
    }
    try (service) {
      // The one stdout line: scripts (and tests with --port 0) read the address from it.
      out.println("Herald contract-test service listening on http://127.0.0.1:" + service.port());
      out.flush();
      service.awaitStop();
    }
    return 0;
  }
}
