import WeftEngine
import WeftIO

/// AF_XDP links (af-xdp-input / af-xdp-output): see docs/af-xdp.md.
///
/// Opening a port (XDP program attach, socket bind, UMEM registration with the
/// first one) and closing it (RCU waits in the kernel) happen outside the
/// worker barrier; only the table edits and the buffer reclaim stop forwarding.
extension EngineDataplane {
    func addAfXdpInterface(hostIfName: String, bridgeDomain: UInt32, sourceGuard: SourceGuardSpec? = nil) throws -> UInt32 {
        guard interfaceTable.index(named: hostIfName) == nil else { throw DataplaneError.conflict("interface \(hostIfName) is already in the dataplane") }
        guard l2.domains.isValid(bridgeDomain), l2.domains.exists[Int(bridgeDomain)] else {
            throw DataplaneError.notFound("bridge domain \(bridgeDomain) does not exist")
        }
        let slot: Int32
        do { slot = try xdpPorts.open(name: hostIfName) } catch { throw DataplaneError.system("\(error)") }
        let mac = xdpPorts.mac(slot), mtu = xdpPorts.mtu(slot)
        let index: UInt32? = worker.withBarrier {
            guard let i = interfaceTable.add(name: hostIfName, driver: "af-xdp", mac: mac, mtu: mtu,
                                             outputNode: xdpOutput.index, driverInstance: slot) else { return nil }
            let x = xdpPorts.ports[Int(slot)].xsk
            interfaceTable.setDetails(i, mode: xdpPorts.modeDescription(slot), queues: 1,
                                      rxRingSize: Int(x.rx_size), txRingSize: Int(x.tx_size))
            guard l2.attach(i, to: bridgeDomain, interfaces: interfaceTable) else { interfaceTable.remove(i); return nil }
            if let sourceGuard { applySourceGuard(i, sourceGuard) }
            xdpPorts.activate(slot, swIfIndex: i)
            return i
        }
        guard let index else {
            closeAfXdpPort(slot, name: hostIfName)
            throw DataplaneError.conflict("interface table is full (\(InterfaceTable.capacity) interfaces): detach something first")
        }
        return index
    }

    /// Called by `removeInterface` for an af-xdp interface: out of the tables
    /// (barrier), socket closed and program detached, buffers back to the pool.
    func removeAfXdpInterface(_ i: UInt32) {
        let name = interfaceTable.name(i)
        let slot: Int32 = worker.withBarrier {
            let slot = interfaceTable.driverInstance[Int(i)]
            l2.detach(i, interfaces: interfaceTable)
            interfaceTable.remove(i)
            if slot >= 0 { xdpPorts.detach(slot) }
            return slot
        }
        if slot >= 0 { closeAfXdpPort(slot, name: name) }
    }

    /// A detached port: close it (the kernel stops using its buffers), then
    /// hand the buffers its rings held back to the worker's cache (a parked
    /// port keeps them: see AfXdpPorts.close).
    private func closeAfXdpPort(_ slot: Int32, name: String) {
        let closed = xdpPorts.close(slot, name: name)
        if closed.isEmpty { return }
        worker.withBarrier { for s in closed { xdpPorts.reclaim(s, into: graph.buffers) } }
    }
}
