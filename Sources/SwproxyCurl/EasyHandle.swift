internal import CCurl
import Glibc
import SwproxyLoop

/// One libcurl easy handle and everything it must outlive: header lists, the mime tree, the error buffer.
/// Owned by exactly one `Transfer` (or user); `close()` releases it, `deinit` only checks that it happened.
/// Its `phase` is moved by `MultiDriver` and `EasyHandlePool` only (the rules are written there).
public final class EasyHandle {
    /// Where a handle is in its life; see `MultiDriver` for the moves between phases.
    public enum Phase: Sendable, Equatable {
        /// Reset, in a pool.
        case pooled
        /// Being set up, or finished and out of its multi (ready to be added again, reused or let go of).
        case configured
        /// In a multi handle: running, paused, or finished and kept (a CONNECT_ONLY tunnel).
        case added
        /// Finished and out of its multi, while its owner's `transferCompleted` runs.
        case completing
        /// Let go of while libcurl was on the stack: closed or pooled when libcurl returns.
        case retired
        case closed
    }

    let raw: UnsafeMutableRawPointer
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    /// The header list of `replaceHeaders`.
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var mime: OpaquePointer?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    public internal(set) var phase = Phase.configured

    /// A handle from `pool` when it has one, else a new one.
    public static func make(from pool: EasyHandlePool?) -> EasyHandle {
        pool?.take() ?? EasyHandle()
    }

    public init() {
        CurlGlobal.ensure()
        guard let h = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        raw = h
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(to: 0)
        _ = ccurl_easy_setopt_ptr(raw, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = ccurl_easy_setopt_long(raw, CURLOPT_NOSIGNAL, 1)
    }

    deinit {
        assert(phase == .closed, "EasyHandle deallocated without close()")
        if phase != .closed { release() }
    }

    /// Makes a finished handle as new for the next transfer (`curl_easy_reset`: options back to their
    /// defaults, its buffers kept), so a loop can reuse handles instead of `curl_easy_init` per request.
    /// The caller must have removed it from any multi handle.
    func reset() {
        precondition(phase != .closed, "reset after close")
        curl_easy_reset(raw)
        for l in lists { curl_slist_free_all(l) }
        lists.removeAll(keepingCapacity: true)
        if let l = headerList { curl_slist_free_all(l) }
        headerList = nil
        if let m = mime { curl_mime_free(m) }
        mime = nil
        errorBuffer.initialize(to: 0)
        _ = ccurl_easy_setopt_ptr(raw, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = ccurl_easy_setopt_long(raw, CURLOPT_NOSIGNAL, 1)
    }

    /// Frees a handle that no multi has (never added, or finished): one still added goes through
    /// `MultiDriver.cancel`, which knows when libcurl is done with it.
    public func close() {
        switch phase {
        case .closed: return
        case .added, .retired:
            lifecycleViolation("close of a handle that is \(phase): cancel it through its MultiDriver")
        case .pooled, .configured, .completing:
            closeHandle()
        }
    }

    /// Frees the handle (the driver and the pool, which know it is out of every multi and off libcurl's stack).
    func closeHandle() {
        guard phase != .closed else { return }
        phase = .closed
        release()
    }

    private func release() {
        curl_easy_cleanup(raw)
        for l in lists { curl_slist_free_all(l) }
        lists = []
        if let l = headerList { curl_slist_free_all(l) }
        headerList = nil
        if let m = mime { curl_mime_free(m) }
        errorBuffer.deallocate()
    }

    // MARK: options

    /// Sets a string option (libcurl copies it).
    @discardableResult
    public func set(_ o: EasyOption<String>, _ value: String?) -> CurlCode {
        // withCString: a native string lends its own bytes (an implicit conversion copied them).
        CurlCode(value.map { $0.withCString { ccurl_easy_setopt_str(raw, o.option, $0) } } ?? ccurl_easy_setopt_ptr(raw, o.option, nil))
    }

    @discardableResult
    public func set(_ o: EasyOption<Int>, _ value: Int) -> CurlCode {
        CurlCode(ccurl_easy_setopt_long(raw, o.option, value))
    }

    @discardableResult
    public func set(_ o: EasyOption<Bool>, _ value: Bool) -> CurlCode {
        CurlCode(ccurl_easy_setopt_long(raw, o.option, value ? 1 : 0))
    }

    @discardableResult
    public func set(_ o: EasyOption<Int64>, _ value: Int64) -> CurlCode {
        CurlCode(ccurl_easy_setopt_off(raw, o.option, curl_off_t(value)))
    }

    /// Sets a list option; the list lives as long as the handle.
    @discardableResult
    public func set(_ o: EasyOption<[String]>, _ values: [String]) -> CurlCode {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for v in values { list = curl_slist_append(list, v) }
        if let l = list { lists.append(l) }
        return CurlCode(ccurl_easy_setopt_slist(raw, o.option, list))
    }

    /// Sets `CURLOPT_HTTPHEADER` for a handle reused as it is (one header list a transfer): the list set by
    /// the previous call is freed, so lists do not pile up on a long-lived handle. Not while the handle is in
    /// a transfer (libcurl reads the list as it sends).
    @discardableResult
    public func replaceHeaders(_ values: [String]) -> CurlCode {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for v in values { list = curl_slist_append(list, v) }
        let code = CurlCode(ccurl_easy_setopt_slist(raw, CURLOPT_HTTPHEADER, list))
        if let old = headerList { curl_slist_free_all(old) }
        headerList = list
        return code
    }

    /// Disables both certificate and host-name verification (curl's `-k`).
    public func disableTLSVerification() {
        _ = ccurl_easy_setopt_long(raw, CURLOPT_SSL_VERIFYPEER, 0)
        _ = ccurl_easy_setopt_long(raw, CURLOPT_SSL_VERIFYHOST, 0)
        _ = ccurl_easy_setopt_long(raw, CURLOPT_PROXY_SSL_VERIFYPEER, 0)
        _ = ccurl_easy_setopt_long(raw, CURLOPT_PROXY_SSL_VERIFYHOST, 0)
    }

    /// A request body libcurl copies now (`CURLOPT_COPYPOSTFIELDS`), with its exact size, so NUL bytes pass.
    public func setPostBody(_ bytes: [UInt8]) {
        _ = ccurl_easy_setopt_off(raw, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
        bytes.withUnsafeBytes { b in
            // An empty body still needs a valid pointer, or libcurl reads from the read callback.
            _ = ccurl_easy_setopt_ptr(raw, CURLOPT_COPYPOSTFIELDS, b.baseAddress ?? UnsafeRawPointer(errorBuffer))
        }
    }

    /// A multipart/form-data body built with curl's mime API (curl's `-F`).
    public func setMultipart(_ parts: [MimePart]) throws(MimeError) {
        if let old = mime { curl_mime_free(old) }
        mime = nil
        let m = try buildMime(parts)
        mime = m
        _ = ccurl_easy_setopt_mime(raw, m)
    }

    /// `CURLOPT_MIME_OPTIONS`: CURLMIMEOPT_FORMESCAPE (1) escapes names with backslashes (`--form-escape`).
    public func setMimeOptions(_ options: Int) {
        _ = ccurl_easy_setopt_long(raw, CURLOPT_MIME_OPTIONS, options)
    }

    private func buildMime(_ parts: [MimePart]) throws(MimeError) -> OpaquePointer {
        guard let m = curl_mime_init(raw) else { throw MimeError(message: "out of memory") }
        for p in parts {
            let part = curl_mime_addpart(m)
            var filename = p.filename
            switch p.content {
            case .value(let v):
                v.withCString { c in _ = curl_mime_data(part, c, strlen(c)) }
            case .file(let path), .fileContent(let path):
                if curl_mime_filedata(part, path) != CURLE_OK {
                    curl_mime_free(m)
                    throw MimeError(message: "can't read file \"\(path)\"")
                }
                if case .fileContent = p.content, filename == nil { curl_mime_filename(part, nil) }
            case .bytes(let data, let isFile):
                _ = data.withUnsafeBufferPointer { b in
                    b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(1, b.count)) {
                        curl_mime_data(part, $0, b.count)
                    }
                }
                if isFile && filename == nil { filename = "-" }
            case .parts(let sub):
                let subMime: OpaquePointer
                do { subMime = try buildMime(sub) } catch {
                    curl_mime_free(m)
                    throw error
                }
                if curl_mime_subparts(part, subMime) != CURLE_OK { curl_mime_free(subMime) }
            }
            if let f = filename { curl_mime_filename(part, f) }
            if let t = p.contentType { curl_mime_type(part, t) }
            if !p.headers.isEmpty {
                var list: UnsafeMutablePointer<curl_slist>? = nil
                for h in p.headers { list = curl_slist_append(list, h) }
                curl_mime_headers(part, list, 1)  // the part owns the list
            }
            if let e = p.encoder { curl_mime_encoder(part, e) }
            if let n = p.name { curl_mime_name(part, n) }
        }
        return m
    }

    // MARK: information

    public func info(_ key: InfoKey<Int>) -> Int {
        var v = 0
        _ = ccurl_easy_getinfo_long(raw, key.info, &v)
        return v
    }

    public func info(_ key: InfoKey<Int64>) -> Int64 {
        var v: curl_off_t = 0
        _ = ccurl_easy_getinfo_off(raw, key.info, &v)
        return Int64(v)
    }

    public func info(_ key: InfoKey<String>) -> String? {
        var p: UnsafeMutablePointer<CChar>? = nil
        guard ccurl_easy_getinfo_str(raw, key.info, &p) == CURLE_OK, let s = p else { return nil }
        return String(cString: s)
    }

    /// Reads from a `CONNECT_ONLY` connection through libcurl, so bytes pass its TLS layers (an https://
    /// proxy's, say) rather than the raw socket. Same contract as `Socket.read`: CURLE_AGAIN is
    /// `.wouldBlock`, zero bytes is `.eof`, a failure throws its code.
    /// - SeeAlso: curl_easy_recv(3)
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(CurlCode) -> IOResult {
        var n = 0
        let code = curl_easy_recv(raw, buffer.baseAddress, buffer.count, &n)
        switch code.rawValue {
        case 0: return n == 0 ? .eof : .bytes(n)
        case 81: return .wouldBlock  // CURLE_AGAIN
        default: throw CurlCode(code)
        }
    }

    /// Writes to a `CONNECT_ONLY` connection through libcurl; the contract of `Socket.write`.
    /// - SeeAlso: curl_easy_send(3)
    func send(_ bytes: UnsafeRawBufferPointer) throws(CurlCode) -> IOResult {
        var n = 0
        let code = curl_easy_send(raw, bytes.baseAddress, bytes.count, &n)
        switch code.rawValue {
        case 0: return .bytes(n)
        case 81: return .wouldBlock
        default: throw CurlCode(code)
        }
    }

    /// The socket of a `CONNECT_ONLY` transfer.
    public var activeSocket: Int32 {
        var s: curl_socket_t = -1
        _ = ccurl_easy_getinfo_socket(raw, CURLINFO_ACTIVESOCKET, &s)
        return s
    }

    /// The last response's value of a header field (`curl_easy_header`), nil when absent.
    public func responseHeader(_ name: String) -> String? {
        var h: UnsafeMutablePointer<curl_header>? = nil
        guard curl_easy_header(raw, name, 0, UInt32(CURLH_HEADER), -1, &h) == CURLHE_OK, let hdr = h else {
            return nil
        }
        return String(cString: hdr.pointee.value)
    }

    /// The error buffer's text for the last failure, or libcurl's generic text for `code`.
    public func errorMessage(for code: CurlCode) -> String {
        if errorBuffer.pointee != 0 { return String(cString: errorBuffer) }
        return code.description
    }

    /// Clears the error buffer (before a handle is reused for a retry).
    public func resetError() { errorBuffer.pointee = 0 }

    /// Pauses or resumes both directions. May call the write callback synchronously with held data: only
    /// `MultiDriver.pause` calls it, counting it as inside libcurl.
    @discardableResult
    func pause(receive: Bool, send: Bool) -> CurlCode {
        var bits: Int32 = 0
        if receive { bits |= CURLPAUSE_RECV }
        if send { bits |= CURLPAUSE_SEND }
        return CurlCode(curl_easy_pause(raw, bits))
    }
}

/// One part of a multipart form (`-F name=value`, `name=@file`, `name=<file`).
/// One part of a multipart form (curl_mime), as curl's `-F` builds them.
public struct MimePart: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        case value(String)
        /// A file upload: its data, with its name as the part's file name.
        case file(String)
        /// A file's content as the value (no file name).
        case fileContent(String)
        /// Data read already (standard input); `isFile`: an upload, named `-` unless a file name is given.
        case bytes([UInt8], isFile: Bool)
        /// A nested multipart (several files in one field, or `name=(` … `)`).
        case parts([MimePart])
    }
    public var name: String?
    public var content: Content
    public var filename: String?
    public var contentType: String?
    public var headers: [String] = []
    public var encoder: String?

    public init(name: String?, content: Content, filename: String? = nil, contentType: String? = nil) {
        self.name = name
        self.content = content
        self.filename = filename
        self.contentType = contentType
    }
}

public struct MimeError: Error, Sendable {
    public let message: String
}

/// Finished easy handles kept for reuse by one loop (not thread-safe: one per loop).
public final class EasyHandlePool {
    private var free: [EasyHandle] = []
    public let capacity: Int

    public init(capacity: Int) { self.capacity = capacity }

    func take() -> EasyHandle? {
        guard let h = free.popLast() else { return nil }
        h.phase = .configured
        return h
    }

    /// Takes back a handle that left its multi, off libcurl's stack (`MultiDriver.recycle` calls this when
    /// that holds): reset for reuse, or closed when the pool is full.
    func give(_ h: EasyHandle) {
        if free.count < capacity {
            h.reset()
            h.phase = .pooled
            free.append(h)
        } else {
            h.closeHandle()
        }
    }

    /// Closes every pooled handle.
    public func close() {
        for h in free { h.closeHandle() }
        free = []
    }
}
