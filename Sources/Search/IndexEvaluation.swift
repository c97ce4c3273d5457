import Corpus
import Foundation
import Retrieval
import Store

/// `coord eval`: a BEIR query file and qrels run against an index, scored with the
/// standard metrics, with search latencies and (optionally) agreement with exact search.
public struct IndexEvaluation {
    public struct Options: Sendable {
        public var cutoffs: [Int] = [10, 100]
        public var method: SearchMethod = .exact
        /// Queries embedded per batch; 1 measures each query's embedding latency.
        public var batchSize = 32
        /// Also search exactly and report how much of the exact top 10 `method` found.
        public var compareExact = false

        public init() {}
    }

    public struct Outcome: Sendable {
        public var evaluation: RetrievalEvaluation
        /// The run: each query's results as searched (for a TREC run file).
        public var run: [String: [ScoredDocument]]
        public var searchLatency: LatencySummary
        /// Per query, when embedded one at a time (batch size 1); else per batch / batch size.
        public var embeddingLatency: LatencySummary
        /// Embedding plus search, per query.
        public var totalLatency: LatencySummary
        public var method: SearchMethod
        public var serving: ServingState
        /// Documents embedded on demand while re-scoring (rescore mode).
        public var embeddedOnDemand: Int
        /// Of those, the documents the workers embedded (`--on-demand-workers`).
        public var embeddedByWorkers: Int
        public var vectors: Int
        /// Queries of the query file without judgments (not run).
        public var unjudgedQueries: Int
        /// Queries named in the qrels but not in the query file.
        public var unknownQueries: Int
        /// Documents named in the qrels (of the evaluated queries) that the index does not hold.
        public var unknownDocuments: Int
        /// Mean share of the exact top 10 that `method` returned (with `compareExact`).
        public var overlapWithExact: Double?
        /// The same queries scored with exact search (with `compareExact`).
        public var exactEvaluation: RetrievalEvaluation?
    }

    public let searcher: IndexSearcher
    public let options: Options

    public init(searcher: IndexSearcher, options: Options) {
        self.searcher = searcher
        self.options = options
    }

    /// Reads the query file, runs every judged query, scores the run. `progress` gets
    /// (queries done, queries in all) after each batch.
    public func run(
        queriesPath: String,
        qrelsPath: String,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws(SearchError) -> Outcome {
        let judgments: RelevanceJudgments
        do { judgments = try RelevanceJudgments.load(path: qrelsPath) } catch { throw .input(error) }
        let queries = try Self.loadQueries(queriesPath)
        let fileIds = Set(queries.map(\.id))
        let judged = queries.filter { judgments[$0.id] != nil }
        let judgedDocuments = Set(judged.flatMap { judgments[$0.id]!.keys })
        let depth = options.cutoffs.max() ?? 10

        var run: [String: [ScoredDocument]] = [:]
        var searchSeconds: [Double] = []
        var embedSeconds: [Double] = []
        var exactRun: [String: [ScoredDocument]] = [:]
        var overlaps: [Double] = []
        let batch = max(1, options.batchSize)
        for start in stride(from: 0, to: judged.count, by: batch) {
            let slice = Array(judged[start..<min(start + batch, judged.count)])
            let began = ContinuousClock.now
            let vectors = try searcher.embed(slice.map(\.text))
            let perQuery = Self.seconds(since: began) / Double(slice.count)
            embedSeconds += Array(repeating: perQuery, count: slice.count)
            for (query, vector) in zip(slice, vectors) {
                let searchBegan = ContinuousClock.now
                let hits = try searcher.search(vector, k: depth, method: options.method)
                searchSeconds.append(Self.seconds(since: searchBegan))
                run[query.id] = hits
                if options.compareExact {
                    let exact = options.method == .exact ? hits : try searcher.search(vector, k: depth, method: .exact)
                    exactRun[query.id] = exact
                    let truth = Set(exact.prefix(10).map(\.id))
                    if !truth.isEmpty {
                        overlaps.append(
                            Double(hits.prefix(10).filter { truth.contains($0.id) }.count) / Double(truth.count)
                        )
                    }
                }
            }
            progress(min(start + batch, judged.count), judged.count)
        }
        let evaluation: RetrievalEvaluation
        var exactEvaluation: RetrievalEvaluation?
        do {
            evaluation = try RetrievalEvaluation(run: run, judgments: judgments, cutoffs: options.cutoffs)
            if options.compareExact {
                exactEvaluation = try RetrievalEvaluation(run: exactRun, judgments: judgments, cutoffs: options.cutoffs)
            }
        } catch {
            throw .input(error)
        }
        return Outcome(
            evaluation: evaluation,
            run: run,
            searchLatency: LatencySummary(seconds: searchSeconds),
            embeddingLatency: LatencySummary(seconds: embedSeconds),
            totalLatency: LatencySummary(seconds: zip(embedSeconds, searchSeconds).map { $0 + $1 }),
            method: options.method,
            serving: searcher.serving,
            embeddedOnDemand: searcher.embeddedOnDemand,
            embeddedByWorkers: searcher.embeddedByWorkers,
            vectors: try searcher.vectorCount(),
            unjudgedQueries: queries.count - judged.count,
            unknownQueries: judgments.queryIds.subtracting(fileIds).count,
            unknownDocuments: try searcher.missing(judgedDocuments).count,
            overlapWithExact: options.compareExact ? overlaps.reduce(0, +) / Double(max(overlaps.count, 1)) : nil,
            exactEvaluation: exactEvaluation
        )
    }

    /// A BEIR query file (`{"_id": …, "text": …}` per line); errors name the line.
    public static func loadQueries(_ path: String) throws(SearchError) -> [Document] {
        do {
            let reader = try CorpusReader(path: path)
            let report = try reader.validate(rejectDuplicates: true, maxErrors: 1)
            if let first = report.errors.first {
                let more = report.errorCount > 1 ? " (and \(report.errorCount - 1) more bad lines)" : ""
                throw SearchError.input(.malformedQuery("\(first)\(more)"))
            }
            let queries = try reader.records()
            guard !queries.isEmpty else { throw SearchError.input(.emptyQueries(path: path)) }
            if let blank = queries.first(where: { $0.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
                throw SearchError.input(.malformedQuery("\(path):\(blank.line): query \(blank.id) is empty"))
            }
            return queries
        } catch let error as SearchError {
            throw error
        } catch let error as CorpusError {
            throw .input(.malformedQuery("\(error)"))
        } catch {
            throw .input(.malformedQuery("\(path): \(error)"))
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = (ContinuousClock.now - start).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
    }
}
