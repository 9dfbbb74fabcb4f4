import ArgumentParser
import FlavourEngine

/// Where flavourd keeps `status.json` and its crash journal (`inflight/`).
struct RunDirectoryOption: ParsableArguments {
    @Option(help: ArgumentHelp("flavourd's runtime directory.", valueName: "dir"))
    var runDir = DefaultPaths.runDirectory
}
