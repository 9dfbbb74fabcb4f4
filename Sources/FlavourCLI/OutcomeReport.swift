import FlavourCore
import FlavourEngine
import FlavourPOSIX

/// A bind outcome for people (`lines`) and machines (`Encodable`).
struct OutcomeReport: Encodable {
    struct Step: Encodable {
        let step: String
        let module: Nullable<String>
        let driver: Nullable<String>
        let errno: Nullable<String>
        let message: String
    }
    let address: String
    let requested: String
    let result: String
    let succeeded: Bool
    let driver: Nullable<String>
    let previousDriver: Nullable<String>
    let attempts: [Step]

    enum CodingKeys: String, CodingKey {
        case address, requested, result, succeeded, driver, attempts
        case previousDriver = "previous_driver"
    }

    init(_ outcome: BindOutcome) {
        address = outcome.address.description
        requested = outcome.requested
        result = outcome.result.name
        succeeded = outcome.succeeded
        driver = Nullable(outcome.driver?.rawValue)
        previousDriver = Nullable(outcome.previousDriver?.rawValue)
        attempts = outcome.attempts.map {
            Step(step: $0.step.rawValue, module: Nullable($0.module?.rawValue), driver: Nullable($0.driver?.rawValue),
                 errno: Nullable($0.errno.map(Errno.name)), message: $0.message)
        }
    }

    static func lines(_ outcome: BindOutcome) -> [String] {
        let a = outcome.address
        var lines = outcome.attempts.map { "  \($0)" }
        let summary: String
        switch outcome.result {
        case let .bound(driver, module):
            summary = "\(a): bound to \(driver) (module \(module)), was \(outcome.previousDriver?.rawValue ?? "unbound")"
        case let .fellBack(driver, module):
            summary = "\(a): bound to \(driver) (module \(module)) after \(outcome.attempts.filter { !$0.succeeded }.count) failed attempt(s), was \(outcome.previousDriver?.rawValue ?? "unbound")"
        case let .alreadyBound(driver):
            summary = "\(a): already on \(driver), a driver of flavour \(outcome.requested); left there (revert with 'none' first to choose again)"
        case let .failedRestored(previous):
            summary = "\(a): could not be given flavour \(outcome.requested); every candidate failed (above). It is back on \(previous?.rawValue ?? "no driver, as before"). See dmesg for the probes' errors, 'flavourctl explain \(a) \(outcome.requested)' for the candidates; a deny rule skips a variant that cannot work here."
        case let .failedNotRestored(previous, now):
            summary = "\(a): could not be given flavour \(outcome.requested), and restoring \(previous?.rawValue ?? "it") failed: it is on \(now?.rawValue ?? "no driver"). Run 'flavourctl apply \(a) none' or check dmesg."
        case let .refused(why):
            summary = "\(a): nothing done: \(why)"
        case let .reverted(driver):
            summary = "\(a): back on its default driver \(driver?.rawValue ?? "(none: no driver claims it)")"
        case let .alreadyDefault(driver):
            summary = "\(a): already on its default driver \(driver?.rawValue ?? "none"); nothing changed"
        case let .revertFailed(why):
            summary = "\(a): revert failed: \(why)"
        case .gone:
            summary = "\(a): the device was removed while the request was carried out; nothing to undo"
        }
        lines.append(summary)
        return lines
    }
}
