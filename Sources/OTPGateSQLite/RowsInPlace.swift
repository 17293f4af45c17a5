import GRDB

/// Rows read where SQLite holds them. GRDB's `Row.fetchOne` and `Row.fetchAll` first copy each row, its values and
/// its column names; the hot paths decode every column once, by position, so the copy is pure cost.
///
/// A row read in place is only valid while its cursor lives: the cursor resets the statement when it goes, and Swift
/// may end a value's lifetime after its last use, so the cursor is kept alive explicitly until decoding is done.
enum RowsInPlace {
    /// The first row of `statement`, decoded by `decode` before the statement moves on.
    static func first<T>(_ statement: Statement, arguments: StatementArguments, _ decode: (Row) throws -> T) throws -> T? {
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        return try withExtendedLifetime(cursor) {
            guard let row = try cursor.next() else { return nil }
            return try decode(row)
        }
    }

    /// Every row of `statement`, each decoded by `decode` in turn.
    static func all<T>(_ statement: Statement, arguments: StatementArguments, _ decode: (Row) throws -> T) throws -> [T] {
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        return try withExtendedLifetime(cursor) {
            var decoded: [T] = []
            while let row = try cursor.next() { decoded.append(try decode(row)) }
            return decoded
        }
    }
}
