import ArgumentParser
import Corpus
import Foundation
import Store

struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete documents (and their vectors) from an index, in every generation it keeps.",
        discussion: """
            IDS holds one document id per line, or JSON corpus lines (their _id is taken), so a corpus file \
            deletes its own documents. Each batch of 10,000 is one transaction over every live generation \
            (during an upgrade the successor too; after a promotion the old vectors too). A job still \
            running with an older version of a deleted document does not bring it back; submitting the \
            document again does. Exit 65 names a line without an id.
            """
    )

    @Option(name: .long, help: "The index.") var index: String
    @Option(name: .long, help: "The file of ids (one per line, or JSON lines with _id).") var ids: String
    @OptionGroup var database: DatabaseOptions

    static let batch = 10_000

    func run() throws {
        let connection = try database.connect()
        let reader: JSONLinesReader
        do { reader = try JSONLinesReader(path: ids, maxLineBytes: 1 << 20) } catch { throw fail(error, code: 66) }
        var pending: [String] = []
        var total = DocumentDeletion.Outcome(deleted: 0, absent: 0, generations: [])
        let flush = { (ids: [String]) throws in
            guard !ids.isEmpty else { return }
            do {
                let outcome = try DocumentDeletion(connection).delete(ids, from: index)
                total.deleted += outcome.deleted
                total.absent += outcome.absent
                total.generations = outcome.generations
            } catch { throw fail(error) }
        }
        for line in reader {
            guard let bytes = line.bytes else {
                throw fail("\(ids):\(line.number): a line of \(line.length) bytes is not an id", code: 65)
            }
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { continue }
            var id = text
            if text.hasPrefix("{") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                    let value = object["_id"] as? String, !value.isEmpty
                else { throw fail("\(ids):\(line.number): a JSON line without a string _id", code: 65) }
                id = value
            }
            pending.append(id)
            if pending.count == Self.batch {
                try flush(pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
        try flush(pending)
        print(
            "\(index): deleted \(total.deleted) documents"
                + (total.absent > 0 ? " (\(total.absent) ids were not in the index)" : "")
                + (total.generations.isEmpty ? "" : " from \(total.generations.joined(separator: " and "))")
        )
    }
}
