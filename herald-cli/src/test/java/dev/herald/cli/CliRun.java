package dev.herald.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import picocli.CommandLine;

/**
 * One in-process run of the {@code herald} command line: its exit code and what it printed.
 *
 * @param exit the exit code
 * @param out what it printed on standard output
 * @param err what it printed on standard error
 */
record CliRun(int exit, String out, String err) {
  /** Runs {@code herald args...} with {@code env} as its environment. */
  static CliRun herald(Map<String, String> env, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit =
        Herald.commandLine(env)
            .setOut(new PrintWriter(out, true))
            .setErr(new PrintWriter(err, true))
            .execute(args);
    return new CliRun(exit, out.toString(), err.toString());
  }

  /** The {@code serve} command these arguments (and {@code env}) configure, parsed, not run. */
  static ServeCommand serve(Map<String, String> env, String... args) {
    CommandLine line = Herald.commandLine(env);
    String[] full = new String[args.length + 1];
    full[0] = "serve";
    System.arraycopy(args, 0, full, 1, args.length);
    return (ServeCommand) line.parseArgs(full).subcommand().commandSpec().userObject();
  }
}
