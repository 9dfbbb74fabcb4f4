import FlavourCore
import FlavourEngine

/// The fleet files (FleetPublisher): what the configuration says about them, and the events
/// that change what they say. The outcomes reach them through OutcomeLog.
extension FlavourService {
    /// A configuration in use (start, reload): its flavours, and the directories it names
    /// unless the command line fixed them.
    func configureFleet(_ config: FlavourConfig) {
        fleet.configure(
            flavours: Array(config.flavours.keys),
            metricsDirectory: settings.metricsDirectory.resolved(config.metricsDirectory).path,
            nodeLabelsDirectory: settings.nodeLabelsDirectory.resolved(config.nodeLabelsDirectory).path)
    }

    /// An event that is no request: a device added or removed changes what the standing
    /// requests cover; a bind or unbind, by flavourd or anyone, may change a device's VFIO mode.
    func fleetSees(_ event: DeviceEvent, _ request: UeventRequest, executor: RequestExecutor) {
        switch request {
        case let .added(address, modalias):
            // The event's MODALIAS, as the standing request's own look-up would read it: no sysfs read here.
            let modalias = modalias ?? (try? executor.sysfs.pciDevice(address))?.modalias
            let covering = executor.config.requests.first { $0.covers(address: address, modalias: modalias) }
            fleet.deviceAdded(address, coveredBy: covering.flatMap { executor.config.flavour(named: $0.flavourName)?.name })
        case .removed(let address):
            fleet.deviceRemoved(address)
        case .ignored where event.action == "bind" || event.action == "unbind":
            fleet.devicesChanged()
        default:
            break
        }
    }
}
