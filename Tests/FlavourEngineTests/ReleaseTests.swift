import FlavourEngine
import Testing

/// flavourd says which release it is (`driver_flavour_info{version=...}`): the version of
/// debian/changelog's first entry, which is what the package is called.
@Suite struct ReleaseTests {
    @Test func theVersionIsTheChangelogs() throws {
        let repository = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let changelog = String(decoding: try FileSystem.read("/" + repository + "/debian/changelog"), as: UTF8.self)
        let first = try #require(changelog.split(separator: "\n").first)
        #expect(first.hasPrefix("driver-flavour (\(Release.version)) "), "\(first)")
    }
}
