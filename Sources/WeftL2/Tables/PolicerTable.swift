import CShims
import WeftEngine

/// One token bucket (a single-rate, two-colour policer: conform or drop).
///
/// Integer and exact: one byte is worth `hz` token units, so a refill of
/// `elapsed` clock ticks adds `elapsed * bytesPerSecond` units with no
/// division and no rounding, and a frame of `n` bytes costs `n * hz` units.
public struct PolicerBucket: Sendable, Equatable {
    /// Bytes per second; 0 = no policer on this interface and direction.
    public var bytesPerSecond: UInt64 = 0
    /// Bucket size (the burst) in token units (bytes * hz).
    public var capacity: UInt64 = 0
    /// Token units in the bucket after the last frame.
    public var tokens: UInt64 = 0
    /// Clock reading of the last refill.
    public var last: UInt64 = 0
    /// Ticks that fill an empty bucket: a longer idle time just fills it
    /// (and keeps `elapsed * bytesPerSecond` from overflowing).
    public var fillTicks: UInt64 = 0
    public init() {}
}

/// Bandwidth limits per interface, in both directions, as the CNI
/// `bandwidth` capability asks for them (rates in bits/s, bursts in bits):
/// `egress` polices what the interface's container sends (checked in
/// l2-input, where its frames enter the bridge), `ingress` what is sent to
/// it (checked in l2-output, for the transmit interface). A frame that
/// finds too few tokens is dropped (`policed`); nothing is queued.
///
/// Flat per-sw_if_index arrays like SourceGuardTable: an interface without
/// a policer costs the forwarding path one load and one branch. Set and
/// cleared by the control plane under the barrier. Tokens are refilled
/// lazily, per packet, from `clock` (rdtsc; a parameter so tests control
/// time), read at most once per vector and only when a policed frame is seen.
public final class PolicerTable {
    public enum Direction: Sendable { case ingress, egress }

    /// What the container sends (l2-input).
    public let egress: UnsafeMutablePointer<PolicerBucket>
    /// What is sent to the container (l2-output).
    public let ingress: UnsafeMutablePointer<PolicerBucket>
    /// Ticks of `clock` per second.
    public let hz: UInt64
    /// The time source, in ticks of `hz`.
    public var clock: () -> UInt64

    /// Largest bucket in token units: refill arithmetic stays below 2^63.
    static let maxCapacity: UInt64 = 1 << 62

    public init(hz: UInt64 = weft_tsc_hz(), clock: @escaping () -> UInt64 = { weft_rdtsc() }) {
        self.hz = max(hz, 1)
        self.clock = clock
        egress = .allocate(capacity: InterfaceTable.capacity)
        egress.initialize(repeating: PolicerBucket(), count: InterfaceTable.capacity)
        ingress = .allocate(capacity: InterfaceTable.capacity)
        ingress.initialize(repeating: PolicerBucket(), count: InterfaceTable.capacity)
    }

    deinit { egress.deallocate(); ingress.deallocate() }

    private func buckets(_ direction: Direction) -> UnsafeMutablePointer<PolicerBucket> {
        direction == .egress ? egress : ingress
    }

    /// Limits `direction` of `interface` to `rateBitsPerSecond` with bursts
    /// of `burstBits`, starting with a full bucket; rate 0 removes the
    /// limit. The rate is taken in whole bytes per second (at least 1), as
    /// the reference plugin does; a burst too large to represent is clamped
    /// (to 2^62 / hz bytes, about 1.1 GB at 4 GHz).
    public func set(_ interface: UInt32, _ direction: Direction, rateBitsPerSecond: UInt64, burstBits: UInt64) {
        var b = PolicerBucket()
        if rateBitsPerSecond > 0 {
            b.bytesPerSecond = max(1, rateBitsPerSecond / 8)
            let burstBytes = burstBits / 8
            let (units, overflow) = burstBytes.multipliedReportingOverflow(by: hz)
            b.capacity = overflow ? Self.maxCapacity : min(units, Self.maxCapacity)
            b.tokens = b.capacity
            b.fillTicks = b.capacity / b.bytesPerSecond + 1
            b.last = clock()
        }
        buckets(direction)[Int(interface)] = b
    }

    /// Removes both limits of `interface` (detach: the slot is reused).
    public func clear(_ interface: UInt32) {
        egress[Int(interface)] = PolicerBucket()
        ingress[Int(interface)] = PolicerBucket()
    }

    public func isPoliced(_ interface: UInt32, _ direction: Direction) -> Bool {
        buckets(direction)[Int(interface)].bytesPerSecond != 0
    }

    /// Bytes the bucket holds now (tests, diagnostics); nil when not policed.
    public func tokenBytes(_ interface: UInt32, _ direction: Direction) -> UInt64? {
        let b = buckets(direction)[Int(interface)]
        return b.bytesPerSecond == 0 ? nil : b.tokens / hz
    }

    /// The per-packet check: refills `bucket` for the time since its last
    /// refill, then takes `bytes` from it if they are there. false: drop.
    /// No allocation, no division, no throw.
    @inline(__always)
    public static func conform(_ bucket: UnsafeMutablePointer<PolicerBucket>, bytes: Int, now: UInt64, hz: UInt64) -> Bool {
        var tokens = bucket.pointee.tokens
        let last = bucket.pointee.last
        if now > last {
            let elapsed = now &- last
            if elapsed >= bucket.pointee.fillTicks {
                tokens = bucket.pointee.capacity
            } else {
                // elapsed < fillTicks, so elapsed * rate <= capacity: no overflow.
                tokens = min(bucket.pointee.capacity, tokens &+ elapsed &* bucket.pointee.bytesPerSecond)
            }
            bucket.pointee.last = now
        }
        let cost = UInt64(truncatingIfNeeded: bytes) &* hz
        if cost > tokens {
            bucket.pointee.tokens = tokens
            return false
        }
        bucket.pointee.tokens = tokens &- cost
        return true
    }
}
