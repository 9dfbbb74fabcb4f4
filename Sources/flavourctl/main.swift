import FlavourCLI

#if canImport(Glibc)
import Glibc
#endif

exit(Flavourctl.run(arguments: Array(CommandLine.arguments.dropFirst())))
