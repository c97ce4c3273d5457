import ArgumentParser
import Coordinator
import Foundation
import Store

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "The model registry: register a model folder, list registered models and the indexes using them.",
        discussion: """
            `coord serve --models DIR` registers every model folder in DIR when it starts; `coord models add` \
            registers one without a coordinator. A model is known by its folder's name, which is how workers \
            find its weights; the weights' hash is recorded, and a worker whose copy differs is given no shards \
            of it.
            """,
        subcommands: [List.self, Add.self],
        defaultSubcommand: List.self
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Register the model in a sentence-transformers folder (architecture, dimension, pooling, prompts, weights hash)."
        )
        @Argument(help: "The model's name: the name of its folder.") var name: String
        @Option(name: .long, help: "The model folder (config.json, model.safetensors, tokenizer files).") var path:
            String
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let folderName = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
            guard folderName == name else {
                throw fail(
                    "--path \(path) is a folder named \(folderName), not \(name): workers find a model's weights by its folder's name"
                )
            }
            let record: ModelRecord
            do { record = try ModelFolders.record(path) } catch { throw fail("--path \(path): \(error)", code: 65) }
            let connection = try database.connect()
            do {
                let catalog = Catalog(connection)
                if let known = try catalog.model(named: name) {
                    guard known.weightsHash == record.weightsHash else {
                        throw StoreError.invalid(
                            "model \(name) is registered with other weights (sha256 \(known.weightsHash.prefix(12))…, this folder's \(record.weightsHash.prefix(12))…); give the new weights a new name"
                        )
                    }
                    print("model \(name) is registered already, with these weights")
                    return
                }
                let registered = try catalog.register(record)
                print("registered \(Self.describe(registered))")
            } catch { throw fail(error) }
        }

        static func describe(_ model: ModelRecord) -> String {
            "\(model.name): \(model.architecture), \(model.dimension)-d, \(model.pooling) pooling\(model.normalized ? ", normalised" : ""), "
                + "\(model.maxSequenceLength) tokens, prompts \(model.prompts), weights sha256 \(model.weightsHash.prefix(12))…"
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List registered models and the indexes built by each or serving its queries."
        )
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let connection = try database.connect()
            do {
                let catalog = Catalog(connection)
                let models = try catalog.models()
                if models.isEmpty {
                    print("no models registered (`coord models add NAME --path DIR`, or `coord serve --models DIR`)")
                }
                let indexes = try catalog.indexes()
                let store = ServingStore(connection)
                var serving: [String: [String]] = [:]
                for index in indexes {
                    let state = try store.current(index)
                    if state.model.name != index.model.name {
                        serving[state.model.name, default: []].append("\(index.name) (\(state.mode))")
                    }
                }
                for model in models {
                    print(Add.describe(model))
                    let built = indexes.filter { $0.model.name == model.name }.map(\.name)
                    print("  indexes built: \(built.isEmpty ? "none" : built.joined(separator: ", "))")
                    if let upgraded = serving[model.name] {
                        print("  serving the queries of: \(upgraded.joined(separator: ", "))")
                    }
                }
            } catch { throw fail(error) }
        }
    }
}
