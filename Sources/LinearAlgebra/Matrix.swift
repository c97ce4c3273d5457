import COpenBLAS

/// A dense row-major matrix of doubles, for fitting (projections between embedding
/// spaces): products through OpenBLAS's `dgemm`, SVD and symmetric solves through
/// LAPACK. Small (thousands × hundreds); not for the hot embedding path.
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    /// `rows × columns` values, row by row.
    public var values: [Double]

    public init(rows: Int, columns: Int, values: [Double]) {
        precondition(values.count == rows * columns, "\(values.count) values for a \(rows)×\(columns) matrix")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public init(rows: Int, columns: Int, repeating value: Double = 0) {
        self.init(rows: rows, columns: columns, values: Array(repeating: value, count: rows * columns))
    }

    /// One row per vector; every vector must have the same length.
    public init(rowVectors: [[Float]]) {
        let columns = rowVectors.first?.count ?? 0
        var values: [Double] = []
        values.reserveCapacity(rowVectors.count * columns)
        for row in rowVectors {
            precondition(row.count == columns, "rows of different lengths")
            values.append(contentsOf: row.lazy.map(Double.init))
        }
        self.init(rows: rowVectors.count, columns: columns, values: values)
    }

    public static func identity(_ size: Int) -> Matrix {
        var matrix = Matrix(rows: size, columns: size)
        for i in 0..<size { matrix[i, i] = 1 }
        return matrix
    }

    public subscript(row: Int, column: Int) -> Double {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    public func row(_ index: Int) -> ArraySlice<Double> { values[(index * columns)..<((index + 1) * columns)] }

    public var transposed: Matrix {
        var result = Matrix(rows: columns, columns: rows)
        for i in 0..<rows { for j in 0..<columns { result.values[j * rows + i] = values[i * columns + j] } }
        return result
    }

    /// The mean of the rows (a vector of `columns`).
    public var columnMeans: [Double] {
        var means = Array(repeating: 0.0, count: columns)
        for i in 0..<rows { for j in 0..<columns { means[j] += values[i * columns + j] } }
        return means.map { $0 / Double(max(rows, 1)) }
    }

    /// Each row minus `vector`.
    public func subtractingFromRows(_ vector: [Double]) -> Matrix {
        precondition(vector.count == columns)
        var result = self
        for i in 0..<rows { for j in 0..<columns { result.values[i * columns + j] -= vector[j] } }
        return result
    }

    /// Rows `range` of the matrix.
    public func rows(_ range: Range<Int>) -> Matrix {
        Matrix(
            rows: range.count,
            columns: columns,
            values: Array(values[(range.lowerBound * columns)..<(range.upperBound * columns)])
        )
    }

    /// The rows at `indices`, in that order.
    public func rows(at indices: [Int]) -> Matrix {
        var selected: [Double] = []
        selected.reserveCapacity(indices.count * columns)
        for i in indices { selected.append(contentsOf: row(i)) }
        return Matrix(rows: indices.count, columns: columns, values: selected)
    }

    /// Columns `0..<count`.
    public func leadingColumns(_ count: Int) -> Matrix {
        var result = Matrix(rows: rows, columns: count)
        for i in 0..<rows { for j in 0..<count { result.values[i * count + j] = values[i * columns + j] } }
        return result
    }

    /// The sum of squares of every entry.
    public var squaredNorm: Double { values.reduce(0) { $0 + $1 * $1 } }

    /// `op(self) · op(other)` through `dgemm`.
    public func multiplied(by other: Matrix, transposingSelf: Bool = false, transposingOther: Bool = false) -> Matrix {
        let m = transposingSelf ? columns : rows
        let k = transposingSelf ? rows : columns
        let k2 = transposingOther ? other.columns : other.rows
        let n = transposingOther ? other.rows : other.columns
        precondition(k == k2, "inner dimensions differ: \(k) and \(k2)")
        var result = Matrix(rows: m, columns: n)
        guard m > 0, n > 0, k > 0 else { return result }
        values.withUnsafeBufferPointer { a in
            other.values.withUnsafeBufferPointer { b in
                result.values.withUnsafeMutableBufferPointer { c in
                    cblas_dgemm(
                        CblasRowMajor,
                        transposingSelf ? CblasTrans : CblasNoTrans,
                        transposingOther ? CblasTrans : CblasNoTrans,
                        blasint(m),
                        blasint(n),
                        blasint(k),
                        1,
                        a.baseAddress,
                        blasint(columns),
                        b.baseAddress,
                        blasint(other.columns),
                        0,
                        c.baseAddress,
                        blasint(n)
                    )
                }
            }
        }
        return result
    }

    public static func + (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.rows == rhs.rows && lhs.columns == rhs.columns)
        return Matrix(rows: lhs.rows, columns: lhs.columns, values: zip(lhs.values, rhs.values).map { $0 + $1 })
    }

    public static func - (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.rows == rhs.rows && lhs.columns == rhs.columns)
        return Matrix(rows: lhs.rows, columns: lhs.columns, values: zip(lhs.values, rhs.values).map { $0 - $1 })
    }

    public static func * (lhs: Double, rhs: Matrix) -> Matrix {
        Matrix(rows: rhs.rows, columns: rhs.columns, values: rhs.values.map { lhs * $0 })
    }

    /// The thin singular value decomposition `self = U · diag(S) · Vᵀ` (LAPACK `dgesdd`):
    /// `U` is `rows × r`, `S` has `r` values in decreasing order, `Vt` is `r × columns`,
    /// with `r = min(rows, columns)`.
    public func singularValueDecomposition() throws(LinearAlgebraError) -> (u: Matrix, s: [Double], vt: Matrix) {
        let r = min(rows, columns)
        var a = values
        var s = Array(repeating: 0.0, count: r)
        var u = Matrix(rows: rows, columns: r)
        var vt = Matrix(rows: r, columns: columns)
        let info = LAPACKE_dgesdd(
            LAPACK_ROW_MAJOR,
            Int8(UInt8(ascii: "S")),
            Int32(rows),
            Int32(columns),
            &a,
            Int32(columns),
            &s,
            &u.values,
            Int32(r),
            &vt.values,
            Int32(columns)
        )
        guard info == 0 else { throw .lapack(routine: "dgesdd", info: Int(info)) }
        return (u, s, vt)
    }

    /// Solves `self · X = rhs` for a symmetric positive-definite `self` (LAPACK `dposv`, Cholesky).
    public func solvingSymmetricPositiveDefinite(_ rhs: Matrix) throws(LinearAlgebraError) -> Matrix {
        precondition(rows == columns && rhs.rows == rows)
        var a = values
        var b = rhs
        let info = LAPACKE_dposv(
            LAPACK_ROW_MAJOR,
            Int8(UInt8(ascii: "U")),
            Int32(rows),
            Int32(rhs.columns),
            &a,
            Int32(columns),
            &b.values,
            Int32(rhs.columns)
        )
        guard info == 0 else { throw .lapack(routine: "dposv", info: Int(info)) }
        return b
    }
}

/// A LAPACK routine that reported failure (`info` ≠ 0: a bad argument, or no convergence / not positive definite).
public enum LinearAlgebraError: Error, Equatable, CustomStringConvertible {
    case lapack(routine: String, info: Int)

    public var description: String {
        switch self {
        case .lapack(let routine, let info):
            info < 0
                ? "LAPACK \(routine): argument \(-info) is invalid"
                : "LAPACK \(routine) failed (info \(info)): the matrix is singular or did not converge"
        }
    }
}
