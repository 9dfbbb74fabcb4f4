/// VFIO device indices as the kernel's ida hands them out: the lowest free one.
struct VFIOIndices {
    private var next = 0
    /// Given back, lowest last (taken from the end).
    private var free: [Int] = []

    mutating func take() -> Int {
        if let index = free.popLast() { return index }
        defer { next += 1 }
        return next
    }

    mutating func give(_ index: Int) {
        free.append(index)
        free.sort(by: >)
    }
}
