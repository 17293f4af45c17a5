#!/usr/bin/env python3
"""Checks scripts/smtp-test-server.py end to end with smtplib, the way the Swift
tests use it: start it as a subprocess, wait for `READY <port>`, talk SMTP, read
--mail-dir. Uses scripts/make-test-cert.sh for the certificates.

Usage: python3 scripts/smtp-test-server-selftest.py [-k SUBSTRING] [-v]
Ends with the line "N passed, N failed"; exits non-zero if anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
SERVER = SCRIPTS / "smtp-test-server.py"
MAKE_CERT = SCRIPTS / "make-test-cert.sh"

MSG = "From: a@example.org\r\nTo: b@example.org\r\nSubject: code\r\n\r\nYour code is 123456\r\n"


class Server:
    """One smtp-test-server subprocess; a context manager that stops it on exit."""

    def __init__(self, work: Path, *flags: str) -> None:
        self.work = work
        self.mail_dir = Path(tempfile.mkdtemp(dir=work, prefix="mail-"))
        self.stderr_path = self.mail_dir.with_suffix(".stderr")
        self.flags = ["--mail-dir", str(self.mail_dir), *flags]
        self.proc: subprocess.Popen | None = None
        self.startup_seconds = 0.0

    def __enter__(self) -> "Server":
        started = time.monotonic()
        self.stderr_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), *self.flags],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
        )
        line = self.proc.stdout.readline().decode()
        self.startup_seconds = time.monotonic() - started
        if not line.startswith("READY "):
            self.proc.kill()
            raise AssertionError(f"no READY line, got {line!r}; stderr:\n{self.stderr()}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, exc_type, *_) -> None:
        code = self.stop(signal.SIGTERM)
        if exc_type is None:
            # Every fault the server injects is deliberate; none may leave a
            # traceback or an asyncio complaint behind.
            log = self.stderr()
            for bad in ("Traceback", "ERROR", "WARNING", "exception", "never retrieved"):
                expect(bad not in log, f"server stderr has {bad!r}:\n{log}")
            expect(code == 0, f"exit code {code}")

    def stop(self, sig: int) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"server ignored signal {sig}")
        self.stderr_file.close()
        return code

    def stderr(self) -> str:
        if not self.stderr_file.closed:
            self.stderr_file.flush()
        return self.stderr_path.read_text(errors="replace")

    def messages(self) -> list[dict]:
        files = sorted(self.mail_dir.glob("*.json"), key=lambda f: int(f.stem))
        return [json.loads(f.read_text(encoding="utf-8")) for f in files]

    def smtp(self, timeout: float = 10) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, timeout=timeout)

    def smtps(self, context: ssl.SSLContext, host: str = "localhost") -> smtplib.SMTP_SSL:
        return smtplib.SMTP_SSL(host, self.port, timeout=10, context=context)


def verifying_context(ca: Path | None) -> ssl.SSLContext:
    # With ca=None only the system roots are trusted, so our test CA is not.
    ctx = ssl.create_default_context()
    if ca is not None:
        ctx = ssl.create_default_context(cafile=str(ca))
    return ctx


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def expect_raises(exc_type, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc_type as e:
        return e
    raise AssertionError(f"expected {exc_type.__name__}")


def ehlo_keywords(s: smtplib.SMTP) -> dict:
    code, _ = s.ehlo()
    expect(code == 250, f"EHLO gave {code}")
    # smtplib keeps "auth" as " LOGIN PLAIN" (it joins repeated AUTH lines).
    return {k: v.strip() for k, v in s.esmtp_features.items()}


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# -- plain ---------------------------------------------------------------------


@test
def plain_send_and_json_format(ctx):
    with Server(ctx.work) as srv:
        with srv.smtp() as s:
            features = ehlo_keywords(s)
            # What aiosmtpd advertises by default (no TLS, no --auth).
            expect(set(features) == {"size", "8bitmime", "smtputf8", "help"}, f"EHLO: {features}")
            expect(features["size"] == "33554432", "SIZE")
            refused = s.sendmail("a@example.org", ["b@example.org", "c@example.org"], MSG)
            expect(refused == {}, f"refused {refused}")
        (m,) = srv.messages()
        expect(set(m) == {"mail_from", "rcpt_tos", "data", "peer", "tls", "auth_user",
                          "esmtp_mail_options", "received_at"}, f"keys {sorted(m)}")
        expect(m["mail_from"] == "a@example.org", "mail_from")
        expect(m["rcpt_tos"] == ["b@example.org", "c@example.org"], "rcpt_tos")
        expect(m["data"] == MSG, f"data {m['data']!r}")
        expect(m["peer"][0] == "127.0.0.1" and isinstance(m["peer"][1], int), f"peer {m['peer']}")
        expect(m["tls"] is False and m["auth_user"] is None, "tls/auth_user")
        expect(m["esmtp_mail_options"] == [f"SIZE={len(MSG)}"], f"options {m['esmtp_mail_options']}")
        expect(abs(m["received_at"] - time.time()) < 60, "received_at")


@test
def dot_stuffing_and_numbering(ctx):
    body = "Subject: dots\r\n\r\n.leading dot\r\n..two\r\n"
    with Server(ctx.work) as srv:
        with srv.smtp() as s:
            for _ in range(3):
                s.sendmail("a@example.org", ["b@example.org"], body)
        names = sorted(f.name for f in srv.mail_dir.iterdir())
        expect(names == ["1.json", "2.json", "3.json"], f"files {names}")
        expect(srv.messages()[0]["data"] == body, "dot-unstuffing")


@test
def smtputf8_and_8bitmime(ctx):
    body = "Subject: Code\r\n\r\nIhr Code: 123456 — grüße 你好\r\n".encode("utf-8")
    with Server(ctx.work) as srv:
        with srv.smtp() as s:
            s.ehlo()
            s.sendmail("absender@example.org", ["empfänger@exämple.org"], body,
                       mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        (m,) = srv.messages()
        expect(m["rcpt_tos"] == ["empfänger@exämple.org"], f"rcpt {m['rcpt_tos']}")
        expect(m["data"] == body.decode("utf-8"), f"data {m['data']!r}")
        expect(set(m["esmtp_mail_options"]) >= {"SMTPUTF8", "BODY=8BITMIME"},
               f"options {m['esmtp_mail_options']}")


@test
def invalid_utf8_is_replaced(ctx):
    body = b"Subject: x\r\n\r\nbad \xff byte\r\n"
    with Server(ctx.work) as srv:
        with srv.smtp() as s:
            s.sendmail("a@example.org", ["b@example.org"], body)
        (m,) = srv.messages()
        expect(m["data"] == "Subject: x\r\n\r\nbad \ufffd byte\r\n", f"data {m['data']!r}")


@test
def pipelined_commands_work_without_pipelining(ctx):
    # aiosmtpd does not advertise PIPELINING, but a client that sends the whole
    # transaction in one write must still get one reply per command, in order.
    with Server(ctx.work) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            f = sock.makefile("rb")
            expect(f.readline().startswith(b"220 "), "greeting")
            sock.sendall(b"EHLO client\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            sock.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
                         b"RCPT TO:<c@example.org>\r\nDATA\r\n")
            codes = [f.readline()[:3] for _ in range(4)]
            expect(codes == [b"250", b"250", b"250", b"354"], f"codes {codes}")
            sock.sendall(MSG.encode() + b".\r\nQUIT\r\n")
            codes = [f.readline()[:3] for _ in range(2)]
            expect(codes == [b"250", b"221"], f"codes {codes}")
        expect(len(srv.messages()) == 1, "message stored")


# -- TLS -------------------------------------------------------------------------


@test
def starttls_with_ca_verifies(ctx):
    with Server(ctx.work, "--starttls", str(ctx.cert), str(ctx.key)) as srv:
        for host in ("localhost", "127.0.0.1"):  # both are in the certificate's SAN
            with smtplib.SMTP(host, srv.port, timeout=10) as s:
                expect("starttls" in ehlo_keywords(s), "STARTTLS advertised")
                code, _ = s.starttls(context=verifying_context(ctx.ca))
                expect(code == 220, f"STARTTLS gave {code}")
                expect("starttls" not in ehlo_keywords(s), "STARTTLS not offered twice")
                s.sendmail("a@example.org", ["b@example.org"], MSG)
        ms = srv.messages()
        expect(len(ms) == 2 and all(m["tls"] is True for m in ms), f"tls {[m['tls'] for m in ms]}")


@test
def starttls_without_ca_fails_verification(ctx):
    with Server(ctx.work, "--starttls", str(ctx.cert), str(ctx.key)) as srv:
        with srv.smtp() as s:
            s.ehlo()
            err = expect_raises(ssl.SSLCertVerificationError, s.starttls, context=verifying_context(None))
            expect("self-signed" in str(err) or "unable to get local issuer" in str(err), str(err))


@test
def require_starttls(ctx):
    with Server(ctx.work, "--starttls", str(ctx.cert), str(ctx.key), "--require-starttls") as srv:
        with srv.smtp() as s:
            s.ehlo()
            code, msg = s.mail("a@example.org")
            expect(code == 530, f"MAIL before STARTTLS gave {code} {msg}")
            s.starttls(context=verifying_context(ctx.ca))
            s.ehlo()
            s.sendmail("a@example.org", ["b@example.org"], MSG)
        expect(srv.messages()[0]["tls"] is True, "tls")


@test
def implicit_tls(ctx):
    with Server(ctx.work, "--implicit-tls", str(ctx.cert), str(ctx.key), "--auth", "u:p") as srv:
        with srv.smtps(verifying_context(ctx.ca)) as s:
            features = ehlo_keywords(s)
            expect("starttls" not in features, "no STARTTLS on an implicit TLS port")
            # AUTH is offered without --auth-over-plain: the connection is TLS.
            expect(features.get("auth") == "LOGIN PLAIN", f"AUTH {features.get('auth')}")
            s.login("u", "p")
            s.sendmail("a@example.org", ["b@example.org"], MSG)
        (m,) = srv.messages()
        expect(m["tls"] is True and m["auth_user"] == "u", f"{m['tls']} {m['auth_user']}")


@test
def implicit_tls_without_ca_fails_verification(ctx):
    with Server(ctx.work, "--implicit-tls", str(ctx.cert), str(ctx.key)) as srv:
        expect_raises(ssl.SSLCertVerificationError, srv.smtps, verifying_context(None))
        # ... and a plain-text client on that port gets no SMTP greeting.
        expect_raises((smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout),
                      smtplib.SMTP, "127.0.0.1", srv.port, timeout=1)


# -- AUTH ------------------------------------------------------------------------


def auth_login(s: smtplib.SMTP, user: str, password: str):
    # smtplib.login() picks PLAIN when offered; force LOGIN explicitly.
    s.user, s.password = user, password
    return s.auth("LOGIN", s.auth_login)


def auth_plain(s: smtplib.SMTP, user: str, password: str, initial_response: bool = True):
    s.user, s.password = user, password
    return s.auth("PLAIN", s.auth_plain, initial_response_ok=initial_response)


@test
def auth_plain_and_login_after_starttls(ctx):
    flags = ("--starttls", str(ctx.cert), str(ctx.key), "--auth", "alice:secret", "--auth", "bob:pa:ss")
    with Server(ctx.work, *flags) as srv:
        with srv.smtp() as s:
            expect("auth" not in ehlo_keywords(s), "AUTH hidden before STARTTLS")
            code, _ = s.docmd("AUTH", "PLAIN AGFsaWNlAHNlY3JldA==")
            expect(code == 538, f"AUTH before STARTTLS gave {code}")
            s.starttls(context=verifying_context(ctx.ca))
            expect(ehlo_keywords(s).get("auth") == "LOGIN PLAIN", "AUTH after STARTTLS")
            code, _ = auth_plain(s, "alice", "secret")
            expect(code == 235, f"PLAIN gave {code}")
            s.sendmail("a@example.org", ["b@example.org"], MSG)
        for login in (auth_login, lambda s, u, p: auth_plain(s, u, p, initial_response=False)):
            with srv.smtp() as s:
                s.starttls(context=verifying_context(ctx.ca))
                s.ehlo()  # smtplib.auth() doesn't re-EHLO after STARTTLS; aiosmtpd wants it (503)
                code, _ = login(s, "bob", "pa:ss")  # the password may contain ':'
                expect(code == 235, f"gave {code}")
                s.sendmail("a@example.org", ["b@example.org"], MSG)
        users = [m["auth_user"] for m in srv.messages()]
        expect(users == ["alice", "bob", "bob"], f"auth_user {users}")


@test
def auth_wrong_credentials_535(ctx):
    with Server(ctx.work, "--auth", "alice:secret", "--auth-over-plain") as srv:
        for login in (auth_plain, auth_login):
            for user, password in (("alice", "wrong"), ("mallory", "secret")):
                with srv.smtp() as s:
                    s.ehlo()
                    e = expect_raises(smtplib.SMTPAuthenticationError, login, s, user, password)
                    expect(e.smtp_code == 535, f"gave {e.smtp_code}")


@test
def auth_over_plain_and_require_auth(ctx):
    with Server(ctx.work, "--auth", "alice:secret", "--auth-over-plain", "--require-auth") as srv:
        with srv.smtp() as s:
            expect(ehlo_keywords(s).get("auth") == "LOGIN PLAIN", "AUTH offered on plain")
            code, msg = s.mail("a@example.org")
            expect(code == 530, f"MAIL before AUTH gave {code} {msg}")
            s.login("alice", "secret")
            s.sendmail("a@example.org", ["b@example.org"], MSG)
        (m,) = srv.messages()
        expect(m["auth_user"] == "alice" and m["tls"] is False, f"{m['auth_user']} {m['tls']}")


# -- recipients ------------------------------------------------------------------


@test
def refused_recipient_550(ctx):
    with Server(ctx.work, "--refuse-recipient", "nobody", "--refuse-recipient", "@gone.") as srv:
        with srv.smtp() as s:
            e = expect_raises(smtplib.SMTPRecipientsRefused, s.sendmail,
                              "a@example.org", ["nobody@example.org"], MSG)
            expect(e.recipients == {"nobody@example.org": (550, b"5.1.1 mailbox unavailable")},
                   f"{e.recipients}")
            # One refused among several: the rest still get the message.
            refused = s.sendmail("a@example.org", ["x@gone.example", "ok@example.org"], MSG)
            expect(refused == {"x@gone.example": (550, b"5.1.1 mailbox unavailable")}, f"{refused}")
        (m,) = srv.messages()
        expect(m["rcpt_tos"] == ["ok@example.org"], f"rcpt {m['rcpt_tos']}")


@test
def tempfail_recipient_451(ctx):
    with Server(ctx.work, "--tempfail-recipient", "busy") as srv:
        with srv.smtp() as s:
            e = expect_raises(smtplib.SMTPRecipientsRefused, s.sendmail,
                              "a@example.org", ["busy@example.org"], MSG)
            expect(e.recipients == {"busy@example.org": (451, b"4.3.0 try again later")},
                   f"{e.recipients}")
        expect(srv.messages() == [], "nothing stored")


# -- faults ----------------------------------------------------------------------


@test
def drop_after_mail(ctx):
    flags = ("--drop-after-mail", "--starttls", str(ctx.cert), str(ctx.key))
    with Server(ctx.work, *flags) as srv:
        for use_tls in (False, True):
            s = srv.smtp()
            s.ehlo()
            if use_tls:
                s.starttls(context=verifying_context(ctx.ca))
            expect_raises(smtplib.SMTPServerDisconnected, s.sendmail,
                          "a@example.org", ["b@example.org"], MSG)
            s.close()
        # The server itself lives on.
        with srv.smtp() as s:
            expect(s.noop()[0] == 250, "NOOP after drop")
        expect(srv.messages() == [], "nothing stored")


@test
def delay(ctx):
    with Server(ctx.work, "--delay", "1.0") as srv:
        with srv.smtp() as s:
            s.ehlo()
            started = time.monotonic()
            s.sendmail("a@example.org", ["b@example.org"], MSG)
            took = time.monotonic() - started
        expect(1.0 <= took < 3.0, f"took {took:.2f}s")
        with srv.smtp(timeout=0.3) as s:  # a client that gives up first
            s.ehlo()
            expect_raises((socket.timeout, smtplib.SMTPServerDisconnected), s.sendmail,
                          "a@example.org", ["b@example.org"], MSG)
        expect(len(srv.messages()) >= 1, "delayed message stored")


@test
def fail_first(ctx):
    with Server(ctx.work, "--fail-first", "2") as srv:
        for attempt in range(2):
            with srv.smtp() as s:  # a new connection each time, as a retrying client would
                e = expect_raises(smtplib.SMTPDataError, s.sendmail,
                                  "a@example.org", ["b@example.org"], MSG)
                expect(e.smtp_code == 451 and e.smtp_error == b"4.3.0 temporary failure",
                       f"attempt {attempt}: {e.smtp_code} {e.smtp_error}")
        with srv.smtp() as s:
            s.sendmail("a@example.org", ["b@example.org"], MSG)
            s.sendmail("a@example.org", ["b@example.org"], MSG)
        expect(len(srv.messages()) == 2, "later messages stored")


@test
def control_file(ctx):
    control = ctx.work / "control"
    control.unlink(missing_ok=True)
    with Server(ctx.work, "--control-file", str(control)) as srv:
        with srv.smtp() as s:  # no file: normal
            s.sendmail("a@example.org", ["b@example.org"], MSG)
        control.write_text("down\n")
        s = srv.smtp()
        e = expect_raises(smtplib.SMTPDataError, s.sendmail, "a@example.org", ["b@example.org"], MSG)
        expect(e.smtp_code == 421 and e.smtp_error == b"4.3.2 service not available", f"{e}")
        # The server closed the connection after its 421.
        expect(s.sock is None or s.sock.recv(1) == b"", "connection closed after 421")
        s.close()
        control.write_text("up\n")  # anything but "down" means up
        with srv.smtp() as s:
            s.sendmail("a@example.org", ["b@example.org"], MSG)
        expect(len(srv.messages()) == 2, "two stored")


# -- process ---------------------------------------------------------------------


@test
def signals_exit_cleanly(ctx):
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = Server(ctx.work).__enter__()
        conn = srv.smtp()  # an open connection must not hold the exit up
        conn.ehlo()
        code = srv.stop(sig)
        conn.close()
        expect(code == 0, f"exit code {code} after {sig!r}")
        expect("Traceback" not in srv.stderr(), srv.stderr())


@test
def exit_on_stdin_eof(ctx):
    srv = Server(ctx.work, "--exit-on-stdin-eof").__enter__()
    srv.proc.stdin.close()
    expect(srv.proc.wait(timeout=5) == 0, "exit code")
    srv.stderr_file.close()


@test
def stdout_carries_only_ready(ctx):
    with Server(ctx.work) as srv:
        with srv.smtp() as s:
            s.sendmail("a@example.org", ["b@example.org"], MSG)
    rest = srv.proc.stdout.read()
    expect(rest == b"", f"stdout after READY: {rest!r}")


@test
def bad_arguments_fail_fast(ctx):
    for flags in (["--require-auth"], ["--require-starttls"], ["--auth", "nocolon"],
                  ["--starttls", "/nonexistent.pem", "/nonexistent-key.pem"]):
        r = subprocess.run([sys.executable, str(SERVER), *flags], capture_output=True, timeout=10)
        expect(r.returncode != 0 and r.stdout == b"", f"{flags}: rc {r.returncode} out {r.stdout!r}")


class Context:
    def __init__(self, work: Path) -> None:
        self.work = work
        certs = work / "certs"
        subprocess.run(["bash", str(MAKE_CERT), str(certs)], check=True)
        self.ca, self.cert, self.key = certs / "ca.pem", certs / "server.pem", certs / "server-key.pem"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="", help="run only tests whose name contains this")
    ap.add_argument("-v", action="store_true", help="print the server's stderr on failure")
    opts = ap.parse_args()

    passed = failed = 0
    startup: list[float] = []
    original_enter = Server.__enter__

    def timed_enter(self):
        result = original_enter(self)
        startup.append(self.startup_seconds)
        return result

    Server.__enter__ = timed_enter

    with tempfile.TemporaryDirectory(prefix="smtp-selftest-") as tmp:
        ctx = Context(Path(tmp))
        for fn in TESTS:
            if opts.k not in fn.__name__:
                continue
            started = time.monotonic()
            try:
                fn(ctx)
            except Exception:
                failed += 1
                print(f"FAIL {fn.__name__}")
                traceback.print_exc(file=sys.stdout)
                if opts.v:
                    for f in Path(tmp).glob("mail-*.stderr"):
                        print(f"--- {f.name}\n{f.read_text(errors='replace')}")
            else:
                passed += 1
                print(f"ok   {fn.__name__} ({time.monotonic() - started:.2f}s)")
    if startup:
        print(f"server startup to READY: min {min(startup):.3f}s, max {max(startup):.3f}s "
              f"over {len(startup)} starts")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
