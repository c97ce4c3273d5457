import CLowPrecision

/// What oneDNN runs on here: the instruction set its CPU dispatch chose (held down by
/// `ONEDNN_MAX_CPU_ISA`, which is how tests exercise the paths of older CPUs).
public enum OneDNN {
    /// e.g. "avx512_core_bf16", "avx512_core_vnni", "avx2".
    public static var instructionSet: String { String(cString: dl_onednn_isa()) }
    /// Multiplies u8 × s8 exactly (VNNI): inputs are quantized to 255 levels, else to 127.
    public static var hasVNNI: Bool { dl_onednn_has_vnni() != 0 }
    /// Has bfloat16 instructions: bf16 products run in oneDNN, else in float32 on rounded values.
    public static var hasBF16: Bool { dl_onednn_has_bf16() != 0 }

    /// The kernel a precision's products use on this CPU, as `worker bench` reports it.
    public static func kernel(for precision: Precision) -> String {
        switch precision {
        case .fp32: "openblas-sgemm"
        case .bf16:
            hasBF16 ? "onednn-bf16 (\(instructionSet))" : "bf16-rounded sgemm (no bfloat16 on \(instructionSet))"
        case .int8: "onednn-u8s8 (\(instructionSet), \(hasVNNI ? "8-bit" : "7-bit") inputs)"
        }
    }
}
