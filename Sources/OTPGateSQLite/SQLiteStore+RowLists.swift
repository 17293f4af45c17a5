/// Statements over a list of rows (`UPDATE … FROM (VALUES …)`, `IN (…)`), shared by the outbox and the audit linker.
extension SQLiteStore {
    /// Rows per statement over a list: at 4 parameters a row, under SQLite's oldest limit of 999 parameters.
    static let maxRowsPerStatement = 128

    /// The row count a list's statement is written for: the next power of two, at most `maxRowsPerStatement`, so that
    /// eight prepared statements serve every list size. Written for the exact count, the outbox worker's finish and
    /// claim check compiled a new statement each batch (`sqlite3_prepare` was 2.7 % of a start's CPU samples).
    static func paddedCount(_ count: Int) -> Int {
        var padded = 1
        while padded < count { padded *= 2 }
        return min(padded, maxRowsPerStatement)
    }

    /// `items`, its last element repeated up to `count`: a repeated row matches the same row again, which changes
    /// nothing in an `UPDATE … FROM` or an `IN` list.
    static func padded<C: Collection>(_ items: C, to count: Int) -> [C.Element] {
        var out = Array(items)
        guard let last = out.last else { return out }
        while out.count < count { out.append(last) }
        return out
    }
}
