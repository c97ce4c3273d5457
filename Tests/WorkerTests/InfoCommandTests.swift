import DriftlessTestSupport
import Foundation
import Testing

@Suite("worker info")
struct InfoCommandTests {
    @Test("names the linked OpenBLAS, libzmq and libpq")
    func linkedLibraries() throws {
        let run = try TestResources.runWorker(["info"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("OpenBLAS         OpenBLAS 0."))
        #expect(run.stdout.contains("libzmq           4."))
        #expect(run.stdout.range(of: #"libpq\s+\d+\.\d+"#, options: .regularExpression) != nil)
    }
}
