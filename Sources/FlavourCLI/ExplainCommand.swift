import ArgumentParser
import FlavourCore
import FlavourEngine

/// `flavourctl explain DEVICE [FLAVOUR]`: the decision, without doing anything.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show every candidate driver for a device, in the order they would be tried, and why.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("PCI address, DDDD:BB:DD.F.", valueName: "device"))
    var device: String

    @Argument(help: ArgumentHelp("The flavour to explain, as `apply DEVICE FLAVOUR` takes it (default: vfio).", valueName: "flavour"))
    var flavourArgument: String?

    @Option(name: .customLong("flavour"), help: ArgumentHelp("The same, as an option.", valueName: "flavour"))
    var flavourOption: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if let flavourArgument, let flavourOption, flavourArgument != flavourOption {
            throw ValidationError("two flavours given: '\(flavourArgument)' and --flavour '\(flavourOption)'")
        }
    }

    var flavour: String { flavourArgument ?? flavourOption ?? "vfio" }

    struct Report: Encodable {
        struct Entry: Encodable {
            let module: String
            let alias: Nullable<String>
            let wildcards: Nullable<Int>
            let source: String
            let universal: Bool
        }
        struct Denied: Encodable {
            let module: String
            let alias: Nullable<String>
            let source: String
            let rule: String
            let ruleSource: String
            enum CodingKeys: String, CodingKey { case module, alias, source, rule, ruleSource = "rule_source" }
        }
        let address: String
        let modalias: String
        let flavour: String
        let key: String
        let driver: Nullable<String>
        let candidates: [Entry]
        let denied: [Denied]
        let first: Nullable<String>
        let iommuGroup: Nullable<Int>
        let groupViable: Nullable<Bool>
        let groupBlockers: [GroupReport.Blocker]
        let inUse: [String]
        let protected: Nullable<String>

        enum CodingKeys: String, CodingKey {
            case address, modalias, flavour, key, driver, candidates, denied, first, protected
            case iommuGroup = "iommu_group", groupViable = "group_viable", groupBlockers = "group_blockers"
            case inUse = "in_use"
        }
    }

    func run() throws {
        let address = try parseDevice(device)
        let sysfs = global.sysfs
        let pciDevice: PCIDevice
        do { pciDevice = try sysfs.pciDevice(address) } catch { throw CLIError(error.description) }
        let loaded = try global.loadTable()
        guard let chosen = loaded.config.flavour(named: flavour) else {
            throw CLIError("unknown flavour '\(flavour)'; known: \(loaded.config.flavours.keys.sorted().joined(separator: ", "))")
        }
        let plan = CandidatePlan(flavour: chosen, modalias: pciDevice.modalias, table: loaded.table, config: loaded.config)
        let group = GroupReport(pciDevice, check: VFIODriverCheck(sysfs: sysfs, table: loaded.table, config: loaded.config))
        let verdict = global.requestGuard(loaded).uses([pciDevice])[0]
        let inUse = verdict.reasons.map(\.description)
        let report = Report(
            address: address.description, modalias: pciDevice.modalias.description, flavour: chosen.name, key: plan.key,
            driver: Nullable(pciDevice.driver),
            candidates: plan.candidates.map {
                .init(module: $0.module.rawValue, alias: Nullable($0.alias), wildcards: Nullable($0.wildcards),
                      source: $0.source.description, universal: $0.isUniversal)
            },
            denied: plan.denied.map {
                .init(module: $0.candidate.module.rawValue, alias: Nullable($0.candidate.alias),
                      source: $0.candidate.source.description, rule: $0.rule.pattern.text, ruleSource: $0.rule.source.description)
            },
            first: Nullable(plan.candidates.first?.module.rawValue), iommuGroup: Nullable(group.number),
            groupViable: Nullable(group.viable), groupBlockers: group.blockers, inUse: inUse,
            protected: Nullable(verdict.protection?.description))
        if json {
            say(try JSONOutput.render(report))
            return
        }
        say("device:    \(address) (\(pciDevice.modalias.pciID)), driver \(pciDevice.driver ?? "none")")
        say("modalias:  \(pciDevice.modalias)")
        say("flavour:   \(chosen.name), looked up as \(plan.key)")
        say("candidates, in try order:")
        let width = plan.candidates.map(\.module.rawValue.count).max() ?? 0
        for (index, candidate) in plan.candidates.enumerated() {
            let name = candidate.module.rawValue.padding(toLength: width, withPad: " ", startingAt: 0)
            let alias = candidate.alias.map { "\($0) (\(candidate.wildcards ?? 0) wildcards)" } ?? "no alias"
            let note = candidate.isUniversal ? ", universal fallback" : ""
            say("  \(index + 1). \(name)  \(alias)  from \(candidate.source)\(note)")
        }
        if !plan.denied.isEmpty {
            say("denied:")
            for denied in plan.denied {
                say("  - \(denied.candidate.module): deny \(denied.rule.pattern.text) at \(denied.rule.source)")
            }
        }
        say("would try first: \(plan.candidates.first?.module.rawValue ?? "nothing (every candidate is denied)")")
        if let number = group.number {
            let members = group.members.map { "\($0.address)\(IOMMUGroup.isBridge($0) ? " (bridge)" : "")" }
            say("iommu group: \(number): \(members.joined(separator: ", "))")
        } else {
            say("iommu group: none")
        }
        say("viable if bound: \(group.viableText)")
        say("in use by the host: \(inUse.isEmpty ? "no" : inUse.joined(separator: "; "))")
        say("protected: \(verdict.protection.map { "yes, by \($0); never moved, --force or not" } ?? "no")")
    }
}
