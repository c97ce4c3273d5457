import ArgumentParser
import Compat
import Coordinator
import Foundation
import Search
import Store
import Wire

struct UpgradeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Serve an index with a new model without re-indexing: project, fuse or rescore.",
        discussion: """
            project and fuse: a sample of the index's documents is embedded by the new model (a job for the \
            workers, into the successor index INDEX@MODEL), a projection from the new model's space into the \
            index's is fitted on the pairs (plus query pairs from --queries), scored on pseudo-queries (a sentence \
            taken out of each held-out sampled document, relevant to the rest of it), stored, and the index switched to it. \
            rescore needs no fit: candidates from the stored vectors are re-scored with new-model vectors, \
            embedded on demand into INDEX@MODEL when missing. The switch is atomic; --rollback undoes the last one.
            """
    )

    @Option(name: .long, help: "The index to upgrade.")
    var index: String

    @Option(name: .long, help: "The new model (registered by `coord serve --models`).")
    var to: String?

    @Option(name: .long, help: "How queries meet the stored vectors: project, fuse or rescore.")
    var mode: String = "project"

    @Option(name: .long, help: "The projection: auto, drift, procrustes, affine, lowrank or mlp.")
    var method: String = "auto"

    @Option(name: .long, help: "Documents sampled (seeded) for the fit.")
    var sample = 2000

    @Option(name: .long, help: "Seed of the sample and of the fit's held-out split.")
    var seed = 42

    @Option(name: .long, help: "A BEIR query file: its queries, embedded by both models, join the fitting pairs.")
    var queries: String?

    @Option(name: .long, help: "The rank of the lowrank projection.")
    var rank = 64

    @Option(name: .long, help: "fuse: the weight of the projected new-model query (default: chosen on pseudo-queries).")
    var fuseWeight: Double?

    @Option(name: .long, help: "rescore: candidates taken from the stored vectors and re-scored.")
    var rescoreDepth = 20

    @Option(
        name: .long,
        parsing: .upToNextOption,
        help:
            "QUERIES QRELS: after the switch, compare the old model, the new serving and the new model on native vectors (when complete) on these qrels."
    )
    var eval: [String] = []

    @Flag(
        name: .long,
        help:
            "Switch although the validation predicts a loss against the old model beyond its uncertainty (refused otherwise)."
    )
    var force = false

    @Flag(name: .long, help: "Restore the serving state before the last upgrade.")
    var rollback = false

    @Flag(
        name: .long,
        help:
            "Fit again although the index already serves this model in this mode (another method, sample or query file)."
    )
    var refit = false

    @Option(name: .long, help: "Seconds to wait for sampled documents another running job (a re-index) embeds.")
    var sampleWaitSeconds: Double = 600

    @Option(name: .long, help: "Threads that embed queries here.")
    var threads = 2

    @Option(name: .long, help: "The folder with the model folders (default: $DRIFTLESS_MODELS, else ./models).")
    var models: String?

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var client: ClientOptions

    var modelsFolder: String { CoordCLI.modelsFolder(models) }

    func validate() throws {
        if rollback { return }
        guard to != nil else { throw ValidationError("--to MODEL is required (or --rollback)") }
        guard ["project", "fuse", "rescore"].contains(mode) else {
            throw ValidationError("--mode must be project, fuse or rescore, not \(mode)")
        }
        guard method == "auto" || ProjectionMethod(rawValue: method) != nil else {
            throw ValidationError(
                "--method must be auto, \(ProjectionMethod.allCases.map(\.rawValue).joined(separator: ", ")), not \(method)"
            )
        }
        if let fuseWeight, !(0...1).contains(fuseWeight) {
            throw ValidationError("--fuse-weight must be between 0 and 1")
        }
        guard (1...1000).contains(rescoreDepth) else {
            throw ValidationError("--rescore-depth must be between 1 and 1000")
        }
        guard rank >= 1 else { throw ValidationError("--rank must be at least 1") }
        guard eval.isEmpty || eval.count == 2 else {
            throw ValidationError("--eval takes two files: QUERIES (BEIR JSONL) QRELS (TSV)")
        }
        for file in eval where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("--eval: cannot read \(file)")
        }
    }

    func run() throws {
        _ = try database.connect()
        if rollback {
            do {
                let connection = try database.connect()
                guard let record = try Catalog(connection).index(named: index) else {
                    throw StoreError.unknownIndex(index)
                }
                let restored = try ServingStore(connection).rollback(record)
                print("\(index): serving \(restored.mode) with \(restored.model.name) again")
            } catch { throw fail(error) }
            return
        }
        let upgrade: ModelUpgrade
        do {
            upgrade = try ModelUpgrade(
                url: database.url,
                index: index,
                to: to!,
                modelsFolder: modelsFolder,
                threads: threads
            )
        } catch {
            throw fail(error)
        }
        let mode = ServingState.Mode(rawValue: mode)!
        if upgrade.current.model.name == upgrade.model.name && upgrade.current.mode == mode
            && !(refit && mode != .rescore)
        {
            throw fail(
                "index \(index) already serves \(upgrade.model.name) in \(mode) mode (--refit fits its projection again)"
            )
        }
        if upgrade.current.mode == .promoted {
            throw fail(
                "index \(index) is promoted to \(upgrade.current.model.name): `coord gc --index \(index)` makes that its own model first (or --rollback)"
            )
        }
        if upgrade.model.name == upgrade.index.model.name {
            throw fail("index \(index) is embedded by \(upgrade.model.name) already: nothing to upgrade to")
        }
        do {
            let successor = try upgrade.successor()
            if mode == .rescore {
                let state = ServingState(
                    mode: .rescore,
                    model: upgrade.model,
                    rescoreDepth: rescoreDepth,
                    successorIndex: successor.name
                )
                try upgrade.switchServing(state)
                print(
                    "\(index): now serving \(upgrade.model.name) by re-scoring the top \(rescoreDepth) with its vectors (kept in \(successor.name); missing ones embedded on demand)"
                )
                try evaluate(upgrade, state, successor)
                return
            }
            // 1. The sample, and the workers embed what the successor index lacks.
            let sampled = try upgrade.sample(size: sample, seed: seed)
            let missing = Set(try upgrade.missing(sampled))
            FileHandle.standardError.write(
                Data(
                    "sampled \(sampled.count) documents of \(index); \(missing.count) to embed with \(upgrade.model.name)\n"
                        .utf8
                )
            )
            if !missing.isEmpty {
                try SuccessorSubmission(client: client)
                    .submit(
                        ids: sampled.filter { missing.contains($0) },
                        of: index,
                        into: successor.name,
                        wait: true
                    )
                try awaitSample(upgrade, sampled)
            }

            // 2. Fit, score, store.
            var options = ProjectionFitter.Options()
            options.seed = UInt64(seed)
            options.rank = rank
            let queryTexts = try queries.map { try IndexEvaluation.loadQueries($0).map(\.text) } ?? []
            let fit = try upgrade.fit(
                sample: sampled,
                method: method == "auto" ? nil : ProjectionMethod(rawValue: method)!,
                queries: queryTexts,
                options: options,
                fuse: mode == .fuse,
                fuseWeight: fuseWeight
            )
            print(
                "\(index): \(upgrade.index.model.name) (\(upgrade.index.model.dimension)-d) ← \(upgrade.model.name) (\(upgrade.model.dimension)-d)"
            )
            print("  pairs: \(fit.documentPairs) documents + \(fit.queryPairs) queries")
            print(
                "  pseudo-queries (\(fit.pseudoQueries) sentences taken out of held-out sampled documents, each relevant to the rest of its document), MRR@10 among those documents:"
            )
            print(String(format: "    old model on its own vectors  %.4f", fit.oldModelScore))
            for entry in fit.scores.sorted(by: { $0.score > $1.score }) {
                let chosen = entry.method == fit.projection.method ? "   ← chosen" : ""
                print(
                    "    " + "\(entry.method)".padding(toLength: 30, withPad: " ", startingAt: 0)
                        + String(format: "%.4f", entry.score) + chosen
                )
            }
            for (weight, score) in fit.fuseScores {
                print(
                    String(format: "    fuse weight %.1f              %.4f", weight, score)
                        + (weight == fit.fuseWeight ? "   ← chosen" : "")
                )
            }
            if let cosine = fit.projection.details["held_out_cosine"] {
                print(String(format: "  held-out cosine with the old vectors: %.4f", cosine))
            }
            print("  predicted change against the old model, \(fit.prediction.serving): \(fit.prediction.summary)")
            if fit.prediction.isLoss {
                for alternative in fit.alternatives {
                    print("    instead, \(alternative.serving): \(alternative.summary)")
                }
                let better = fit.alternatives.first { $0.change > fit.prediction.change }
                let advice =
                    better.map {
                        "the validation prefers \($0.serving) (`--mode \($0.mode.rawValue)`)"
                    }
                    ?? "no mode is predicted to do better: keep the old model until `coord reindex` and `coord promote`"
                guard force else {
                    throw fail(
                        "index \(index) not switched: \(fit.prediction.serving) is predicted to lose against the old model beyond the validation's uncertainty; \(advice); --force switches anyway"
                    )
                }
                print("  switching anyway (--force); \(advice)")
            }
            // 3. Switch.
            let state = ServingState(
                mode: mode,
                model: upgrade.model,
                projectionId: fit.projectionId,
                fuseWeight: fit.fuseWeight,
                successorIndex: successor.name
            )
            try upgrade.switchServing(state)
            print(
                "\(index): now serving \(upgrade.model.name) in \(mode) mode (projection \(fit.projectionId), \(fit.projection.method)); `coord upgrade --index \(index) --rollback` undoes it"
            )
            try evaluate(upgrade, state, successor)
        } catch let error as SearchError {
            throw fail(error, code: { if case .input = error { return 65 } else { return 1 } }())
        }
    }

    /// A job already running for the successor (a re-index) carries some sampled documents: the
    /// sample's own job skipped them, so the fit waits until they are committed (never fits on part).
    private func awaitSample(_ upgrade: ModelUpgrade, _ ids: [String]) throws {
        let deadline = Date().addingTimeInterval(sampleWaitSeconds)
        var reported = -1
        while true {
            let missing = try upgrade.missing(ids).count
            guard missing > 0 else { return }
            guard Date() < deadline else {
                throw fail(
                    "\(missing) sampled documents still lack a vector of \(upgrade.model.name) after \(Int(sampleWaitSeconds)) s (is a job for \(upgrade.successorName) stuck? see `coord status`); nothing was switched"
                )
            }
            if missing != reported {
                FileHandle.standardError.write(
                    Data("waiting for \(missing) sampled documents that a running job is embedding\n".utf8)
                )
                reported = missing
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// `--eval`: the comparison table.
    private func evaluate(_ upgrade: ModelUpgrade, _ state: ServingState, _ successor: IndexRecord) throws {
        guard eval.count == 2 else { return }
        try UpgradeEvaluation(
            database: database,
            client: client,
            modelsFolder: modelsFolder,
            threads: threads,
            queries: eval[0],
            qrels: eval[1]
        ).run(index: upgrade.index, upgraded: state, successor: successor)
    }
}
