import Glibc
import SwproxyLoop

/// The live progress display on a terminal: an aggregate line (done/total, failed, bytes, rate, elapsed,
/// ETA) and a line per active transfer, redrawn in place at most 10 times a second and trimmed to the
/// terminal's width and height; or, with `-#`, curl's single bar. The batch display is not written when
/// stderr is not a terminal (the bar is, as curl's); nothing is with `-s`/`--no-progress-meter`.
final class ProgressDisplay {
    enum Mode { case lines, bar }

    private let mode: Mode
    private let total: Int
    private var linesDrawn = 0
    private var timer: TimerID?
    private var doneCount = 0
    private var failed = 0
    private var finishedBytes: Int64 = 0
    private var started: UInt64 = 0
    private var lastDraw: UInt64 = 0

    static func make(_ o: FetchOptions, total: Int) -> ProgressDisplay? {
        guard !o.silent, o.progress != .off, !o.verbose else { return nil }
        // `-#` asks for curl's bar: drawn wherever stderr goes, as curl does; the batch display only on a
        // terminal.
        if o.progress == .bar { return ProgressDisplay(mode: .bar, total: total) }
        guard isatty(2) == 1 else { return nil }
        return ProgressDisplay(mode: .lines, total: total)
    }

    private init(mode: Mode, total: Int) {
        self.mode = mode
        self.total = total
    }

    func start(runner: FetchRunner) {
        started = runner.loop.now
        tick(runner)
    }

    private func tick(_ runner: FetchRunner) {
        redraw(runner)
        timer = runner.loop.schedule(after: 0.1) { [weak self, unowned runner] in self?.tick(runner) }
    }

    func finished(_ r: TransferReport) {
        doneCount += 1
        if r.exitCode != 0 { failed += 1 }
        finishedBytes += r.sizeDownload
    }

    /// Final state, left on screen and readable.
    func finish(runner: FetchRunner) {
        if let t = timer { runner.loop.cancel(t) }
        timer = nil
        redraw(runner, final: true)
        Console.write("\n")
    }

    /// Erases the display so a message can be printed on clean lines; the next tick draws it again.
    func clearForMessage() {
        guard linesDrawn > 0 else { return }
        var s = linesDrawn > 1 ? "\u{1B}[\(linesDrawn - 1)A" : ""
        s += "\r"
        for i in 0..<linesDrawn { s += "\u{1B}[2K" + (i < linesDrawn - 1 ? "\n" : "") }
        if linesDrawn > 1 { s += "\u{1B}[\(linesDrawn - 1)A" }
        s += "\r"
        Console.write(s)
        linesDrawn = 0
    }

    private func size() -> (rows: Int, cols: Int) {
        if let t = terminalSize(2) { return (max(t.rows, 3), t.cols) }
        if let c = getenv("COLUMNS"), let n = Int(String(cString: c)), n > 20 { return (24, n) }
        return (24, 79)  // curl's default width
    }

    private func redraw(_ runner: FetchRunner, final: Bool = false) {
        let (rows, cols) = size()
        let now = runner.loop.now
        lastDraw = now
        let elapsed = Double(now - started) / 1e9
        let active = runner.jobs.values.sorted { $0.item.index < $1.item.index }
        let activeBytes = active.reduce(Int64(0)) { $0 + $1.received }
        let bytes = finishedBytes + activeBytes
        var lines: [String] = []
        switch mode {
        case .bar:
            // curl's bar, in curl's format: "\r%-*s %5.1f%%", the bar 7 columns short of the width.
            var fraction = Double(doneCount)
            for j in active { if let e = j.expected, e > 0 { fraction += min(1, Double(j.received) / Double(e)) } }
            fraction = total > 0 ? fraction / Double(total) : 1
            var percent = format1(fraction * 100)
            if percent.count < 5 { percent = String(repeating: " ", count: 5 - percent.count) + percent }
            let width = max(1, cols - 7)
            let filled = min(width, Int(Double(width) * fraction))
            Console.write("\r" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
                + " " + percent + "%")
            return
        case .lines:
            let rate = elapsed > 0 ? Double(bytes) / elapsed : 0
            var eta = "--:--"
            if doneCount > 0 && doneCount < total {
                eta = clock(elapsed * Double(total - doneCount) / Double(doneCount))
            } else if doneCount == total {
                eta = "00:00"
            }
            lines.append("[\(doneCount)/\(total)] failed \(failed) | \(human(bytes)) | \(human(Int64(rate)))/s | \(clock(elapsed)) elapsed | ETA \(eta)")
            if !final {
                let room = max(0, rows - 2)
                for (n, j) in active.enumerated() {
                    if n >= room {
                        lines[lines.count - 1] = "  … and \(active.count - n + 1) more"
                        break
                    }
                    let seconds = Double(now - j.startedAt) / 1e9
                    var line = "  \(name(j.item.url)) \(human(j.received))"
                    if let e = j.expected, e > 0 { line += " \(format1(Double(j.received) * 100 / Double(e)))%" }
                    line += " \(human(Int64(seconds > 0 ? Double(j.received) / seconds : 0)))/s"
                    lines.append(line)
                }
            }
        }
        var s = ""
        if linesDrawn > 1 { s += "\u{1B}[\(linesDrawn - 1)A" }
        s += "\r"
        let count = max(lines.count, linesDrawn)
        for i in 0..<count {
            let text = i < lines.count ? trim(lines[i], to: cols - 1) : ""
            s += "\u{1B}[2K" + text + (i < count - 1 ? "\n" : "")
        }
        // Leave the cursor at the end of the last line actually used.
        if count > lines.count { s += "\u{1B}[\(count - lines.count)A" }
        linesDrawn = lines.count
        Console.write(s)
    }

    private func trim(_ s: String, to width: Int) -> String {
        s.count <= width ? s : String(s.prefix(max(0, width)))
    }

    private func name(_ url: String) -> String {
        let last = FetchPlan.remoteFileName(url)
        return last.isEmpty ? url : last
    }

    private func human(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        return u == 0 ? "\(n) B" : "\(format1(v)) \(units[u])"
    }

    private func format1(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    private func clock(_ seconds: Double) -> String {
        let s = Int(seconds)
        let two = { (n: Int) in n < 10 ? "0\(n)" : "\(n)" }
        return s >= 3600 ? "\(s / 3600):\(two(s / 60 % 60)):\(two(s % 60))" : "\(two(s / 60)):\(two(s % 60))"
    }
}
