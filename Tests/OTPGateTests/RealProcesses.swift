import Testing

/// The suites that run real `otpgate` processes and PostgreSQL clusters of their own run one after another, never
/// beside each other: a child spawned by one (a daemonised PostgreSQL above all) would inherit the pipes of another's
/// child and keep them open, and two such loads on two cores at once would measure the machine, not the server.
@Suite(.serialized) enum RealProcesses {}
