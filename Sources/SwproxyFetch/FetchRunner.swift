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
    /// next plain URL of the same step only sets its URL (no curl_easy_reset, no option setting, no new
    /// Transfer).
    private var plainTransfers: [Transfer] = []
    private var plainStep = 0
    /// Whether handles are reused as they are at all, by step: not with cookies (no pool), nor where the
    /// step's own options make each handle differ (a resume offset per file, a multipart form per handle).
    let reusesPlainHandles: [Bool]
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
    /// `-D FILE`: the file of the step running now, for every transfer's header lines; each step that
    /// names one empties it when it starts, as curl.
    private var headerDump: (step: Int, fd: Int32)?
    /// Whether anything reads more of a finished transfer than its exit code, status and size (`-w`,
    /// `--report`, the progress display); if not, the response's header fields are not kept as strings and
    /// the 30-odd `curl_easy_getinfo` calls of a full report are skipped.
    let detailedReports: Bool
    private let started: UInt64

    /// Runs the whole fetch and returns the process exit status.
    public static func run(_ options: FetchOptions) -> Int32 { run(steps: [options]) }

    /// Runs a fetch of one or more `--next` steps, one after another.
    public static func run(steps given: [FetchOptions]) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // As curl: the locale's character set is how non-ASCII host names are read (libidn2 turns them into
        // punycode from it). Only LC_CTYPE: nothing here formats numbers or dates through the C locale.
        setlocale(LC_CTYPE, "")
        let steps = FetchOptions.sharingGlobals(given)
        let options = steps[0]
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
            plan = try FetchPlan.build(steps: steps)
            try checkCombinations(options, plan)
        } catch {
            Console.error(error)
            return error.code
        }
        if !options.silent || options.showError {
            if options.traceOverridden { Console.warning("-v, --verbose overrides an earlier trace/verbose option") }
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
        if let path = options.libcurl, let first = plan.items.first {
            do {
                try LibcurlSource.write(
                    path, step: plan.step(first), item: first, traced: options.trace != nil || options.verbose)
            } catch {
                Console.warning(error.message)
            }
        }
        return status
    }

    /// What the scheduler needs of each URL: its host, where its connection goes, its lanes (cookies: the
    /// site; stateful authentication and requests that change things: the host; its output file) and its
    /// step.
    static func schedulingItems(_ plan: FetchPlan, hosts: [String], cookies: Bool) -> [TransferScheduler.Item] {
        // $no_proxy is read once for the batch, not per URL.
        let envNoProxy = getenv("no_proxy").map { String(cString: $0) } ?? getenv("NO_PROXY").map { String(cString: $0) }
        return plan.items.map { item in
            let o = plan.step(item).options
            let host = hosts[item.index]
            var target = host
            if let proxy = o.proxy, !proxy.isEmpty, !FetchRunner.bypassesProxy(host, o.noProxy ?? envNoProxy) {
                target = "proxy " + proxy
            }
            var lanes: [String] = []
            // Digest's nonce, NTLM's and Negotiate's authenticated connection: what one transfer learns, the
            // next to that host uses. And requests that change things (a body, or a method other than GET,
            // HEAD, OPTIONS) keep their order on a host, unless --parallel-max-host says how many may run.
            let r = plan.step(item).request
            let method = item.overrides.method ?? r.customMethod
            let changes = item.uploadFile != nil || !r.forms.isEmpty || item.overrides.body != nil
                || (r.body != nil && !r.getWithData) || (method.map { !["GET", "HEAD", "OPTIONS"].contains($0) } ?? false)
            if cookies {
                lanes.append("cookies " + TransferScheduler.cookieSite(host))
            } else if o.curl.usesStatefulAuth || (changes && o.parallelMaxHost == nil) {
                lanes.append("host " + host)
            }
            // Two URLs writing one file: one after the other, the later one's body stays (as curl).
            if case .file(let path) = item.output, path != "/dev/null" { lanes.append("file " + path) }
            return TransferScheduler.Item(host: host, target: target, lanes: lanes, step: item.step)
        }
    }

    /// Whether a no-proxy list (`--noproxy`, or `$no_proxy` when not given) exempts a host key
    /// (`host[:port]`) from the proxy.
    static func bypassesProxy(_ hostKey: String, _ noProxy: String?) -> Bool {
        guard let list = noProxy else { return false }
        var host = Substring(hostKey)
        if !host.hasPrefix("["), let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        for raw in list.split(separator: ",") {
            var entry = raw.trimmingWhitespace()
            if entry == "*" { return true }
            if entry.hasPrefix(".") { entry.removeFirst() }
            if entry.isEmpty { continue }
            if host == entry || host.hasSuffix("." + entry) { return true }
        }
        return false
    }

    static func checkCombinations(_ o: FetchOptions, _ plan: FetchPlan) throws(FetchError) {
        if let n = o.parallelMaxHost, n < 1 { throw .usage("--parallel-max-host must be at least 1 (got \(n))") }
        for (s, step) in plan.steps.enumerated() where step.options.segments != nil {
            let so = step.options
            let r = step.request
            let clash: String? =
                (r.body != nil && !r.getWithData) ? "-d/--data" : !r.forms.isEmpty ? "-F/--form"
                : r.noBody ? "-I/--head" : (r.customMethod.map { $0 != "GET" } ?? false) ? "-X/--request"
                : so.curl.range != nil ? "-r/--range" : so.compressed ? "--compressed" : so.include ? "-i/--include"
                : so.continueAt != nil ? "-C OFFSET (-C - continues a segmented download)" : nil
            if let c = clash { throw .usage("--segments fetches a GET body in ranges: it cannot be combined with \(c)") }
            for item in plan.items where item.step == s && item.failure == nil {
                if item.uploadFile != nil { throw .usage("--segments cannot be combined with -T/--upload-file") }
                if item.overrides.body != nil || (item.overrides.method.map { $0 != "GET" } ?? false) {
                    throw .usage("--segments fetches a GET body in ranges: \(item.url) has a body or another method")
                }
                if item.output == .stdout {
                    throw .usage("--segments writes to files: \(item.url) has no -o/-O (a body for stdout comes in "
                        + "order from one transfer; drop --segments for it)")
                }
            }
        }
    }

    init(options: FetchOptions, plan: FetchPlan, loop: EventLoop) throws(FetchError) {
        self.options = options
        self.plan = plan
        self.loop = loop
        driver = MultiDriver(loop: loop)
        if let n = options.parallelMaxHost { driver.setMaxHostConnections(n) }
        stdout = OrderedStdout(count: plan.items.count, memoryLimit: options.stdoutMemoryLimit)
        let cookies = plan.steps.contains { !$0.options.cookies.isEmpty || $0.options.cookieJar != nil }
        share = cookies ? Share(cookies: true, dns: false, tlsSessions: false) : nil
        easyPool = share == nil ? EasyHandlePool(capacity: max(1, min(options.parallelMax, plan.items.count))) : nil
        let noShare = share == nil
        reusesPlainHandles = plan.steps.map { step in
            let o = step.options
            // Digest, NTLM and Negotiate state lives in the handle: each URL starts afresh with its own, as
            // in curl (a reset handle forgets it, one reused as it is would not).
            return noShare && !o.curl.usesStatefulAuth && o.segments == nil && !o.continueAuto && o.continueAt == nil && o.curl.etagSave == nil
                && o.curl.etagCompare == nil && step.request.forms.isEmpty
        }
        results = Array(repeating: nil, count: plan.items.count)
        hosts = plan.items.map { TransferScheduler.hostKey($0.url) }
        scheduler = TransferScheduler(
            items: FetchRunner.schedulingItems(plan, hosts: hosts, cookies: cookies),
            parallelMax: options.parallelMax, perHost: options.parallelMaxHost, interval: options.rateInterval)
        report = try options.report.map { path throws(FetchError) in try Report(path: path) }
        progress = ProgressDisplay.make(options, total: plan.items.count)
        if let t = options.trace {
            trace = try Trace(style: t.style == .binary ? .binary : .ascii, path: t.path, time: options.traceTime)
        } else {
            trace = options.verbose ? try Trace(style: .plain, path: nil, time: options.traceTime) : nil
        }
        detailedReports = plan.steps.contains { $0.writeOut != nil } || options.report != nil || progress != nil
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
        if let d = headerDump { _ = Glibc.close(d.fd) }
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

    /// The `-D FILE` descriptor for a step's transfers (nil: none, or `-D -`), opened (emptied) by the step's
    /// first transfer.
    func headerDumpFD(step: Int) throws(FetchError) -> Int32? {
        guard let path = plan.steps[step].options.curl.dumpHeader, path != "-" else { return nil }
        if let d = headerDump, d.step == step { return d.fd }
        if let d = headerDump { _ = Glibc.close(d.fd) }
        headerDump = nil
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FetchError(.writeError, "Failed to open \(path): \(String(cString: strerror(errno)))")
        }
        headerDump = (step, fd)
        return fd
    }

    func takePlainTransfer(step: Int) -> Transfer? {
        if step != plainStep {
            // Configured for another step's options: of no use from here on (steps run in order).
            for t in plainTransfers { driver.cancel(t) }
            plainTransfers = []
            plainStep = step
            return nil
        }
        return plainTransfers.popLast()
    }

    func givePlainTransfer(_ t: Transfer, step: Int) {
        if let pool = easyPool, plainTransfers.count >= pool.capacity || step != plainStep {
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
        if let w = plan.step(job.item).writeOut, !skipped {
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
        if report.exitCode != 0 && options.failEarly {
            // --fail-early: nothing more starts; transfers in flight are dropped with the multi handle.
            loop.stop()
        } else if done == plan.items.count {
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
