import Compat
import Search

/// The projection: fitted on the fitting rows (without the held-out documents) and scored by the
/// validation — one method, or every method with `auto` — then fitted again, with the method so
/// chosen, on every pair. The validated projection is the one the predictions are made with.
struct ProjectionChoice {
    let validated: Projection
    /// The same method fitted on every pair: what is stored and served.
    let final: Projection
    /// Method → its validation score.
    let scores: [(method: ProjectionMethod, score: Double)]

    init(
        _ pairs: FittingPairs,
        method: ProjectionMethod?,
        options: ProjectionFitter.Options,
        score: @escaping (Projection) throws -> Double
    ) throws(SearchError) {
        var projection: Projection
        var scores: [(method: ProjectionMethod, score: Double)]
        let fitter: ProjectionFitter
        let everyPair: ProjectionFitter
        do {
            fitter = try ProjectionFitter(
                new: pairs.fittingRows.map { pairs.newSide[$0] },
                old: pairs.fittingRows.map { pairs.oldSide[$0] },
                options: options
            )
            everyPair = try ProjectionFitter(new: pairs.newSide, old: pairs.oldSide, options: options)
        } catch { throw .projection(error) }
        do {
            if let method {
                projection = try fitter.fit(method)
                scores = [(method, try score(projection))]
            } else {
                (projection, scores) = try fitter.auto { _, projection in try score(projection) }
            }
        } catch let error as CompatError {
            throw .projection(error)
        } catch {
            throw .projection(.numerical("\(error)"))
        }
        validated = projection
        do {
            var final = try everyPair.fit(projection.method)
            for (key, value) in projection.details where key.hasPrefix("auto_score_") { final.details[key] = value }
            self.final = final
        } catch { throw .projection(error) }
        self.scores = scores
    }
}
