/// The fuzz oracle for the request-head parser, the chunked decoder and the tunnel's ClientHello reader, shared by the libFuzzer harness
/// (`make fuzz`) and the corpus replay test. Besides "does not crash", it checks that the answer does not
/// depend on how the bytes arrived: the whole input and the same input split at a point chosen from the
/// data must parse identically, and a chunked body must decode the same at once and byte by byte.
public enum FuzzEntry {
    public static func run(_ data: UnsafeRawBufferPointer) {
        guard data.count > 0 else { return }
        checkClientHello(data)
        let limits = HeadLimits(requestLine: 512, headerBytes: 2048, fieldCount: 16)
        var whole = RequestHeadParser(limits: limits)
        let r1 = whole.parse(data)
        let cut = Int(data[0]) % data.count
        var split = RequestHeadParser(limits: limits)
        var r2 = split.parse(UnsafeRawBufferPointer(rebasing: data[0..<cut]))
        if r2 == .needMore { r2 = split.parse(data) }
        precondition(r1 == r2, "parse result depends on the split at \(cut): \(r1) vs \(r2)")
        guard case .head(let head, let consumed) = r1 else { return }
        precondition(consumed <= data.count)
        if head.framing == .chunked {
            let body = UnsafeRawBufferPointer(rebasing: data[consumed...])
            checkChunked(body)
        }
        // Parsing must be repeatable on a reset parser.
        whole.reset()
        precondition(whole.parse(data) == r1)
    }

    /// A tunnel's first bytes: what a prefix decides (anything but "more") is what the whole decides.
    public static func checkClientHello(_ data: UnsafeRawBufferPointer) {
        let whole = TLSClientHello.inspect(data)
        let cut = Int(data[data.count - 1]) * 7 % data.count
        let prefix = TLSClientHello.inspect(UnsafeRawBufferPointer(rebasing: data[0..<cut]))
        precondition(prefix == .needMore || prefix == whole, "ClientHello verdict depends on the cut at \(cut): \(prefix) vs \(whole)")
    }

    /// Fuzzes the chunked decoder alone (a second harness entry).
    public static func checkChunked(_ body: UnsafeRawBufferPointer) {
        var a = ChunkedDecoder()
        var outA: [UInt8] = []
        var resultA: Result<Int, HTTPError>
        do { resultA = .success(try a.decode(body) { outA += $0 }) } catch { resultA = .failure(error) }
        var b = ChunkedDecoder()
        var outB: [UInt8] = []
        var resultB: Result<Int, HTTPError> = .success(0)
        var used = 0
        for i in 0..<body.count where !b.isDone {
            do {
                used += try b.decode(UnsafeRawBufferPointer(rebasing: body[i..<(i + 1)])) { outB += $0 }
            } catch {
                resultB = .failure(error)
                break
            }
        }
        if case .success = resultB { resultB = .success(used) }
        switch (resultA, resultB) {
        case (.success(let n1), .success(let n2)):
            precondition(n1 == n2 && outA == outB && a.isDone == b.isDone, "chunked decoding depends on the split")
        case (.failure(let e1), .failure(let e2)):
            precondition(e1.status == e2.status, "different chunked errors")
        default:
            preconditionFailure("chunked decoding succeeds one way and fails the other: \(resultA) vs \(resultB)")
        }
    }
}
