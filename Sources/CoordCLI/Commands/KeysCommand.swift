import ArgumentParser
import Wire

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make CURVE keys: the coordinator's pair, a pair for workers and clients, and authorized_keys.",
        discussion: """
            Give the coordinator the whole folder (`coord serve --keys DIR`); give workers and clients a copy \
            holding coordinator.public, client.public and client.secret (`worker --keys DIR`, `coord submit --keys DIR`). \
            More client keys: add their public keys to authorized_keys.
            """
    )

    @Option(
        name: .long,
        help: "The folder to write the keys into (made if missing; existing keys are never overwritten)."
    )
    var out: String

    func run() throws {
        do {
            let (server, client) = try CurveKeyStore(folder: out).generate()
            print("coordinator public key: \(server.publicKey)")
            print("client public key:      \(client.publicKey)")
            print("written to \(out) (secret files mode 0600)")
        } catch {
            throw fail(error)
        }
    }
}
