/// Groups sequences into batches of similar length whose total token count
/// stays within a budget.
///
/// The encoder runs batches unpadded, so its activations grow with the total
/// token count (`tokens × (6·hidden + intermediate)` floats), not with
/// `rows × longest`; attention scratch is one `longest²` block per thread. A
/// token budget therefore bounds memory whatever the lengths. Grouping similar
/// lengths keeps the attention work of a batch even across threads.
public struct TokenBudgetBatcher: Sendable {
    public let tokenBudget: Int

    public init(tokenBudget: Int) {
        precondition(tokenBudget > 0, "token budget must be positive")
        self.tokenBudget = tokenBudget
    }

    /// Indices into `lengths`, longest first, cut into batches. A sequence longer
    /// than the budget gets a batch of its own.
    public func batches(lengths: [Int]) -> [[Int]] {
        let order = lengths.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
        var batches: [[Int]] = []
        var current: [Int] = []
        var tokens = 0
        for i in order {
            if !current.isEmpty && tokens + lengths[i] > tokenBudget {
                batches.append(current)
                current = []
                tokens = 0
            }
            current.append(i)
            tokens += lengths[i]
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }
}
