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
        @Option(
            name: .long,
            help:
                "Register the model run in this precision (fp32, bf16, int8) as NAME:PRECISION: its own model in the registry, so indexes of it hold vectors of that one precision."
        )
        var precision = "fp32"
        @OptionGroup var database: DatabaseOptions

        func validate() throws { try validatePrecision(precision) }

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
                } else {
                    print("registered \(Self.describe(try catalog.register(record)))")
                }
                if precision != "fp32",
                    let variant = try catalog.model(named: ModelName.variant(name, precision: precision))
                {
                    print("registered \(Self.describe(variant))")
                }
            } catch { throw fail(error) }
        }

        /// A precision with its quantization parameters, as the registry lists it.
        static let precisionDescription = [
            "fp32": "fp32",
            "bf16": "bf16 (weights and layer inputs rounded to bfloat16, sums in float32)",
            "int8":
                "int8 (weights s8 per output channel, symmetric; layer inputs u8 per row at run time, asymmetric, 255 levels; sums in int32)",
        ]

        static func describe(_ model: ModelRecord) -> String {
            "\(model.name): \(model.architecture), \(model.dimension)-d, \(model.pooling) pooling\(model.normalized ? ", normalised" : ""), "
                + "\(model.maxSequenceLength) tokens, prompts \(model.prompts), weights sha256 \(model.weightsHash.prefix(12))…, "
                + Self.precisionDescription[model.precision, default: model.precision]
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
