import ArgumentParser
import Glibc
import SwproxyConfig
import SwproxyFetch
import SwproxyServe

// Argument handling only: curl-style arguments are rewritten (clusters, attached values, -K files), parsed
// by swift-argument-parser, and handed to the subcommand's runner. Usage errors exit 2, like curl.

func usageFailure(_ message: String, command: String) -> Never {
    var m = "swproxy: \(message)\nswproxy: try 'swproxy \(command)--help' for more information\n"
    m.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
// Help goes through the root command, so usage lines read "swproxy fetch …".
if args.contains("--help") || args.contains("-h") || args.first == "help" { Swproxy.main(args) }
if args.first == "fetch" {
    var normalizer = ArgumentNormalizer(syntax: FetchCommand.syntax) { path in
        try readTextFile(path)
    }
    normalizer.checkEntry = { entry in
        if FetchArguments.options(from: entry + ["http://x/"]) != nil { return }
        do { _ = try FetchCommand.parse(entry + ["http://x/"]) } catch {
            throw ArgumentError(FetchCommand.message(for: error))
        }
    }
    let steps: [[String]]
    do {
        steps = try normalizer.normalizeSteps(Array(args.dropFirst()), separator: "next")
    } catch {
        usageFailure(error.description, command: "fetch ")
    }
    // Well-formed arguments map straight to FetchOptions; anything else goes through swift-argument-parser,
    // which has the messages (see FetchArguments). Each `--next` step is parsed on its own.
    if steps.count == 1 {
        let fast = FetchArguments.options(from: steps[0])
        if getenv("SWPROXY_CHECK_ARGUMENTS") != nil { checkArguments(steps[0], fast) }
        finishFetch(FetchRunner.run(fast ?? parseFetchOptions(steps[0])))
    }
    finishFetch(FetchRunner.run(steps: steps.map { FetchArguments.options(from: $0) ?? parseFetchOptions($0) }))
}

/// Ends the process once a fetch is over: everything is written and closed by then (output goes out with
/// write(2); stdio only for --dry-run, flushed here), so the exit handlers (OpenSSL's and the runtime's
/// teardown of memory the process is about to lose anyway) are skipped.
func finishFetch(_ status: Int32) -> Never {
    fflush(nil)
    _exit(status)
}

/// swift-argument-parser's reading of fetch's tokens; a usage error ends the process.
func parseFetchOptions(_ tokens: [String]) -> FetchOptions {
    let command: FetchCommand
    do {
        command = try FetchCommand.parse(tokens)
    } catch {
        if FetchCommand.exitCode(for: error) == .success { FetchCommand.exit(withError: error) }
        usageFailure(FetchCommand.message(for: error), command: "fetch ")
    }
    do {
        return try command.makeOptions(tokens: tokens)
    } catch {
        usageFailure(FetchCommand.message(for: error), command: "fetch ")
    }
}

/// For the tests (`SWPROXY_CHECK_ARGUMENTS=1`): prints whether the direct mapping took the tokens and, if it
/// did, whether it agrees with swift-argument-parser; exits without fetching.
func checkArguments(_ tokens: [String], _ fast: FetchOptions?) -> Never {
    guard let fast else {
        print("declined")
        exit(0)
    }
    let slow = parseFetchOptions(tokens)
    if fast == slow {
        print("same")
    } else {
        print("differ\nfast: \(fast)\nslow: \(slow)")
    }
    exit(0)
}

if args.first == "serve" {
    let cli = Array(args.dropFirst())
    let config: ServeConfiguration
    do {
        let (c, printConfig) = try ServeCommand.load(cli)
        if printConfig {
            print(ServeConfigExample.text, terminator: "")
            exit(0)
        }
        config = c
    } catch {
        if ServeCommand.exitCode(for: error) == .success { ServeCommand.exit(withError: error) }
        let message = (error as? ArgumentError)?.description ?? ServeCommand.message(for: error)
        usageFailure(message, command: "serve ")
    }
    exit(ProxyServer.run(config, reload: { try ServeCommand.load(cli).0 }))
}
Swproxy.main(args)
