import LinearAlgebra
import Testing

@Suite("BLAS and the compute pool")
struct BLASTests {
    @Test("sgemm with transposes and strides equals the naive product")
    func sgemm() {
        let m = 5
        let n = 3
        let k = 4
        let a: [Float] = (0..<(m * k)).map { Float($0 % 7) - 3 }
        let bT: [Float] = (0..<(n * k)).map { Float($0 % 5) * 0.5 }  // n × k, used transposed
        var c = [Float](repeating: 1, count: m * n)
        a.withUnsafeBufferPointer { a in
            bT.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    BLAS.sgemm(
                        .none,
                        .transpose,
                        m: m,
                        n: n,
                        k: k,
                        alpha: 2,
                        a: a.baseAddress!,
                        lda: k,
                        b: b.baseAddress!,
                        ldb: k,
                        beta: 1,
                        c: c.baseAddress!,
                        ldc: n
                    )
                }
            }
        }
        for i in 0..<m {
            for j in 0..<n {
                let dot = (0..<k).reduce(Float(0)) { $0 + a[i * k + $1] * bT[j * k + $1] }
                #expect(c[i * n + j] == 2 * dot + 1)
            }
        }
        #expect(!BLAS.coreName.isEmpty)
    }

    @Test("chunks cover the range once", arguments: [0, 1, 7, 100])
    func chunks(count: Int) {
        let pool = ComputePool(threads: 3)
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
        hits.initialize(repeating: 0)
        defer { hits.deallocate() }
        pool.forEachChunk(count) { range in
            for i in range { hits[i] += 1 }
        }
        #expect(hits.prefix(count).allSatisfy { $0 == 1 })
        // A worker index is never used by two threads at once (callers hang per-thread scratch on it).
        let busy = UnsafeMutableBufferPointer<Int>.allocate(capacity: 3)
        busy.initialize(repeating: 0)
        defer { busy.deallocate() }
        var clashes = 0
        pool.forEach(count) { i, worker in
            #expect(worker < 3)
            busy[worker] += 1
            if busy[worker] != 1 { clashes += 1 }
            for _ in 0..<1000 { hits[i] &+= 0 }
            busy[worker] -= 1
            hits[i] += 1
        }
        #expect(clashes == 0)
        #expect(hits.prefix(count).allSatisfy { $0 == 2 })
    }
}
