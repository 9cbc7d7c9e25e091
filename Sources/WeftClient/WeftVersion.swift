/// Version reported by GET /v1/health and `weftctl --version`.
public enum WeftVersion {
    public static let current = "0.1.0"
}
