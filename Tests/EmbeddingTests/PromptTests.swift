import DriftlessTestSupport
import Foundation
import Testing

@testable import Embedding

@Suite("Prompts")
struct PromptTests {
    @Test("a plain prompt is a prefix")
    func prefix() {
        let prompt = PromptTemplate("query: ")
        #expect(prompt.apply(to: "what is dna") == "query: what is dna")
        #expect(prompt.prefix() == "query: ")
    }

    @Test("an instruction template fills {task} and {text}")
    func template() {
        let prompt = PromptTemplate("Instruct: {task}\nQuery: {text}")
        #expect(
            prompt.apply(to: "what is dna", task: "Find abstracts") == "Instruct: Find abstracts\nQuery: what is dna"
        )
        #expect(prompt.prefix(task: "T") == "Instruct: T\nQuery: ")
    }

    @Test("an LLM embedder's written-out instruction is replaced by a task, and kept without one")
    func writtenInstruction() {
        let prompt = PromptTemplate("Instruct: Given a claim, retrieve evidence\nQuery:")
        #expect(prompt.takesInstruction)
        #expect(prompt.apply(to: "dna") == "Instruct: Given a claim, retrieve evidence\nQuery:dna")
        #expect(prompt.apply(to: "dna", task: "Find abstracts") == "Instruct: Find abstracts\nQuery:dna")
        #expect(!PromptTemplate("query: ").takesInstruction)
        #expect(PromptTemplate("query: ").apply(to: "dna", task: "ignored") == "query: dna")
    }

    @Test("the model's named prompts resolve; query/document mean none for models without prompts")
    func namedPrompts() throws {
        let model = try EmbeddingModel(folder: TestResources.model("all-MiniLM-L6-v2"))
        #expect(model.prompts.isEmpty)
        #expect(model.prompt(named: "query").isEmpty)
        #expect(model.prompt(named: "document").isEmpty)
        #expect(model.prompt(named: "search_query: ") == PromptTemplate("search_query: "))
        // A prompt changes the tokens and therefore the vector.
        let embedder = SentenceEmbedder(model: model, threads: 1)
        let plain = try embedder.embed(["protein folding"])[0]
        let prompted = try embedder.embed(["protein folding"], prompt: PromptTemplate("query: "))[0]
        #expect(
            model.tokenize("protein folding", prompt: PromptTemplate("query: ")).count == model.tokenize(
                "protein folding"
            ).count + 2
        )
        #expect(zip(plain, prompted).contains { abs($0 - $1) > 1e-3 })
    }
}
