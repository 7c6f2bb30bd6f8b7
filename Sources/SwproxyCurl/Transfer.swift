internal import CCurl
import Glibc
import SwproxyLoop

/// What the write path does with a piece of response body.
public enum BodyDisposition {
    /// All of it was taken.
    case accepted
    /// None of it was taken; libcurl keeps it and stops reading the upstream socket until `resume()`.
    case pause
    /// Fail the transfer with CURLE_WRITE_ERROR.
    case abort
}

/// What the upload path produced for libcurl's read callback.
public enum UploadChunk {
    case bytes(Int)
    case end
    /// Nothing now; call `resumeSend()` when more is available.
    case pause
    case abort
}

/// The kinds of text libcurl's debug callback reports (`curl_infotype`).
public enum DebugKind: Int {
    case text = 0, headerIn, headerOut, dataIn, dataOut, sslDataIn, sslDataOut
}

/// Receives one transfer's events, on the loop's thread, from inside libcurl (`curl_multi_socket_action`,
/// or `curl_easy_pause` re-delivering held data). Any of them may cancel this or another transfer through
/// its `MultiDriver`: the driver frees nothing until libcurl returned. `transferCompleted` runs after the
/// handle left the multi (unless kept), and may add it again (a retry) or recycle it.
public protocol TransferDelegate: AnyObject {
    /// One header line, CRLF included: status lines of every response (1xx, redirects) and their fields.
    func transferReceivedHeader(_ transfer: Transfer, _ line: UnsafeRawBufferPointer) -> Bool
    func transferReceivedBody(_ transfer: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition
    func transferNeedsBody(_ transfer: Transfer, into buffer: UnsafeMutableRawBufferPointer) -> UploadChunk
    func transferDebug(_ transfer: Transfer, kind: DebugKind, _ data: UnsafeRawBufferPointer)
    /// libcurl must send the request body again from `offset` (a redirect, an authentication round,
    /// a resumed upload): true when the body source moved there.
    func transferRewindBody(_ transfer: Transfer, to offset: Int64) -> Bool
    func transferCompleted(_ transfer: Transfer, _ code: CurlCode)
}

extension TransferDelegate {
    public func transferReceivedHeader(_ transfer: Transfer, _ line: UnsafeRawBufferPointer) -> Bool { true }
    public func transferNeedsBody(_ transfer: Transfer, into buffer: UnsafeMutableRawBufferPointer) -> UploadChunk {
        .end
    }
    public func transferDebug(_ transfer: Transfer, kind: DebugKind, _ data: UnsafeRawBufferPointer) {}
    public func transferRewindBody(_ transfer: Transfer, to offset: Int64) -> Bool { false }
}

/// An easy handle wired to a delegate: the trampolines recover the `Transfer` from libcurl's user pointer
/// and call one delegate method each.
public final class Transfer {
    public let easy: EasyHandle
    public weak var delegate: TransferDelegate?
    /// Free for the owner's use (an index, a tag).
    public var tag: Int = 0
    weak var driver: MultiDriver?
    var keepAfterCompletion = false
    public private(set) var receivePaused = false
    public private(set) var sendPaused = false
    /// Decides, per address libcurl is about to connect to (IPv4: 4 bytes, IPv6: 16), whether it may.
    private var addressFilter: (([UInt8]) -> Bool)?
    /// Set when `addressFilter` refused an address (the transfer then fails with CURLE_COULDNT_CONNECT).
    public private(set) var addressRefused = false

    /// - Parameters:
    ///   - upload: route the request body through `transferNeedsBody` (`CURLOPT_READFUNCTION`).
    ///   - debug: route libcurl's verbose output through `transferDebug`.
    ///   - headers: route header lines through `transferReceivedHeader` (a few calls per response saved when
    ///     nobody reads them).
    public init(
        easy: EasyHandle, delegate: TransferDelegate, upload: Bool = false, debug: Bool = false, headers: Bool = true
    ) {
        self.easy = easy
        self.delegate = delegate
        let me = Unmanaged.passUnretained(self).toOpaque()
        let h = easy.raw
        _ = ccurl_easy_setopt_ptr(h, CURLOPT_PRIVATE, me)
        _ = ccurl_easy_setopt_ptr(h, CURLOPT_WRITEDATA, me)
        _ = ccurl_easy_setopt_data_cb(h, CURLOPT_WRITEFUNCTION) { ptr, size, n, ud in
            Transfer.from(ud).deliverBody(UnsafeRawBufferPointer(start: ptr, count: size * n))
        }
        if headers {
            _ = ccurl_easy_setopt_ptr(h, CURLOPT_HEADERDATA, me)
            _ = ccurl_easy_setopt_data_cb(h, CURLOPT_HEADERFUNCTION) { ptr, size, n, ud in
                let t = Transfer.from(ud)
                let ok = t.delegate?.transferReceivedHeader(t, UnsafeRawBufferPointer(start: ptr, count: size * n)) ?? false
                return ok ? size * n : 0
            }
        }
        installOpenSocket()
        if upload {
            _ = ccurl_easy_setopt_ptr(h, CURLOPT_READDATA, me)
            _ = ccurl_easy_setopt_data_cb(h, CURLOPT_READFUNCTION) { ptr, size, n, ud in
                Transfer.from(ud).produceBody(UnsafeMutableRawBufferPointer(start: ptr, count: size * n))
            }
            _ = ccurl_easy_setopt_ptr(h, CURLOPT_SEEKDATA, me)
            _ = ccurl_easy_setopt_seek_cb(h) { ud, offset, origin in
                let t = Transfer.from(ud)
                guard origin == SEEK_SET, let d = t.delegate else { return 2 }  // CURL_SEEKFUNC_CANTSEEK
                return d.transferRewindBody(t, to: Int64(offset)) ? 0 : 2
            }
        }
        if debug {
            _ = ccurl_easy_setopt_ptr(h, CURLOPT_DEBUGDATA, me)
            _ = ccurl_easy_setopt_debug_cb(h) { _, type, data, size, ud in
                let t = Transfer.from(ud)
                if let kind = DebugKind(rawValue: Int(type.rawValue)) {
                    t.delegate?.transferDebug(t, kind: kind, UnsafeRawBufferPointer(start: data, count: size))
                }
                return 0
            }
            _ = ccurl_easy_setopt_long(h, CURLOPT_VERBOSE, 1)
        }
    }

    /// Whether `reuse` may take it: finished, out of its multi, and its completion returned.
    public var isReusable: Bool { driver == nil && easy.phase == .configured }

    /// Hands a finished transfer, with its easy handle configured as it is, to a new delegate: the caller
    /// changes what differs (the URL) and adds it again. The handle must have left its multi.
    public func reuse(delegate: TransferDelegate) {
        precondition(driver == nil && easy.phase == .configured, "reuse of a transfer that is \(easy.phase)")
        self.delegate = delegate
        tag = 0
        receivePaused = false
        sendPaused = false
        addressRefused = false
        keepAfterCompletion = false
        easy.resetError()
    }

    /// Checks every address libcurl connects to (after its own resolving: DNS rebinding cannot get past it),
    /// through `CURLOPT_OPENSOCKETFUNCTION`.
    public func setAddressFilter(_ filter: @escaping ([UInt8]) -> Bool) {
        addressFilter = filter
    }

    /// libcurl's connection sockets are opened here (`CURLOPT_OPENSOCKETFUNCTION`): the address filter
    /// runs, and the driver learns which descriptors will have their close reported to it.
    private func installOpenSocket() {
        let h = easy.raw
        _ = ccurl_easy_setopt_ptr(h, CURLOPT_OPENSOCKETDATA, Unmanaged.passUnretained(self).toOpaque())
        _ = ccurl_easy_setopt_opensocket_cb(h) { ud, purpose, address in
            let t = Transfer.from(ud)
            guard let a = address else { return ccurl_socket_bad() }
            let family = a.pointee.family
            // libcurl's storage behind `addr` is large enough for sockaddr_in6.
            let sa = UnsafeRawPointer(a) + MemoryLayout<curl_sockaddr>.offset(of: \curl_sockaddr.addr)!
            let bytes: [UInt8]
            if family == AF_INET {
                let sin = sa.loadUnaligned(as: sockaddr_in.self)
                bytes = withUnsafeBytes(of: sin.sin_addr) { Array($0) }
            } else if family == AF_INET6 {
                let sin6 = sa.loadUnaligned(as: sockaddr_in6.self)
                bytes = withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }
            } else {
                bytes = []
            }
            if let f = t.addressFilter, !f(bytes) {
                t.addressRefused = true
                return ccurl_socket_bad()
            }
            let fd = socket(family, a.pointee.socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.protocol)
            if fd >= 0 { t.driver?.socketOpened(fd) }
            return fd
        }
    }

    @inline(__always)
    static func from(_ ud: UnsafeMutableRawPointer?) -> Transfer {
        Unmanaged<Transfer>.fromOpaque(ud!).takeUnretainedValue()
    }

    private func deliverBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let d = delegate else { return 0 }
        switch d.transferReceivedBody(self, bytes) {
        case .accepted: return bytes.count
        case .pause:
            receivePaused = true
            return ccurl_writefunc_pause()
        case .abort: return 0
        }
    }

    private func produceBody(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let d = delegate else { return ccurl_readfunc_abort() }
        switch d.transferNeedsBody(self, into: buffer) {
        case .bytes(let n): return n
        case .end: return 0
        case .pause:
            sendPaused = true
            return ccurl_readfunc_pause()
        case .abort: return ccurl_readfunc_abort()
        }
    }

    /// Resumes a transfer paused by `.pause` from the write path. libcurl re-delivers the held data
    /// synchronously, inside this call: the delegate must be ready to be called re-entrantly (and may cancel
    /// the transfer from there: the driver frees the handle only after `curl_easy_pause` returned).
    public func resumeReceive() {
        guard receivePaused else { return }
        receivePaused = false
        guard let d = driver else { return }
        d.pause(self, receive: false, send: sendPaused)
        d.kick()
    }

    /// Resumes a transfer whose read callback answered `.pause`.
    public func resumeSend() {
        guard sendPaused else { return }
        sendPaused = false
        guard let d = driver else { return }
        d.pause(self, receive: receivePaused, send: false)
        d.kick()
    }

    /// Reads from a `CONNECT_ONLY` connection through libcurl (`EasyHandle.receive`), inside libcurl's
    /// lifecycle rules.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(CurlCode) -> IOResult {
        guard let d = driver else { throw CurlCode.badFunctionArgument }
        return try d.insideLibcurl { () throws(CurlCode) -> IOResult in try easy.receive(into: buffer) }
    }

    /// Writes to a `CONNECT_ONLY` connection through libcurl (`EasyHandle.send`).
    public func send(_ bytes: UnsafeRawBufferPointer) throws(CurlCode) -> IOResult {
        guard let d = driver else { throw CurlCode.badFunctionArgument }
        return try d.insideLibcurl { () throws(CurlCode) -> IOResult in try easy.send(bytes) }
    }
}
