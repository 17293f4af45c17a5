import ArgumentParser

/// A setting a command turns on or off (`--pumping-guard off`).
enum Switch: String, ExpressibleByArgument, CaseIterable {
    case on, off
}
