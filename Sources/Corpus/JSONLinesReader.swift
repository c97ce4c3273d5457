import Foundation

/// Reads a file line by line in large chunks, with 1-based line numbers.
/// Memory stays bounded by the chunk size and the longest line.
public struct JSONLinesReader: Sequence {
    public let path: String
    public let chunkSize: Int

    public init(path: String, chunkSize: Int = 1 << 20) throws(CorpusError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw .fileMissing(path: path)
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .unreadable(path: path, reason: "permission denied")
        }
        self.path = path
        self.chunkSize = chunkSize
    }

    public func makeIterator() -> Iterator {
        Iterator(handle: FileHandle(forReadingAtPath: path), chunkSize: chunkSize)
    }

    public struct Iterator: IteratorProtocol {
        let handle: FileHandle?
        let chunkSize: Int
        var buffer = Data()
        var start = 0
        var lineNumber = 0
        var exhausted = false

        init(handle: FileHandle?, chunkSize: Int) {
            self.handle = handle
            self.chunkSize = chunkSize
            exhausted = handle == nil
        }

        /// The next non-blank line (blank lines are skipped but counted) and its number.
        public mutating func next() -> (line: Int, bytes: Data)? {
            while true {
                if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    var line = buffer[start..<newline]
                    start = newline + 1
                    lineNumber += 1
                    if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                    if line.allSatisfy({ $0 == 32 || $0 == 9 }) { continue }
                    return (lineNumber, Data(line))
                }
                if exhausted {
                    guard start < buffer.count else { return nil }
                    let line = buffer[start...]
                    start = buffer.count
                    lineNumber += 1
                    if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { return nil }
                    return (lineNumber, Data(line))
                }
                let chunk = handle?.readData(ofLength: chunkSize) ?? Data()
                buffer = Data(buffer[start...]) + chunk
                start = 0
                if chunk.isEmpty { exhausted = true }
            }
        }
    }
}
