import ArgumentParser
import SwproxyCurl

/// The root command: `swproxy fetch …` and `swproxy serve …`.
struct Swproxy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swproxy",
        abstract: "A fast, safe HTTP tool: a curl-compatible concurrent client and a forward proxy.",
        version: versionText,
        subcommands: [FetchCommand.self, ServeCommand.self, CacheCommand.self])

    static var versionText: String {
        let v = CurlVersion.current
        return """
            swproxy \(ProductVersion.string) (libcurl/\(v.version)\(v.ssl.map { " " + $0 } ?? ""))
            Protocols: \(v.protocols.joined(separator: " "))
            Features: \(v.features.joined(separator: " "))
            """
    }
}
