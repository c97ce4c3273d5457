/// Has the workers embed documents of an index into its successor (`INDEX@MODEL`) with the new
/// model: the upgrade's sample, `coord reindex`'s every document. The coordinator stages them from
/// the database at their versions (a `reembed` request), so nothing passes through this process.
/// Implemented over the coordinator's client by `coord`.
public protocol SuccessorEmbedder {
    /// Embeds those of `ids` (every document when nil) of `index` that `successor` lacks; waits for
    /// the job unless `wait` is off. Returns the job and how many documents it embeds.
    @discardableResult
    func embed(
        ids: [String]?,
        of index: String,
        into successor: String,
        wait: Bool
    ) throws -> (
        job: Int64, toEmbed: Int
    )
}
