/// A network as the API returns it.
public struct NetworkInfo: Codable, Sendable, Equatable {
    public var name: String
    public var bridgeDomain: UInt32
    public var subnet: String
    public var mtu: Int
    public var macAgeSeconds: Int
    public var learnLimit: Int

    public init(name: String, bridgeDomain: UInt32, subnet: String, mtu: Int, macAgeSeconds: Int, learnLimit: Int) {
        self.name = name; self.bridgeDomain = bridgeDomain; self.subnet = subnet; self.mtu = mtu
        self.macAgeSeconds = macAgeSeconds; self.learnLimit = learnLimit
    }
}
