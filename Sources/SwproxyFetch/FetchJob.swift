import Glibc
import SwproxyCurl
import SwproxyLoop

/// One URL of a fetch: configures its easy handle, takes its header, body and upload events, and decides at
/// the end between success, a retry (curl's rules) and failure.
final class FetchJob: TransferDelegate {
    let item: PlannedURL
    unowned let runner: FetchRunner
    /// The options, request and write-out format of this URL's `--next` step.
    let step: PlanStep
    var options: FetchOptions { step.options }
    private(set) var transfer: Transfer!
    private var file: OutputFile?
    private var uploadFD: Int32 = -1
    /// `-D FILE`: the step's header file (see `FetchRunner.headerDumpFD`).
    private var headerDumpFD: Int32?
    /// `--etag-save FILE`, open for this transfer.
    private var etagFD: Int32 = -1
    private var headers: [(name: String, value: String)] = []
    private var headerCount = 0
    private var writeFailure: FetchError?
    private var retriesLeft: Int
    private var retrySleep: Double
    private(set) var retries = 0
    private let firstStart: UInt64
    /// Bytes of this attempt that reached the output (for resets on retry).
    private var wroteToStdout = false
    /// Whether this URL's easy handle is set up from the batch's options and its URL alone (no per-URL
    /// options or upload): such handles are reused as they are (see `FetchRunner.reusesPlainHandles`).
    private let isPlain: Bool
    /// `--segments`: the body fetched by range transfers at once (nil: one ordinary transfer).
    private(set) var segmented: SegmentedDownload?
    /// The request's header lines (the step's, the URL line's, `--etag-compare`'s), for range requests too.
    private var requestHeaders: [String] = []
    /// `--checksum` (the URL line's, or the step's).
    let checksum: Checksum?
    /// An ordinary transfer's running digest for `--checksum`.
    private var digest: Digest?

    init(item: PlannedURL, runner: FetchRunner) {
        self.item = item
        self.runner = runner
        step = runner.plan.step(item)
        let o = step.options
        retriesLeft = o.retry
        retrySleep = o.retryDelay > 0 ? o.retryDelay : 1
        firstStart = runner.loop.now
        startedAt = firstStart
        isPlain = runner.reusesPlainHandles[item.step] && item.overrides == URLOverrides() && item.uploadFile == nil
        checksum = item.overrides.checksum ?? o.checksum
        let segmentedPath: String?
        if o.segments != nil, case .file(let path) = item.output { segmentedPath = path } else { segmentedPath = nil }
        if case .file(let path) = item.output {
            // A segmented download continues from its sidecar, not by appending: its file is opened anew.
            file = OutputFile(
                path: path, append: segmentedPath == nil && (o.continueAuto || o.continueAt != nil),
                createDirs: o.createDirs, noClobber: o.curl.noClobber)
        }
        if let path = segmentedPath {
            segmented = SegmentedDownload(job: self, path: path, url: item.url, options: o, checksum: checksum)
        }
    }

    /// `-e URL`, `-e URL;auto` (and follow redirects' Location as referer), or none.
    private static func setReferer(_ referer: String?, on easy: EasyHandle) {
        guard let ref = referer else {
            easy.set(.referer, nil)
            return
        }
        if ref.hasSuffix(";auto") {
            easy.set(.autoReferer, true)
            let r = String(ref.dropLast(5))
            easy.set(.referer, r.isEmpty ? nil : r)
        } else {
            easy.set(.referer, ref)
        }
    }

    /// `swproxy/VERSION`, or `$SWPROXY_USER_AGENT` when set (curl's own test suite runs fetch with curl's
    /// default there); `-A`, `-H 'User-Agent: ...'` and config files override either.
    static let defaultUserAgent: String = {
        if let e = getenv("SWPROXY_USER_AGENT") { return String(cString: e) }
        return "swproxy/\(ProductVersion.string)"
    }()

    /// Builds the easy handle. Returns a plan-time failure (unreadable upload file) instead of a transfer.
    func prepare() -> FetchError? {
        let o = step.options
        let r = step.request
        do { headerDumpFD = try runner.headerDumpFD(step: item.step) } catch { return error }
        if isPlain, let t = runner.takePlainTransfer(step: item.step) {
            // Configured by an earlier plain URL of this batch exactly as this one would be: only the URL
            // differs (libcurl keeps a handle's options from one transfer to the next).
            t.reuse(delegate: self)
            transfer = t
            t.easy.set(.url, item.url)
            // The one thing libcurl carries from one transfer to the next: the referer a followed redirect
            // left (with `;auto`). Setting the option puts the configured one back.
            FetchJob.setReferer(o.referer, on: t.easy)
            return nil
        }
        let easy = EasyHandle.make(from: runner.easyPool)
        transfer = Transfer(
            easy: easy, delegate: self, upload: item.uploadFile != nil, debug: runner.trace != nil,
            headers: runner.detailedReports || o.include || o.head || o.curl.dumpHeader != nil
                || o.curl.etagSave != nil || o.curl.remoteHeaderName || segmented != nil)
        var headers = r.headers + item.overrides.headers
        do {
            if let h = try etagSetup(o.curl) { headers.append(h) }
        } catch {
            return error
        }
        requestHeaders = headers
        let ov = item.overrides
        if let v = segmented?.probeIfRange { headers.append("If-Range: \(v)") }
        configure(easy, url: item.url, headers: headers)
        if let seg = segmented { easy.set(.range, seg.probeRange) }
        if let m = ov.method ?? r.customMethod { easy.set(.customRequest, m) }
        if r.noBody { easy.set(.noBody, true) }
        if let body = ov.body {
            easy.setPostBody(body)
        } else if r.getWithData {
            // -G -I: the data goes into the URL and the request stays a HEAD (CURLOPT_HTTPGET would
            // turn it back into a GET, whose body then never came: a hang).
            if !r.noBody { easy.set(.httpGet, true) }
        } else if let body = r.body {
            easy.setPostBody(body)
        }
        if !r.forms.isEmpty {
            if o.curl.formEscape { easy.setMimeOptions(1) }  // CURLMIMEOPT_FORMESCAPE
            do { try easy.setMultipart(r.forms) } catch {
                return FetchError(.readError, error.message)
            }
        }
        if let up = item.uploadFile {
            if up == "-" {
                uploadFD = 0
            } else {
                uploadFD = open(up, O_RDONLY | O_CLOEXEC)
                guard uploadFD >= 0 else {
                    return FetchError(.readError, "Failed to open/read local data from file/application: \(up)")
                }
                if let size = LocalFiles.regularFileSize(up) { easy.set(.inFileSize, size) }
            }
            easy.set(.upload, true)
        }
        if segmented != nil {
            // Where it continues is the sidecar's business (SegmentedDownload), not an offset.
        } else if o.continueAuto && item.uploadFile != nil {
            easy.set(.resumeFrom, Int64(-1))  // as curl: libcurl works out where the upload resumes
        } else if o.continueAuto, let f = file {
            easy.set(.resumeFrom, LocalFiles.regularFileSize(f.path) ?? 0)
        } else if let at = o.continueAt {
            easy.set(.resumeFrom, at)
        }
        return nil
    }

    /// The options every request of this URL carries, ordinary or a segment's range request: URL, headers,
    /// identity, cookies, redirects, proxy, TLS, HTTP version, timeouts and curl's one-to-one options.
    private func configure(_ easy: EasyHandle, url: String, headers: [String]) {
        let o = step.options
        let ov = item.overrides
        easy.set(.url, url)
        easy.set(.defaultProtocol, o.curl.defaultProtocol ?? "http")
        easy.set(.bufferSize, 102_400)
        easy.set(.tcpNoDelay, true)
        easy.set(.userAgent, ov.userAgent ?? o.userAgent ?? FetchJob.defaultUserAgent)
        FetchJob.setReferer(ov.referer ?? o.referer, on: easy)
        if !headers.isEmpty { easy.set(.httpHeader, headers) }
        if let u = o.user { easy.set(.userPassword, u) }
        // As curl: `-b` strings (those with a '=') are joined with ';' into one Cookie header; the others
        // are files for the cookie engine.
        let strings = o.cookies.filter { $0.contains("=") }
        if !strings.isEmpty { easy.set(.cookie, strings.joined(separator: ";")) }
        for c in o.cookies where !c.contains("=") { easy.set(.cookieFile, c) }
        if let jar = o.cookieJar { easy.set(.cookieJar, jar) }
        if o.curl.junkSessionCookies { easy.set(.cookieSession, true) }
        if o.curl.useASCII { easy.set(.transferText, true) }
        if let share = runner.share { easy.setShare(share) }
        if o.location {
            easy.set(.followLocation, true)
            easy.set(.maxRedirects, o.maxRedirects)
        }
        if o.fail && o.failOn == nil { easy.set(.failOnError, true) }
        if o.compressed { easy.set(.acceptEncoding, "") }
        if let p = o.proxy { easy.set(.proxy, p) }
        if let n = o.noProxy { easy.set(.noProxy, n) }
        if o.insecure { easy.disableTLSVerification() }
        if let c = o.caCert { easy.set(.caInfo, c) }
        if let c = o.caPath { easy.set(.caPath, c) }
        easy.set(.httpVersion, (o.httpVersion ?? .v2TLS).rawValue)
        if let t = ov.connectTimeout ?? o.connectTimeout { easy.set(.connectTimeoutMilliseconds, max(1, Int(t * 1000))) }
        if let t = ov.maxTime ?? o.maxTime { easy.set(.timeoutMilliseconds, max(1, Int(t * 1000))) }
        FetchJob.apply(o.curl, to: easy)
    }

    /// A segment's range request: this URL's options, `url` (where the probe ended after redirects),
    /// `Range` and `If-Range`; HTTP/2 streams wait for a connection to share rather than open their own.
    func configureSegment(_ easy: EasyHandle, url: String, range: String, ifRange: String?) -> FetchError? {
        var headers = requestHeaders
        if let v = ifRange { headers.append("If-Range: \(v)") }
        configure(easy, url: url, headers: headers)
        easy.set(.range, range)
        easy.set(.pipeWait, true)
        return nil
    }

    /// `--etag-compare`: the header asking for the ETag the file holds (`""` when it holds none, or is
    /// missing while `--etag-save` will write it); `--etag-save`: the file made empty for this transfer's
    /// ETag. Throws when the file to compare with cannot be read and nothing will save one.
    private func etagSetup(_ c: CurlSettings) throws(FetchError) -> String? {
        var header: String?
        if let path = c.etagCompare {
            // Read before --etag-save (often the same file) empties it.
            if let bytes = try? Socket.readWholeFile(path) {
                // As curl's file2string: the lines joined, CR and LF dropped.
                let text = String(decoding: bytes.filter { $0 != 13 && $0 != 10 }, as: UTF8.self)
                header = text.isEmpty ? "If-None-Match: \"\"" : "If-None-Match: \(text)"
            } else if c.etagSave == nil {
                throw FetchError(.readError, "Failed to open \(path)")
            } else {
                header = "If-None-Match: \"\""
            }
        }
        if let path = c.etagSave, path != "-" {
            etagFD = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if etagFD < 0 {
                throw FetchError(.readError, "Failed creating file for saving etags: \"\(path)\". Skip this transfer")
            }
        }
        return header
    }

    /// `-J`: a 2xx response's `Content-Disposition` filename names the file (in the output directory; never
    /// overwriting one that exists, as curl).
    private func nameFromContentDisposition(_ line: UnsafeRawBufferPointer, file: OutputFile) {
        let text = String(decoding: line, as: UTF8.self)
        guard text.lowercased().hasPrefix("content-disposition:"),
            transfer.easy.info(.responseCode) / 100 == 2,
            let name = FetchPlan.contentDispositionFilename(String(text.dropFirst(20)))
        else { return }
        if let dir = options.outputDir {
            file.rename(to: (dir.hasSuffix("/") ? dir : dir + "/") + name)
        } else {
            file.rename(to: name)
        }
    }

    /// `--etag-save`: an `ETag:` line's value, trimmed, with a newline.
    private func saveETag(_ line: UnsafeRawBufferPointer) {
        guard line.count > 5, line[line.count - 1] == 10 else { return }
        let name = Array("etag:".utf8)
        for i in 0..<5 where (line[i] >= 65 && line[i] <= 90 ? line[i] + 32 : line[i]) != name[i] { return }
        var start = 5
        var end = line.count - 1
        while start < end && (line[start] == 32 || line[start] == 9) { start += 1 }
        while end >= start && (line[end] == 32 || line[end] == 9 || line[end] == 10 || line[end] == 13) { end -= 1 }
        guard end >= start else { return }
        let value = Array(line[start...end]) + [10]
        if etagFD >= 0 {
            _ = value.withUnsafeBytes { try? Socket.writeAll(etagFD, $0) }
        } else if options.curl.etagSave == "-" {
            wroteToStdout = true
            _ = value.withUnsafeBytes { runner.stdout.write(item.index, $0) }
        }
    }

    /// The settings curl's options of `CurlSettings` map to, one libcurl option each.
    static func apply(_ c: CurlSettings, to easy: EasyHandle) {
        if let a = c.httpAuth { easy.set(.httpAuth, a) }
        if let u = c.proxyUser { easy.set(.proxyUserPassword, u) }
        if let a = c.proxyAuth { easy.set(.proxyAuth, a) }
        if c.proxyTunnel { easy.set(.httpProxyTunnel, true) }
        if !c.proxyHeaders.isEmpty {
            easy.set(.proxyHeader, c.proxyHeaders)
            easy.set(.headerOptions, 1)  // CURLHEADER_SEPARATE: these go to the proxy only
        }
        if let t = c.proxyType { easy.set(.proxyType, t) }
        if !c.resolve.isEmpty { easy.set(.resolve, c.resolve) }
        if !c.connectTo.isEmpty { easy.set(.connectTo, c.connectTo) }
        if let i = c.interface { easy.set(.interface, i) }
        if let r = c.ipResolve { easy.set(.ipResolve, r) }
        if let r = c.range { easy.set(.range, r) }
        if let (kind, time) = c.timeCondition, kind != 0 {
            easy.set(.timeCondition, kind)
            easy.set(.timeValue, time)
        }
        if let n = c.netrc { easy.set(.netrc, n) }
        if let f = c.netrcFile { easy.set(.netrcFile, f) }
        if c.transferEncoding { easy.set(.transferEncoding, true) }
        if c.postRedirect != 0 { easy.set(.postRedirect, c.postRedirect) }
        if c.http09 { easy.set(.http09Allowed, true) }
        if let r = c.limitRate {
            easy.set(.maxRecvSpeed, r)
            easy.set(.maxSendSpeed, r)
        }
        if c.locationTrusted {
            easy.set(.followLocation, true)
            easy.set(.unrestrictedAuth, true)
        }
        if let t = c.requestTarget { easy.set(.requestTarget, t) }
        if let p = c.protocols { easy.set(.protocolsString, p) }
        if let p = c.redirectProtocols { easy.set(.redirectProtocolsString, p) }
        if c.raw {
            easy.set(.httpContentDecoding, false)
            easy.set(.httpTransferDecoding, false)
        }
        if let m = c.maxFileSize { easy.set(.maxFileSize, m) }
        if let f = c.hstsFile {
            easy.set(.hsts, f)
            easy.set(.hstsControl, 1)  // CURLHSTS_ENABLE
        }
        if let f = c.altSvcFile {
            easy.set(.altSvc, f)
            easy.set(.altSvcControl, 8 | 16 | 32)  // CURLALTSVC_H1 | _H2 | _H3, as curl sets them
        }
        if c.haproxyProtocol { easy.set(.haproxyProtocol, true) }
        if let u = c.unixSocket { easy.set(.unixSocketPath, u) }
        if c.pathAsIs { easy.set(.pathAsIs, true) }
        if c.suppressConnectHeaders { easy.set(.suppressConnectHeaders, true) }
        if c.proxyInsecure {
            easy.set(.proxySSLVerifyPeer, false)
            easy.set(.proxySSLVerifyHost, 0)
        }
        if let p = c.preProxy { easy.set(.preProxy, p) }
        if let b = c.oauth2Bearer {
            easy.set(.xoauth2Bearer, b)
            easy.set(.httpAuth, (c.httpAuth ?? 0) | 64)  // CURLAUTH_BEARER, added to what was chosen (as curl)
        }
        if c.ignoreContentLength { easy.set(.ignoreContentLength, true) }
        if c.disallowUsernameInURL { easy.set(.disallowUsernameInURL, true) }
    }

    // MARK: transfer events

    func transferReceivedHeader(_ transfer: Transfer, _ line: UnsafeRawBufferPointer) -> Bool {
        segmented?.probeHeaderLine(line)
        // On the bytes: one String per name and value (Character walking per line showed in profiles).
        var end = line.count
        while end > 0 && (line[end - 1] == 10 || line[end - 1] == 13 || line[end - 1] == 32) { end -= 1 }
        if end >= 5 && line[0] == 72 && line[1] == 84 && line[2] == 84 && line[3] == 80 && line[4] == 47 {  // HTTP/
            headers.removeAll()
            headerCount = 0
            received = 0
            expected = nil
        } else if let colon = line[0..<end].firstIndex(of: 58) {
            var vs = colon + 1
            while vs < end && (line[vs] == 32 || line[vs] == 9) { vs += 1 }
            headerCount += 1
            let isLength = colon == 14 && FetchJob.isContentLength(line)
            if runner.detailedReports || isLength {
                let value = String(decoding: UnsafeRawBufferPointer(rebasing: line[vs..<end]), as: UTF8.self)
                if isLength { expected = Int64(value) }
                if runner.detailedReports {
                    let name = String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<colon]), as: UTF8.self)
                    headers.append((name, value))
                }
            }
        }
        if options.curl.etagSave != nil { saveETag(line) }
        if options.curl.remoteHeaderName, item.remoteName, let f = file, !f.isOpen, line.count > 20 {
            nameFromContentDisposition(line, file: f)
        }
        if let d = options.curl.dumpHeader {
            if let fd = headerDumpFD {
                do { try Socket.writeAll(fd, line) } catch { return false }
            } else if d == "-" {
                wroteToStdout = true
                if !runner.stdout.write(item.index, line) { return false }
            }
        }
        if options.include || options.head {
            return output(line)
        }
        return true
    }

    private static let contentLength = Array("content-length".utf8)

    /// Whether the line starts with `content-length` in any case.
    static func isContentLength(_ line: UnsafeRawBufferPointer) -> Bool {
        let name = contentLength
        for i in 0..<14 where (line[i] >= 65 && line[i] <= 90 ? line[i] + 32 : line[i]) != name[i] { return false }
        return true
    }

    func transferReceivedBody(_ transfer: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition {
        if let seg = segmented, let d = seg.probeBody(transfer, bytes) { return d }
        received += Int64(bytes.count)
        attemptBodyBytes += Int64(bytes.count)
        guard output(bytes) else { return .abort }
        if let c = checksum {
            if digest == nil {
                let d = Digest(c.algorithm)
                // Continuing a file (-C): what it held is part of the digest.
                if let f = file, f.startSize > 0, !d.feed(file: f.path, upTo: f.startSize) {
                    writeFailure = FetchError(.readError, "Failed to read back \(f.path) for its checksum")
                    return .abort
                }
                digest = d
            }
            digest!.update(bytes)
        }
        return .accepted
    }

    /// Body bytes of the current response so far, and its announced length (for the progress display).
    private(set) var received: Int64 = 0
    /// Body bytes of this attempt (every response of it), for what a retry takes back.
    private var attemptBodyBytes: Int64 = 0
    private(set) var expected: Int64?

    func transferNeedsBody(_ transfer: Transfer, into buffer: UnsafeMutableRawBufferPointer) -> UploadChunk {
        let n = read(uploadFD, buffer.baseAddress, buffer.count)
        if n < 0 { return errno == EINTR ? .bytes(0) : .abort }
        return n == 0 ? .end : .bytes(n)
    }

    func transferDebug(_ transfer: Transfer, kind: DebugKind, _ data: UnsafeRawBufferPointer) {
        runner.trace?.write(kind, data)
    }

    /// As curl: the upload file (or standard input, when it is a file) is sought back; a pipe cannot be.
    func transferRewindBody(_ transfer: Transfer, to offset: Int64) -> Bool {
        uploadFD >= 0 && lseek(uploadFD, off_t(offset), SEEK_SET) >= 0
    }

    private func output(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if let f = file {
            do {
                try f.write(bytes)
            } catch {
                writeFailure = error
                return false
            }
            return true
        }
        wroteToStdout = true
        if !runner.stdout.write(item.index, bytes) {
            writeFailure = FetchError(.writeError, "Failure writing output to destination")
            return false
        }
        return true
    }

    func transferCompleted(_ transfer: Transfer, _ code: CurlCode) {
        if let seg = segmented, seg.probeCompleted(transfer, code) { return }
        let easy = transfer.easy
        var code = code
        var message = code == .ok ? "" : easy.errorMessage(for: code)
        if let w = writeFailure, code == .writeError || code == .ok {
            code = CurlCode(rawValue: w.code)
            message = w.message
        }
        let response = easy.info(.responseCode)
        if code == .ok, let failOn = options.failOn, failOn.matches(response) {
            code = .httpReturnedError
            message = "The requested URL returned error: \(response)"
        } else if code == .ok && options.failWithBody && response >= 400 {
            code = .httpReturnedError
            message = "The requested URL returned error: \(response)"
        }
        if let delay = retryDelay(code: code, response: response) {
            retry(after: delay, reason: code, response: response)
            return
        }
        var report = makeReport(code: code, message: message)
        // A successful transfer with an empty body still creates its output file, as curl does, unless a
        // condition was not met (-z, or a 304 to --etag-compare): then the file is left as it is.
        if code == .ok, let f = file, !f.isOpen, transfer.easy.info(.conditionUnmet) == 0 {
            do { try f.open() } catch {
                report.exitCode = error.code
                report.errorMessage = error.message
            }
        }
        if report.exitCode == 0, let c = checksum, transfer.easy.info(.conditionUnmet) == 0 {
            let d = digest ?? Digest(c.algorithm)
            if digest == nil, let f = file, f.startSize > 0 { _ = d.feed(file: f.path, upTo: f.startSize) }
            digest = nil
            let got = d.finish()
            if got != c.expected {
                let name: String
                if case .file(let p) = item.output { name = file?.path ?? p } else { name = "stdout" }
                let e = Checksum.mismatch(path: name, algorithm: c.algorithm, got: got, expected: c.expected)
                report.exitCode = e.code
                report.errorMessage = e.message
                file?.close()
                if let f = file, f.wasOpened, f.path != "/dev/null", !options.keepBad { _ = unlink(f.path) }
            }
        }
        finish(report)
    }

    // MARK: segmented downloads (SegmentedDownload)

    /// The segmented download made progress (for the progress display).
    func segmentProgress(expected: Int64, received: Int64) {
        self.expected = expected
        self.received = received
    }

    /// Sets the job's own transfer up as a probe again (or as a plain GET, `range` nil).
    private func setProbe(range: String?, ifRange: String?) {
        let easy = transfer.easy
        easy.set(.range, range)
        var lines = requestHeaders
        if let v = ifRange { lines.append("If-Range: \(v)") }
        easy.set(.httpHeader, lines)
        headers.removeAll()
        headerCount = 0
        received = 0
        expected = nil
        attemptBodyBytes = 0
        writeFailure = nil
        digest = nil
        easy.resetError()
    }

    /// Sends the job's own transfer again: the probe of a download that starts over, or a plain GET.
    func restartTransfer(range: String?, ifRange: String?) {
        setProbe(range: range, ifRange: ifRange)
        // From the completion of this very transfer: added back once that returned.
        runner.loop.deferToNextTurn { [self] in runner.restart(self) }
    }

    /// The segmented download ended: `failure` nil for success. `--retry` continues from what is on disk.
    /// `response`: the HTTP status that failed it, if one did (retried as curl retries statuses).
    func segmentedFinished(_ failure: FetchError?, response: Int = 0) {
        if let f = failure, f.code != Checksum.mismatchCode.rawValue {
            let code = response > 0 ? CurlCode.ok : CurlCode(rawValue: f.code)
            if let delay = retryDelay(code: code, response: response) {
                retry(after: delay, reason: code, response: response)
                return
            }
        }
        var report = makeReport(code: failure.map { CurlCode(rawValue: $0.code) } ?? .ok, message: failure?.message ?? "")
        if let seg = segmented {
            report.sizeDownload = seg.bytesFetched
            report.segments = seg.segmentsUsed
            report.connections = seg.connections
        }
        if case .file(let p) = item.output { report.filename = p }
        finish(report)
    }

    /// curl's retry rules: timeouts and resolve failures, refused connections with `--retry-connrefused`,
    /// HTTP 408/429/500/502/503/504, anything with `--retry-all-errors`; `Retry-After` lengthens the wait.
    private func retryDelay(code: CurlCode, response: Int) -> Double? {
        let o = options
        guard retriesLeft > 0 else { return nil }
        if o.retryMaxTime > 0 {
            let elapsed = Double(runner.loop.now - firstStart) / 1e9
            if elapsed >= o.retryMaxTime { return nil }
        }
        var retry = false
        var isHTTP = false
        switch code {
        case .operationTimedOut, .couldntResolveHost, .couldntResolveProxy:
            retry = true
        case .couldntConnect where o.retryConnectionRefused:
            retry = transfer.easy.info(.osErrno) == Int(ECONNREFUSED)
        case .ok, .httpReturnedError:
            if code == .ok || o.fail || o.failWithBody || o.failOn != nil {
                let scheme = transfer.easy.info(.scheme)?.lowercased()
                if scheme == "http" || scheme == "https" {
                    isHTTP = [408, 429, 500, 502, 503, 504].contains(response)
                    retry = isHTTP
                }
            }
        default:
            break
        }
        if !retry && code != .ok && o.retryAllErrors { retry = true }
        guard retry else { return nil }
        var sleep = retrySleep
        if isHTTP {
            let after = transfer.easy.info(.retryAfter)
            if after > 0 {
                // As curl: a Retry-After that would run past --retry-max-time ends the retries now.
                if o.retryMaxTime > 0 {
                    let elapsed = (Double(runner.loop.now - firstStart) / 1e9).rounded(.down)
                    if elapsed + Double(after) > o.retryMaxTime {
                        if !o.silent {
                            Console.warning("The Retry-After: time would make this command line exceed the maximum "
                                + "allowed time for retries.")
                        }
                        return nil
                    }
                }
                sleep = Double(after)
                // The server asked for a pause: nothing new to this host before then either.
                runner.pauseHost(of: item, for: Double(after))
            }
        }
        return sleep
    }

    private func retry(after delay: Double, reason: CurlCode, response: Int) {
        let kind: String
        switch reason {
        case .operationTimedOut, .couldntResolveHost, .couldntResolveProxy: kind = ": timeout"
        case .couldntConnect where options.retryConnectionRefused: kind = ": connection refused"
        case .ok, .httpReturnedError: kind = ": HTTP error"
        default: kind = "(retrying all errors)"
        }
        retriesLeft -= 1
        retries += 1
        if !options.silent {
            Console.warning(
                "Problem \(kind). Will retry in \(Int(delay)) seconds. \(retriesLeft + 1) retries left.")
        }
        if options.retryDelay <= 0 { retrySleep = min(retrySleep * 2, 600) }
        // What a failed attempt wrote to stdout stays there, as in curl (it cannot take back what a
        // reader already has); a file is cut back to where the attempt started when the attempt wrote body
        // bytes to it (as curl: the header lines of a bodiless failed attempt, `-i`, stay).
        if attemptBodyBytes > 0 { file?.reset() }
        attemptBodyBytes = 0
        writeFailure = nil
        digest = nil
        transfer.easy.resetError()
        if let seg = segmented {
            // From what is on disk (the sidecar's ranges), not from the start.
            seg.prepareRetry()
            setProbe(range: seg.probeRange, ifRange: seg.probeIfRange)
        }
        if uploadFD > 0 { _ = lseek(uploadFD, 0, SEEK_SET) }
        runner.loop.schedule(after: delay) { [self] in
            runner.restart(self)
        }
    }

    func makeReport(code: CurlCode, message: String) -> TransferReport {
        var r = TransferReport()
        r.urlIndex = item.index
        r.url = item.url
        r.exitCode = code.rawValue
        r.errorMessage = message
        r.numRetries = retries
        r.headers = headers
        r.numHeaders = headerCount
        if let f = file { r.filename = f.path } else if case .file(let p) = item.output { r.filename = p }
        guard let easy = transfer?.easy else { return r }
        r.responseCode = easy.info(.responseCode)
        r.sizeDownload = easy.info(.sizeDownload)
        guard runner.detailedReports else { return r }
        r.effectiveURL = easy.info(.effectiveURL) ?? item.url
        r.connectCode = easy.info(.httpConnectCode)
        r.httpVersion = easy.info(.httpVersion)
        r.contentType = easy.info(.contentType)
        r.localIP = easy.info(.localIP)
        r.localPort = easy.info(.localPort)
        r.remoteIP = easy.info(.primaryIP)
        r.remotePort = easy.info(.primaryPort)
        r.method = easy.info(.effectiveMethod)
        r.numConnects = easy.info(.numConnects)
        r.numRedirects = easy.info(.redirectCount)
        r.redirectURL = easy.info(.redirectURL)
        r.referer = easy.info(.referer)
        r.scheme = easy.info(.scheme)
        r.sizeUpload = easy.info(.sizeUpload)
        r.sizeHeader = easy.info(.headerSize)
        r.sizeRequest = easy.info(.requestSize)
        r.speedDownload = easy.info(.speedDownload)
        r.speedUpload = easy.info(.speedUpload)
        r.sslVerifyResult = easy.info(.sslVerifyResult)
        r.proxySSLVerifyResult = easy.info(.proxySSLVerifyResult)
        r.timeNameLookup = easy.info(.nameLookupTime)
        r.timeConnect = easy.info(.connectTime)
        r.timeAppConnect = easy.info(.appConnectTime)
        r.timePreTransfer = easy.info(.preTransferTime)
        r.timeStartTransfer = easy.info(.startTransferTime)
        r.timeRedirect = easy.info(.redirectTime)
        r.timeTotal = easy.info(.totalTime)
        return r
    }

    /// `--skip-existing`: the output file is there already; nothing is sent.
    func skip() {
        var r = TransferReport()
        r.urlIndex = item.index
        r.url = item.url
        if let f = file { r.filename = f.path } else if case .file(let p) = item.output { r.filename = p }
        runner.finished(self, r, skipped: true)
    }

    let startedAt: UInt64

    /// Fails before any transfer starts (plan-time problem).
    func fail(_ error: FetchError) {
        finish(makeReport(code: CurlCode(rawValue: error.code), message: error.message))
    }

    private func finish(_ report: TransferReport) {
        file?.close()
        if report.exitCode != 0, options.curl.removeOnError, let f = file, f.wasOpened, f.path != "/dev/null" {
            _ = unlink(f.path)
        }
        if etagFD >= 0 { _ = close(etagFD) }
        etagFD = -1
        if uploadFD > 0 { close(uploadFD) }
        uploadFD = -1
        if let t = transfer {
            if isPlain {
                runner.givePlainTransfer(t, step: item.step)
            } else if let pool = runner.easyPool {
                runner.driver.recycle(t, into: pool)
            } else {
                runner.driver.cancel(t)
            }
        }
        runner.finished(self, report)
    }
}
