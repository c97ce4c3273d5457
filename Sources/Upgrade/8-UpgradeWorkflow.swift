import PostgresClient
import Search
import Store

/// `coord upgrade`, whole: the guards, then for rescore the switch alone; for project and fuse the
/// sample (2), its embedding by the workers (3), the fit (4–6), the decision (a predicted loss
/// beyond the validation's uncertainty is refused unless forced) and the switch.
public struct UpgradeWorkflow {
    public let plan: UpgradePlan
    public let upgrade: ModelUpgrade

    /// What happens, as it happens (for the command's report).
    public enum Step {
        /// The sample, and how many of it the successor lacks (the workers embed those).
        case sampled(Int, missing: Int)
        /// Sampled documents a running job (a re-index) is still embedding.
        case waiting(missing: Int)
        case fitted(ModelUpgrade.Fit)
        /// A predicted loss switched to anyway (`force`), and what the validation would prefer.
        case forced(advice: String)
    }

    public enum Outcome {
        case rescoring(ServingState, successor: IndexRecord)
        case switched(ModelUpgrade.Fit, ServingState, successor: IndexRecord)
    }

    /// An upgrade refused before it switched: nothing changed.
    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
    }

    public init(
        _ plan: UpgradePlan,
        database connection: PostgresConnection,
        modelsFolder: String,
        threads: Int
    ) throws(SearchError) {
        self.plan = plan
        upgrade = try ModelUpgrade(
            connection,
            index: plan.index,
            to: plan.model,
            modelsFolder: modelsFolder,
            threads: threads
        )
    }

    public func run(embedder: SuccessorEmbedder, progress: (Step) -> Void = { _ in }) throws -> Outcome {
        try refuseWhatCannotBe()
        let successor = try upgrade.successor()
        guard plan.mode != .rescore else {
            let state = ServingState(
                mode: .rescore,
                model: upgrade.model,
                rescoreDepth: plan.rescoreDepth,
                successorIndex: successor.name
            )
            try upgrade.switchServing(state)
            return .rescoring(state, successor: successor)
        }
        let sample = try UpgradeSample.draw(
            upgrade.index,
            size: plan.sampleSize,
            seed: plan.seed,
            vectors: upgrade.vectors
        )
        let missing = Set(try sample.missing(upgrade.index, in: successor, vectors: upgrade.vectors))
        progress(.sampled(sample.ids.count, missing: missing.count))
        if !missing.isEmpty {
            try embedder.embed(
                ids: sample.ids.filter { missing.contains($0) },
                of: plan.index,
                into: successor.name,
                wait: true
            )
            try sample.awaitEmbedded(
                upgrade.index,
                in: successor,
                vectors: upgrade.vectors,
                seconds: plan.sampleWaitSeconds
            ) { progress(.waiting(missing: $0)) }
        }
        let fit = try upgrade.fit(sample, plan: plan)
        progress(.fitted(fit))
        if let advice = try Self.decide(fit.prediction, advice: fit.advice, index: plan.index, force: plan.force) {
            progress(.forced(advice: advice))
        }
        let state = ServingState(
            mode: plan.mode,
            model: upgrade.model,
            projectionId: fit.projectionId,
            fuseWeight: fit.fuseWeight,
            successorIndex: successor.name
        )
        try upgrade.switchServing(state)
        return .switched(fit, state, successor: successor)
    }

    /// The switch after a fit: refused when `prediction` is a loss beyond the validation's
    /// uncertainty, unless forced; returns the advice when it switches anyway (nil: no loss).
    public static func decide(
        _ prediction: UpgradePrediction,
        advice: String,
        index: String,
        force: Bool
    ) throws(Refusal) -> String? {
        guard prediction.isLoss else { return nil }
        guard force else {
            throw Refusal(
                description:
                    "index \(index) not switched: \(prediction.serving) is predicted to lose against the old model beyond the validation's uncertainty; \(advice); --force switches anyway"
            )
        }
        return advice
    }

    /// An index that serves this model in this mode already (unless refitting), one promoted and
    /// not yet collected, or one embedded by the model itself.
    private func refuseWhatCannotBe() throws(Refusal) {
        let (index, current, model) = (plan.index, upgrade.current, upgrade.model)
        if current.model.name == model.name && current.mode == plan.mode && !(plan.refit && plan.mode != .rescore) {
            throw Refusal(
                description:
                    "index \(index) already serves \(model.name) in \(plan.mode) mode (--refit fits its projection again)"
            )
        }
        if current.mode == .promoted {
            throw Refusal(
                description:
                    "index \(index) is promoted to \(current.model.name): `coord gc --index \(index)` makes that its own model first (or --rollback)"
            )
        }
        if model.name == upgrade.index.model.name {
            throw Refusal(description: "index \(index) is embedded by \(model.name) already: nothing to upgrade to")
        }
    }
}

extension ModelUpgrade.Fit {
    /// When the prediction is a loss: the mode the validation prefers, or to keep the old model.
    public var advice: String {
        alternatives.first { $0.change > prediction.change }.map {
            "the validation prefers \($0.serving) (`--mode \($0.mode.rawValue)`)"
        } ?? "no mode is predicted to do better: keep the old model until `coord reindex` and `coord promote`"
    }
}
