import ArgumentParser
import Foundation
import LinearAlgebra
import PostgresClient
import ZeroMQ

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print the versions of the linked libraries and what this machine offers."
    )

    func run() {
        let environment = ProcessInfo.processInfo.environment
        print(
            """
            driftless worker \(DriftlessVersion.current)
            cores            \(ProcessInfo.processInfo.activeProcessorCount)
            OpenBLAS         \(BLAS.configuration)
            OpenBLAS kernel  \(BLAS.coreName) (OPENBLAS_CORETYPE=\(environment["OPENBLAS_CORETYPE"] ?? "unset"))
            libzmq           \(ZeroMQ.version)
            libpq            \(LibPQ.version)
            """
        )
    }
}
