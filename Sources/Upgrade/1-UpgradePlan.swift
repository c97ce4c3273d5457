import Compat
import Store

// The Upgrade module owns a model upgrade from end to end. Its files, in order, are the path:
//   1 the plan (what is asked, its defaults) → 2 the sample → 3 the workers embed it →
//   4 the fitting pairs → 5 the projection's fit → 6 the label-free validation →
//   7 the fit as one pipeline → 8 the switch (the whole `coord upgrade`) → 9 promote and gc.
// How each serving mode embeds a query and searches is `Search.IndexSearcher`.

/// What `coord upgrade` is asked to do. The defaults live here and nowhere else.
public struct UpgradePlan: Sendable {
    public var index: String
    /// The new model (registered).
    public var model: String
    public var mode: ServingState.Mode = .project
    /// The projection; nil chooses one on the pseudo-queries (`--method auto`).
    public var method: ProjectionMethod?
    /// Documents sampled (seeded) for the fit; seed of the sample and of the held-out split.
    public var sampleSize = 2000
    public var seed = 42
    /// Texts of queries that join the fitting pairs, embedded by both models.
    public var queries: [String] = []
    public var rank = 64
    /// fuse: the weight of the projected new-model query (nil: chosen on the pseudo-queries).
    public var fuseWeight: Double?
    /// rescore: candidates taken from the stored vectors and re-scored.
    public var rescoreDepth = ServingState.defaultRescoreDepth
    /// Switch although the validation predicts a loss beyond its uncertainty.
    public var force = false
    /// Fit again although the index already serves this model in this mode.
    public var refit = false
    /// How long to wait for sampled documents another running job (a re-index) embeds.
    public var sampleWaitSeconds = 600.0

    public init(index: String, model: String) {
        self.index = index
        self.model = model
    }

    /// The defaults, for the command line's help.
    public static let defaults = UpgradePlan(index: "", model: "")

    /// The modes an upgrade can switch to (promote and native are reached otherwise).
    public static let modes: [ServingState.Mode] = [.project, .fuse, .rescore]

    /// What is wrong with the plan's numbers, one message per setting (empty when nothing).
    public var problems: [String] {
        var problems: [String] = []
        if !Self.modes.contains(mode) { problems.append("--mode must be project, fuse or rescore, not \(mode)") }
        if let fuseWeight, !(0...1).contains(fuseWeight) { problems.append("--fuse-weight must be between 0 and 1") }
        if !(1...1000).contains(rescoreDepth) { problems.append("--rescore-depth must be between 1 and 1000") }
        if rank < 1 { problems.append("--rank must be at least 1") }
        if sampleSize < 4 { problems.append("--sample \(sampleSize) is too small: a fit needs at least 4 documents") }
        return problems
    }

    /// The fitter's options for this plan.
    var fitOptions: ProjectionFitter.Options {
        var options = ProjectionFitter.Options()
        options.seed = UInt64(seed)
        options.rank = rank
        return options
    }
}
