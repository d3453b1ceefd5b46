package dev.herald.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code herald} command: {@code herald serve} runs the hub, {@code herald publish} sends it an
 * event, {@code herald token} mints a dev token. Each subcommand is its own class, listed once in
 * {@code subcommands} below.
 *
 * <pre>{@code
 * java -jar herald.jar serve --store memory --port 8080
 * java -jar herald.jar publish --topic news --data '{"headline": "hello"}'
 * }</pre>
 */
@Command(
    name = "herald",
    mixinStandardHelpOptions = true,
    versionProvider = Herald.Version.class,
    description = "Server-sent events for the JVM: the hub and its tools.",
    subcommands = {
      ServeCommand.class,
      PublishCommand.class,
      ListenCommand.class,
      ContractServiceCommand.class,
      TokenCommand.class,
      CommandLine.HelpCommand.class,
    })
public final class Herald implements Runnable {
  @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

  /** Runs the command line and exits with its status. */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line with the process environment and returns the exit status. */
  static int run(String... args) {
    return commandLine(System.getenv()).execute(args);
  }

  /**
   * The command line, with flag defaults read from {@code env} ({@code HERALD_<FLAG>}) where a
   * subcommand asks for them.
   */
  static CommandLine commandLine(java.util.Map<String, String> env) {
    CommandLine line = new CommandLine(new Herald());
    // "--data @file" is publish's own syntax: picocli must not expand @-files itself.
    line.setExpandAtFiles(false);
    CommandLine serve = line.getSubcommands().get("serve");
    serve.setDefaultValueProvider(new EnvDefaults(env));
    return line;
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.err);
  }

  /** The version from the jar's manifest, when there is one. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = Herald.class.getPackage().getImplementationVersion();
      return new String[] {"herald " + (version == null ? "(development build)" : version)};
    }
  }
}
