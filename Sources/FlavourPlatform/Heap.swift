import CFlavourShim

/// The C heap, as glibc's malloc keeps it.
public enum Heap {
    /// One malloc arena for the whole process, set before any thread starts. glibc gives
    /// threads arenas of their own, and memory freed in one stays resident: each reload,
    /// run by whichever thread the executor picked, left about 2.7 MiB behind in another
    /// arena (idle RSS 11 -> 16 MiB after a few reloads). flavourd's threads mostly sleep,
    /// so they do not contend for the one arena.
    public static func useOneArena() {
        _ = mallopt(M_ARENA_MAX, 1)
    }

    /// Gives the pages of freed memory back to the kernel, in every malloc arena. glibc
    /// trims only the top of the main heap by itself: memory freed in a thread's arena
    /// stays resident. Worth it after a large short-lived allocation off the main thread:
    /// a reload parses modules.alias (27,000 lines on Debian) into a new table and frees
    /// the old one, and about 1.3 MiB of that would stay resident.
    public static func releaseFreeMemory() {
        _ = malloc_trim(0)
    }

    /// The bytes the heap holds (arenas and mmapped chunks) and those in use, for the
    /// benchmark: what `releaseFreeMemory` can give back is the difference, at most.
    public static func bytes() -> (held: Int, inUse: Int) {
        let info = mallinfo2()
        return (Int(info.arena + info.hblkhd), Int(info.uordblks + info.hblkhd))
    }
}
