internal import CSystem

/// Monotonic time in nanoseconds: the loop's only notion of "now" (never wall-clock time, which jumps).
public enum MonotonicClock {
    @inline(__always)
    public static func now() -> UInt64 { csys_monotonic_ns() }

    /// Nanoseconds for a duration in seconds (fractions allowed); negative durations count as zero.
    @inline(__always)
    public static func nanoseconds(_ seconds: Double) -> UInt64 {
        seconds <= 0 ? 0 : UInt64(seconds * 1_000_000_000)
    }
}

/// Wall-clock seconds since the epoch, for logs and reports only.
public func wallClockSeconds() -> Double { csys_wallclock() }
