/// The request a use case runs for, set by the HTTP layer around each request, so audit entries name it without every
/// call passing it along.
public enum RequestScope {
    @TaskLocal public static var requestID: String?
}
