import Foundation

/// BERT's text normaliser, as the reference tokenizers library applies it:
/// clean the text (drop NUL, U+FFFD and "other" characters, turn whitespace into
/// spaces), put spaces around CJK ideographs, strip accents (NFD, then drop
/// non-spacing marks), lower-case — in that order, each where configured.
public struct BertNormalizer: Sendable, Equatable {
    public var cleanText = true
    public var handleChineseCharacters = true
    public var stripAccents = true
    public var lowercase = true

    public init(
        cleanText: Bool = true,
        handleChineseCharacters: Bool = true,
        stripAccents: Bool = true,
        lowercase: Bool = true
    ) {
        self.cleanText = cleanText
        self.handleChineseCharacters = handleChineseCharacters
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }

    public func normalize(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if cleanText {
                if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
                if Self.isWhitespace(scalar) {
                    scalars.append(" ")
                    continue
                }
            }
            if handleChineseCharacters && Self.isChineseCharacter(scalar) {
                scalars.append(" ")
                scalars.append(scalar)
                scalars.append(" ")
            } else {
                scalars.append(scalar)
            }
        }
        var result = String(scalars)
        // ASCII has no decompositions and no marks: most text skips the NFD pass.
        if stripAccents && !result.utf8.allSatisfy({ $0 < 0x80 }) {
            var stripped = String.UnicodeScalarView()
            for scalar in result.decomposedStringWithCanonicalMapping.unicodeScalars
            where scalar.properties.generalCategory != .nonspacingMark {
                stripped.append(scalar)
            }
            result = String(stripped)
        }
        if lowercase {
            var lowered = String.UnicodeScalarView()
            for scalar in result.unicodeScalars {
                if scalar.isASCII {
                    lowered.append(Unicode.Scalar(UInt8(ascii: scalar).lowercasedASCII))
                } else {
                    // Per character, without context (no final-sigma rule), like Rust's `char::to_lowercase`.
                    lowered.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                }
            }
            result = String(lowered)
        }
        return result
    }

    /// Tab, newline and carriage return count as whitespace, not control.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case " ", "\t", "\n", "\r": true
        // ASCII without a table look-up: White_Space there is U+0009–U+000D and U+0020.
        case "\0"..."\u{7F}": (0x09...0x0D).contains(s.value)
        default: s.properties.isWhitespace
        }
    }

    /// What the reference counts as "other" (Cc, Cf and Co; unassigned code
    /// points are kept), less tab, newline and carriage return.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case "\t", "\n", "\r": return false
        // ASCII's "other" characters are its controls (Cc), U+0000–U+001F and U+007F.
        case "\0"..."\u{7F}": return s.value < 0x20 || s.value == 0x7F
        default:
            switch s.properties.generalCategory {
            case .control, .format, .privateUse: return true
            default: return false
            }
        }
    }

    /// The CJK ideograph blocks the reference tokenizers library spaces out.
    static func isChineseCharacter(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
            0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            true
        default: false
        }
    }
}

extension UInt8 {
    fileprivate init(ascii scalar: Unicode.Scalar) { self = UInt8(truncatingIfNeeded: scalar.value) }

    fileprivate var lowercasedASCII: UInt8 { (65...90).contains(self) ? self + 32 : self }
}
