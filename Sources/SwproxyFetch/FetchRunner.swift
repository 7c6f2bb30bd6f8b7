import Glibc
import SwproxyCurl
import SwproxyLoop

/// Runs a fetch: every URL a transfer on one multi handle driven by one event loop, started in input order
/// by the `TransferScheduler` (`--parallel-max`, `--parallel-max-host`, `--rate`, `Retry-After` pauses),
/// bodies for stdout in input order; the exit status is curl's code for the first failed URL in input order
/// (or 0/1 with `--exit-summary`).
public final class FetchRunner {
    let options: FetchOptions
    let plan: FetchPlan
    let loop: EventLoop
    let driver: MultiDriver
    let stdout: OrderedStdout
    let share: Share?
    /// Finished transfers' easy handles, reset for the next URL (curl_easy_init and its allocations saved).
    /// Not with cookies: a handle writes its cookie jar when it is cleaned up, not when it is reset.
    let easyPool: EasyHandlePool?
    /// Finished transfers of plain URLs (see `FetchJob.isPlain`), their handles configured as they are: the
    /// next plain URL only sets its URL (no curl_easy_reset, no option setting, no new Transfer).
    private var plainTransfers: [Transfer] = []
    /// Whether handles are reused as they are at all: not with cookies (no pool), nor where the batch's own
    /// options make each handle differ (a resume offset per file, a multipart form per handle).
    let reusesPlainHandles: Bool
    private var results: [Int32?]
    private var scheduler: TransferScheduler
    private let hosts: [String]
    /// Jobs in flight (including those waiting for a retry), by URL index: the runner owns them.
    private(set) var jobs: [Int: FetchJob] = [:]
    private var done = 0
    private var wakeTimer: (id: TimerID, at: Double)?
    private var startScheduled = false
    private let report: Report?
    let progress: ProgressDisplay?
    /// `-v`, `--trace`, `--trace-ascii`: libcurl's debug output in curl's format, for every transfer.
    let trace: Trace?
    /// `-D FILE`: one file for every transfer's header lines, as curl (nil: none, or `-D -` to stdout).
    let headerDumpFD: Int32?
    /// Whether anything reads more of a finished transfer than its exit code, status and size (`-w`,
    /// `--report`, the progress display); if not, the response's header fields are not kept as strings and
    /// the 30-odd `curl_easy_getinfo` calls of a full report are skipped.
    let detailedReports: Bool
    private let started: UInt64

    /// Runs the whole fetch and returns the process exit status.
    public static func run(_ options: FetchOptions) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        if let path = options.stderrPath {
            // curl's --stderr: everything written to stderr from here on goes to FILE (or stdout).
            let fd = path == "-" ? 1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd >= 0 {
                dup2(fd, 2)
                if fd != 1 { _ = Glibc.close(fd) }
            } else {
                Console.warning("Failed to open \(path): \(String(cString: strerror(errno)))")
            }
        }
        let plan: FetchPlan
        do {
            plan = try FetchPlan.build(options)
            try checkCombinations(options, plan)
        } catch {
            Console.error(error)
            return error.code
        }
        if !options.silent || options.showError {
            for w in plan.warnings { Console.warning(w) }
        }
        if options.dryRun {
            DryRun.print(plan, options)
            return 0
        }
        let loop: EventLoop
        do {
            loop = try EventLoop()
        } catch {
            Console.error(FetchError(.failedInit, "cannot start the event loop: \(error)"))
            return CurlCode.failedInit.rawValue
        }
        let runner: FetchRunner
        do {
            runner = try FetchRunner(options: options, plan: plan, loop: loop)
        } catch {
            Console.error(error)
            loop.close()
            return error.code
        }
        let status = runner.execute()
        loop.close()
        return status
    }

    static func checkCombinations(_ o: FetchOptions, _ plan: FetchPlan) throws(FetchError) {
        if let n = o.parallelMaxHost, n < 1 { throw .usage("--parallel-max-host must be at least 1 (got \(n))") }
    }

    init(options: FetchOptions, plan: FetchPlan, loop: EventLoop) throws(FetchError) {
        self.options = options
        self.plan = plan
        self.loop = loop
        driver = MultiDriver(loop: loop)
        if let n = options.parallelMaxHost { driver.setMaxHostConnections(n) }
        stdout = OrderedStdout(count: plan.items.count, memoryLimit: options.stdoutMemoryLimit)
        share = options.cookies.isEmpty && options.cookieJar == nil ? nil : Share(cookies: true, dns: false, tlsSessions: false)
        easyPool = share == nil ? EasyHandlePool(capacity: max(1, min(options.parallelMax, plan.items.count))) : nil
        reusesPlainHandles = easyPool != nil && !options.continueAuto && options.continueAt == nil
            && options.curl.etagSave == nil && options.curl.etagCompare == nil
            && plan.request.forms.isEmpty
        results = Array(repeating: nil, count: plan.items.count)
        hosts = plan.items.map { TransferScheduler.hostKey($0.url) }
        scheduler = TransferScheduler(
            hosts: hosts, parallelMax: options.parallelMax, perHost: options.parallelMaxHost,
            interval: options.rateInterval)
        report = try options.report.map { path throws(FetchError) in try Report(path: path) }
        progress = ProgressDisplay.make(options, total: plan.items.count)
        if let d = options.curl.dumpHeader, d != "-" {
            let fd = open(d, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw FetchError(.writeError, "Failed to open \(d): \(String(cString: strerror(errno)))")
            }
            headerDumpFD = fd
        } else {
            headerDumpFD = nil
        }
        if let t = options.trace {
            trace = try Trace(style: t.style == .binary ? .binary : .ascii, path: t.path, time: options.traceTime)
        } else {
            trace = options.verbose ? try Trace(style: .plain, path: nil, time: options.traceTime) : nil
        }
        detailedReports = plan.writeOut != nil || options.report != nil || progress != nil
        started = loop.now
    }

    func execute() -> Int32 {
        progress?.start(runner: self)
        startMore()
        if done < plan.items.count { loop.run() }
        progress?.finish(runner: self)
        driver.close()
        for t in plainTransfers { t.easy.close() }
        plainTransfers = []
        easyPool?.close()
        share?.close()
        let seconds = Double(loop.now - started) / 1e9
        report?.summary(seconds: seconds)
        report?.close()
        trace?.close()
        if let fd = headerDumpFD { _ = Glibc.close(fd) }
        if options.exitSummary {
            return results.contains(where: { $0 != 0 }) ? 1 : 0
        }
        return results.first(where: { $0 != 0 }).flatMap { $0 } ?? 0
    }

    var nowSeconds: Double { Double(loop.now) / 1e9 }

    private func startMore() {
        while true {
            switch scheduler.next(now: nowSeconds) {
            case .start(let index):
                launch(plan.items[index])
            case .wait(let until):
                wake(at: until)
                return
            case .blocked:
                return
            }
        }
    }

    private func wake(at time: Double) {
        if let w = wakeTimer {
            if w.at <= time { return }
            loop.cancel(w.id)
        }
        let id = loop.schedule(at: UInt64(time * 1e9)) { [weak self] in
            self?.wakeTimer = nil
            self?.startMore()
        }
        wakeTimer = (id, time)
    }

    private func launch(_ item: PlannedURL) {
        let job = FetchJob(item: item, runner: self)
        jobs[item.index] = job
        if options.skipExisting, case .file(let path) = item.output, LocalFiles.regularFileSize(path) != nil {
            job.skip()
            return
        }
        if let failure = item.failure ?? job.prepare() {
            job.fail(failure)
            return
        }
        if driver.add(job.transfer) != .ok {
            job.fail(FetchError(.failedInit, "could not add the transfer"))
        }
    }

    func takePlainTransfer() -> Transfer? { plainTransfers.popLast() }

    func givePlainTransfer(_ t: Transfer) {
        if let pool = easyPool, plainTransfers.count >= pool.capacity {
            driver.cancel(t)
        } else {
            plainTransfers.append(t)
        }
    }

    /// Puts a job's transfer back on the multi handle for a retry.
    func restart(_ job: FetchJob) {
        if driver.add(job.transfer) != .ok {
            job.fail(FetchError(.failedInit, "could not add the transfer"))
        }
    }

    /// `Retry-After` from a URL's host: new transfers to that host wait too.
    func pauseHost(of item: PlannedURL, for seconds: Double) {
        scheduler.pause(host: hosts[item.index], until: nowSeconds + seconds)
    }

    /// Called once per URL, after its last attempt.
    func finished(_ job: FetchJob, _ report: TransferReport, skipped: Bool = false) {
        let i = job.item.index
        results[i] = report.exitCode
        if report.exitCode != 0 && (!options.silent || options.showError) {
            progress?.clearForMessage()
            Console.error(FetchError(CurlCode(rawValue: report.exitCode), report.errorMessage))
        }
        if let w = plan.writeOut, !skipped {
            for (stream, text) in w.render(report) {
                if stream == .stdout { _ = stdout.write(i, text) } else { Console.write(text) }
            }
        }
        if let r = self.report {
            let line = r.line(report, skipped: skipped)
            if r.toStdout { _ = stdout.write(i, line) } else { r.write(line) }
        }
        stdout.finish(i)
        jobs.removeValue(forKey: i)
        scheduler.finished(i)
        done += 1
        progress?.finished(report)
        if done == plan.items.count {
            loop.stop()
        } else {
            // Starting from here could recurse deeply through immediate failures; the next turn is fine
            // (once for all the transfers that finish in this turn).
            if !startScheduled {
                startScheduled = true
                loop.deferToNextTurn { [self] in
                    startScheduled = false
                    startMore()
                }
            }
        }
    }
}
