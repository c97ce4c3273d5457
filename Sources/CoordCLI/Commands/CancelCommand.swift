import ArgumentParser
import Foundation
import Wire

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Stop a job submitted by mistake: its leases are revoked and its staged documents deleted.",
        discussion: """
            A receiving or running job becomes `cancelled`. Shards already committed stay (each wrote its \
            documents with their vectors in one transaction); the others are dropped, and a worker's commit \
            in flight is fenced. A job that is indexing (all committed, building its HNSW index), done or \
            failed is refused. Exit 0 when cancelled, 1 otherwise.
            """
    )

    @Argument(help: "The job id (see `coord status`).") var job: Int64
    @OptionGroup var client: ClientOptions

    func run() throws {
        let reply: ClientReply
        do { reply = try client.client().request(.cancel(job: job)) } catch { throw fail(error) }
        switch reply {
        case .ack(_, let committed):
            print("job \(job) cancelled; its \(committed) shards committed before stay in the index")
        case .failure(let message): throw fail(message)
        default: throw fail("unexpected reply from the coordinator")
        }
    }
}
