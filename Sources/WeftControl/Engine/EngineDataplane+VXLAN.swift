import WeftEngine
import WeftVXLAN

// VXLAN tunnels (WeftVXLAN): interfaces of a network's bridge domain whose
// output node is vxlan4-encap; created and removed under the worker barrier.
extension EngineDataplane {
    public func addVXLANTunnel(name: String, bridgeDomain: UInt32, local: UInt32, remote: UInt32, vni: UInt32, port: UInt16,
                               mtu: Int) throws -> UInt32 {
        let result: Result<UInt32, DataplaneError> = worker.withBarrier {
            do {
                return .success(try vxlan.createTunnel(name: name, local: local, remote: remote, vni: vni, port: port,
                                                       bridgeDomain: bridgeDomain, mtu: mtu))
            } catch let error as VXLANError {
                switch error {
                case .bridgeDomainMissing: return .failure(.notFound("\(error)"))
                case .invalidVNI, .invalidAddress: return .failure(.invalid("\(error)"))
                default: return .failure(.conflict("\(error)"))
                }
            } catch {
                return .failure(.system("\(error)"))
            }
        }
        return try result.get()
    }

    public func removeVXLANTunnel(name: String) throws {
        guard let i = interfaceTable.index(named: name), vxlan.tunnel(interface: i) != nil else {
            throw DataplaneError.notFound("there is no VXLAN tunnel \(name)")
        }
        let failure: DataplaneError? = worker.withBarrier {
            do { try vxlan.deleteTunnel(interface: i); return nil } catch { return .system("\(error)") }
        }
        if let failure { throw failure }
    }
}
