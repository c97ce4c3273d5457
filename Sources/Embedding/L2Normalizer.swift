/// L2 normalisation (sentence-transformers' `Normalize` module).
enum L2Normalizer {
    static func normalize(_ v: UnsafeMutablePointer<Float>, count: Int) {
        var sum: Float = 0
        for j in 0..<count { sum += v[j] * v[j] }
        // torch.nn.functional.normalize divides by max(norm, 1e-12).
        let scale = 1 / Swift.max(sum.squareRoot(), 1e-12)
        for j in 0..<count { v[j] *= scale }
    }
}
