import ArgumentParser
import SearchService

struct TokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Manage the search service's bearer tokens: one per caller, each with a role, revocable.",
        discussion: """
            coord tokens add NAME --role read|admin --tokens FILE   make a token (printed once; only its hash is kept)
            coord tokens list --tokens FILE                         the tokens' names and roles, revoked or not
            coord tokens revoke NAME --tokens FILE                  refuse that token from now on (no restart needed)

            read: searches, embeddings and every GET; admin: also cancelling jobs. Give the service the file \
            (`coord api --tokens FILE`); callers send `Authorization: Bearer TOKEN`.
            """,
        subcommands: [Add.self, List.self, Revoke.self]
    )

    struct File: ParsableArguments {
        @Option(name: .long, help: "The token file (made if missing, mode 0600).")
        var tokens: String

        func store() throws -> TokenStore {
            do { return try TokenStore(file: tokens) } catch { throw fail(error) }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token and print it (once).")
        @Argument(help: "Who or what the token is for.") var name: String
        @Option(name: .long, help: "read or admin.") var role: String = "read"
        @OptionGroup var file: File

        func validate() throws {
            guard TokenStore.Role(rawValue: role) != nil else {
                throw ValidationError("--role must be read or admin, not \(role)")
            }
        }

        func run() throws {
            do { print(try file.store().add(name: name, role: TokenStore.Role(rawValue: role)!)) } catch {
                throw fail(error)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens: name, role, revoked or not.")
        @OptionGroup var file: File

        func run() throws {
            let entries = try file.store().entries
            if entries.isEmpty { print("no tokens yet (`coord tokens add NAME --role read --tokens \(file.tokens)`)") }
            for entry in entries {
                print("\(entry.name)  \(entry.role.rawValue)\(entry.revoked ? "  revoked" : "")")
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refuse a token from now on.")
        @Argument(help: "The token's name.") var name: String
        @OptionGroup var file: File

        func run() throws {
            do {
                try file.store().revoke(name: name)
                print("revoked \(name)")
            } catch { throw fail(error) }
        }
    }
}
