import Glibc
import SwproxyLoop

/// The sidecar of an incomplete segmented download, `FILE.swproxy-part`: the URL, the size, the validator
/// of the version being fetched and the byte ranges already on disk. A later run (or `--retry`, or `-C -`)
/// continues from it when the server still has that version; success removes it. It is written after the
/// file's data was synced (`fdatasync`), to a temporary name renamed over the old one, so a crash never
/// leaves a sidecar that claims a range that is not on disk.
///
///     swproxy-part 1
///     url http://host/file.iso
///     size 1073741824
///     validator "5f3a-40000000"
///     range 0 268435456
struct PartFile: Equatable {
    var url: String
    var size: Int64
    /// A strong `ETag` (quotes included) or a `Last-Modified` date; nil when the server gave neither (such
    /// a download cannot be resumed safely, so no sidecar is kept for it).
    var validator: String?
    var ranges: [Range<Int64>]

    static func path(for file: String) -> String { file + ".swproxy-part" }

    func render() -> String {
        var s = "swproxy-part 1\nurl \(url)\nsize \(size)\n"
        if let v = validator { s += "validator \(v)\n" }
        for r in ranges { s += "range \(r.lowerBound) \(r.upperBound)\n" }
        return s
    }

    static func parse(_ text: String) -> PartFile? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).makeIterator()
        guard lines.next() == "swproxy-part 1" else { return nil }
        var url: String?
        var size: Int64?
        var validator: String?
        var ranges: [Range<Int64>] = []
        while let line = lines.next() {
            guard let sp = line.firstIndex(of: " ") else { return nil }
            let key = line[..<sp]
            let value = String(line[line.index(after: sp)...])
            switch key {
            case "url": url = value
            case "size": size = Int64(value)
            case "validator": validator = value
            case "range":
                let p = value.split(separator: " ")
                guard p.count == 2, let a = Int64(p[0]), let b = Int64(p[1]), a >= 0, a < b else { return nil }
                ranges.append(a..<b)
            default: return nil
            }
        }
        guard let url, let size, size >= 0, ranges.allSatisfy({ $0.upperBound <= size }) else { return nil }
        return PartFile(url: url, size: size, validator: validator, ranges: SegmentPlan.merge(ranges))
    }

    /// The sidecar of `file`, if there is a readable one.
    static func read(for file: String) -> PartFile? {
        guard let bytes = try? Socket.readWholeFile(path(for: file)) else { return nil }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Writes the sidecar of `file` (temporary file, then rename). False when it could not.
    func write(for file: String) -> Bool {
        let final = PartFile.path(for: file)
        let tmp = final + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        var text = render()
        let ok = text.withUTF8 { (try? Socket.writeAll(fd, UnsafeRawBufferPointer($0))) != nil }
        _ = fdatasync(fd)
        _ = Glibc.close(fd)
        guard ok, rename(tmp, final) == 0 else {
            _ = unlink(tmp)
            return false
        }
        return true
    }

    static func remove(for file: String) { _ = unlink(path(for: file)) }
}
