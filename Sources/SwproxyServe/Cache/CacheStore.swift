internal import CSystem
import Glibc
import Synchronization
import SwproxyHTTP
import SwproxyLoop

/// The cache key of a request: its upstream URL, scheme and host lowercased, the default port left out.
public enum CacheKey {
    public static func of(scheme: String, host: String, port: Int, pathAndQuery: String) -> String {
        let s = scheme.lowercased()
        let defaultPort = (s == "http" && port == 80) || (s == "https" && port == 443)
        return "\(s)://\(host.lowercased())\(defaultPort ? "" : ":\(port)")\(pathAndQuery.isEmpty ? "/" : pathAndQuery)"
    }

    /// The key of a URL as a user writes it (`swproxy cache purge URL`); nil when it is not an http(s) URL.
    public static func of(url: String) -> String? {
        guard case .absolute(let s, let h, let p, let path)? = try? RequestHeadParser.parseAbsolute(url) else { return nil }
        return of(scheme: s, host: h, port: p, pathAndQuery: path)
    }

    /// 64-bit FNV-1a, as 16 hex digits: the file names of entries. The key itself is in the entry, so a
    /// collision is a miss, never a wrong answer.
    static func hash(_ text: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return String(unsafeUninitializedCapacity: 16) { out in
            for i in 0..<16 { out[i] = hexDigits[Int((h >> UInt64(60 - 4 * i)) & 0xf)] }
            return 16
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// `hash("")`: the variant of a response without `Vary`.
    static let noVariant = hash("")

    /// The variant hash of `request` for a stored response that varies on `names`.
    static func variantHash(_ names: [String], of request: RequestHead) -> String {
        names.isEmpty ? noVariant : hash(CacheRules.varyValues(names, of: request))
    }
}

/// A stored response, read from its entry file: the file is open (`fd`), the body starts at `bodyOffset`
/// (and, when small, is in `body`). Immutable, so every loop may use one (reads take explicit offsets).
final class StoredEntry: Sendable {
    let name: String
    let fd: Int32
    let key: String
    let requestTime: Int
    let responseTime: Int
    let status: Int
    let reason: String
    /// The origin's fields, without hop-by-hop and framing ones (`Content-Length` is the body's own).
    let fields: [HeaderField]
    let varyNames: [String]
    let bodyOffset: Int64
    let bodyLength: UInt64
    /// The whole body, when it came with the head's read.
    let body: [UInt8]?
    /// Worked out once from the stored head, not per hit: its `Cache-Control` directives, its freshness
    /// lifetime, and its age when it was received (the current age adds the time since `responseTime`).
    let directives: CacheDirectives
    let lifetime: Int
    let initialAge: Int
    /// The head of a hit as far as it never changes: the status line and the stored fields a client gets
    /// (hop-by-hop ones dropped), without the ending empty line. Nil when the stored fields carry what a hit
    /// merges into (`Via`, `Cache-Status`): those heads are built field by field (`CacheJob.hitHead`).
    let hitHeadPrefix: [UInt8]?

    init(name: String, fd: Int32, key: String, requestTime: Int, responseTime: Int, status: Int, reason: String,
         fields: [HeaderField], varyNames: [String], bodyOffset: Int64, bodyLength: UInt64, body: [UInt8]? = nil) {
        self.name = name
        self.fd = fd
        self.key = key
        self.requestTime = requestTime
        self.responseTime = responseTime
        self.status = status
        self.reason = reason
        self.fields = fields
        self.varyNames = varyNames
        self.bodyOffset = bodyOffset
        self.bodyLength = bodyLength
        self.body = body
        directives = CacheDirectives(fields)
        lifetime = CacheRules.freshnessLifetime(status: status, fields: fields, responseTime: responseTime)
        initialAge = CacheRules.initialAge(fields: fields, requestTime: requestTime, responseTime: responseTime)
        hitHeadPrefix = CacheJob.hitHeadPrefix(status: status, reason: reason, fields: fields)
    }

    /// The store's `StoreGeneration.mark` when this open file was last seen to be the entry in the store.
    let checked = Atomic<Int>(-1)

    deinit { Glibc.close(fd) }

    /// Still the entry in the store: a purge, an eviction or a newer response renamed over it leaves this
    /// open file without a name.
    var isLinked: Bool {
        var st = stat()
        return fstat(fd, &st) == 0 && st.st_nlink > 0
    }

    func age(now: Int) -> Int { CacheRules.age(initialAge: initialAge, responseTime: responseTime, now: now) }
}

/// The on-disk format of an entry: a text preamble (magic, key, times, Vary names) ending in an empty line,
/// the stored head (`HTTP/1.1 …` to its empty line), then the body.
enum EntryFormat {
    static let magic = "swproxy-cache 1"

    static func preamble(key: String, requestTime: Int, responseTime: Int, varyNames: [String], status: Int,
                         reason: String, fields: [HeaderField]) -> [UInt8] {
        var out = Array("\(magic)\nkey \(key)\nrequest-time \(requestTime)\nresponse-time \(responseTime)\nvary \(varyNames.joined(separator: ","))\n\n".utf8)
        out += HeadWriter.response(status: status, reason: reason, fields: fields)
        return out
    }

    /// Reads the entry open on `fd`; nil when it is not a complete entry of this format.
    static func read(fd: Int32, name: String) -> StoredEntry? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        // Most heads are a few hundred bytes: read 16 KiB, and up to 256 KiB only when the head is longer.
        var buf = [UInt8](repeating: 0, count: min(Int(st.st_size), 16 << 10))
        var n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        if find(buf[0..<n], [13, 10, 13, 10]) == nil && st.st_size > n {
            buf = [UInt8](repeating: 0, count: min(Int(st.st_size), 256 << 10))
            n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
        }
        let bytes = buf[0..<n]
        // The preamble: lines up to the first empty one.
        guard let sep = find(bytes, [10, 10]) else { return nil }
        let pre = String(decoding: bytes[0..<sep], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard pre.first == Substring(magic) else { return nil }
        var key = "", rq = 0, rs = 0, vary: [String] = []
        for line in pre.dropFirst() {
            guard let sp = line.firstIndex(of: " ") else { continue }
            let v = String(line[line.index(after: sp)...])
            switch line[..<sp] {
            case "key": key = v
            case "request-time": rq = Int(v) ?? 0
            case "response-time": rs = Int(v) ?? 0
            case "vary": vary = v.split(separator: ",").map(String.init)
            default: break
            }
        }
        let headStart = sep + 2
        guard let headEnd = find(bytes[headStart...], [13, 10, 13, 10]) else { return nil }
        var builder = ResponseHeadBuilder()
        var lineStart = headStart
        var i = headStart
        while i < headEnd + 2 {
            if bytes[i] == 10 {
                let ok = buf.withUnsafeBytes { b in builder.take(UnsafeRawBufferPointer(rebasing: b[lineStart...i])) }
                guard ok == .more else { return nil }
                lineStart = i + 1
            }
            i += 1
        }
        let offset = Int64(headEnd + 4)
        let whole = n == Int(st.st_size)
        return StoredEntry(name: name, fd: fd, key: key, requestTime: rq, responseTime: rs, status: builder.status,
                           reason: builder.reason, fields: builder.fields, varyNames: vary, bodyOffset: offset,
                           bodyLength: UInt64(Int64(st.st_size) - offset), body: whole ? Array(buf[Int(offset)..<n]) : nil)
    }

    private static func find(_ b: ArraySlice<UInt8>, _ pattern: [UInt8]) -> Int? {
        guard b.count >= pattern.count else { return nil }
        var i = b.startIndex
        while i + pattern.count <= b.endIndex {
            if b[i] == pattern[0] && b[i..<(i + pattern.count)].elementsEqual(pattern) { return i }
            i += 1
        }
        return nil
    }
}

/// A counter in `DIR/generation` that every process using the store maps shared: bumped after any of them
/// removes or replaces entry files (a purge, an eviction, an invalidation, a newer response renamed over an
/// entry, `swproxy cache purge` from outside). An open entry seen linked at one value is still the entry
/// while the value stays, so a hit needs no `fstat`; entry files removed by other means (`rm`) are noticed
/// within a second (`mark` carries the second too).
struct StoreGeneration: @unchecked Sendable {
    let word: UnsafeMutablePointer<Int>

    /// Maps `DIR/generation`, made when missing (`create`); nil when it cannot be.
    static func map(_ directory: String, create: Bool) -> StoreGeneration? {
        let fd = Glibc.open(directory + "/generation", O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0o644)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size >= 8 || ftruncate(fd, 8) == 0 else { return nil }
        guard let p = mmap(nil, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else { return nil }
        return StoreGeneration(word: p.assumingMemoryBound(to: Int.self))
    }

    /// Tells the processes using the store at `directory` that entry files went (from `swproxy cache purge`).
    static func bump(_ directory: String) {
        guard let g = map(directory, create: false) else { return }
        g.bump()
        g.unmap()
    }

    func bump() { _ = csys_shared_add(word, 1) }

    /// The generation and the current second, in one value to compare.
    func mark() -> Int { (csys_shared_load(word) & 0xffff_ffff) << 32 | (time(nil) & 0xffff_ffff) }

    func unmap() { munmap(word, 8) }
}

/// The cache's store, shared by every loop of the process: entry files under `DIR/entries/XX/`, named
/// `KEYHASH.VARIANTHASH`, written under `DIR/tmp/` and renamed into place only when complete; an index in
/// memory (rebuilt from the directory at start), least recently used first out when the store passes
/// its size; and the fills running now, by key, for coalescing.
public final class CacheStore: Sendable {
    public let directory: String
    let capacity: UInt64
    let maxObject: UInt64

    struct Info {
        var size: UInt64
        var older: String?
        var newer: String?
    }

    struct Index {
        var entries: [String: Info] = [:]
        var variants: [String: Set<String>] = [:]
        var oldest: String?
        var newest: String?
        var bytes: UInt64 = 0
        var evictions = 0
        var fills: [String: InFlight] = [:]

        mutating func unlink(_ name: String) {
            guard let i = entries[name] else { return }
            if let o = i.older { entries[o]?.newer = i.newer } else { oldest = i.newer }
            if let n = i.newer { entries[n]?.older = i.older } else { newest = i.older }
            entries[name]?.older = nil
            entries[name]?.newer = nil
        }

        mutating func pushNewest(_ name: String) {
            entries[name]?.older = newest
            entries[name]?.newer = nil
            if let n = newest { entries[n]?.newer = name } else { oldest = name }
            newest = name
        }

        mutating func add(_ name: String, size: UInt64) {
            if let old = entries[name] {
                bytes -= old.size
                unlink(name)
            }
            entries[name] = Info(size: size)
            bytes += size
            pushNewest(name)
            variants[CacheStore.primary(of: name), default: []].insert(name)
        }

        mutating func remove(_ name: String) {
            guard let i = entries[name] else { return }
            unlink(name)
            entries[name] = nil
            bytes -= i.size
            let p = CacheStore.primary(of: name)
            variants[p]?.remove(name)
            if variants[p]?.isEmpty == true { variants[p] = nil }
        }

        mutating func touch(_ name: String) {
            guard entries[name] != nil, newest != name else { return }
            unlink(name)
            pushNewest(name)
        }
    }

    private let index = Mutex(Index())
    /// Entries read lately, open and parsed: a hit on one costs an `fstat` (is it still linked?) instead of
    /// an open, a read and a parse. At most `hotEntries` (as many descriptors).
    private let hot = Mutex<[String: StoredEntry]>([:])
    static let hotEntries = 1024
    /// Nil when `DIR/generation` cannot be mapped: then every hit on a hot entry checks it with `fstat`.
    private let generation: StoreGeneration?
    private let linkCheckCount = Atomic<Int>(0)
    /// How many times a hot entry was checked with `fstat` (tests).
    var linkChecks: Int { linkCheckCount.load(ordering: .relaxed) }

    deinit { generation?.unmap() }

    /// Opens (creating) the store at `directory`: leftovers of interrupted fills are removed, the index is
    /// rebuilt from the entry files (oldest modification first out), and the store is brought under `capacity`.
    public init(directory: String, capacity: UInt64, maxObject: UInt64) throws(SyscallError) {
        self.directory = directory
        self.capacity = capacity
        self.maxObject = maxObject
        // The directory and its parents, like mkdir -p.
        var path = directory.hasPrefix("/") ? "" : "."
        for part in directory.split(separator: "/") {
            path += "/" + part
            if mkdir(path, 0o755) != 0 && errno != EEXIST { throw SyscallError.current("mkdir(\(path))") }
        }
        for d in [directory + "/entries", directory + "/tmp"] {
            if mkdir(d, 0o755) != 0 && errno != EEXIST { throw SyscallError.current("mkdir(\(d))") }
        }
        // Mapped before the scan: a purge from outside after this point is seen by the hot entries.
        generation = StoreGeneration.map(directory, create: true)
        CacheStore.removeAll(in: directory + "/tmp")
        var found = CacheStore.scanInParallel(directory, threads: 8)
        found.sort { $0.mtime < $1.mtime }
        index.withLock { ix in
            for f in found { ix.add(f.name, size: f.size) }
        }
        _ = evict()
    }

    // MARK: paths

    static func primary(of name: String) -> String { String(name.prefix(16)) }

    func path(of name: String) -> String { "\(directory)/entries/\(name.prefix(2))/\(name)" }

    static func name(key: String, variant: String) -> String { CacheKey.hash(key) + "." + CacheKey.hash(variant) }

    /// The entry name a response to `request` for `key` has when it varies on `varyNames`: what a fill names
    /// it and what a reader checks an entry it was handed against (the lookup compares `variantHash` alone).
    static func name(key: String, varyNames: [String], of request: RequestHead) -> String {
        CacheKey.hash(key) + "." + CacheKey.variantHash(varyNames, of: request)
    }

    /// A new temporary file for a fill, open for writing and reading.
    func temporaryFile() -> (path: String, fd: Int32)? {
        var template = Array("\(directory)/tmp/fill.XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { csys_mkostemp($0.baseAddress!, O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        return (String(cString: template), fd)
    }

    // MARK: lookup

    /// The stored variants of `key`, each opened and read (an entry whose file went away, purged by
    /// `swproxy cache purge`, leaves the index here).
    func variants(of key: String, hash: String? = nil) -> [StoredEntry] {
        let names = index.withLock { $0.variants[hash ?? CacheKey.hash(key)].map(Array.init) ?? [] }
        var out: [StoredEntry] = []
        for n in names {
            if let e = load(name: n, forgetting: true), e.key == key { out.append(e) }
        }
        return out
    }

    /// Entry `name`: the hot copy while it is still linked, else read from its file (and kept hot).
    /// `forgetting`: an entry whose file is gone leaves the index.
    private func load(name n: String, forgetting: Bool) -> StoredEntry? {
        let mark = generation?.mark()  // read before anything is looked at
        if let e = hot.withLock({ $0[n] }) {
            if let mark, e.checked.load(ordering: .relaxed) == mark { return e }
            linkCheckCount.add(1, ordering: .relaxed)
            if e.isLinked {
                if let mark { e.checked.store(mark, ordering: .relaxed) }
                return e
            }
            hot.withLock { if $0[n] === e { $0[n] = nil } }
        }
        let fd = Glibc.open(path(of: n), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if forgetting { index.withLock { $0.remove(n) } }
            return nil
        }
        guard let e = EntryFormat.read(fd: fd, name: n) else {
            Glibc.close(fd)
            return nil
        }
        if let mark { e.checked.store(mark, ordering: .relaxed) }
        hot.withLock { h in
            if h.count >= CacheStore.hotEntries, let any = h.keys.first { h[any] = nil }
            h[n] = e
        }
        return e
    }

    /// The variant of `key` whose Vary fields match `request`, and whether other variants exist.
    func lookup(key: String, request: RequestHead) -> (entry: StoredEntry?, others: Bool) {
        let keyHash = CacheKey.hash(key)
        let all = variants(of: key, hash: keyHash)
        // Every name in `all` starts with the key's hash: the variant's is the rest.
        for e in all where e.name.utf8.dropFirst(17).elementsEqual(CacheKey.variantHash(e.varyNames, of: request).utf8) {
            index.withLock { $0.touch(e.name) }
            return (e, all.count > 1)
        }
        return (nil, !all.isEmpty)
    }

    /// Opens a stored entry by name (a fill's result).
    func open(name: String) -> StoredEntry? { load(name: name, forgetting: false) }

    // MARK: storing

    /// Moves a complete temporary file into place as entry `name`, then evicts what the size calls for.
    func commit(temporary: String, name: String) -> Bool {
        let dir = "\(directory)/entries/\(name.prefix(2))"
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { return false }
        var st = stat()
        guard stat(temporary, &st) == 0, rename(temporary, path(of: name)) == 0 else {
            unlink(temporary)
            return false
        }
        index.withLock { $0.add(name, size: UInt64(st.st_size)) }
        forget([name])  // the hot copy of a replaced file
        generation?.bump()  // and other processes' copies
        _ = evict()
        return true
    }

    /// Rewrites entry `e` with new fields (after a 304): a new file with the body copied in the kernel,
    /// renamed over the old one.
    func refresh(_ e: StoredEntry, fields: [HeaderField], requestTime: Int, responseTime: Int) -> Bool {
        guard let (tmp, fd) = temporaryFile() else { return false }
        defer { Glibc.close(fd) }
        let pre = EntryFormat.preamble(key: e.key, requestTime: requestTime, responseTime: responseTime,
                                       varyNames: e.varyNames, status: e.status, reason: e.reason, fields: fields)
        guard CacheStore.writeAll(fd, pre) else {
            unlink(tmp)
            return false
        }
        var from = e.bodyOffset
        var left = Int(e.bodyLength)
        while left > 0 {
            let n = csys_copy_file_range(e.fd, &from, fd, left)
            guard n > 0 else {
                unlink(tmp)
                return false
            }
            left -= Int(n)
        }
        return commit(temporary: tmp, name: e.name)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            off += n
        }
        return true
    }

    /// Removes every variant of `key` (an unsafe method's invalidation, a purge); how many there were.
    @discardableResult
    func invalidate(key: String) -> Int {
        let p = CacheKey.hash(key)
        let names = index.withLock { ix -> [String] in
            let n = ix.variants[p].map(Array.init) ?? []
            for x in n { ix.remove(x) }
            return n
        }
        forget(names)
        var removed = 0
        for n in names where unlink(path(of: n)) == 0 { removed += 1 }
        // Files the index did not know (stored by another process on the same directory).
        removed += CacheStore.removeVariants(p, in: "\(directory)/entries/\(p.prefix(2))")
        if removed > 0 { generation?.bump() }
        return removed
    }

    /// Evicts least recently used entries until the store is within its size; how many went.
    func evict() -> Int {
        var gone: [String] = []
        index.withLock { ix in
            while ix.bytes > capacity, let o = ix.oldest {
                ix.remove(o)
                ix.evictions += 1
                gone.append(o)
            }
        }
        forget(gone)
        for n in gone { unlink(path(of: n)) }
        if !gone.isEmpty { generation?.bump() }
        return gone.count
    }

    /// Drops hot copies: their open descriptors would keep the space of unlinked files.
    private func forget(_ names: [String]) {
        guard !names.isEmpty else { return }
        hot.withLock { h in for n in names { h[n] = nil } }
    }

    /// Entries, bytes and evictions so far (metrics).
    var stats: (entries: Int, bytes: UInt64, evictions: Int) {
        index.withLock { ($0.entries.count, $0.bytes, $0.evictions) }
    }

    // MARK: fills in flight (coalescing)

    /// The fill running for `key`, or nil after registering `fill` as the one (the caller starts it).
    func join(key: String, or fill: InFlight) -> InFlight? {
        index.withLock { ix in
            if let f = ix.fills[key] { return f }
            ix.fills[key] = fill
            return nil
        }
    }

    /// A fill ended: later requests for its key look in the store again.
    func finished(key: String, _ fill: InFlight) {
        index.withLock { ix in
            if ix.fills[key] === fill { ix.fills[key] = nil }
        }
    }

    // MARK: the directory, for start-up and `swproxy cache`

    /// Calls `found` with every entry file: its name, size and modification time.
    public static func scan(_ directory: String, _ found: (String, UInt64, Int) -> Void) {
        for sub in subdirectories(directory) { scan(directory, sub, found) }
    }

    /// The `XX` directories under `DIR/entries`.
    static func subdirectories(_ directory: String) -> [String] {
        guard let top = opendir(directory + "/entries") else { return [] }
        defer { closedir(top) }
        var out: [String] = []
        while let d = readdir(top) {
            let sub = name(d)
            if sub.utf8.count == 2 && sub != ".." { out.append(sub) }
        }
        return out
    }

    private static func scan(_ directory: String, _ sub: String, _ found: (String, UInt64, Int) -> Void) {
        guard let dir = opendir(directory + "/entries/" + sub) else { return }
        defer { closedir(dir) }
        let dfd = dirfd(dir)
        while let f = readdir(dir) {
            let n = name(f)
            guard n.utf8.count == 33, n.hasPrefix(sub) else { continue }
            var st = stat()
            guard fstatat(dfd, n, &st, 0) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            found(n, UInt64(st.st_size), st.st_mtim.tv_sec)
        }
    }

    typealias Found = (name: String, size: UInt64, mtime: Int)

    /// The start-up scan: the `XX` directories shared out over `threads` threads, so the inode reads of a
    /// cold store overlap (100,000 entries: about 0.5 s warm, 1.3 s cold from ext4 with one thread).
    static func scanInParallel(_ directory: String, threads: Int) -> [Found] {
        let subs = subdirectories(directory)
        let results = Mutex<[Found]>([])
        let n = max(1, min(threads, subs.count))
        var tids: [pthread_t] = []
        for t in 0..<n {
            tids.append(startThread {
                var mine: [Found] = []
                for i in stride(from: t, to: subs.count, by: n) {
                    scan(directory, subs[i]) { name, size, mtime in mine.append((name, size, mtime)) }
                }
                results.withLock { $0 += mine }
            })
        }
        for tid in tids { pthread_join(tid, nil) }
        return results.withLock { $0 }
    }

    private static func name(_ d: UnsafeMutablePointer<dirent>) -> String {
        withUnsafePointer(to: d.pointee.d_name) { p in
            p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
    }

    /// Removes every regular file in `dir` (the temporary files of interrupted fills); how many.
    @discardableResult
    public static func removeAll(in dir: String) -> Int {
        guard let d = opendir(dir) else { return 0 }
        defer { closedir(d) }
        var n = 0
        while let e = readdir(d) {
            let f = name(e)
            if f != "." && f != ".." && unlink(dir + "/" + f) == 0 { n += 1 }
        }
        return n
    }

    private static func removeVariants(_ primary: String, in dir: String) -> Int {
        guard let d = opendir(dir) else { return 0 }
        defer { closedir(d) }
        var n = 0
        while let e = readdir(d) {
            let f = name(e)
            if f.hasPrefix(primary + ".") && unlink(dir + "/" + f) == 0 { n += 1 }
        }
        return n
    }

    /// `swproxy cache purge --all`: every entry file.
    public static func purgeAll(_ directory: String) -> Int {
        var n = 0
        scan(directory) { name, _, _ in
            if unlink("\(directory)/entries/\(name.prefix(2))/\(name)") == 0 { n += 1 }
        }
        if n > 0 { StoreGeneration.bump(directory) }
        return n
    }

    /// `swproxy cache purge URL`: every variant of the URL's key.
    public static func purge(_ directory: String, key: String) -> Int {
        let p = CacheKey.hash(key)
        let n = removeVariants(p, in: "\(directory)/entries/\(p.prefix(2))")
        if n > 0 { StoreGeneration.bump(directory) }
        return n
    }
}

extension CacheKey {
    /// The key of a `Location`/`Content-Location` value seen in a response for `base`, when it has the
    /// same origin (scheme, host and port); nil otherwise.
    static func resolve(_ reference: String, against base: String) -> String? {
        guard let sep = base.firstRange(of: "://"), let originEnd = base[sep.upperBound...].firstIndex(of: "/") else {
            return nil
        }
        let origin = String(base[..<originEnd])
        if reference.hasPrefix("/") && !reference.hasPrefix("//") { return origin + reference }
        guard let k = of(url: reference), k.hasPrefix(origin + "/") else { return nil }
        return k
    }
}
