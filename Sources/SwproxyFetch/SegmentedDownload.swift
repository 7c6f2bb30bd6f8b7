import Glibc
import SwproxyCurl
import SwproxyLoop

/// `--segments N`: one URL's body fetched by up to N range transfers at once into one preallocated file
/// (`pwrite` at each segment's offset), the plan a `SegmentPlan`.
///
/// The job's own transfer is the probe: it asks for `Range: bytes=M-` (M the first byte still missing, 0 for
/// a fresh download; `If-Range` with the validator when continuing). A `206` whose `Content-Range` starts
/// at M and names the size makes the download segmented: the probe goes on as the first segment and the
/// others start with `Range: bytes=A-B` and `If-Range`. Anything else (a `200`, a server without ranges) is
/// one ordinary transfer, written by the job as usual. Each segment's response must be a `206` for exactly
/// its range of the same size and validator; a `200` or another `ETag` means the file changed on the
/// server, and the download starts over (once; then as one plain transfer), so the file never mixes two
/// versions. A segment cut off mid-body continues from its last byte (up to `segmentRetries` times without
/// progress). When a segment finishes, the largest remaining one is cut in two.
///
/// While incomplete, the ranges on disk are recorded in the `PartFile` sidecar (after `fdatasync`), once a
/// second and when a segment ends; `--retry`, `-C -` or a later run with the same output continue from it.
/// `--checksum` is computed over the contiguous prefix as it grows: from the bytes as they are written,
/// reading back from the file only the parts other segments wrote ahead of it.
final class SegmentedDownload {
    enum Mode: Equatable {
        /// The probe's answer is awaited.
        case probing
        case segmented
        /// The probe's answer is about to be dropped and the probe sent again: `fresh` without the earlier
        /// ranges; `plain` as a plain GET without `Range` (an unsatisfiable range: an empty file).
        case restarting(plain: Bool)
        /// An ordinary transfer: the job writes it.
        case off
        /// The probe of a download with ranges on disk was answered with this error status: its body is
        /// dropped (the file and its sidecar stay for a retry or a later run).
        case probeRefused(Int)
        case finished
    }

    /// Consecutive failures of one segment without a byte of progress before the URL fails.
    static let segmentRetries = 5

    unowned let job: FetchJob
    let path: String
    let maxSegments: Int
    let minSegment: Int64
    let checksum: Checksum?
    private(set) var mode = Mode.probing
    /// What is on disk from before: the sidecar a run found, or the progress of a failed attempt.
    private var resume: PartFile?
    private(set) var plan: SegmentPlan?
    private var validator: String?
    /// Whether `validator` is the probe's `ETag` (else its `Last-Modified`).
    private var validatorIsETag = false
    private var fd: Int32 = -1
    /// Where the probe started (`Range: bytes=M-`).
    private(set) var probeStart: Int64 = 0
    /// The segment the job's own transfer writes, while it does.
    private var probeSegment: Int?
    /// Whether the job's own transfer is running (nothing is reported to the job until it ended).
    private var probeRunning = true
    /// The other running segments' transfers, by segment.
    private var running: [Int: SegmentTransfer] = [:]
    private var failures: [Int: Int] = [:]
    private var restarts = 0
    private var digest: Digest?
    private var hashedUpTo: Int64 = 0
    private var checkpointTimer: TimerID?
    /// The probe's response fields that decide (the last response's, after redirects).
    private var probeFields = ResponseFields()
    /// The URL the probe ended at (segments ask it directly).
    private var targetURL: String
    private(set) var bytesFetched: Int64 = 0
    private(set) var connections = 0
    private(set) var segmentsUsed = 0
    /// A write that failed in a segment's callback: the download fails with it when that transfer ends.
    private var failure: FetchError?

    init(job: FetchJob, path: String, url: String, options o: FetchOptions, checksum: Checksum?) {
        self.job = job
        self.path = path
        maxSegments = max(1, min(o.segments ?? 1, 16))
        minSegment = max(1, o.minSegmentSize)
        self.checksum = checksum
        targetURL = url
        if let part = PartFile.read(for: path), part.url == url, part.validator != nil,
            LocalFiles.regularFileSize(path) == part.size
        {
            resume = part
        }
        probeStart = resume.map { SegmentPlan(size: $0.size, count: 1, minSegment: 1, done: $0.ranges).firstMissing } ?? 0
    }

    var loop: EventLoop { job.runner.loop }

    /// The probe's `Range` value, and its `If-Range` when continuing.
    var probeRange: String { "\(probeStart)-" }
    var probeIfRange: String? { mode == .probing ? resume?.validator : nil }

    // MARK: the probe (the job's own transfer)

    func probeHeaderLine(_ line: UnsafeRawBufferPointer) {
        if mode == .probing { probeFields.take(line) }
    }

    /// Body bytes of the job's transfer: nil when the job writes them itself (an ordinary transfer).
    func probeBody(_ t: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition? {
        if mode == .probing { decide(t) }
        switch mode {
        case .off: return nil
        case .probing, .finished, .restarting, .probeRefused: return .abort  // dropped
        case .segmented:
            guard let i = probeSegment else { return .abort }
            return write(i, bytes) ? .accepted : .abort
        }
    }

    /// The job's transfer ended. True when this download takes it from here (the job reports nothing yet).
    func probeCompleted(_ t: Transfer, _ code: CurlCode) -> Bool {
        probeRunning = false
        if mode == .probing && (code == .ok || code == .httpReturnedError) { decide(t) }
        connections += t.easy.info(.numConnects)
        switch mode {
        case .probing, .off:
            return false
        case .finished:
            guard let e = pendingFailure else { return false }
            pendingFailure = nil
            job.segmentedFinished(e)
            return true
        case .probeRefused(let status):
            mode = .finished
            job.segmentedFinished(FetchError(.httpReturnedError, "The requested URL returned error: \(status) "
                + "(\(path) and its sidecar are kept to continue)"), response: status)
            return true
        case .restarting(let plain):
            probeRunning = true
            if plain {
                mode = .off
                job.restartTransfer(range: nil, ifRange: nil)
            } else {
                mode = .probing
                probeFields = ResponseFields()
                job.restartTransfer(range: probeRange, ifRange: probeIfRange)
            }
            return true
        case .segmented:
            if let i = probeSegment {
                probeSegment = nil
                segmentEnded(i, code: code, message: code == .ok ? "" : t.easy.errorMessage(for: code))
            } else {
                finishIfDone()
            }
            return true
        }
    }

    /// The probe's answer: a segmented download, an ordinary transfer, or the probe again.
    private func decide(_ t: Transfer) {
        let status = t.easy.info(.responseCode)
        targetURL = t.easy.info(.effectiveURL) ?? targetURL
        let range = probeFields.contentRange
        if status == 206, let r = range, r.start == probeStart, let size = r.size, size > 0 {
            let v = probeFields.validator
            validatorIsETag = v != nil && v == probeFields.etag
            if let old = resume, old.size != size || (v != nil && v != old.validator) {
                // It ignored If-Range and answered for another version: start over.
                startOver("the file on the server changed since the last attempt")
                return
            }
            begin(size: size, validator: v)
            return
        }
        if status == 416 {
            // Nothing to fetch from there (an empty file): once more, as a plain GET.
            resume = nil
            mode = .restarting(plain: true)
            return
        }
        if resume != nil && !(200..<300).contains(status) {
            mode = .probeRefused(status)
            return
        }
        if resume != nil {
            if !job.options.silent {
                Console.warning("\(path): the server sent the whole file (not the missing ranges); starting over")
            }
            PartFile.remove(for: path)
            resume = nil
        }
        mode = .off
    }

    // MARK: segments

    private func begin(size: Int64, validator v: String?) {
        validator = v
        let fresh = resume == nil
        if job.options.createDirs && !LocalFiles.createParentDirectories(path) {
            fail(FetchError(.writeError, "Failed to create the directories for \(path): \(errnoText())"))
            return
        }
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (fresh ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else {
            fail(FetchError(.writeError, "Failed to create the file \(path): \(errnoText())"))
            return
        }
        // Allocated now: a full disk fails here, not in the middle; tmpfs and most file systems support it.
        if posix_fallocate(fd, 0, off_t(size)) != 0 && ftruncate(fd, off_t(size)) != 0 {
            fail(FetchError(.writeError, "Failed to allocate \(size) bytes for \(path): \(errnoText())"))
            return
        }
        let p = SegmentPlan(size: size, count: maxSegments, minSegment: minSegment, done: resume?.ranges ?? [])
        mode = .segmented
        plan = p
        segmentsUsed = p.segments.count
        probeSegment = p.segments.isEmpty ? nil : 0
        if let c = checksum {
            digest = Digest(c.algorithm)
            if !hashAhead(p) { return }
        }
        job.segmentProgress(expected: size, received: size - p.segments.reduce(0) { $0 + $1.remaining })
        checkpoint()
        armCheckpoints()
        // From inside the probe's write callback, where libcurl takes no new transfers: on the next turn.
        later { d in for i in p.segments.indices.dropFirst() { d.start(i) } }
    }

    /// Starts (or restarts) segment `i` from its position with its own transfer.
    private func start(_ i: Int) {
        guard let s = plan?.segments[i], !s.isDone else { return }
        let seg = SegmentTransfer(download: self, segment: i)
        let easy = EasyHandle.make(from: job.runner.easyPool)
        if let e = job.configureSegment(easy, url: targetURL, range: "\(s.pos)-\(s.end - 1)",
                                        ifRange: validator) {
            easy.close()
            fail(e)
            return
        }
        let t = Transfer(easy: easy, delegate: seg, debug: job.runner.trace != nil)
        seg.transfer = t
        running[i] = seg
        if job.runner.driver.add(t) != .ok {
            running[i] = nil
            job.runner.driver.cancel(t)
            fail(FetchError(.failedInit, "could not add the transfer for bytes \(s.pos)-\(s.end - 1)"))
        }
    }

    /// `bytes` for segment `i`, at its position. False: the segment is complete (the rest of the bytes
    /// belong to another segment), or the write failed: the transfer stops.
    func write(_ i: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard mode == .segmented, var p = plan else { return false }
        let offset = p.segments[i].pos
        let n = p.accept(bytes.count, segment: i)
        plan = p
        if n > 0 {
            var done = 0
            while done < n {
                let w = pwrite(fd, bytes.baseAddress! + done, n - done, off_t(offset + Int64(done)))
                if w < 0 {
                    if errno == EINTR { continue }
                    failure = FetchError(.writeError, "Failure writing output to destination: \(errnoText())")
                    return false
                }
                done += w
            }
            bytesFetched += Int64(n)
            failures[i] = 0
            if digest != nil { hash(offset, UnsafeRawBufferPointer(rebasing: bytes[0..<n])) }
            job.segmentProgress(expected: p.size, received: p.size - p.segments.reduce(0) { $0 + $1.remaining })
        }
        return n == bytes.count
    }

    /// A segment's transfer ended (`code` as libcurl reported it; a cut segment reports a write error).
    func segmentEnded(_ i: Int, code: CurlCode, message: String, transfer: Transfer? = nil) {
        if let t = transfer {
            connections += t.easy.info(.numConnects)
            running[i] = nil
            if let pool = job.runner.easyPool { job.runner.driver.recycle(t, into: pool) } else { job.runner.driver.cancel(t) }
        }
        guard mode == .segmented, let p = plan else { return }
        if let f = failure {
            fail(f)
            return
        }
        if p.segments[i].isDone {
            checkpoint()
            startMore()
            finishIfDone()
            return
        }
        // Cut off before its end: from where it stopped, unless it keeps failing without progress.
        let n = (failures[i] ?? 0) + 1
        failures[i] = n
        let transient: Set<Int32> = [0, 7, 18, 28, 52, 55, 56]
        guard transient.contains(code.rawValue), n <= SegmentedDownload.segmentRetries else {
            fail(FetchError(code == .ok ? .partialFile : code,
                            message.isEmpty ? "transfer closed with \(p.segments[i].remaining) bytes remaining" : message))
            return
        }
        loop.schedule(after: 0.1 * Double(n)) { [weak self] in
            guard let self, self.mode == .segmented else { return }
            self.start(i)
        }
    }

    /// A segment's answer was not its range of this version: the file changed on the server. (From the
    /// segment's write callback: acted on at the next turn.)
    func mismatch(_ why: String, transfer: Transfer, segment i: Int) {
        drop(transfer, segment: i)
        later { $0.startOver(why) }
    }

    /// Runs `act` on the next turn, if the download is still segmented then (from a libcurl callback,
    /// where no transfer may be added).
    private func later(_ act: @escaping (SegmentedDownload) -> Void) {
        loop.deferToNextTurn { [weak self] in
            guard let self, self.mode == .segmented else { return }
            act(self)
        }
    }

    /// A segment's request was answered with an error status: retried when the status says so (408, 429,
    /// 5xx), else the URL fails with it. (From the segment's write callback: acted on at the next turn.)
    func refused(status: Int, transfer: Transfer, segment i: Int) {
        drop(transfer, segment: i)
        later { $0.refusedNow(status: status, segment: i) }
    }

    /// The same, from a transfer's completion (a refusal without a body).
    func refusedNow(status: Int, segment i: Int) {
        guard mode == .segmented else { return }
        if [408, 429, 500, 502, 503, 504].contains(status) {
            segmentEnded(i, code: .ok, message: "the server answered \(status) for a range")
        } else {
            fail(FetchError(.httpReturnedError, "The requested URL returned error: \(status) (for a segment)"))
        }
    }

    func drop(_ transfer: Transfer, segment i: Int) {
        connections += transfer.easy.info(.numConnects)
        if running[i]?.transfer === transfer { running[i] = nil }
        job.runner.driver.cancel(transfer)
    }

    /// What the segments compare their responses with: the probe's `ETag`, or its `Last-Modified`.
    func sameVersion(_ f: ResponseFields) -> Bool {
        guard let v = validator else { return true }
        let theirs = validatorIsETag ? f.etag : f.lastModified
        return theirs == nil || theirs == v
    }

    /// New segments while connections are free: the largest remaining one is cut in two.
    private func startMore() {
        guard mode == .segmented else { return }
        while running.count + (probeSegment == nil ? 0 : 1) < maxSegments, var p = plan, let j = p.split() {
            plan = p
            segmentsUsed += 1
            start(j)
        }
    }

    private func finishIfDone() {
        guard mode == .segmented, let p = plan, p.isComplete, running.isEmpty, probeSegment == nil, !probeRunning
        else { return }
        mode = .finished
        stopCheckpoints()
        var result: FetchError?
        if let d = digest, let c = checksum {
            let got = d.finish()
            digest = nil
            if got != c.expected || d.count != p.size {
                result = Checksum.mismatch(path: path, algorithm: c.algorithm, got: got, expected: c.expected)
            }
        }
        _ = Glibc.close(fd)
        fd = -1
        PartFile.remove(for: path)
        if result != nil && !job.options.keepBad { _ = unlink(path) }
        job.segmentedFinished(result)
    }

    /// The download cannot go on now: the ranges on disk are kept for a retry or a later run.
    private func fail(_ e: FetchError) {
        guard mode == .segmented || mode == .probing else { return }
        let wasSegmented = mode == .segmented
        mode = .finished
        stopCheckpoints()
        for (_, s) in running { if let t = s.transfer { job.runner.driver.cancel(t) } }
        running = [:]
        if wasSegmented { checkpoint() }
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        if let p = plan, validator != nil {
            resume = PartFile(url: job.item.url, size: p.size, validator: validator, ranges: p.completed)
        }
        probeSegment = nil
        if probeRunning {
            // The job's transfer is still running: it stops at its next bytes and reports then.
            pendingFailure = e
            return
        }
        job.segmentedFinished(e)
    }

    /// A failure found while the job's own transfer still ran: reported when it ends.
    private(set) var pendingFailure: FetchError?

    /// `--retry` after a failed segmented attempt: probe again from what is on disk.
    func prepareRetry() {
        plan = nil
        probeSegment = nil
        failures = [:]
        failure = nil
        pendingFailure = nil
        digest = nil
        hashedUpTo = 0
        probeFields = ResponseFields()
        mode = .probing
        probeRunning = true
        probeStart = resume.map { SegmentPlan(size: $0.size, count: 1, minSegment: 1, done: $0.ranges).firstMissing } ?? 0
    }

    /// The file changed on the server: everything fetched so far is dropped and the download starts over
    /// (once; a second change makes it one plain transfer).
    private func startOver(_ why: String) {
        restarts += 1
        if !job.options.silent {
            Console.warning("\(path): \(why); starting over\(restarts > 1 ? " as one plain transfer" : "")")
        }
        stopCheckpoints()
        for (_, s) in running { if let t = s.transfer { job.runner.driver.cancel(t) } }
        running = [:]
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        PartFile.remove(for: path)
        resume = nil
        plan = nil
        digest = nil
        hashedUpTo = 0
        probeStart = 0
        let plain = restarts > 1
        probeSegment = nil
        if probeRunning {
            // The job's transfer is still running: it stops at its next bytes and is sent again.
            mode = .restarting(plain: plain)
        } else {
            mode = plain ? .off : .probing
            probeFields = ResponseFields()
            probeRunning = true
            job.restartTransfer(range: plain ? nil : probeRange, ifRange: nil)
        }
    }

    // MARK: the sidecar

    /// Syncs the file's data, then records the ranges on disk.
    private func checkpoint() {
        guard fd >= 0, let p = plan, let v = validator else { return }
        _ = fdatasync(fd)
        _ = PartFile(url: job.item.url, size: p.size, validator: v, ranges: p.completed).write(for: path)
    }

    private func armCheckpoints() {
        checkpointTimer = loop.schedule(after: 1) { [weak self] in
            guard let self, self.mode == .segmented else { return }
            self.checkpoint()
            self.armCheckpoints()
        }
    }

    private func stopCheckpoints() {
        if let t = checkpointTimer { loop.cancel(t) }
        checkpointTimer = nil
    }

    // MARK: the checksum over the contiguous prefix

    /// `bytes` were written at `offset`: when they extend the hashed prefix, they are hashed as they are,
    /// and what other segments wrote right after them is read back and hashed too.
    private func hash(_ offset: Int64, _ bytes: UnsafeRawBufferPointer) {
        guard let d = digest, offset == hashedUpTo, let p = plan else { return }
        d.update(bytes)
        hashedUpTo += Int64(bytes.count)
        _ = hashAhead(p)
    }

    /// Reads back and hashes the completed bytes that follow the hashed prefix. False when reading failed
    /// (the download failed).
    private func hashAhead(_ p: SegmentPlan) -> Bool {
        guard let d = digest else { return true }
        let end = p.contiguousEnd(from: hashedUpTo)
        guard end > hashedUpTo else { return true }
        let chunk = 1 << 20
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buf.deallocate() }
        let rfd = open(path, O_RDONLY | O_CLOEXEC)
        guard rfd >= 0 else {
            fail(FetchError(.readError, "Failed to read back \(path) for its checksum: \(errnoText())"))
            return false
        }
        defer { _ = Glibc.close(rfd) }
        while hashedUpTo < end {
            let want = Int(min(Int64(chunk), end - hashedUpTo))
            let n = pread(rfd, buf.baseAddress, want, off_t(hashedUpTo))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                fail(FetchError(.readError, "Failed to read back \(path) for its checksum: \(errnoText())"))
                return false
            }
            d.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            hashedUpTo += Int64(n)
        }
        return true
    }

    private func errnoText() -> String { String(cString: strerror(errno)) }
}

/// One segment's range transfer: its response must be a `206` for exactly the range asked, of the same
/// size and validator; its bytes go to the download at the segment's position.
final class SegmentTransfer: TransferDelegate {
    unowned let download: SegmentedDownload
    let segment: Int
    var transfer: Transfer?
    private var fields = ResponseFields()
    private var checked = false

    init(download: SegmentedDownload, segment: Int) {
        self.download = download
        self.segment = segment
    }

    func transferReceivedHeader(_ t: Transfer, _ line: UnsafeRawBufferPointer) -> Bool {
        fields.take(line)
        return true
    }

    func transferReceivedBody(_ t: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition {
        if !checked {
            checked = true
            let status = t.easy.info(.responseCode)
            guard status == 206 else {
                if status == 200 {
                    download.mismatch("the server sent the whole file for a range (it changed, or ignores If-Range)",
                                      transfer: t, segment: segment)
                } else {
                    download.refused(status: status, transfer: t, segment: segment)
                }
                return .abort
            }
            guard let s = download.plan?.segments[segment], let r = fields.contentRange, r.start == s.pos,
                r.size == download.plan?.size
            else {
                download.mismatch("a range came back with another Content-Range", transfer: t, segment: segment)
                return .abort
            }
            if !download.sameVersion(fields) {
                download.mismatch("the file changed on the server (its validator is not the one of the download)",
                                  transfer: t, segment: segment)
                return .abort
            }
        }
        return download.write(segment, bytes) ? .accepted : .abort
    }

    func transferDebug(_ t: Transfer, kind: DebugKind, _ data: UnsafeRawBufferPointer) {
        download.job.runner.trace?.write(kind, data)
    }

    func transferCompleted(_ t: Transfer, _ code: CurlCode) {
        let status = t.easy.info(.responseCode)
        if !checked && code == .ok && status != 206 {
            // An answer without a body (a 503 with no content): never a range.
            download.drop(t, segment: segment)
            download.refusedNow(status: status, segment: segment)
            return
        }
        download.segmentEnded(segment, code: code, message: code == .ok ? "" : t.easy.errorMessage(for: code),
                              transfer: t)
    }
}

/// The response fields a segmented download decides on, read from header lines (the last response's:
/// a status line starts over).
struct ResponseFields: Equatable {
    struct ContentRange: Equatable {
        var start: Int64
        var end: Int64
        /// nil for `*`.
        var size: Int64?
    }

    var contentRange: ContentRange?
    var etag: String?
    var lastModified: String?

    /// What `If-Range` can carry: a strong `ETag`, else `Last-Modified` (RFC 9110 §13.1.5).
    var validator: String? {
        if let e = etag, !e.hasPrefix("W/") { return e }
        return lastModified
    }

    mutating func take(_ line: UnsafeRawBufferPointer) {
        var text = String(decoding: line, as: UTF8.self)
        while let last = text.unicodeScalars.last, last == "\r" || last == "\n" { text.unicodeScalars.removeLast() }
        if text.hasPrefix("HTTP/") {
            self = ResponseFields()
            return
        }
        guard let colon = text.firstIndex(of: ":") else { return }
        let name = text[..<colon].lowercased()
        let value = text[text.index(after: colon)...].trimmingWhitespace()
        switch name {
        case "content-range": contentRange = ResponseFields.parseContentRange(value)
        case "etag": etag = value
        case "last-modified": lastModified = value
        default: break
        }
    }

    /// `bytes A-B/SIZE` (SIZE may be `*`).
    static func parseContentRange(_ v: String) -> ContentRange? {
        guard v.hasPrefix("bytes ") else { return nil }
        let rest = v.dropFirst(6)
        guard let slash = rest.firstIndex(of: "/"), let dash = rest[..<slash].firstIndex(of: "-"),
            let a = Int64(rest[..<dash]), let b = Int64(rest[rest.index(after: dash)..<slash]), a <= b
        else { return nil }
        let sizeText = rest[rest.index(after: slash)...]
        if sizeText == "*" { return ContentRange(start: a, end: b, size: nil) }
        guard let size = Int64(sizeText), b < size else { return nil }
        return ContentRange(start: a, end: b, size: size)
    }
}

extension Checksum {
    /// Exit status of a download whose digest is not the one `--checksum` named (curl has no such code;
    /// 110 is above every CURLcode).
    static let mismatchCode = CurlCode(rawValue: 110)

    static func mismatch(path: String, algorithm: Algorithm, got: String, expected: String) -> FetchError {
        FetchError(mismatchCode, "checksum mismatch for \(path): \(algorithm.rawValue) is \(got), expected \(expected)")
    }
}
