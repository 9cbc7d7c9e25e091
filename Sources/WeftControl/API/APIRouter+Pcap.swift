// Routes of packet capture and replay (/v1/captures, /v1/replays).

extension APIRouter {
    /// The response for a capture or replay path, nil for any other path.
    func routePcap(_ path: [String], _ request: APIRequest) throws -> APIResponse? {
        switch path {
        case ["captures"]:
            try allow(["GET", "POST", "DELETE"], request)
            let captures = CaptureService(dataplane: dataplane, log: log)
            switch request.method {
            case "GET": return .json(captures.status())
            case "DELETE": return .json(try captures.stop())
            default:
                let body = try APIJSON.decodeRequest(CreateCaptureRequest.self, from: request.body)
                return .json(try captures.start(body), status: 201)
            }

        case ["replays"]:
            try allow(["GET", "POST"], request)
            let replays = ReplayService(store: attachments.store, dataplane: dataplane, log: log)
            if request.method == "GET" { return .json(replays.list()) }
            let body = try APIJSON.decodeRequest(CreateReplayRequest.self, from: request.body)
            return .json(try replays.create(body), status: 201)

        case let p where p.count == 2 && p[0] == "replays":
            try allow(["DELETE"], request)
            try ReplayService(store: attachments.store, dataplane: dataplane, log: log).delete(name: p[1])
            return .noContent

        default:
            return nil
        }
    }
}
