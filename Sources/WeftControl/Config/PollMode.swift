/// How the forwarding worker waits for packets.
public enum PollMode: String, Codable, CaseIterable, Sendable {
    /// Spin on the rings: lowest latency, one core at 100% all the time.
    case busy
    /// Spin while traffic flows, sleep in poll(2) after a stretch of idle
    /// polls: near-busy latency under load, an idle core when quiet.
    case adaptive
}
