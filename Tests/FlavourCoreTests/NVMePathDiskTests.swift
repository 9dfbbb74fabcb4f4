import FlavourCore
import Testing

@Suite struct NVMePathDiskTests {
    @Test(arguments: [
        ("nvme0c0n1", "nvme0n1", "nvme0"),
        ("nvme1c3n2", "nvme1n2", "nvme3"),
        ("nvme12c10n100", "nvme12n100", "nvme10"),
    ])
    func aPathDiskNamesItsHeadAndController(name: String, head: String, controller: String) throws {
        let path = try #require(NVMePathDisk(name))
        #expect(path.head == head)
        #expect(path.controllerName == controller)
        #expect(path.name == name)
    }

    @Test(arguments: ["nvme0n1", "nvme0n1p1", "nvme0c0n1p1", "nvme0c0", "nvmec0n1", "nvme0cn1", "nvme0c0n", "sda", "nvme-0c0n1",
                      "nvme0c+1n1", "nvme0c0n１"])
    func otherNamesAreNotPathDisks(name: String) {
        #expect(NVMePathDisk(name) == nil)
    }
}
