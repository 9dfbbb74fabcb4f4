/// The smallest ELF64 relocatable object depmod accepts as a module: a `.modinfo`
/// section (NUL-separated `key=value` strings, as `include/linux/moduleparam.h` lays
/// them out) and the section-name table. depmod reads a module's aliases from
/// `.modinfo` (libkmod's `kmod_elf_get_modinfo_strings`), so this is enough for it to
/// write `modules.alias` and `modules.alias.bin` for a generated tree.
enum ElfModule {
    static func object(modinfo: [String]) -> [UInt8] {
        var info: [UInt8] = []
        for entry in modinfo { info += Array(entry.utf8) + [0] }
        let names = Array("\0.modinfo\0.shstrtab\0".utf8)
        let infoOffset = 64
        let namesOffset = infoOffset + info.count
        var sectionsOffset = namesOffset + names.count
        sectionsOffset = (sectionsOffset + 7) & ~7

        var out: [UInt8] = []
        out.reserveCapacity(sectionsOffset + 3 * 64)
        func u16(_ v: Int) { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int) { for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(v >> shift & 0xFF)) } }
        func u64(_ v: Int) { for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(v >> shift & 0xFF)) } }

        // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, System V ABI, padding.
        out += [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
        u16(1)  // ET_REL
        u16(62)  // EM_X86_64
        u32(1)  // EV_CURRENT
        u64(0)  // e_entry
        u64(0)  // e_phoff
        u64(sectionsOffset)  // e_shoff
        u32(0)  // e_flags
        u16(64)  // e_ehsize
        u16(0)  // e_phentsize
        u16(0)  // e_phnum
        u16(64)  // e_shentsize
        u16(3)  // e_shnum
        u16(2)  // e_shstrndx
        out += info
        out += names
        out += [UInt8](repeating: 0, count: sectionsOffset - out.count)

        func section(name: Int, type: Int, flags: Int, offset: Int, size: Int) {
            u32(name); u32(type); u64(flags); u64(0); u64(offset); u64(size)
            u32(0); u32(0); u64(1); u64(0)
        }
        section(name: 0, type: 0, flags: 0, offset: 0, size: 0)  // SHN_UNDEF
        section(name: 1, type: 1, flags: 2, offset: infoOffset, size: info.count)  // .modinfo: PROGBITS, ALLOC
        section(name: 10, type: 3, flags: 0, offset: namesOffset, size: names.count)  // .shstrtab: STRTAB
        return out
    }
}
