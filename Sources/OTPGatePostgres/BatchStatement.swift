import Foundation
import Logging
import PostgresNIO

/// A statement over a batch's rows passed as one JSON parameter (`$1`, see `BatchJSON`). Its text never changes
/// with the batch, so each connection prepares it once and PostgreSQL plans it once, not per batch.
protocol BatchStatement: PostgresPreparedStatement where Row == PostgresRandomAccessRow {
    var rows: BatchJSON { get }
}

extension BatchStatement {
    static var bindingDataTypes: [PostgresDataType] { [.jsonb] }

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(JSONBParameter(text: rows.text))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> PostgresRandomAccessRow { row.makeRandomAccess() }
}

/// JSON text sent as `jsonb` (binary format: a version byte, then the text).
struct JSONBParameter: PostgresNonThrowingEncodable {
    let text: String
    static var psqlType: PostgresDataType { .jsonb }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeInteger(UInt8(1))
        byteBuffer.writeString(text)
    }
}

extension PostgresDatabase {
    /// Runs a batch statement on `connection` (preparing it there the first time) and collects its rows.
    func execute<Statement: BatchStatement>(_ statement: Statement, on connection: PostgresConnection) async throws -> [PostgresRandomAccessRow] {
        var out: [PostgresRandomAccessRow] = []
        for try await row in try await connection.execute(statement, logger: logger) { out.append(row) }
        return out
    }
}
