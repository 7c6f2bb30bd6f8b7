/// Which bytes of a segmented download (`--segments N`) each segment fetches, as a value: the missing
/// ranges of the file cut into up to N segments (none smaller than `--min-segment-size`), each with the
/// position it has written up to. When a segment finishes, `split` cuts the largest remaining one in two,
/// so connections stay busy until the end (the one still fetching the old range is cut where the new
/// segment starts). Offsets are bytes of the file; ranges are half-open.
struct SegmentPlan: Equatable {
    struct Segment: Equatable {
        let start: Int64
        /// The next byte to write.
        var pos: Int64
        /// Exclusive; moves down when the segment is split.
        var end: Int64

        var remaining: Int64 { max(0, end - pos) }
        var isDone: Bool { pos >= end }
    }

    let size: Int64
    let minSegment: Int64
    private(set) var segments: [Segment]
    /// Ranges that were complete before this plan (a resumed download), merged and sorted.
    let done: [Range<Int64>]

    /// Segments for the bytes of `0..<size` not in `done`, at most `count` of them.
    init(size: Int64, count: Int, minSegment: Int64, done: [Range<Int64>] = []) {
        self.size = size
        self.minSegment = max(1, minSegment)
        let whole = SegmentPlan.merge(done.map { max(0, $0.lowerBound)..<min(size, $0.upperBound) }.filter { !$0.isEmpty })
        self.done = whole
        var pieces = SegmentPlan.missing(in: 0..<size, done: whole)
        while pieces.count < count, let i = pieces.indices.max(by: { pieces[$0].count < pieces[$1].count }),
            Int64(pieces[i].count) >= 2 * self.minSegment
        {
            let p = pieces[i]
            let mid = p.lowerBound + Int64(p.count) / 2
            pieces[i] = p.lowerBound..<mid
            pieces.insert(mid..<p.upperBound, at: i + 1)
        }
        segments = pieces.map { Segment(start: $0.lowerBound, pos: $0.lowerBound, end: $0.upperBound) }
    }

    /// The first byte to ask for: where the first missing range starts (0 when nothing is missing).
    var firstMissing: Int64 { segments.first?.start ?? 0 }

    var isComplete: Bool { segments.allSatisfy(\.isDone) }

    /// `n` bytes arrived for segment `i`: how many of them belong to it (the rest lies past its end, a
    /// range that another segment fetches now). Moves the segment's position.
    mutating func accept(_ n: Int, segment i: Int) -> Int {
        let take = Int(min(Int64(n), segments[i].remaining))
        segments[i].pos += Int64(take)
        return take
    }

    /// Cuts the segment with the most left to fetch in two, when both halves are at least the minimum
    /// size: returns the new segment's index (its start is where the old one now ends).
    mutating func split() -> Int? {
        guard let i = segments.indices.max(by: { segments[$0].remaining < segments[$1].remaining }),
            segments[i].remaining >= 2 * minSegment
        else { return nil }
        let s = segments[i]
        let mid = s.pos + s.remaining / 2
        segments[i].end = mid
        segments.append(Segment(start: mid, pos: mid, end: s.end))
        return segments.count - 1
    }

    /// Everything on disk: the earlier ranges and each segment's written part, merged.
    var completed: [Range<Int64>] {
        SegmentPlan.merge(done + segments.map { $0.start..<$0.pos }.filter { !$0.isEmpty })
    }

    /// Where the completed bytes that start at `offset` end (`offset` itself when none do).
    func contiguousEnd(from offset: Int64) -> Int64 {
        for r in completed where r.contains(offset) { return r.upperBound }
        return offset
    }

    static func merge(_ ranges: [Range<Int64>]) -> [Range<Int64>] {
        var out: [Range<Int64>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, r.lowerBound <= last.upperBound {
                out[out.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    static func missing(in whole: Range<Int64>, done: [Range<Int64>]) -> [Range<Int64>] {
        var out: [Range<Int64>] = []
        var at = whole.lowerBound
        for r in done where r.upperBound > at {
            if r.lowerBound > at { out.append(at..<min(r.lowerBound, whole.upperBound)) }
            at = max(at, r.upperBound)
            if at >= whole.upperBound { break }
        }
        if at < whole.upperBound { out.append(at..<whole.upperBound) }
        return out
    }
}

/// `--dry-run`'s account of a segmented download.
enum SegmentPlanText {
    static func describe(path: String, url: String, segments: Int, minSegment: Int64) -> String {
        if let part = PartFile.read(for: path), part.url == url, part.validator != nil,
            LocalFiles.regularFileSize(path) == part.size
        {
            let plan = SegmentPlan(size: part.size, count: segments, minSegment: minSegment, done: part.ranges)
            let have = part.ranges.reduce(Int64(0)) { $0 + Int64($1.count) }
            let pieces = plan.segments.map { "\($0.start)-\($0.end - 1)" }.joined(separator: ", ")
            return "segments: continues \(PartFile.path(for: path)) (\(have) of \(part.size) bytes on disk, "
                + "validator \(part.validator!)); if the server still has that version: \(pieces.isEmpty ? "nothing left" : pieces)"
        }
        return "segments: up to \(segments), none under \(minSegment) bytes; the plan needs a probe (the size and "
            + "range support come with the first response)"
    }
}
