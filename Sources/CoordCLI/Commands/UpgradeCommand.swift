import ArgumentParser
import Compat
import Coordinator
import Foundation
import Search
import Store
import Upgrade
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
    var mode: String = UpgradePlan.defaults.mode.rawValue

    @Option(name: .long, help: "The projection: auto, drift, procrustes, affine, lowrank or mlp.")
    var method: String = "auto"

    @Option(name: .long, help: "Documents sampled (seeded) for the fit.")
    var sample = UpgradePlan.defaults.sampleSize

    @Option(name: .long, help: "Seed of the sample and of the fit's held-out split.")
    var seed = UpgradePlan.defaults.seed

    @Option(name: .long, help: "A BEIR query file: its queries, embedded by both models, join the fitting pairs.")
    var queries: String?

    @Option(name: .long, help: "The rank of the lowrank projection.")
    var rank = UpgradePlan.defaults.rank

    @Option(name: .long, help: "fuse: the weight of the projected new-model query (default: chosen on pseudo-queries).")
    var fuseWeight: Double?

    @Option(name: .long, help: "rescore: candidates taken from the stored vectors and re-scored.")
    var rescoreDepth = UpgradePlan.defaults.rescoreDepth

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
    var sampleWaitSeconds = UpgradePlan.defaults.sampleWaitSeconds

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
        guard UpgradePlan.modes.map(\.rawValue).contains(mode) else {
            throw ValidationError("--mode must be project, fuse or rescore, not \(mode)")
        }
        guard method == "auto" || ProjectionMethod(rawValue: method) != nil else {
            throw ValidationError(
                "--method must be auto, \(ProjectionMethod.allCases.map(\.rawValue).joined(separator: ", ")), not \(method)"
            )
        }
        if let problem = plan.problems.first { throw ValidationError(problem) }
        guard eval.isEmpty || eval.count == 2 else {
            throw ValidationError("--eval takes two files: QUERIES (BEIR JSONL) QRELS (TSV)")
        }
        for file in eval where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("--eval: cannot read \(file)")
        }
    }

    /// The plan this command line asks for.
    var plan: UpgradePlan {
        var plan = UpgradePlan(index: index, model: to ?? "")
        plan.mode = ServingState.Mode(rawValue: mode) ?? .project
        plan.method = method == "auto" ? nil : ProjectionMethod(rawValue: method)
        plan.sampleSize = sample
        plan.seed = seed
        plan.rank = rank
        plan.fuseWeight = fuseWeight
        plan.rescoreDepth = rescoreDepth
        plan.force = force
        plan.refit = refit
        plan.sampleWaitSeconds = sampleWaitSeconds
        return plan
    }

    func run() throws {
        _ = try database.connect()
        if rollback {
            do {
                let restored = try IndexLifecycle(try database.connect()).rollback(index)
                print("\(index): serving \(restored.mode) with \(restored.model.name) again")
            } catch { throw fail(error) }
            return
        }
        var plan = plan
        let workflow: UpgradeWorkflow
        do {
            plan.queries = try queries.map { try IndexEvaluation.loadQueries($0).map(\.text) } ?? []
            workflow = try UpgradeWorkflow(
                plan,
                database: try database.connect(),
                modelsFolder: modelsFolder,
                threads: threads
            )
        } catch let error as SearchError {
            throw fail(error, code: { if case .input = error { return 65 } else { return 1 } }())
        }
        let upgrade = workflow.upgrade
        let outcome: UpgradeWorkflow.Outcome
        do {
            outcome = try workflow.run(embedder: SuccessorSubmission(client: client)) { step in
                switch step {
                case .sampled(let count, let missing):
                    FileHandle.standardError.write(
                        Data(
                            "sampled \(count) documents of \(index); \(missing) to embed with \(upgrade.model.name)\n"
                                .utf8
                        )
                    )
                case .waiting(let missing):
                    FileHandle.standardError.write(
                        Data("waiting for \(missing) sampled documents that a running job is embedding\n".utf8)
                    )
                case .fitted(let fit): report(fit, upgrade)
                case .forced(let advice): print("  switching anyway (--force); \(advice)")
                }
            }
        } catch let error as UpgradeWorkflow.Refusal {
            throw fail(error.description)
        } catch let error as SearchError {
            throw fail(error, code: { if case .input = error { return 65 } else { return 1 } }())
        }
        switch outcome {
        case .rescoring(let state, let successor):
            print(
                "\(index): now serving \(upgrade.model.name) by re-scoring the top \(plan.rescoreDepth) with its vectors (kept in \(successor.name); missing ones embedded on demand)"
            )
            try evaluate(upgrade, state, successor)
        case .switched(let fit, let state, let successor):
            print(
                "\(index): now serving \(upgrade.model.name) in \(state.mode) mode (projection \(fit.projectionId), \(fit.projection.method)); `coord upgrade --index \(index) --rollback` undoes it"
            )
            try evaluate(upgrade, state, successor)
        }
    }

    /// The fit's report: pairs, the pseudo-queries' scores, the prediction.
    private func report(_ fit: ModelUpgrade.Fit, _ upgrade: ModelUpgrade) {
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
