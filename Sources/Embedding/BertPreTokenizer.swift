/// Splits normalised text into words: on whitespace (dropped) and around every
/// punctuation character (kept as a word of its own), as BERT does.
public enum BertPreTokenizer {
    public static func words(_ text: String) -> [Substring.UnicodeScalarView] {
        var words: [Substring.UnicodeScalarView] = []
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        var index = start
        while index < scalars.endIndex {
            let scalar = scalars[index]
            let whitespace = BertNormalizer.isWhitespace(scalar)
            if whitespace || isPunctuation(scalar) {
                if start < index { words.append(scalars[start..<index]) }
                let next = scalars.index(after: index)
                if !whitespace { words.append(scalars[index..<next]) }
                start = next
            }
            index = scalars.index(after: index)
        }
        if start < scalars.endIndex { words.append(scalars[start..<scalars.endIndex]) }
        return words
    }

    /// ASCII punctuation (which includes symbols such as `$`, `+`, `^`) and
    /// Unicode's punctuation categories (Pc, Pd, Ps, Pe, Pi, Pf, Po).
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 33...47, 58...64, 91...96, 123...126: return true
        case 0..<128: return false
        default:
            switch s.properties.generalCategory {
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                .initialPunctuation, .finalPunctuation, .otherPunctuation:
                return true
            default: return false
            }
        }
    }
}
