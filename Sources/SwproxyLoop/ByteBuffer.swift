/// A growable byte queue: append at the end, consume from the front. Storage is compacted lazily and can be
/// released when empty, so an idle connection holds no buffer memory.
public struct ByteBuffer {
    public private(set) var storage: [UInt8] = []
    public private(set) var readerIndex = 0

    public init() {}

    public var readableBytes: Int { storage.count - readerIndex }
    public var isEmpty: Bool { readableBytes == 0 }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfWorthIt(adding: bytes.count)
        storage.append(contentsOf: bytes)
    }

    public mutating func append<S: Sequence>(contentsOf bytes: S) where S.Element == UInt8 {
        storage.append(contentsOf: bytes)
    }

    public mutating func append(_ string: String) {
        storage.append(contentsOf: string.utf8)
    }

    /// Drops `count` bytes from the front.
    public mutating func consume(_ count: Int) {
        precondition(count <= readableBytes)
        readerIndex += count
        if readerIndex == storage.count {
            storage.removeAll(keepingCapacity: storage.capacity <= 65536)
            readerIndex = 0
        }
    }

    /// Gives the memory back (for idle connections).
    public mutating func releaseIfEmpty() {
        if isEmpty {
            storage = []
            readerIndex = 0
        }
    }

    public func withReadableBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[readerIndex...]))
        }
    }

    public var readable: ArraySlice<UInt8> { storage[readerIndex...] }

    private mutating func compactIfWorthIt(adding: Int) {
        if readerIndex > 0 && (readerIndex >= 65536 || readerIndex * 2 >= storage.count) {
            storage.removeSubrange(0..<readerIndex)
            readerIndex = 0
        }
    }
}
