import NIOCore
import NIOHTTP1

/// One HTTP connection: checks the peer (SO_PEERCRED against the access
/// policy), collects a request (body bounded per path, the whole request
/// within the request timeout), hands it to the control thread, writes the
/// JSON answer and closes the connection. Runs on the connection's event
/// loop and never blocks it.
final class APIChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    typealias Dispatch = @Sendable (APIRequest, EventLoop) -> EventLoopFuture<APIResponse>

    private enum State {
        case awaitingHead
        case receivingBody(HTTPRequestHead, ByteBuffer, limit: Int)
        /// A response has been (or is being) written; ignore the rest of the request.
        case answered
    }

    private var state = State.awaitingHead
    private let limits: APILimits
    private let policy: APIAccessPolicy?
    private let refusals: APIRefusals
    private let log: WeftLogger
    private let dispatch: Dispatch
    private var timeout: Scheduled<Void>?
    /// Set once the peer passed the policy; no request runs before.
    private var peerAllowed: Bool

    /// `policy` nil: no peer check (a test's embedded channel).
    init(limits: APILimits, policy: APIAccessPolicy?, refusals: APIRefusals = APIRefusals(), log: WeftLogger = .shared,
         dispatch: @escaping Dispatch) {
        self.limits = limits
        self.policy = policy
        self.peerAllowed = policy == nil
        self.refusals = refusals
        self.log = log
        self.dispatch = dispatch
    }

    func channelActive(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let nanoseconds = Int64(limits.requestTimeoutSeconds * 1e9)
        timeout = context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            let (handler, context) = bound.value
            handler.requestTimedOut(context)
        }
        if let policy {
            // On the channel's event loop the option is read at once.
            PeerCredentials.of(context.channel).whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(let peer):
                    if let reason = policy.refusal(peer) { handler.refuse(context, reason) } else { handler.peerAllowed = true }
                case .failure(let error):
                    handler.refuse(context, "cannot read the peer's credentials (SO_PEERCRED): \(error)")
                }
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        timeout = nil
        context.fireChannelInactive()
    }

    private func refuse(_ context: ChannelHandlerContext, _ reason: String) {
        log.warning("API connection refused: \(reason) (refused so far: \(refusals["peer"] &+ 1))")
        timeout?.cancel()
        answer(context, APILimits.forbidden(reason))
    }

    private func requestTimedOut(_ context: ChannelHandlerContext) {
        timeout = nil
        switch state {
        case .awaitingHead, .receivingBody:
            log.info("API request not complete after \(APILimits.format(limits.requestTimeoutSeconds)) s: connection closed (timed out so far: \(refusals["timeout"] &+ 1))")
            answer(context, limits.timedOut())
        case .answered:
            break
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .awaitingHead = state else { return }
            let limit = limits.maxBody(forTarget: head.uri)
            // Refuse an announced oversize body before reading any of it
            // (curl waits for this answer when it sent Expect: 100-continue).
            if let announced = head.headers.first(name: "content-length").flatMap(Int.init), announced > limit {
                tooLarge(context, limit: limit, head: head, announced: announced)
                return
            }
            state = .receivingBody(head, context.channel.allocator.buffer(capacity: 0), limit: limit)

        case .body(var chunk):
            guard case .receivingBody(let head, var body, let limit) = state else { return }
            if body.readableBytes + chunk.readableBytes > limit {
                tooLarge(context, limit: limit, head: head, announced: nil)
                return
            }
            state = .answered   // drop our reference so the append does not copy
            body.writeBuffer(&chunk)
            state = .receivingBody(head, body, limit: limit)

        case .end:
            guard case .receivingBody(let head, var body, _) = state else { return }
            guard peerAllowed else {
                refuse(context, "the peer's credentials were not checked before its request")
                return
            }
            state = .answered
            timeout?.cancel()
            timeout = nil
            let request = APIRequest(method: head.method.rawValue, target: head.uri,
                                     body: body.readBytes(length: body.readableBytes) ?? [])
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            dispatch(request, context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(let response):
                    handler.write(context, response)
                case .failure(let error):
                    handler.write(context, .error(ControlError(.internal, code: "control_unavailable",
                                                               message: "weftd could not run the request: \(error)")))
                }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // The HTTP decoder closes the connection right after a parse error,
        // so the answer must be written now, and only if none was started.
        if let parseError = error as? HTTPParserError, case .awaitingHead = state {
            state = .answered
            timeout?.cancel()
            timeout = nil
            let control: ControlError
            if case .headerOverflow = parseError {
                control = ControlError(.headersTooLarge, code: "headers_too_large",
                                       message: "request headers exceed \(limits.maxHeaderBytes) bytes")
            } else {
                control = ControlError(.badRequest, code: "bad_http", message: "malformed HTTP request: \(parseError)")
            }
            write(context, .error(control))
            return
        }
        context.close(promise: nil)
    }

    private func tooLarge(_ context: ChannelHandlerContext, limit: Int, head: HTTPRequestHead, announced: Int?) {
        log.info("API \(head.method.rawValue) \(head.uri): body over \(limit) bytes refused (413 so far: \(refusals["too-large"] &+ 1))")
        answer(context, APILimits.tooLarge(limit: limit, target: head.uri, announced: announced))
    }

    private func answer(_ context: ChannelHandlerContext, _ response: APIResponse) {
        guard context.channel.isActive else { return }
        timeout?.cancel()
        timeout = nil
        if case .awaitingHead = state, writeBeforeRequest(context, response) {
            state = .answered
            return
        }
        state = .answered
        write(context, response)
    }

    /// An answer before any request head (refused peer, timeout while the
    /// head is still incomplete): NIO's HTTP server pipeline handler holds
    /// responses until a request arrives, so the response is encoded here
    /// and written below the HTTP handlers; then the connection is closed.
    private func writeBeforeRequest(_ context: ChannelHandlerContext, _ response: APIResponse) -> Bool {
        guard let encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) else {
            return false
        }
        let status = HTTPResponseStatus(statusCode: response.status)
        let body = response.body ?? []
        var text = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nConnection: close\r\nServer: weftd/\(WeftVersion.current)\r\n"
        if !body.isEmpty { text += "Content-Type: application/json\r\n" }
        text += "Content-Length: \(body.count)\r\n\r\n"
        countRefusal(response)
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count + body.count)
        buffer.writeString(text)
        buffer.writeBytes(body)
        let channel = context.channel
        encoder.writeAndFlush(NIOAny(buffer)).whenComplete { _ in channel.close(promise: nil) }
        return true
    }

    /// Every error answer, whoever made it (peer check, limits, HTTP parser,
    /// router), is counted here, where all of them are written: `api/*` in
    /// GET /v1/errors.
    private func countRefusal(_ response: APIResponse) {
        if response.status >= 400 { refusals.count(APIRefusals.reason(status: response.status)) }
    }

    private func write(_ context: ChannelHandlerContext, _ response: APIResponse) {
        countRefusal(response)
        var headers = HTTPHeaders()
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Server", value: "weftd/\(WeftVersion.current)")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        let body = response.body ?? []
        if !body.isEmpty { headers.add(name: "Content-Type", value: "application/json") }
        if response.status != 204 { headers.add(name: "Content-Length", value: String(body.count)) }

        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status),
                                    headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
