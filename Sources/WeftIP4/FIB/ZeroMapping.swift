#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An anonymous private mapping that reads as zeros and costs physical memory
/// only for the pages that are written (`MAP_NORESERVE`, no `MAP_POPULATE`).
/// The FIB's lookup tables live in these so that an empty or sparse table is
/// cheap: an untouched page is the kernel's shared zero page, and zero is the
/// "no route" encoding everywhere in the FIB.
struct ZeroMapping {
    let base: UnsafeMutableRawPointer
    let length: Int

    /// `hugePages` asks for transparent huge pages (`MADV_HUGEPAGE`): fewer TLB
    /// misses on lookups over a large table, at the price of 2 MiB of memory
    /// per touched 2 MiB region instead of 4 KiB per touched page.
    init(bytes: Int, writable: Bool = true, hugePages: Bool = false) throws {
        let page = 4096
        let len = max(page, (bytes + page - 1) / page * page)
        let prot = writable ? (PROT_READ | PROT_WRITE) : PROT_READ
        let p = mmap(nil, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let p, p != MAP_FAILED else { throw FIBError.outOfMemory(bytes: len) }
        #if os(Linux)
        if hugePages { _ = madvise(p, len, MADV_HUGEPAGE) }
        #endif
        base = p
        length = len
    }

    func unmap() { munmap(base, length) }

    /// Drops every page: the mapping reads as zeros again and holds no memory.
    func discard() { _ = madvise(base, length, Int32(MADV_DONTNEED)) }

    /// Bytes of this mapping currently resident (mincore), for `show fib` and tests.
    func residentBytes() -> Int {
        let page = 4096
        let pages = length / page
        var vec = [UInt8](repeating: 0, count: pages)
        let rc = vec.withUnsafeMutableBufferPointer { mincore(base, length, $0.baseAddress) }
        guard rc == 0 else { return -1 }
        return vec.reduce(0) { $0 + Int($1 & 1) } * page
    }
}
