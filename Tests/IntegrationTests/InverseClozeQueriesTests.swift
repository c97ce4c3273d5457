import Testing

@testable import Upgrade

/// Pure logic (no database), kept beside the Upgrade suite that uses it.
@Suite("InverseClozeQueries")
struct InverseClozeQueriesTests {
    @Test("sentences end at . ! ? before a capital or a digit, not inside numbers or abbreviations in lower case")
    func sentences() {
        let text =
            "Levels rose by 2.5 fold in vivo. The effect, e.g. in mice, was strong! 42 patients were treated. Why? it ends"
        #expect(
            InverseClozeQueries.sentences(text) == [
                "Levels rose by 2.5 fold in vivo.", "The effect, e.g. in mice, was strong!",
                "42 patients were treated.", "Why? it ends",
            ]
        )
        #expect(InverseClozeQueries.sentences("") == [])
    }

    @Test("one sentence of six words or more taken out, the rest (with the title) as the context; seeded")
    func queries() {
        let documents = [
            (
                id: "a", title: "A title",
                body: "Short one. This sentence has enough words to be taken. Another sentence that is long enough too."
            ),
            (id: "b", title: "", body: "Only one sentence here, however long it may be."),
            (id: "c", title: "T", body: "Tiny. Bits."),
        ]
        let made = InverseClozeQueries.make(documents, seed: 1)
        #expect(made.map(\.documentId) == ["a"])  // b has no other sentence, c none long enough
        let query = made[0]
        #expect(query.text.split(separator: " ").count >= InverseClozeQueries.minimumWords)
        #expect(query.context.hasPrefix("A title Short one."))
        #expect(!query.context.contains(query.text))
        #expect(InverseClozeQueries.make(documents, seed: 1).map(\.text) == made.map(\.text))
    }
}
