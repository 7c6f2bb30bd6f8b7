internal import CSystem

/// What a registered descriptor is interested in, and what it got.
public struct IOEvents: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let readable = IOEvents(rawValue: UInt32(EPOLLIN.rawValue))
    public static let writable = IOEvents(rawValue: UInt32(EPOLLOUT.rawValue))
    public static let error = IOEvents(rawValue: UInt32(EPOLLERR.rawValue))
    public static let hangup = IOEvents(rawValue: UInt32(EPOLLHUP.rawValue))
    public static let readHangup = IOEvents(rawValue: UInt32(EPOLLRDHUP.rawValue))
}

/// Identifies one registration of one descriptor. IDs are never reused, so an event that was queued for a
/// descriptor that has since been closed (and whose number the kernel handed out again) finds no handler.
public struct RegistrationID: Hashable, Sendable {
    public let raw: UInt64
}

/// Identifies one scheduled timer, for cancelling it.
public struct TimerID: Hashable, Sendable {
    public let raw: UInt64
}
