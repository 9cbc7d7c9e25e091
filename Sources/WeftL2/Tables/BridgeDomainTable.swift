import WeftEngine

/// Bridge domains: per-domain settings and member interfaces in flat arrays
/// the L2 nodes index by domain id. Changed by the control thread under the
/// worker barrier.
///
/// Members (issue 20): each domain has its own list, `initialMemberCapacity`
/// slots at first, doubled when full, so a domain holds any number of members
/// up to the interface table's size (a dense node's thousand pods in one
/// network) and an idle domain costs nothing. Every interface remembers its
/// position in its domain's list, so adding and removing a member is O(1)
/// whatever the domain's size (no scan per attach). l2-flood reads a domain's
/// list pointer afresh for every frame; a list only moves under the barrier.
public final class BridgeDomainTable {
    public static let maxDomains = 1024
    /// Slots a domain's member list starts with.
    public static let initialMemberCapacity = 16

    public let exists: UnsafeMutablePointer<Bool>
    public let learning: UnsafeMutablePointer<Bool>
    public let learnLimit: UnsafeMutablePointer<UInt32>
    public let learned: UnsafeMutablePointer<UInt32>
    public let macAgeSeconds: UnsafeMutablePointer<UInt32>
    public let memberCount: UnsafeMutablePointer<Int32>
    /// Per domain: its member list (the first `memberCount` slots used), nil until it has one.
    @usableFromInline let memberLists: UnsafeMutablePointer<UnsafeMutablePointer<UInt32>?>
    let memberCapacity: UnsafeMutablePointer<Int32>
    /// Per interface: the domain it is a member of (0: none) and its slot in that list.
    let memberDomain: UnsafeMutablePointer<UInt32>
    let memberSlot: UnsafeMutablePointer<Int32>
    /// What `members` returns for a domain without a list (count 0: never read).
    @usableFromInline let noMembers: UnsafeMutablePointer<UInt32>

    public init() {
        let n = BridgeDomainTable.maxDomains
        exists = .allocate(capacity: n); exists.initialize(repeating: false, count: n)
        learning = .allocate(capacity: n); learning.initialize(repeating: true, count: n)
        learnLimit = .allocate(capacity: n); learnLimit.initialize(repeating: 0, count: n)
        learned = .allocate(capacity: n); learned.initialize(repeating: 0, count: n)
        macAgeSeconds = .allocate(capacity: n); macAgeSeconds.initialize(repeating: 0, count: n)
        memberCount = .allocate(capacity: n); memberCount.initialize(repeating: 0, count: n)
        memberLists = .allocate(capacity: n); memberLists.initialize(repeating: nil, count: n)
        memberCapacity = .allocate(capacity: n); memberCapacity.initialize(repeating: 0, count: n)
        let interfaces = InterfaceTable.capacity
        memberDomain = .allocate(capacity: interfaces); memberDomain.initialize(repeating: 0, count: interfaces)
        memberSlot = .allocate(capacity: interfaces); memberSlot.initialize(repeating: -1, count: interfaces)
        noMembers = .allocate(capacity: 1); noMembers.initialize(to: 0)
    }

    deinit {
        for i in 0..<BridgeDomainTable.maxDomains { memberLists[i]?.deallocate() }
        exists.deallocate(); learning.deallocate(); learnLimit.deallocate(); learned.deallocate()
        macAgeSeconds.deallocate(); memberCount.deallocate(); memberLists.deallocate(); memberCapacity.deallocate()
        memberDomain.deallocate(); memberSlot.deallocate(); noMembers.deallocate()
    }

    public func isValid(_ id: UInt32) -> Bool { id > 0 && Int(id) < BridgeDomainTable.maxDomains }

    /// The member list of domain `id` (`memberCount[id]` entries): the
    /// per-packet read of l2-flood.
    @inlinable @inline(__always)
    public func members(_ id: Int) -> UnsafeMutablePointer<UInt32> {
        memberLists[id] ?? noMembers
    }

    public func create(id: UInt32, learning learn: Bool = true, learnLimit limit: UInt32, macAgeSeconds age: UInt32) {
        precondition(isValid(id))
        let i = Int(id)
        exists[i] = true
        learning[i] = learn
        learnLimit[i] = limit
        macAgeSeconds[i] = age
    }

    public func delete(id: UInt32) {
        let i = Int(id)
        let list = members(i)
        for k in 0..<Int(memberCount[i]) { memberDomain[Int(list[k])] = 0; memberSlot[Int(list[k])] = -1 }
        memberLists[i]?.deallocate()
        memberLists[i] = nil
        memberCapacity[i] = 0
        exists[i] = false
        memberCount[i] = 0
        learned[i] = 0
    }

    /// Adds `interface` as a member (moving it out of another domain it is in).
    /// Always succeeds: the list grows.
    @discardableResult
    public func addMember(_ interface: UInt32, to id: UInt32) -> Bool {
        let i = Int(id), x = Int(interface)
        precondition(x < InterfaceTable.capacity, "bridge domain member \(interface) outside the interface table")
        if memberDomain[x] == id { return true }
        if memberDomain[x] != 0 { removeMember(interface, from: memberDomain[x]) }
        let n = Int(memberCount[i])
        if n == Int(memberCapacity[i]) { grow(i) }
        memberLists[i].unsafelyUnwrapped[n] = interface
        memberCount[i] = Int32(n + 1)
        memberDomain[x] = id
        memberSlot[x] = Int32(n)
        return true
    }

    public func removeMember(_ interface: UInt32, from id: UInt32) {
        let i = Int(id), x = Int(interface)
        guard x < InterfaceTable.capacity, memberDomain[x] == id else { return }
        let list = members(i)
        let k = Int(memberSlot[x]), last = Int(memberCount[i]) - 1
        let moved = list[last]
        list[k] = moved
        memberSlot[Int(moved)] = Int32(k)
        memberCount[i] = Int32(last)
        memberDomain[x] = 0
        memberSlot[x] = -1
    }

    public func memberList(_ id: UInt32) -> [UInt32] {
        let i = Int(id)
        let list = members(i)
        return (0..<Int(memberCount[i])).map { list[$0] }
    }

    public var ids: [UInt32] {
        (1..<BridgeDomainTable.maxDomains).filter { exists[$0] }.map { UInt32($0) }
    }

    /// Doubles domain `i`'s list (or gives it its first one).
    private func grow(_ i: Int) {
        let old = Int(memberCapacity[i])
        let capacity = max(BridgeDomainTable.initialMemberCapacity, old * 2)
        let list = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        if let previous = memberLists[i] {
            list.initialize(from: previous, count: Int(memberCount[i]))
            previous.deallocate()
        }
        memberLists[i] = list
        memberCapacity[i] = Int32(capacity)
    }
}
