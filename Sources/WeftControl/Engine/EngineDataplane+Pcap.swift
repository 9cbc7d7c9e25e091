import WeftEngine
import WeftIO
import WeftL2

// Packet capture (PacketCapture hooked into the graph, drained into a pcap
// file off the worker) and replay (pcap-input interfaces in a bridge domain).
// Files are opened and loaded outside the barrier; only the hook and table
// edits happen with the worker parked.
extension EngineDataplane {
    public func startCapture(_ request: CreateCaptureRequest) throws -> CaptureStatus {
        if let old = pcap.session {
            if old.statistics().state == .running {
                throw DataplaneError.conflict("a capture into \(old.path) is running; stop it first (DELETE /v1/captures)")
            }
            unhookCapture(old)
        }
        let (node, match, direction) = try captureTarget(request)
        let writer: PcapWriter
        do {
            writer = try PcapWriter(path: request.file, snaplen: request.snaplen ?? 65535, filter: request.filter)
        } catch {
            throw DataplaneError.invalid("\(error)")
        }
        let count = UInt64(max(0, request.count ?? 0))
        let capture = PacketCapture(match: match, snaplen: request.snaplen ?? 65535, limit: writer.filter == nil ? count : 0)
        let session = PcapCaptureSession(capture: capture, node: node, writer: writer, count: count)
        session.interface = request.interface
        session.direction = direction
        session.nodeName = graph.nodes[Int(node)].name
        session.start()
        worker.withBarrier { graph.setCapture(capture, node: node) }
        pcap.session = session
        return status(session, request.snaplen ?? 65535)
    }

    public func captureStatus() -> CaptureStatus {
        guard let session = pcap.session else { return CaptureStatus(state: "idle") }
        if session.statistics().state != .running { unhookCapture(session) }
        return status(session, session.capture.snaplen)
    }

    public func stopCapture() throws -> CaptureStatus {
        guard let session = pcap.session, !session.stopReported else {
            throw DataplaneError.notFound("no capture is running (start one with POST /v1/captures)")
        }
        unhookCapture(session)
        session.stop()
        session.stopReported = true
        return status(session, session.capture.snaplen)
    }

    /// Removes the graph hook once: the worker stops calling the capture.
    private func unhookCapture(_ session: PcapCaptureSession) {
        guard !session.unhooked else { return }
        worker.withBarrier {
            if graph.capture === session.capture { graph.setCapture(nil, node: -1) }
        }
        session.capture.stop()
        session.unhooked = true
    }

    private func status(_ session: PcapCaptureSession, _ snaplen: Int) -> CaptureStatus {
        let s = session.statistics()
        return CaptureStatus(state: s.state.rawValue, interface: session.interface, direction: session.direction,
                             node: session.nodeName, file: session.path, filter: session.filter, snaplen: snaplen,
                             count: Int(session.count), captured: s.captured, written: s.written,
                             filteredOut: s.filteredOut, overrun: s.overrun)
    }

    /// The node and packet match a request names: rx = ethernet-input with
    /// that rxInterface, tx = the interface's output node with that
    /// txInterface, drop = error-drop (of that rxInterface); a node = all of it.
    private func captureTarget(_ r: CreateCaptureRequest) throws -> (Int32, PacketCapture.Match, String?) {
        if let name = r.node {
            guard r.interface == nil, r.direction == nil else {
                throw DataplaneError.invalid("give either node or interface (with a direction), not both")
            }
            guard let i = graph.nodeIndex(named: name) else {
                throw DataplaneError.notFound("no graph node named \"\(name)\" (see weftctl show runtime)")
            }
            return (i, .all, nil)
        }
        let direction = r.direction ?? "rx"
        guard let name = r.interface else {
            guard direction == "drop" else {
                throw DataplaneError.invalid("give an interface (with direction rx, tx or drop), a node, or direction drop alone")
            }
            return (graph.errorDropIndex, .all, "drop")
        }
        guard let i = interfaceTable.index(named: name) else {
            throw DataplaneError.notFound("no interface named \"\(name)\" in the dataplane (see weftctl show interfaces)")
        }
        switch direction {
        case "rx":
            guard let n = graph.nodeIndex(named: "ethernet-input") else { throw DataplaneError.system("ethernet-input missing") }
            return (n, .rxInterface(i), direction)
        case "tx":
            let n = interfaceTable.outputNode[Int(i)]
            guard n >= 0 else { throw DataplaneError.invalid("interface \(name) has no output node") }
            return (n, .txInterface(i), direction)
        case "drop":
            return (graph.errorDropIndex, .rxInterface(i), direction)
        default:
            throw DataplaneError.invalid("direction \"\(direction)\" is not rx, tx or drop")
        }
    }

    // MARK: replay

    public func addReplay(name: String, file: String, network: String, bridgeDomain: UInt32, mtu: Int, count: Int,
                          rate: Int) throws -> ReplayInfo {
        guard pcap.replays[name] == nil else { throw DataplaneError.conflict("a replay named \(name) exists; delete it first") }
        let ifName = PcapFeature.interfaceName(name)
        guard interfaceTable.index(named: ifName) == nil else {
            throw DataplaneError.conflict("interface \(ifName) is already in the dataplane")
        }
        guard l2.domains.isValid(bridgeDomain), l2.domains.exists[Int(bridgeDomain)] else {
            throw DataplaneError.notFound("bridge domain \(bridgeDomain) does not exist")
        }
        guard let slot = pcap.input.freeSlot() else {
            throw DataplaneError.conflict("\(PcapInputNode.maxReplays) replays exist; delete one first")
        }
        // Loading can take a while on a large file: outside the barrier.
        let loaded: PcapFile
        do { loaded = try PcapFile(path: file) } catch { throw DataplaneError.invalid("\(error)") }
        let mode = count == 0 ? "replay loop" : "replay \(count)x"
        let index: UInt32? = worker.withBarrier {
            guard let i = interfaceTable.add(name: ifName, driver: "pcap", mac: PcapFeature.mac(slot: slot), mtu: mtu,
                                             outputNode: pcap.output.index, driverInstance: slot) else { return nil }
            interfaceTable.setDetails(i, mode: rate > 0 ? "\(mode) at \(rate) pps" : mode, queues: 1, rxRingSize: 0, txRingSize: 0)
            guard l2.attach(i, to: bridgeDomain, interfaces: interfaceTable) else { interfaceTable.remove(i); return nil }
            pcap.input.start(slot: slot, file: loaded, swIfIndex: i, count: count, rate: rate)
            return i
        }
        guard let index else { throw DataplaneError.conflict("interface table is full (\(InterfaceTable.capacity) interfaces): detach something first") }
        let entry = PcapFeature.ReplayEntry(name: name, file: file, network: network, interfaceName: ifName, swIfIndex: index,
                                            slot: slot, packets: loaded.packetCount, count: count, rate: rate)
        pcap.replays[name] = entry
        return info(entry, pcap.input.state(slot: slot))
    }

    public func replays() -> [ReplayInfo] {
        let entries = pcap.replays.values.sorted { $0.name < $1.name }
        let states = worker.withBarrier { entries.map { pcap.input.state(slot: $0.slot) } }
        return zip(entries, states).map { info($0, $1) }
    }

    public func removeReplay(name: String) throws {
        guard let entry = pcap.replays[name] else {
            throw DataplaneError.notFound("there is no replay named \(name) (see GET /v1/replays)")
        }
        let released: PcapFile? = worker.withBarrier {
            let f = pcap.input.stop(slot: entry.slot)
            l2.detach(entry.swIfIndex, interfaces: interfaceTable)
            interfaceTable.remove(entry.swIfIndex)
            return f
        }
        pcap.replays[name] = nil
        _ = released  // the frames are freed here, with the worker running again
    }

    private func info(_ e: PcapFeature.ReplayEntry, _ s: PcapInputNode.Replay) -> ReplayInfo {
        ReplayInfo(name: e.name, file: e.file, network: e.network, interface: e.interfaceName,
                   state: s.finished ? "done" : "playing", packets: e.packets, count: e.count, rate: e.rate,
                   packetsSent: s.sent, loopsDone: s.loopsDone)
    }
}
