import NIOCore
import NIOHTTP1

/// One HTTP connection: collects a request (bounded body), hands it to the
/// control thread, writes the JSON answer and closes the connection. Runs on
/// the connection's event loop and never blocks it.
final class APIChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    typealias Dispatch = @Sendable (APIRequest, EventLoop) -> EventLoopFuture<APIResponse>

    private enum State {
        case awaitingHead
        case receivingBody(HTTPRequestHead, ByteBuffer)
        /// A response has been (or is being) written; ignore the rest of the request.
        case answered
    }

    private var state = State.awaitingHead
    private let maxBodyBytes: Int
    private let maxHeaderBytes: Int
    private let dispatch: Dispatch

    init(maxBodyBytes: Int, maxHeaderBytes: Int, dispatch: @escaping Dispatch) {
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.dispatch = dispatch
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .awaitingHead = state else { return }
            // Refuse an announced oversize body before reading any of it
            // (curl waits for this answer when it sent Expect: 100-continue).
            if let announced = head.headers.first(name: "content-length").flatMap(Int.init), announced > maxBodyBytes {
                answer(context, .error(tooLarge()))
                return
            }
            state = .receivingBody(head, context.channel.allocator.buffer(capacity: 0))

        case .body(var chunk):
            guard case .receivingBody(let head, var body) = state else { return }
            if body.readableBytes + chunk.readableBytes > maxBodyBytes {
                answer(context, .error(tooLarge()))
                return
            }
            state = .answered   // drop our reference so the append does not copy
            body.writeBuffer(&chunk)
            state = .receivingBody(head, body)

        case .end:
            guard case .receivingBody(let head, var body) = state else { return }
            state = .answered
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
            let control: ControlError
            if case .headerOverflow = parseError {
                control = ControlError(.headersTooLarge, code: "headers_too_large",
                                       message: "request headers exceed \(maxHeaderBytes) bytes")
            } else {
                control = ControlError(.badRequest, code: "bad_http", message: "malformed HTTP request: \(parseError)")
            }
            write(context, .error(control))
            return
        }
        context.close(promise: nil)
    }

    private func tooLarge() -> ControlError {
        ControlError(.payloadTooLarge, code: "body_too_large", message: "request body exceeds \(maxBodyBytes) bytes")
    }

    private func answer(_ context: ChannelHandlerContext, _ response: APIResponse) {
        state = .answered
        write(context, response)
    }

    private func write(_ context: ChannelHandlerContext, _ response: APIResponse) {
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
