import WeftEngine

/// Bridge domains: per-domain settings and member interfaces in flat arrays
/// the L2 nodes index by domain id. Changed by the control thread under the
/// worker barrier.
public final class BridgeDomainTable {
    public static let maxDomains = 1024
    public static let maxMembers = 256

    public let exists: UnsafeMutablePointer<Bool>
    public let learning: UnsafeMutablePointer<Bool>
    public let learnLimit: UnsafeMutablePointer<UInt32>
    public let learned: UnsafeMutablePointer<UInt32>
    public let macAgeSeconds: UnsafeMutablePointer<UInt32>
    public let memberCount: UnsafeMutablePointer<Int32>
    /// `maxMembers` slots per domain.
    public let members: UnsafeMutablePointer<UInt32>

    public init() {
        let n = BridgeDomainTable.maxDomains
        exists = .allocate(capacity: n); exists.initialize(repeating: false, count: n)
        learning = .allocate(capacity: n); learning.initialize(repeating: true, count: n)
        learnLimit = .allocate(capacity: n); learnLimit.initialize(repeating: 0, count: n)
        learned = .allocate(capacity: n); learned.initialize(repeating: 0, count: n)
        macAgeSeconds = .allocate(capacity: n); macAgeSeconds.initialize(repeating: 0, count: n)
        memberCount = .allocate(capacity: n); memberCount.initialize(repeating: 0, count: n)
        members = .allocate(capacity: n * BridgeDomainTable.maxMembers)
        members.initialize(repeating: 0, count: n * BridgeDomainTable.maxMembers)
    }

    deinit {
        exists.deallocate(); learning.deallocate(); learnLimit.deallocate(); learned.deallocate()
        macAgeSeconds.deallocate(); memberCount.deallocate(); members.deallocate()
    }

    public func isValid(_ id: UInt32) -> Bool { id > 0 && Int(id) < BridgeDomainTable.maxDomains }

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
        exists[i] = false
        memberCount[i] = 0
        learned[i] = 0
    }

    /// Adds `interface` as a member; false when the domain is full.
    public func addMember(_ interface: UInt32, to id: UInt32) -> Bool {
        let i = Int(id)
        let n = Int(memberCount[i])
        let base = members + i * BridgeDomainTable.maxMembers
        for k in 0..<n where base[k] == interface { return true }
        guard n < BridgeDomainTable.maxMembers else { return false }
        base[n] = interface
        memberCount[i] = Int32(n + 1)
        return true
    }

    public func removeMember(_ interface: UInt32, from id: UInt32) {
        let i = Int(id)
        let n = Int(memberCount[i])
        let base = members + i * BridgeDomainTable.maxMembers
        guard let k = (0..<n).first(where: { base[$0] == interface }) else { return }
        base[k] = base[n - 1]
        memberCount[i] = Int32(n - 1)
    }

    public func memberList(_ id: UInt32) -> [UInt32] {
        let i = Int(id)
        let base = members + i * BridgeDomainTable.maxMembers
        return (0..<Int(memberCount[i])).map { base[$0] }
    }

    public var ids: [UInt32] {
        (1..<BridgeDomainTable.maxDomains).filter { exists[$0] }.map { UInt32($0) }
    }
}
