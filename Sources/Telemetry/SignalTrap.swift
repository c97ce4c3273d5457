import Dispatch
import Foundation

/// Calls `handler` on SIGTERM and SIGINT (once each), instead of the default of dying at once.
public final class SignalTrap {
    private let sources: [DispatchSourceSignal]

    public init(_ handler: @escaping @Sendable () -> Void) {
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }
}
