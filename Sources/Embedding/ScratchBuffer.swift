/// Reusable `Float` storage for activations, grown on demand and never shrunk,
/// so that batches after the first allocate nothing. Contents are undefined
/// after ``reserve(_:)``.
final class ScratchBuffer {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init(capacity: Int = 0) {
        self.capacity = max(capacity, 16)
        pointer = Self.allocate(self.capacity)
    }

    /// Makes room for `count` floats and returns the storage.
    @discardableResult
    func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            capacity = count
            pointer = Self.allocate(count)
        }
        return pointer
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        // 64-byte alignment: a cache line, and what OpenBLAS's kernels like.
        UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
    }

    deinit { pointer.deallocate() }
}
