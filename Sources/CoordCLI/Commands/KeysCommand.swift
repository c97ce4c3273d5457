import ArgumentParser
import Wire

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage CURVE keys: the coordinator's pair and one key per peer, each with a role.",
        discussion: """
            coord keys init DIR                                  the coordinator's pair and an empty peer list
            coord keys add NAME --role worker|client|admin --keys DIR [--out PEERDIR]
                                                                 a peer's pair, written to PEERDIR (default DIR/peers.d/NAME)
            coord keys list --keys DIR                           the peers, their roles, revoked or not
            coord keys revoke NAME --keys DIR                    refuse that key from now on (no restart needed)

            Give the coordinator DIR (`coord serve --keys DIR`) and each peer its own folder \
            (`worker --keys PEERDIR`, `coord submit --keys PEERDIR`). The worker endpoint accepts only worker keys, \
            the client endpoint only client and admin keys; urgent jobs (re-scoring's on-demand embedding) need admin. \
            `coord keys --out DIR` still makes the old layout (one pair shared by every worker and client).
            """,
        subcommands: [Init.self, Add.self, List.self, Revoke.self]
    )

    @Option(name: .long, help: "Old layout: one pair shared by every worker and client, and authorized_keys.")
    var out: String?

    func run() throws {
        guard let out else { throw CleanExit.helpRequest(self) }
        do {
            let (server, client) = try CurveKeyStore(folder: out).generate()
            print("coordinator public key: \(server.publicKey)")
            print("client public key:      \(client.publicKey)")
            print(
                "written to \(out) (secret files mode 0600); `coord keys init` makes per-peer keys with roles instead"
            )
        } catch {
            throw fail(error)
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the coordinator's pair and an empty peer list in DIR."
        )

        @Argument(help: "The keys folder (made if missing; existing keys are never overwritten).")
        var folder: String

        func run() throws {
            do {
                let server = try CurveKeyStore(folder: folder).initialize()
                print("coordinator public key: \(server.publicKey)")
                print(
                    "initialised \(folder); add peers with `coord keys add NAME --role worker|client|admin --keys \(folder)`"
                )
            } catch {
                throw fail(error)
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make and register a key for one peer.")

        @Argument(help: "The peer's name (letters, digits, '.', '_', '-'), shown in logs and `coord status`.")
        var name: String

        @Option(name: .long, help: "worker, client or admin.")
        var role: String

        @Option(name: .long, help: "The keys folder made by `coord keys init`.")
        var keys: String

        @Option(name: .long, help: "Where to write the peer's folder (default: KEYS/peers.d/NAME).")
        var out: String?

        func validate() throws {
            guard let role = PeerRole(rawValue: role), role != .legacy else {
                throw ValidationError("--role must be worker, client or admin, not \(role)")
            }
        }

        func run() throws {
            do {
                let (peer, folder) = try CurveKeyStore(folder: keys).addPeer(
                    name: name,
                    role: PeerRole(rawValue: role)!,
                    out: out
                )
                print("\(peer.name) (\(peer.role.rawValue)) public key: \(peer.publicKey)")
                print("its folder: \(folder) (give it to that peer as --keys; client.secret is mode 0600)")
            } catch {
                throw fail(error)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the registered peers.")

        @Option(name: .long, help: "The keys folder made by `coord keys init`.")
        var keys: String

        func run() throws {
            do {
                let peers = try CurveKeyStore(folder: keys).registry.load()
                if peers.isEmpty { print("no peers (add one with `coord keys add`)") }
                let width = peers.map(\.name.count).max() ?? 4
                for peer in peers {
                    let name = peer.name.padding(toLength: width, withPad: " ", startingAt: 0)
                    let role = peer.role.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
                    print("\(name)  \(role)  \(peer.publicKey)\(peer.revoked ? "  revoked" : "")")
                }
            } catch {
                throw fail(error)
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refuse a peer's key from now on; a running coordinator sees it at once."
        )

        @Argument(help: "The peer's name.")
        var name: String

        @Option(name: .long, help: "The keys folder made by `coord keys init`.")
        var keys: String

        func run() throws {
            do {
                let peer = try CurveKeyStore(folder: keys).revoke(name: name)
                print("revoked \(peer.name) (\(peer.role.rawValue)); its connections are refused from now on")
            } catch {
                throw fail(error)
            }
        }
    }
}
