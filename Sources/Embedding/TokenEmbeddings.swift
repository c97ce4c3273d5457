import LinearAlgebra

/// The encoder's input layer: word + position (+ token type 0 for BERT)
/// embeddings, then layer normalisation.
struct TokenEmbeddings: Sendable {
    let words: [Float]
    let positions: [Float]
    /// BERT's token-type row 0 (every token is of the first segment); empty for MPNet.
    let tokenType: [Float]
    let norm: LayerNormalization
    /// MPNet counts positions from `padding_idx + 1`; BERT from 0.
    let positionOffset: Int
    let width: Int
    let vocabularySize: Int

    init(
        _ tensors: ModelWeights,
        prefix: String,
        configuration c: TransformerConfiguration,
        kind: TransformerConfiguration.EncoderKind
    ) throws {
        width = c.hiddenSize
        vocabularySize = c.vocabularySize
        words = try tensors.floats(
            prefix + "embeddings.word_embeddings.weight",
            shape: [c.vocabularySize, c.hiddenSize]
        )
        positions = try tensors.floats(
            prefix + "embeddings.position_embeddings.weight",
            shape: [c.maxPositions, c.hiddenSize]
        )
        switch kind {
        case .bert:
            let types = try tensors.floats(
                prefix + "embeddings.token_type_embeddings.weight",
                shape: [max(1, c.typeVocabularySize), c.hiddenSize]
            )
            tokenType = Array(types[0..<c.hiddenSize])
            positionOffset = 0
        case .mpnet:
            tokenType = []
            positionOffset = c.padTokenId + 1
        }
        norm = try LayerNormalization(
            tensors,
            prefix + "embeddings.LayerNorm",
            size: c.hiddenSize,
            epsilon: c.layerNormEpsilon
        )
    }

    /// Writes the embedded, normalised rows of `batch` into `hidden`.
    func forward(_ batch: PackedBatch, into hidden: UnsafeMutablePointer<Float>, pool: ComputePool) {
        let width = self.width
        let positionsOfRows = batch.positions
        words.withUnsafeBufferPointer { w in
            positions.withUnsafeBufferPointer { p in
                tokenType.withUnsafeBufferPointer { t in
                    pool.forEachChunk(batch.tokenCount, minimumChunk: 64) { chunk in
                        for r in chunk {
                            let out = hidden + r * width
                            let word = w.baseAddress! + Int(batch.ids[r]) * width
                            let position = p.baseAddress! + (positionsOfRows[r] + positionOffset) * width
                            for j in 0..<width { out[j] = word[j] + position[j] }
                            if let type = t.baseAddress, !t.isEmpty {
                                for j in 0..<width { out[j] += type[j] }
                            }
                        }
                    }
                }
            }
        }
        norm.forward(hidden, rows: batch.tokenCount, pool: pool)
    }
}
