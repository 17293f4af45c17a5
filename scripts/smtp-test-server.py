#!/usr/bin/env python3
"""A real SMTP server for OTPGate's Swift tests, built on aiosmtpd.

The Swift test suite starts this as a subprocess, reads one line `READY <port>`
from its stdout, talks SMTP to 127.0.0.1:<port>, and reads what was delivered
from `--mail-dir`. Every other output goes to stderr. SIGTERM/SIGINT exit 0.

Needs `aiosmtpd` from PyPI (`python3 -m pip install aiosmtpd`).

What EHLO advertises (aiosmtpd 1.4.x), in this order:
    250-<hostname>             (--server-name, default "localhost")
    250-SIZE 33554432          (aiosmtpd's default 32 MiB limit)
    250-8BITMIME               (because decode_data=False)
    250-SMTPUTF8               (enable_SMTPUTF8=True)
    250-STARTTLS               (only with --starttls, and only before it is done)
    250-AUTH LOGIN PLAIN       (only with --auth, and only once the session is
                                TLS or --auth-over-plain is given)
    250 HELP
PIPELINING is NOT advertised, though aiosmtpd reads commands from a buffered
stream one after another, so a client that pipelines anyway still works.
CHUNKING, DSN, ENHANCEDSTATUSCODES are not advertised either.

Fault injection, applied in this order when a message's DATA has been received:
    --delay, then --drop-after-mail, then --control-file, then --fail-first,
    then the message is written to --mail-dir and 250 is sent. The JSON file
    exists before the client sees 250, so a test may read it right away.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys
import threading
import time
import warnings
from pathlib import Path

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, TLSSetupException
except ImportError:  # pragma: no cover - environment problem, reported plainly
    sys.stderr.write(
        "smtp-test-server: aiosmtpd is missing; install it with "
        "`python3 -m pip install aiosmtpd`\n"
    )
    sys.exit(2)

log = logging.getLogger("smtp-test-server")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument(
        "--server-name",
        default="localhost",
        help="name in the greeting and EHLO reply (aiosmtpd would otherwise "
        "call socket.getfqdn() on every connection, which can stall on DNS)",
    )
    p.add_argument("--mail-dir", type=Path, help="write each accepted message as <n>.json here")

    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"), help="offer STARTTLS")
    tls.add_argument(
        "--implicit-tls", nargs=2, metavar=("CERT", "KEY"), help="TLS from the first byte (SMTPS)"
    )
    p.add_argument("--require-starttls", action="store_true", help="530 for mail commands before STARTTLS")

    p.add_argument("--auth", action="append", default=[], metavar="USER:PASS", help="repeatable")
    p.add_argument("--require-auth", action="store_true", help="530 for MAIL/RCPT/DATA before AUTH")
    p.add_argument("--auth-over-plain", action="store_true", help="allow AUTH without TLS")
    p.add_argument(
        "--greeting-delay", type=float, default=0.0, metavar="SECONDS",
        help="hold each connection this long before the 220 greeting (a client stuck before it hands over a message)")
    p.add_argument(
        "--auth-exclude", action="append", default=[], metavar="MECHANISM",
        help="do not offer this AUTH mechanism (PLAIN or LOGIN; repeatable), to test a client's other one")

    p.add_argument("--refuse-recipient", action="append", default=[], metavar="SUBSTRING",
                   help="RCPT TO containing it gets 550 (repeatable)")
    p.add_argument("--tempfail-recipient", action="append", default=[], metavar="SUBSTRING",
                   help="RCPT TO containing it gets 451 (repeatable)")
    p.add_argument("--drop-after-mail", action="store_true",
                   help="close the connection without a reply once DATA's content is received")
    p.add_argument("--delay", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long before answering the end of DATA")
    p.add_argument("--fail-first", type=int, default=0, metavar="N",
                   help="the first N messages get 451, later ones succeed")
    p.add_argument("--control-file", type=Path, metavar="PATH",
                   help="while it contains 'down', DATA gets 421 and the connection closes")

    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="exit when stdin closes, so a crashed test process leaves no server behind")
    p.add_argument("--verbose", action="store_true", help="log every SMTP line aiosmtpd sees")
    args = p.parse_args(argv)

    if args.require_starttls and not args.starttls:
        p.error("--require-starttls needs --starttls")
    if args.require_auth and not args.auth:
        p.error("--require-auth needs at least one --auth")
    for cred in args.auth:
        if ":" not in cred:
            p.error(f"--auth wants USER:PASS, got {cred!r}")
    return args


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    # Purpose.CLIENT_AUTH gives a server-side context that does not ask for
    # client certificates, which is what aiosmtpd expects (it warns otherwise).
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def is_tls(server: SMTP) -> bool:
    # aiosmtpd's session.ssl is only filled in after STARTTLS; on an implicit
    # TLS listener it stays None. The transport knows in both cases.
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class Handler:
    """aiosmtpd hooks (handle_*) plus the authenticator."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.users = {}
        for cred in args.auth:
            user, _, password = cred.partition(":")
            self.users[user.encode()] = password.encode()
        self.data_commands = 0  # counted across connections, for --fail-first
        self.mail_dir: Path | None = args.mail_dir
        self.next_n = 1
        if self.mail_dir is not None:
            self.mail_dir.mkdir(parents=True, exist_ok=True)
            # A reused directory keeps its files: number after them, never overwrite.
            taken = [int(f.stem) for f in self.mail_dir.glob("*.json") if f.stem.isdigit()]
            self.next_n = max(taken, default=0) + 1

    # -- auth --------------------------------------------------------------

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        # The built-in PLAIN and LOGIN mechanisms both hand over a LoginPassword.
        if isinstance(auth_data, LoginPassword):
            expected = self.users.get(auth_data.login)
            if expected is not None and expected == auth_data.password:
                user = auth_data.login.decode("utf-8", errors="replace")
                log.info("AUTH %s ok for %r", mechanism, user)
                return AuthResult(success=True, auth_data=user)
        log.info("AUTH %s refused", mechanism)
        # handled=False makes aiosmtpd send its "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=False, handled=False)

    # -- hooks ---------------------------------------------------------------

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # The 5-argument hook replaces aiosmtpd's own bookkeeping, so it must
        # record the HELO name itself or MAIL would answer "503 send HELO first".
        session.host_name = hostname
        if not self.users:
            # Without --auth there is nothing to log in to; don't advertise it.
            responses = [r for r in responses if not r.startswith("250-AUTH")]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if any(s in address for s in self.args.refuse_recipient):
            return "550 5.1.1 mailbox unavailable"
        if any(s in address for s in self.args.tempfail_recipient):
            return "451 4.3.0 try again later"
        # A RCPT hook owns the envelope: aiosmtpd only records the recipient itself
        # when no hook exists.
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.delay > 0:
            await asyncio.sleep(self.args.delay)

        if self.args.drop_after_mail:
            log.info("dropping connection from %r after DATA, message discarded", session.peer)
            await hang_up(server, reply=None)

        if self.control_says_down():
            log.info("control file says down: 421 to %r", session.peer)
            await hang_up(server, reply="421 4.3.2 service not available")

        self.data_commands += 1
        if self.data_commands <= self.args.fail_first:
            log.info("fail-first: DATA #%d gets 451", self.data_commands)
            return "451 4.3.0 temporary failure"

        n = self.store(server, session, envelope)
        log.info("accepted message %s from %r to %r", n, envelope.mail_from, envelope.rcpt_tos)
        return "250 2.0.0 OK" if n is None else f"250 2.0.0 OK queued as {n}"

    async def handle_exception(self, error: Exception) -> str:
        # A client that rejects our certificate after STARTTLS is a normal test
        # case (no CA given); aiosmtpd would log a two-part traceback for it.
        if isinstance(error, TLSSetupException):
            log.info("STARTTLS handshake failed: %s", error.__cause__ or error)
        else:
            log.error("SMTP session exception", exc_info=error)
        # Not sent after a failed handshake (aiosmtpd just closes the connection).
        return f"500 Error: ({error.__class__.__name__}) {error}"

    # -- helpers -------------------------------------------------------------

    def control_says_down(self) -> bool:
        path = self.args.control_file
        if path is None:
            return False
        try:
            return path.read_text(errors="replace").strip() == "down"
        except FileNotFoundError:
            return False

    def store(self, server, session, envelope) -> int | None:
        if self.mail_dir is None:
            return None
        n = self.next_n
        self.next_n += 1
        raw: bytes = envelope.original_content or b""
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": raw.decode("utf-8", errors="replace"),
            "peer": list(session.peer) if session.peer else None,
            "tls": is_tls(server),
            "auth_user": session.auth_data if session.authenticated else None,
            "esmtp_mail_options": list(envelope.mail_options),
            "received_at": time.time(),
        }
        # Write under a name that doesn't end in .json, then rename: a test
        # polling for *.json never sees a half-written file.
        tmp = self.mail_dir / f".{n}.json.tmp"
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, self.mail_dir / f"{n}.json")
        return n


async def hang_up(server: SMTP, reply: str | None) -> None:
    """Optionally send one reply, then end the connection and never return.

    aiosmtpd always pushes whatever a handle_DATA hook returns, so a hook that
    wants no reply (or a reply followed by a close) has to stop itself: closing
    the transport makes aiosmtpd cancel this connection's task, and the
    cancellation unwinds through here.
    """
    transport = server.transport
    if reply is None:
        # abort(): no TLS close_notify, no flush; the peer just sees the socket go.
        transport.abort()
    else:
        await server.push(reply)
        transport.close()  # close() flushes the 421 first
    await asyncio.get_running_loop().create_future()


GREETING_DELAY = 0.0


class SlowGreetingSMTP(SMTP):
    """Waits --greeting-delay seconds before the session starts (the greeting)."""

    async def _handle_client(self):
        await asyncio.sleep(GREETING_DELAY)
        await super()._handle_client()


async def serve(args: argparse.Namespace) -> None:
    global GREETING_DELAY
    GREETING_DELAY = args.greeting_delay
    handler = Handler(args)
    loop = asyncio.get_running_loop()

    listener_ssl = tls_context(*args.implicit_tls) if args.implicit_tls else None
    starttls_ssl = tls_context(*args.starttls) if args.starttls else None

    smtp_kwargs = dict(
        hostname=args.server_name,
        # Keep the raw bytes: the JSON "data" is exactly what the client sent
        # (after dot-unstuffing), and 8BITMIME gets advertised.
        decode_data=False,
        enable_SMTPUTF8=True,
        tls_context=starttls_ssl,
        require_starttls=args.require_starttls,
        auth_required=args.require_auth,
        # aiosmtpd only counts STARTTLS as TLS for AUTH; on an implicit TLS
        # listener it would refuse AUTH with 538 unless told not to require TLS.
        auth_require_tls=not (args.auth_over_plain or args.implicit_tls),
        authenticator=handler.authenticate,
        # Without users, AUTH gets 504 instead of a 535 for any attempt.
        auth_exclude_mechanism=args.auth_exclude if handler.users else ["PLAIN", "LOGIN"],
    )

    server = await loop.create_server(
        lambda: (SlowGreetingSMTP if args.greeting_delay else SMTP)(handler, **smtp_kwargs),
        host=args.host,
        port=args.port,
        ssl=listener_ssl,
    )
    port = server.sockets[0].getsockname()[1]

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.exit_on_stdin_eof:
        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            loop.call_soon_threadsafe(stop.set)
        threading.Thread(target=watch_stdin, daemon=True).start()

    log.info(
        "listening on %s:%d (%s)",
        args.host,
        port,
        "implicit TLS" if listener_ssl else "STARTTLS" if starttls_ssl else "plain",
    )
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()

    await stop.wait()
    log.info("stopping")
    # Not awaiting wait_closed(): on newer Pythons it waits for every client
    # connection to finish, and a test killing us wants us gone now.
    server.close()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="smtp-test-server %(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # aiosmtpd logs every command line at INFO ("mail.log"); keep that for --verbose.
    logging.getLogger("mail.log").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    # Warnings aiosmtpd gives about itself, not about the client under test:
    # --require-auth with --auth-over-plain is what a test asks for on purpose,
    # and aiosmtpd's own AUTH code touches its deprecated Session.login_data.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    noise = (
        "auth_required == True but auth_require_tls == False",
        "Session.login_data is deprecated",
    )
    logging.getLogger("mail.log").addFilter(
        lambda r: not any(n in r.getMessage() for n in noise)
    )
    try:
        asyncio.run(serve(args))
    except OSError as e:  # e.g. the port is taken, or a bad certificate path
        log.error("cannot start: %s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
