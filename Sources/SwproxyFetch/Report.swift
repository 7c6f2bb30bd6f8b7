import Glibc
import SwproxyLoop

/// `--report FILE` (`-` for stdout): one JSON object per URL as it completes, then a summary object — JSON
/// lines a script reads with `jq`. On stdout the lines go through the ordered output, after that URL's body.
final class Report {
    let toStdout: Bool
    private let fd: Int32
    private var total = 0, ok = 0, failed = 0, httpErrors = 0, retried = 0
    private var bytes: Int64 = 0

    init(path: String) throws(FetchError) {
        if path == "-" {
            toStdout = true
            fd = 1
        } else {
            toStdout = false
            let f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard f >= 0 else {
                throw FetchError(.writeError, "Failed to create the report \(path): \(String(cString: strerror(errno)))")
            }
            fd = f
        }
    }

    func line(_ r: TransferReport, skipped: Bool) -> String {
        total += 1
        if r.exitCode == 0 { ok += 1 } else { failed += 1 }
        if r.responseCode >= 400 { httpErrors += 1 }
        if r.numRetries > 0 { retried += 1 }
        bytes += r.sizeDownload
        func t(_ us: Int64) -> String { WriteOutFormat.seconds(us) }
        let fields: [String] = [
            "\"index\":\(r.urlIndex)",
            "\"url\":\(JSON.quote(r.url))",
            "\"effective_url\":\(JSON.quote(r.effectiveURL.isEmpty ? r.url : r.effectiveURL))",
            "\"http_status\":\(r.responseCode)",
            "\"exit_code\":\(r.exitCode)",
            "\"error\":" + (r.exitCode == 0 ? "null" : JSON.quote(r.errorMessage)),
            "\"bytes_down\":\(r.sizeDownload)",
            "\"bytes_up\":\(r.sizeUpload)",
            "\"output\":" + JSON.quote(r.filename ?? "-"),
            "\"timings\":{\"namelookup\":\(t(r.timeNameLookup)),\"connect\":\(t(r.timeConnect)),\"tls\":\(t(r.timeAppConnect)),\"first_byte\":\(t(r.timeStartTransfer)),\"total\":\(t(r.timeTotal))}",
            "\"retries\":\(r.numRetries)",
            "\"redirects\":\(r.numRedirects)",
            "\"http_version\":" + JSON.quote(r.httpVersionString),
            "\"skipped\":\(skipped)",
        ] + (r.segments > 0 ? ["\"segments\":\(r.segments)", "\"connections\":\(r.connections)"] : [])
        return "{" + fields.joined(separator: ",") + "}\n"
    }

    func write(_ s: String) {
        var s = s
        s.withUTF8 { try? Socket.writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    func summary(seconds: Double) {
        write("{\"summary\":{\"total\":\(total),\"ok\":\(ok),\"failed\":\(failed),\"http_errors\":\(httpErrors),"
            + "\"retried\":\(retried),\"bytes\":\(bytes),\"seconds\":\(WriteOutFormat.seconds(Int64(seconds * 1e6)))}}\n")
    }

    func close() {
        if !toStdout { Socket.close(fd) }
    }
}

/// `--dry-run`: what would be sent, and where it would go; nothing is sent.
enum DryRun {
    static func print(_ plan: FetchPlan, _ o: FetchOptions) {
        var out = ""
        for item in plan.items {
            let r = plan.step(item).request
            let ov = item.overrides
            let body = ov.body ?? (r.getWithData ? nil : r.body)
            var method = ov.method ?? r.customMethod
            if method == nil {
                method = r.noBody ? "HEAD" : item.uploadFile != nil ? "PUT" : (body != nil || !r.forms.isEmpty) ? "POST" : "GET"
            }
            out += "\(method!) \(item.url)\n"
            if let f = item.failure {
                out += "  ! (\(f.code)) \(f.message)\n"
                continue
            }
            for h in r.headers + ov.headers { out += "  > \(h)\n" }
            if let ua = ov.userAgent ?? plan.step(item).options.userAgent { out += "  > User-Agent: \(ua)\n" }
            if let b = body { out += "  body: \(b.count) bytes\n" }
            if !r.forms.isEmpty { out += "  body: multipart form, \(r.forms.count) parts\n" }
            if let up = item.uploadFile { out += "  body: file \(up)\n" }
            switch item.output {
            case .stdout: out += "  -> stdout\n"
            case .file(let p): out += "  -> \(p)\n"
            }
            let so = plan.step(item).options
            if let n = so.segments, case .file(let p) = item.output {
                out += "  " + SegmentPlanText.describe(path: p, url: item.url, segments: n, minSegment: so.minSegmentSize) + "\n"
            }
        }
        Console.writeStdout(out)
    }
}
