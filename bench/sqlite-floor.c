// The SQLite floor of a start: the rows one start commits, written by plain C through the same libsqlite3, schema
// and settings as the server (WAL, synchronous=FULL, the writer's autocheckpoint, a PASSIVE checkpoint from a second
// connection), batched as the server's writer batches them under load. No HTTP, JSON, Swift, crypto or engine: what
// this costs, every start costs at least. Prints the process's CPU time (user + system) per start.
//
// Per start, as SQLiteStore.startVerification does: the key's request counter (upsert), the destination's recent
// starts and lock (one query), the verification, its outbox message (handed off, so already claimed) and its audit
// entry. Per batch, in the next batch's transaction (the server writes them as jobs of their own, often in a later
// commit: this is the cheaper case): the batch's deliveries recorded as sent and its audit entries linked.
//
// With CHECK as the fourth argument it first makes the starts (not measured), then measures the approved checks of
// them, in creation order, as SQLiteStore.checkVerification writes them: the key's request counter, the verification
// and its destination's record read, the verification updated, the `verification.approved` audit entry; per batch,
// in the next batch's transaction, the batch's audit entries linked.
//
// Build and run: bench/floor.sh (it migrates a fresh database with the server first).
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
    sqlite3_stmt *s = NULL;
    check(sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL), db, sql);
    return s;
}

static void run(sqlite3 *db, sqlite3_stmt *s) {
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {}
    check(rc, db, sqlite3_sql(s));
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static void exec(sqlite3 *db, const char *sql) { check(sqlite3_exec(db, sql, NULL, NULL, NULL), db, sql); }

static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static unsigned long long next(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}
static void randomBytes(unsigned char *out, int n) { for (int i = 0; i < n; i++) out[i] = (unsigned char)next(); }
static void randomText(char *out, int n) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    for (int i = 0; i < n; i++) out[i] = alphabet[next() & 31];
    out[n] = 0;
}

static double cpuSeconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static double wallSeconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

#define MAX_BATCH 512

// Links the batch's audit entries (`ids`, in insertion order) to the chain, one statement, as the server's linker.
static void linkAudit(sqlite3 *db, sqlite3_stmt *link, const long long *ids, int count, long long *seq) {
    for (int i = 0; i < count; i++) {
        unsigned char hash[32];
        randomBytes(hash, 32);
        sqlite3_bind_int64(link, 1 + 3 * i, ids[i]);
        sqlite3_bind_int64(link, 2 + 3 * i, ++*seq);
        sqlite3_bind_blob(link, 3 + 3 * i, hash, 32, SQLITE_TRANSIENT);
    }
    run(db, link);
}

// Commits, then runs a PASSIVE checkpoint when 25 ms have passed since the last, as the server's checkpointer does.
static void commitBatch(sqlite3 *db, sqlite3_stmt *commit, sqlite3 *ckpt, sqlite3_stmt *passive, double *lastCheckpoint) {
    run(db, commit);
    if (wallSeconds() - *lastCheckpoint >= 0.025) {
        run(ckpt, passive);
        *lastCheckpoint = wallSeconds();
    }
}

int main(int argc, char **argv) {
    if (argc < 4 || (argc > 4 && strcmp(argv[4], "check") != 0)) {
        fprintf(stderr, "usage: %s DATABASE STARTS BATCH [check]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    int starts = atoi(argv[2]), batch = atoi(argv[3]);
    int checking = argc > 4;
    if (batch < 1 || batch > MAX_BATCH) { fprintf(stderr, "BATCH must be 1...%d\n", MAX_BATCH); return 2; }

    sqlite3 *db, *ckpt;
    check(sqlite3_open(path, &db), db, "open");
    check(sqlite3_open(path, &ckpt), ckpt, "open checkpointer");
    exec(db, "PRAGMA journal_mode = WAL");
    exec(db, "PRAGMA synchronous = FULL");
    exec(db, "PRAGMA temp_store = MEMORY");
    exec(db, "PRAGMA wal_autocheckpoint = 2000");
    exec(ckpt, "PRAGMA synchronous = FULL");

    sqlite3_stmt *begin = prepare(db, "BEGIN IMMEDIATE"), *commit = prepare(db, "COMMIT");
    sqlite3_stmt *counter = prepare(db,
        "INSERT INTO request_counters (scope, window_start, count) VALUES (?, ?, 1) ON CONFLICT (scope) DO UPDATE SET "
        "count = CASE WHEN request_counters.window_start = excluded.window_start THEN request_counters.count + 1 ELSE 1 END, "
        "window_start = excluded.window_start RETURNING count");
    sqlite3_stmt *recent = prepare(db,
        "SELECT count(*) AS n, min(created_at) AS oldest, (SELECT locked_until FROM destinations WHERE tenant_id = ?1 AND "
        "destination = ?2) AS locked_until FROM verifications WHERE tenant_id = ?1 AND destination = ?2 AND created_at > ?3");
    sqlite3_stmt *verification = prepare(db,
        "INSERT INTO verifications (id, tenant_id, channel, destination, purpose, locale, reference, context, code_length, "
        "code_hash, state, attempts, max_attempts, sends, max_sends, ttl_seconds, created_at, expires_at, last_sent_at, "
        "resend_available_at, updated_at, sealed_fields) VALUES (?, ?, 'sms', ?, NULL, NULL, NULL, NULL, 6, ?, 'pending', 0, 5, "
        "1, 5, 300, ?, ?, ?, ?, ?, ?)");
    sqlite3_stmt *outbox = prepare(db,
        "INSERT INTO outbox (id, tenant_id, verification_id, channel, payload, state, attempts, created_at, next_attempt_at, "
        "expires_at, lease_until) VALUES (?, ?, ?, 'sms', ?, 'sending', 1, ?, ?, ?, ?)");
    sqlite3_stmt *audit = prepare(db,
        "INSERT INTO audit_entries (tenant_id, at, action, actor, subject, masked, request_id, detail) VALUES "
        "(?, ?, 'verification.started', 'key_dcdqk4eryvhxcuj25hxd3xp2ti', ?, '+91******4949', ?, '{\"channel\":\"sms\",\"test\":false}')");
    // One statement per batch for each, as the server's finishOutbox and linkAudit do (VALUES joined on the key).
    char sentSQL[64 * MAX_BATCH + 512], linkSQL[64 * MAX_BATCH + 512];
    strcpy(sentSQL, "UPDATE outbox SET state = 'sent', payload = NULL, lease_until = NULL, finished_at = ?, last_error = NULL, "
                    "provider = v.column3, provider_message_id = v.column4 FROM (VALUES ");
    strcpy(linkSQL, "UPDATE audit_entries SET seq = v.column2, hash = v.column3 FROM (VALUES ");
    for (int i = 0; i < batch; i++) {
        strcat(sentSQL, i ? ", (?, ?, ?, ?)" : "(?, ?, ?, ?)");
        strcat(linkSQL, i ? ", (?, ?, ?)" : "(?, ?, ?)");
    }
    strcat(sentSQL, ") AS v WHERE outbox.id = v.column1 AND outbox.attempts = v.column2 AND outbox.state = 'sending'");
    strcat(linkSQL, ") AS v WHERE audit_entries.id = v.column1 AND audit_entries.seq IS NULL");
    sqlite3_stmt *sent = prepare(db, sentSQL), *link = prepare(db, linkSQL);
    sqlite3_stmt *passive = prepare(ckpt, "PRAGMA wal_checkpoint(PASSIVE)");

    const char *tenant = "ten_dqwqjqsbytydiqyblduknvnxtq";
    char pendingMessages[MAX_BATCH][40];
    long long pendingAudit[MAX_BATCH];
    int pending = 0;
    long long seq = 0, ms = 1796423453496ll;
    int warmup = starts / 5;
    double cpu0 = 0, wall0 = 0, lastCheckpoint = wallSeconds();
    int measured = 0, measuring = 0;
    // The ids the checks check (only with `check`).
    char (*ids)[32] = checking ? malloc((size_t)(starts + starts / 5 + MAX_BATCH) * 32) : NULL;

    int done = 0;
    while (done < starts + warmup) {
        if (!checking && !measuring && done >= warmup) { measuring = 1; measured = -done; cpu0 = cpuSeconds(); wall0 = wallSeconds(); }
        run(db, begin);
        // The previous batch's deliveries and audit links, in this transaction.
        if (pending == batch) {
            sqlite3_bind_int64(sent, 1, ms);
            for (int i = 0; i < batch; i++) {
                sqlite3_bind_text(sent, 2 + 4 * i, pendingMessages[i], -1, SQLITE_STATIC);
                sqlite3_bind_int(sent, 3 + 4 * i, 1);
                sqlite3_bind_text(sent, 4 + 4 * i, "discard", -1, SQLITE_STATIC);
                sqlite3_bind_null(sent, 5 + 4 * i);
            }
            run(db, sent);
            linkAudit(db, link, pendingAudit, batch, &seq);
        }
        pending = 0;
        for (int i = 0; i < batch; i++) {
            done++;
            ms += 1;
            char id[32], destination[40], requestID[40], messageID[40];
            snprintf(id, sizeof id, "vrf_%012llx", (unsigned long long)ms);  // time-ordered, as the server's ids
            randomText(id + 16, 14);
            memcpy(destination, "bi1:", 4);
            randomText(destination + 4, 32);
            randomText(requestID, 32);
            snprintf(messageID, sizeof messageID, "%s.1", id);
            if (ids) strcpy(ids[done - 1], id);
            unsigned char codeHash[32], sealed[50], payload[57];
            randomBytes(codeHash, 32);
            randomBytes(sealed, 50);
            randomBytes(payload, 57);

            sqlite3_bind_text(counter, 1, "key:key_dcdqk4eryvhxcuj25hxd3xp2ti", -1, SQLITE_STATIC);
            sqlite3_bind_int64(counter, 2, ms / 1000);
            run(db, counter);
            sqlite3_bind_text(recent, 1, tenant, -1, SQLITE_STATIC);
            sqlite3_bind_text(recent, 2, destination, -1, SQLITE_STATIC);
            sqlite3_bind_int64(recent, 3, ms - 600000);
            run(db, recent);
            sqlite3_bind_text(verification, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_text(verification, 2, tenant, -1, SQLITE_STATIC);
            sqlite3_bind_text(verification, 3, destination, -1, SQLITE_STATIC);
            sqlite3_bind_blob(verification, 4, codeHash, 32, SQLITE_STATIC);
            sqlite3_bind_int64(verification, 5, ms);
            sqlite3_bind_int64(verification, 6, ms + 300000);
            sqlite3_bind_int64(verification, 7, ms);
            sqlite3_bind_int64(verification, 8, ms + 30000);
            sqlite3_bind_int64(verification, 9, ms);
            sqlite3_bind_blob(verification, 10, sealed, 50, SQLITE_STATIC);
            run(db, verification);
            sqlite3_bind_text(outbox, 1, messageID, -1, SQLITE_STATIC);
            sqlite3_bind_text(outbox, 2, tenant, -1, SQLITE_STATIC);
            sqlite3_bind_text(outbox, 3, id, -1, SQLITE_STATIC);
            sqlite3_bind_blob(outbox, 4, payload, 57, SQLITE_STATIC);
            sqlite3_bind_int64(outbox, 5, ms);
            sqlite3_bind_int64(outbox, 6, ms + 30000);
            sqlite3_bind_int64(outbox, 7, ms + 300000);
            sqlite3_bind_int64(outbox, 8, ms + 30000);
            run(db, outbox);
            sqlite3_bind_text(audit, 1, tenant, -1, SQLITE_STATIC);
            sqlite3_bind_int64(audit, 2, ms);
            sqlite3_bind_text(audit, 3, id, -1, SQLITE_STATIC);
            sqlite3_bind_text(audit, 4, requestID, -1, SQLITE_STATIC);
            run(db, audit);
            strcpy(pendingMessages[pending], messageID);
            pendingAudit[pending++] = sqlite3_last_insert_rowid(db);
        }
        commitBatch(db, commit, ckpt, passive, &lastCheckpoint);
    }
    if (checking) {
        int made = done;
        sqlite3_stmt *fetch = prepare(db,
            "SELECT id, tenant_id, channel, destination, purpose, locale, reference, context, code_length, code_hash, state, "
            "attempts, max_attempts, sends, max_sends, ttl_seconds, created_at, expires_at, last_sent_at, resend_available_at, "
            "updated_at, sealed_fields FROM verifications WHERE id = ? AND tenant_id = ?");
        sqlite3_stmt *destinationState = prepare(db,
            "SELECT failed_checks, first_failure_at, locked_until FROM destinations WHERE tenant_id = ? AND destination = ?");
        sqlite3_stmt *update = prepare(db,
            "UPDATE verifications SET code_hash = ?, state = 'approved', attempts = 1, sends = 1, expires_at = ?, "
            "last_sent_at = ?, resend_available_at = ?, updated_at = ? WHERE id = ?");
        sqlite3_stmt *approved = prepare(db,
            "INSERT INTO audit_entries (tenant_id, at, action, actor, subject, masked, request_id, detail) VALUES "
            "(?, ?, 'verification.approved', 'key_dcdqk4eryvhxcuj25hxd3xp2ti', ?, '+91******4949', ?, '{\"attempts\":1}')");
        pending = 0;
        measuring = 0;
        done = 0;
        warmup = made / 6;
        while (done + batch <= made) {
            if (!measuring && done >= warmup) { measuring = 1; measured = -done; cpu0 = cpuSeconds(); wall0 = wallSeconds(); }
            run(db, begin);
            if (pending == batch) linkAudit(db, link, pendingAudit, batch, &seq);
            pending = 0;
            for (int i = 0; i < batch; i++) {
                const char *id = ids[done++];
                ms += 1;
                char requestID[40], destination[40] = "";
                randomText(requestID, 32);
                unsigned char codeHash[32];
                randomBytes(codeHash, 32);
                sqlite3_bind_text(counter, 1, "key:key_dcdqk4eryvhxcuj25hxd3xp2ti", -1, SQLITE_STATIC);
                sqlite3_bind_int64(counter, 2, ms / 1000);
                run(db, counter);
                sqlite3_bind_text(fetch, 1, id, -1, SQLITE_STATIC);
                sqlite3_bind_text(fetch, 2, tenant, -1, SQLITE_STATIC);
                if (sqlite3_step(fetch) != SQLITE_ROW) { fprintf(stderr, "verification %s not found\n", id); return 1; }
                // Every column read, as the server decodes the whole verification.
                for (int c = 0; c < sqlite3_column_count(fetch); c++) {
                    if (sqlite3_column_type(fetch, c) == SQLITE_TEXT) sqlite3_column_text(fetch, c);
                    else if (sqlite3_column_type(fetch, c) == SQLITE_BLOB) sqlite3_column_blob(fetch, c);
                    else sqlite3_column_int64(fetch, c);
                }
                snprintf(destination, sizeof destination, "%s", (const char *)sqlite3_column_text(fetch, 3));
                run(db, fetch);
                sqlite3_bind_text(destinationState, 1, tenant, -1, SQLITE_STATIC);
                sqlite3_bind_text(destinationState, 2, destination, -1, SQLITE_STATIC);
                run(db, destinationState);
                sqlite3_bind_blob(update, 1, codeHash, 32, SQLITE_STATIC);
                sqlite3_bind_int64(update, 2, ms + 300000);
                sqlite3_bind_int64(update, 3, ms);
                sqlite3_bind_int64(update, 4, ms + 30000);
                sqlite3_bind_int64(update, 5, ms);
                sqlite3_bind_text(update, 6, id, -1, SQLITE_STATIC);
                run(db, update);
                sqlite3_bind_text(approved, 1, tenant, -1, SQLITE_STATIC);
                sqlite3_bind_int64(approved, 2, ms);
                sqlite3_bind_text(approved, 3, id, -1, SQLITE_STATIC);
                sqlite3_bind_text(approved, 4, requestID, -1, SQLITE_STATIC);
                run(db, approved);
                pendingAudit[pending++] = sqlite3_last_insert_rowid(db);
            }
            commitBatch(db, commit, ckpt, passive, &lastCheckpoint);
        }
        free(ids);
    }
    double cpu = cpuSeconds() - cpu0, wall = wallSeconds() - wall0;
    int counted = done + measured;  // the starts or checks after the warm-up, whole batches
    printf("%s=%d batch=%d cpu_per_%s_us=%.1f wall_per_%s_us=%.1f\n", checking ? "checks" : "starts", counted, batch,
           checking ? "check" : "start", cpu * 1e6 / counted, checking ? "check" : "start", wall * 1e6 / counted);
    sqlite3_close_v2(ckpt);
    sqlite3_close_v2(db);
    return 0;
}
