import ArgumentParser
import Glibc
import SwproxyServe

/// `swproxy cache stats|purge`: the store of `serve --cache-dir`, looked at and emptied from outside, safe
/// while the proxy runs (entries are whole files: removing one never cuts a response being served from it).
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Look at or empty the store of `swproxy serve --cache-dir`.",
        subcommands: [CacheStats.self, CachePurge.self])
}

struct CacheDirOption: ParsableArguments {
    @Option(name: .customLong("cache-dir"), help: ArgumentHelp("The cache's directory.", valueName: "dir"))
    var cacheDir: String

    func validate() throws {
        var st = stat()
        guard stat(cacheDir + "/entries", &st) == 0 else {
            throw ValidationError("--cache-dir \(cacheDir): not a swproxy cache (no entries/ in it)")
        }
    }
}

struct CacheStats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Entries and bytes in the store.")
    @OptionGroup var dir: CacheDirOption

    func run() throws {
        var entries = 0
        var bytes: UInt64 = 0
        var oldest = Int.max
        var newest = 0
        CacheStore.scan(dir.cacheDir) { _, size, mtime in
            entries += 1
            bytes += size
            oldest = min(oldest, mtime)
            newest = max(newest, mtime)
        }
        var temporary = 0
        if let d = opendir(dir.cacheDir + "/tmp") {
            while let e = readdir(d) { if e.pointee.d_type == UInt8(DT_REG) { temporary += 1 } }
            closedir(d)
        }
        print("directory: \(dir.cacheDir)")
        print("entries: \(entries)")
        print("bytes: \(bytes)")
        print("fills in progress: \(temporary)")
        if entries > 0 {
            print("oldest entry: \(oldest)")
            print("newest entry: \(newest)")
        }
    }
}

struct CachePurge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge", abstract: "Remove the stored responses of URLs (every variant), or all of them.")
    @OptionGroup var dir: CacheDirOption
    @Flag(name: .customLong("all"), help: "Remove every entry.") var all = false
    @Argument(help: ArgumentHelp("URLs to remove, as clients requested them (http://host/path).", valueName: "url"))
    var urls: [String] = []

    func validate() throws {
        if all == !urls.isEmpty { throw ValidationError("name URLs to purge, or --all") }
        for u in urls where CacheKey.of(url: u) == nil { throw ValidationError("\(u): not an http:// or https:// URL") }
    }

    func run() throws {
        if all {
            print("purged \(CacheStore.purgeAll(dir.cacheDir)) entries")
            return
        }
        for u in urls {
            let n = CacheStore.purge(dir.cacheDir, key: CacheKey.of(url: u)!)
            print(n > 0 ? "purged \(u)" : "not cached: \(u)")
        }
    }
}
