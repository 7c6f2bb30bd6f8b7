import Glibc
import SwproxyCurl
import SwproxyLoop

/// Runs a fetch: every URL a transfer on one multi handle driven by one event loop, at most
/// `--parallel-max` at once, bodies for stdout in input order; the exit status is curl's code for the first
/// failed URL in input order.
public final class FetchRunner {
    let options: FetchOptions
    let plan: FetchPlan
    let loop: EventLoop
    let driver: MultiDriver
    let stdout: OrderedStdout
    let share: Share?
    private var results: [Int32?]
    private var nextIndex = 0
    /// Jobs in flight (including those waiting for a retry), by URL index: the runner owns them.
    private var jobs: [Int: FetchJob] = [:]
    private var active: Int { jobs.count }
    private var done = 0

    /// Runs the whole fetch and returns the process exit status.
    public static func run(_ options: FetchOptions) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let plan: FetchPlan
        do {
            plan = try FetchPlan.build(options)
        } catch {
            Console.error(error)
            return error.code
        }
        if !options.silent || options.showError {
            for w in plan.warnings { Console.warning(w) }
        }
        let loop: EventLoop
        do {
            loop = try EventLoop()
        } catch {
            Console.error(FetchError(.failedInit, "cannot start the event loop: \(error)"))
            return CurlCode.failedInit.rawValue
        }
        let runner = FetchRunner(options: options, plan: plan, loop: loop)
        let status = runner.execute()
        loop.close()
        return status
    }

    init(options: FetchOptions, plan: FetchPlan, loop: EventLoop) {
        self.options = options
        self.plan = plan
        self.loop = loop
        driver = MultiDriver(loop: loop)
        stdout = OrderedStdout(count: plan.items.count, memoryLimit: options.stdoutMemoryLimit)
        share = options.cookies.isEmpty && options.cookieJar == nil ? nil : Share(cookies: true, dns: false, tlsSessions: false)
        results = Array(repeating: nil, count: plan.items.count)
    }

    func execute() -> Int32 {
        startMore()
        if done < plan.items.count { loop.run() }
        driver.close()
        share?.close()
        return results.first(where: { $0 != 0 }).flatMap { $0 } ?? 0
    }

    private func startMore() {
        while active < options.parallelMax && nextIndex < plan.items.count {
            let item = plan.items[nextIndex]
            nextIndex += 1
            let job = FetchJob(item: item, runner: self)
            jobs[item.index] = job
            if let failure = item.failure ?? job.prepare() {
                job.fail(failure)
                continue
            }
            if driver.add(job.transfer) != .ok {
                job.fail(FetchError(.failedInit, "could not add the transfer"))
            }
        }
    }

    /// Puts a job's transfer back on the multi handle for a retry.
    func restart(_ job: FetchJob) {
        if driver.add(job.transfer) != .ok {
            job.fail(FetchError(.failedInit, "could not add the transfer"))
        }
    }

    /// Called once per URL, after its last attempt.
    func finished(_ job: FetchJob, _ report: TransferReport) {
        let i = job.item.index
        results[i] = report.exitCode
        if report.exitCode != 0 && (!options.silent || options.showError) {
            Console.error(FetchError(CurlCode(rawValue: report.exitCode), report.errorMessage))
        }
        if let w = plan.writeOut {
            for (stream, text) in w.render(report) {
                if stream == .stdout { _ = stdout.write(i, text) } else { Console.write(text) }
            }
        }
        stdout.finish(i)
        jobs.removeValue(forKey: i)
        done += 1
        if done == plan.items.count {
            loop.stop()
        } else {
            // Starting from here could recurse deeply through immediate failures; the next turn is fine.
            loop.deferToNextTurn { [self] in startMore() }
        }
    }
}
