import Compat
import Foundation

/// Pseudo-queries for validating an upgrade without labels, by the inverse cloze task (Lee et
/// al., 2019): one sentence taken out of a document is the query, and the rest of that document
/// is the one relevant to it. Unlike a title, which the document's stored vector was embedded
/// with, the sentence is not in what it must find; unlike a title, it reads like a claim or a
/// question: SciFact's queries are such sentences.
struct InverseClozeQueries {
    struct Query {
        var documentId: String
        /// The sentence taken out.
        var text: String
        /// The document without it, as the models embed documents (title, a space, the text).
        var context: String
    }

    /// Sentences shorter than this many words are not taken (headings, numbers, fragments).
    static let minimumWords = 6

    /// One query per document that has a sentence of `minimumWords` words or more besides at least
    /// one other sentence; which sentence is seeded.
    static func make(_ documents: [(id: String, title: String, body: String)], seed: UInt64) -> [Query] {
        var generator = SplitMix64(seed: seed)
        var queries: [Query] = []
        for document in documents {
            let sentences = Self.sentences(document.body)
            let eligible = sentences.indices.filter { sentences[$0].split(separator: " ").count >= minimumWords }
            guard sentences.count >= 2, let chosen = eligible.randomElement(using: &generator) else { continue }
            let rest = sentences.enumerated().filter { $0.offset != chosen }.map(\.element).joined(separator: " ")
            let context = document.title.isEmpty ? rest : document.title + " " + rest
            queries.append(Query(documentId: document.id, text: sentences[chosen], context: context))
        }
        return queries
    }

    /// The text cut after `.`, `!` or `?` followed by white space and a capital letter or digit.
    static func sentences(_ text: String) -> [String] {
        var sentences: [String] = []
        var current = ""
        let characters = Array(text)
        for (i, character) in characters.enumerated() {
            current.append(character)
            guard ".!?".contains(character), i + 2 < characters.count, characters[i + 1].isWhitespace else { continue }
            let next = characters[i + 2]
            guard next.isUppercase || next.isNumber else { continue }
            sentences.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
            current = ""
        }
        let last = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !last.isEmpty { sentences.append(last) }
        return sentences
    }
}
