/// What the command line needs to know about a command's options before the real parser runs: which short
/// letters stand for which long names, and which options take a value. With it, curl-style argument lists
/// (`-sSo out`, `-XPOST`, `-w%{http_code}`, `-K file`) are rewritten into one token per option and value.
public struct ArgumentSyntax: Sendable {
    /// Short letter → long name.
    public var shortNames: [Character: String]
    /// Long names that take a value.
    public var valued: Set<String>
    /// Long names (value or not) the command knows.
    public var known: Set<String>
    /// The option that names a config file to splice in (`config` for `-K/--config`), if any.
    public var configOption: String?
    /// Options that set the same thing as another (serve's `port` is a `listen`): given on the command
    /// line, either one overrides both in a config file.
    public var sameSetting: [String: String] = [:]

    /// The name an option's setting goes by (itself, or what `sameSetting` maps it to).
    public func setting(_ name: String) -> String { sameSetting[name] ?? name }

    public init(
        shortNames: [Character: String], valued: Set<String>, flags: Set<String>, configOption: String? = nil
    ) {
        self.shortNames = shortNames
        self.valued = valued
        self.known = valued.union(flags)
        self.configOption = configOption
    }

    public func takesValue(_ long: String) -> Bool { valued.contains(long) }
}

/// A problem found while rewriting arguments: the message names the option or the file and line.
public struct ArgumentError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Rewrites a command's arguments into the canonical form the declarative parser reads.
public struct ArgumentNormalizer {
    public let syntax: ArgumentSyntax
    /// Reads a config file's text (injected so tests need no files); `-` means standard input.
    public var readFile: (String) throws -> String
    /// Checks one config-file entry on its own (its value's type, say), so an error can name FILE:LINE.
    public var checkEntry: (([String]) throws -> Void)?

    public init(syntax: ArgumentSyntax, readFile: @escaping (String) throws -> String) {
        self.syntax = syntax
        self.readFile = readFile
    }

    /// Expands short clusters and attached values, and puts the options of config files first, so that the
    /// command line overrides them (a single-valued option's last occurrence wins) and repeatable options
    /// add to them. Every value is passed as the token right after its option.
    public func normalize(_ args: [String], depth: Int = 0) throws(ArgumentError) -> [String] {
        syntax.applyingNegations(try normalizeKeepingNegations(args, depth: depth))
    }

    /// `normalize`, cut into steps at each `--SEPARATOR` (curl's `--next`): negations apply within a step.
    /// Config files' options belong to the first step.
    public func normalizeSteps(_ args: [String], separator: String) throws(ArgumentError) -> [[String]] {
        var steps: [[String]] = [[]]
        var ended = false
        for t in try normalizeKeepingNegations(args) {
            if t == "--" { ended = true }
            if !ended && t == "--" + separator {
                steps.append([])
            } else {
                steps[steps.count - 1].append(t)
            }
        }
        return steps.map { syntax.applyingNegations($0) }
    }

    /// `normalize` with `--no-NAME` tokens left in place (see `ArgumentSyntax.applyingNegations`).
    func normalizeKeepingNegations(_ args: [String], depth: Int = 0) throws(ArgumentError) -> [String] {
        var out: [String] = []
        var fromFiles: [String] = []
        var i = 0
        var optionsEnded = false
        func value(for name: String, attached: String?) throws(ArgumentError) -> String {
            if let a = attached { return a }
            i += 1
            guard i < args.count else { throw ArgumentError("option \(name): requires parameter") }
            return args[i]
        }
        while i < args.count {
            let arg = args[i]
            if optionsEnded || arg == "-" || !arg.hasPrefix("-") {
                out.append(arg)
            } else if arg == "--" {
                optionsEnded = true
                out.append(arg)
            } else if arg.hasPrefix("--") {
                var name = String(arg.dropFirst(2))
                var attached: String? = nil
                if let eq = name.firstIndex(of: "=") {
                    attached = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                if syntax.takesValue(name) {
                    let v = try value(for: "--\(name)", attached: attached)
                    try emit(long: name, value: v, into: &out, files: &fromFiles, depth: depth)
                } else {
                    if attached != nil && (syntax.known.contains(name) || syntax.negatedFlag(name) != nil) {
                        throw ArgumentError("option --\(name): does not take a value")
                    }
                    out.append(arg)  // unknown options pass through, for the parser to name them
                }
            } else {
                // A cluster of short options: -sSLo file, -XPOST, -w%{http_code}
                var chars = Array(arg.dropFirst())
                while !chars.isEmpty {
                    let c = chars.removeFirst()
                    guard let long = syntax.shortNames[c] else {
                        throw ArgumentError("option -\(c): is unknown")
                    }
                    if syntax.takesValue(long) {
                        let v = try value(for: "-\(c)", attached: chars.isEmpty ? nil : String(chars))
                        chars = []
                        try emit(long: long, value: v, into: &out, files: &fromFiles, depth: depth)
                    } else {
                        out.append("--\(long)")
                    }
                }
            }
            i += 1
        }
        return fromFiles + out
    }

    private func emit(long: String, value: String, into out: inout [String], files: inout [String], depth: Int)
        throws(ArgumentError)
    {
        if long == syntax.configOption {
            files += try expandConfig(value, depth: depth)
        } else {
            out.append("--\(long)")
            out.append(value)
        }
    }

    /// Turns a config file into argument tokens, in canonical form.
    public func expandConfig(_ path: String, depth: Int) throws(ArgumentError) -> [String] {
        try configEntries(path, depth: depth).flatMap(\.tokens)
    }

    /// A config file's options, each as canonical tokens with the line it came from.
    public func configEntries(_ path: String, depth: Int = 0) throws(ArgumentError) -> [(line: Int, tokens: [String])] {
        guard depth < 8 else { throw ArgumentError("\(path): config files nest too deeply") }
        let text: String
        do { text = try readFile(path) } catch {
            throw ArgumentError("can't read config from \"\(path)\": \(error)")
        }
        let entries: [ConfigFile.Entry]
        do { entries = try ConfigFile.parse(text, file: path) } catch { throw ArgumentError(error.description) }
        var out: [(Int, [String])] = []
        for e in entries {
            var name = e.name
            if name.hasPrefix("-") && name.count == 2, let long = syntax.shortNames[name.last!] {
                name = long
            }
            if syntax.takesValue(name) {
                guard let v = e.value else {
                    throw ArgumentError("\(path):\(e.line): option '\(name)' requires a value")
                }
                if name == syntax.configOption {
                    out += try configEntries(v, depth: depth + 1)
                } else {
                    if let check = checkEntry {
                        do { try check(["--\(name)", v]) } catch { throw ArgumentError("\(path):\(e.line): \(error)") }
                    }
                    out.append((e.line, ["--\(name)", v]))
                }
            } else if syntax.known.contains(name) || syntax.negatedFlag(name) != nil {
                if let v = e.value, !["", "on", "true", "yes", "1"].contains(v.lowercased()) {
                    throw ArgumentError("\(path):\(e.line): option '\(name)' takes no value")
                }
                out.append((e.line, ["--\(name)"]))
            } else {
                throw ArgumentError("\(path):\(e.line): unknown option '\(name)'")
            }
        }
        return out
    }

    /// For commands whose command line overrides their config file (serve): the file's options first, then
    /// the command line's, and every option the command line names is dropped from the file's (so a
    /// repeatable option given on the command line replaces the file's list instead of adding to it).
    /// `check` sees each file entry on its own, to report bad values as `FILE:LINE: message`.
    public func configThenCommandLine(_ args: [String], check: ([String]) throws -> Void) throws(ArgumentError)
        -> [String]
    {
        var plain = syntax
        plain.configOption = nil
        let cli = try ArgumentNormalizer(syntax: plain, readFile: readFile).normalizeKeepingNegations(args)
        guard let configName = syntax.configOption else { return cli }
        var paths: [String] = []
        var rest: [String] = []
        var i = 0
        while i < cli.count {
            if cli[i] == "--" {
                rest += cli[i...]
                break
            }
            if cli[i] == "--\(configName)", i + 1 < cli.count {
                paths.append(cli[i + 1])
                i += 2
                continue
            }
            rest.append(cli[i])
            i += 1
        }
        let negated = rest.compactMap { $0.hasPrefix("--") ? syntax.negatedFlag(String($0.dropFirst(2))) : nil }
        let overridden = Set(syntax.ordered(rest, names: syntax.known).map { syntax.setting($0.name) } + negated)
        var fileTokens: [String] = []
        for path in paths {
            for (line, tokens) in try configEntries(path) {
                let name = String(tokens[0].dropFirst(2))
                if syntax.negatedFlag(name) == nil {  // a `no-NAME` line has nothing to check
                    do { try check(tokens) } catch { throw ArgumentError("\(path):\(line): \(error)") }
                }
                if !overridden.contains(syntax.setting(String(tokens[0].dropFirst(2)))) { fileTokens += tokens }
            }
        }
        return syntax.applyingNegations(fileTokens + rest)
    }
}

extension ArgumentSyntax {
    /// The flag `--no-NAME` switches off, as in curl: NAME must be a known flag, and `no-NAME` not an option
    /// of its own (`--no-progress-meter`, `--no-via` are).
    public func negatedFlag(_ name: String) -> String? {
        guard name.hasPrefix("no-"), !known.contains(name) else { return nil }
        let base = String(name.dropFirst(3))
        return known.contains(base) && !takesValue(base) ? base : nil
    }

    /// Normalized tokens with every `--no-NAME` applied: it removes the `--NAME` flags before it (from a
    /// config file or earlier on the command line) and is itself dropped; a `--NAME` after it counts again.
    /// Values are never taken for flags (`-d --no-silent` sends that text).
    public func applyingNegations(_ tokens: [String]) -> [String] {
        guard tokens.contains(where: { $0.hasPrefix("--no-") }) else { return tokens }
        var out: [(token: String, isFlag: Bool)] = []
        var i = 0
        while i < tokens.count {
            let t = tokens[i]
            if t == "--" {
                out += tokens[i...].map { ($0, false) }
                break
            }
            if t.hasPrefix("--") {
                let name = String(t.dropFirst(2))
                if takesValue(name) {
                    out.append((t, false))
                    if i + 1 < tokens.count { out.append((tokens[i + 1], false)) }
                    i += 2
                    continue
                }
                if let base = negatedFlag(name) {
                    out.removeAll { $0.isFlag && $0.token == "--" + base }
                    i += 1
                    continue
                }
                out.append((t, true))
            } else {
                out.append((t, false))
            }
            i += 1
        }
        return out.map(\.token)
    }

    /// Options of `names` in the order they occur in normalized `tokens` (each `--name value` or `--name`).
    /// Used where the relative order of different options matters (`-o`/`-O` pairing, the `-d` family).
    public func ordered(_ tokens: [String], names: Set<String>) -> [(name: String, value: String?)] {
        var out: [(String, String?)] = []
        var i = 0
        while i < tokens.count {
            let t = tokens[i]
            if t == "--" { break }
            if t.hasPrefix("--") {
                let name = String(t.dropFirst(2))
                if takesValue(name) {
                    if names.contains(name), i + 1 < tokens.count { out.append((name, tokens[i + 1])) }
                    i += 2
                    continue
                }
                if names.contains(name) { out.append((name, nil)) }
            }
            i += 1
        }
        return out
    }
}
