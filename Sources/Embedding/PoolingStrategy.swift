/// How token vectors become one sentence vector (sentence-transformers' `Pooling`
/// module, configured by `1_Pooling/config.json`).
public enum PoolingStrategy: String, Sendable, CaseIterable {
    /// Average of all token vectors.
    case mean
    /// The first token's vector (`[CLS]` / `<s>`).
    case cls
    /// The last token's vector (decoder-only embedders).
    case lastToken = "lasttoken"
    /// Element-wise maximum over tokens.
    case max
    /// Average weighted by position `1, 2, …, n` (later tokens count more).
    case weightedMean = "weightedmean"
    /// Sum divided by the square root of the token count.
    case meanSqrtLength = "mean_sqrt_len_tokens"
}
