import Foundation

/// Reads a file line by line in large chunks, with 1-based line numbers.
///
/// Each byte is searched for a newline once and copied at most twice (read, then compacted), so a
/// line of any length costs time linear in its length. Memory stays bounded by the chunk size and
/// `maxLineBytes`: a longer line is skipped to its end without being kept, and reported by length.
public struct JSONLinesReader: Sequence {
    public let path: String
    public let chunkSize: Int
    /// Lines longer than this are not kept (``Line/bytes`` is nil); `Int.max` keeps every line.
    public let maxLineBytes: Int

    /// One non-blank line: its number and bytes (nil when longer than `maxLineBytes`) and its length.
    public struct Line: Sendable {
        public var number: Int
        public var bytes: Data?
        public var length: Int
    }

    public init(path: String, chunkSize: Int = 1 << 20, maxLineBytes: Int = .max) throws(CorpusError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw .fileMissing(path: path)
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .unreadable(path: path, reason: "permission denied")
        }
        self.path = path
        self.chunkSize = Swift.max(1, chunkSize)
        self.maxLineBytes = Swift.max(0, maxLineBytes)
    }

    public func makeIterator() -> Iterator {
        Iterator(handle: FileHandle(forReadingAtPath: path), chunkSize: chunkSize, maxLineBytes: maxLineBytes)
    }

    public struct Iterator: IteratorProtocol {
        let handle: FileHandle?
        let chunkSize: Int
        let maxLineBytes: Int
        var buffer = Data()
        /// Where the current line starts in `buffer`.
        var start = 0
        /// Bytes of the current line already searched for a newline (never searched again).
        var searched = 0
        /// Bytes of the current line dropped because it outgrew `maxLineBytes`.
        var dropped = 0
        var lineNumber = 0
        var exhausted = false
        /// Bytes searched for newlines and bytes copied, over the whole file (both linear in its size).
        public private(set) var bytesSearched = 0
        public private(set) var bytesCopied = 0
        /// The most bytes the buffer held at once.
        public private(set) var largestBuffer = 0

        init(handle: FileHandle?, chunkSize: Int, maxLineBytes: Int) {
            self.handle = handle
            self.chunkSize = chunkSize
            self.maxLineBytes = maxLineBytes
            exhausted = handle == nil
        }

        /// The first newline at or after `from` (memchr: a long line is searched at memory speed).
        static func newline(in buffer: Data, from: Int) -> Int? {
            guard from < buffer.count else { return nil }
            return buffer.withUnsafeBytes { raw -> Int? in
                guard let base = raw.baseAddress, let found = memchr(base + from, 0x0A, raw.count - from) else {
                    return nil
                }
                return base.distance(to: UnsafeRawPointer(found))
            }
        }

        /// The next non-blank line (blank lines are skipped but counted).
        public mutating func next() -> Line? {
            while true {
                let from = start + searched
                if let newline = Self.newline(in: buffer, from: from) {
                    bytesSearched += newline + 1 - from
                    var line = buffer[start..<newline]
                    // A CRLF line's CR is not part of it (nor of its length, for the limit).
                    if dropped == 0, line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                    let length = dropped + line.count
                    let wasDropped = dropped > 0
                    start = newline + 1
                    searched = 0
                    dropped = 0
                    lineNumber += 1
                    if wasDropped || length > maxLineBytes {
                        return Line(number: lineNumber, bytes: nil, length: length)
                    }
                    if line.allSatisfy({ $0 == 32 || $0 == 9 }) { continue }
                    return Line(number: lineNumber, bytes: Data(line), length: line.count)
                }
                bytesSearched += buffer.count - from
                searched = buffer.count - start
                if exhausted {
                    guard start < buffer.count || dropped > 0 else { return nil }
                    let line = buffer[start...]
                    let length = dropped + line.count
                    let wasDropped = dropped > 0
                    start = buffer.count
                    searched = 0
                    dropped = 0
                    lineNumber += 1
                    if wasDropped || length > maxLineBytes {
                        return Line(number: lineNumber, bytes: nil, length: length)
                    }
                    if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { return nil }
                    return Line(number: lineNumber, bytes: Data(line), length: line.count)
                }
                if searched > maxLineBytes {
                    // Too long to keep: only its length is remembered; the rest is read past.
                    dropped += searched
                    buffer.removeAll(keepingCapacity: true)
                    start = 0
                    searched = 0
                } else if start > 0 && start >= buffer.count / 2 {
                    // Compacted when the consumed part is at least half: each byte moves at most once more.
                    bytesCopied += buffer.count - start
                    buffer = Data(buffer[start...])
                    start = 0
                }
                let chunk = handle?.readData(ofLength: chunkSize) ?? Data()
                bytesCopied += chunk.count
                buffer.append(chunk)
                largestBuffer = Swift.max(largestBuffer, buffer.count)
                if chunk.isEmpty { exhausted = true }
            }
        }
    }
}
