/// A deadline that moves with activity: the upstream read timeout of an exchange (`--read-timeout`) and
/// the idle time of a tunnel (`--idle-timeout`). It rides on the connection's one deadline: the job arms
/// `at` through `ClientSide.setDeadline`, and when it passes asks `check` whether it really expired.
struct ActivityDeadline: Equatable {
    enum Check: Equatable {
        /// Nothing happened for the whole span.
        case expired
        /// Not yet: arm again for this time.
        case rearm(UInt64)
    }

    let span: UInt64
    private(set) var last: UInt64

    init(span: UInt64, now: UInt64) {
        self.span = span
        last = now
    }

    var at: UInt64 { last &+ span }

    mutating func touch(_ now: UInt64) { last = now }

    /// The armed time passed. `excused`: the job waits on the client (a slow reader or a slow uploader),
    /// which is not the peer's fault: the clock starts again.
    mutating func check(now: UInt64, excused: Bool) -> Check {
        if excused { last = now }
        return now < at ? .rearm(at) : .expired
    }
}
