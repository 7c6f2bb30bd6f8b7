import Glibc
import SwproxyCurl
import SwproxyLoop

/// curl's debug output, in curl's format (src/tool_cb_dbg.c of curl 7.88): `-v` (plain: `* `, `> `, `< `
/// lines, `[N bytes data]`), `--trace FILE` (hex and ASCII, 16 bytes a line) and `--trace-ascii FILE`
/// (ASCII, 64 bytes a line, a new line at each CRLF), each line led by the time of day with `--trace-time`.
/// One trace is shared by all transfers of a run, as in curl. FILE `-` is stdout, `%` stderr.
final class Trace {
    enum Style: Sendable, Equatable {
        case plain, ascii, binary
    }

    private let style: Style
    private let time: Bool
    private let fd: Int32
    private let ownsFD: Bool
    /// Whether stderr/stdout, where this goes, is a terminal (plain style then does not announce data).
    private let toTerminal: Bool
    private var midLine = false
    private var tracedData = false
    private var out: [UInt8] = []

    /// Throws when the trace file cannot be created (the message says why).
    init(style: Style, path: String?, time: Bool) throws(FetchError) {
        self.style = style
        self.time = time
        switch path {
        case nil, "%":
            fd = 2
            ownsFD = false
        case "-":
            fd = 1
            ownsFD = false
        case let p?:
            let f = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard f >= 0 else {
                throw FetchError(.writeError, "Failed to create/open output \(p): \(String(cString: strerror(errno)))")
            }
            fd = f
            ownsFD = true
        }
        toTerminal = !ownsFD && isatty(fd) == 1
    }

    func close() {
        if ownsFD { _ = Glibc.close(fd) }
    }

    func write(_ kind: DebugKind, _ data: UnsafeRawBufferPointer) {
        let stamp = time ? Trace.timeOfDay() : []
        if style == .plain {
            plain(kind, data, stamp)
        } else {
            let text: String
            switch kind {
            case .text:
                out += stamp + Array("== Info: ".utf8)
                out.append(contentsOf: data)
                flush()
                return
            case .headerOut: text = "=> Send header"
            case .dataOut: text = "=> Send data"
            case .headerIn: text = "<= Recv header"
            case .dataIn: text = "<= Recv data"
            case .sslDataIn: text = "<= Recv SSL data"
            case .sslDataOut: text = "=> Send SSL data"
            }
            dump(stamp, text, data)
        }
        flush()
    }

    private func plain(_ kind: DebugKind, _ data: UnsafeRawBufferPointer, _ stamp: [UInt8]) {
        let mark: UInt8
        switch kind {
        case .text: mark = UInt8(ascii: "*")
        case .headerIn: mark = UInt8(ascii: "<")
        case .headerOut: mark = UInt8(ascii: ">")
        case .dataIn, .sslDataIn: mark = UInt8(ascii: "{")
        case .dataOut, .sslDataOut: mark = UInt8(ascii: "}")
        }
        let prefix = stamp + [mark, 32]
        switch kind {
        case .headerOut:
            // Each line of the request head gets its own prefix.
            var start = 0
            for i in 0..<data.count where data[i] == 10 {
                if !midLine { out += prefix }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[start...i]))
                start = i + 1
                midLine = false
            }
            if start < data.count {
                if !midLine { out += prefix }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[start...]))
            }
            midLine = data.count > 0 && data[data.count - 1] != 10
            tracedData = false
        case .text, .headerIn:
            if !midLine { out += prefix }
            out.append(contentsOf: data)
            midLine = data.count > 0 && data[data.count - 1] != 10
            tracedData = false
        case .dataIn, .dataOut, .sslDataIn, .sslDataOut:
            if !tracedData && !toTerminal {
                if !midLine { out += prefix }
                out += Array("[\(data.count) bytes data]\n".utf8)
                midLine = false
                tracedData = true
            }
        }
    }

    private func dump(_ stamp: [UInt8], _ text: String, _ p: UnsafeRawBufferPointer) {
        let size = p.count
        out += stamp + Array("\(text), \(size) bytes (0x\(String(size, radix: 16)))\n".utf8)
        let ascii = style == .ascii
        let width = ascii ? 0x40 : 0x10
        var i = 0
        while i < size {
            out += Array(Trace.hex(i, digits: 4).utf8) + [58, 32]
            if !ascii {
                for c in 0..<width {
                    out += i + c < size ? Array(Trace.hex(Int(p[i + c]), digits: 2).utf8) + [32] : [32, 32, 32]
                }
            }
            var c = 0
            var next = i + width
            while c < width && i + c < size {
                if ascii && i + c + 1 < size && p[i + c] == 13 && p[i + c + 1] == 10 {
                    next = i + c + 2
                    break
                }
                let b = p[i + c]
                out.append(b >= 0x20 && b < 0x7F ? b : UInt8(ascii: "."))
                if ascii && i + c + 2 < size && p[i + c + 1] == 13 && p[i + c + 2] == 10 {
                    next = i + c + 3
                    break
                }
                c += 1
            }
            out.append(10)
            i = next
        }
    }

    private func flush() {
        guard !out.isEmpty else { return }
        out.withUnsafeBytes { _ = try? Socket.writeAll(fd, $0) }
        out.removeAll(keepingCapacity: true)
    }

    static func hex(_ v: Int, digits: Int) -> String {
        let s = String(v, radix: 16)
        return s.count >= digits ? s : String(repeating: "0", count: digits - s.count) + s
    }

    /// `HH:MM:SS.uuuuuu ` in local time, as curl's --trace-time.
    static func timeOfDay() -> [UInt8] {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var secs = tv.tv_sec
        var t = tm()
        localtime_r(&secs, &t)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var us = String(tv.tv_usec)
        us = String(repeating: "0", count: max(0, 6 - us.count)) + us
        return Array("\(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec)).\(us) ".utf8)
    }
}
