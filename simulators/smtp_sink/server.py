"""The SMTP sink server: asyncio on loopback, one ``.eml`` file per accepted message."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType

log = logging.getLogger("smtp_sink")

#: Larger messages are refused (552): alerts are small, and the sink must not fill the disk.
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
#: RFC 5321 4.5.3.1.4: a command line is at most 512 octets including CRLF; be lenient with 4 KiB.
MAX_COMMAND_BYTES = 4096


def read_mailbox(directory: Path) -> list[EmailMessage]:
    """Every stored message, oldest first (file names start with a nanosecond timestamp)."""
    if not directory.exists():
        return []
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(directory.glob("*.eml"))
    ]


class _Session:
    """One SMTP conversation; the transaction state is reset by RSET, HELO/EHLO and after DATA."""

    def __init__(self, sink: SmtpSink, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sink = sink
        self.reader = reader
        self.writer = writer
        self.greeted = False
        self.reset()

    def reset(self) -> None:
        self.sender: str | None = None
        self.recipients: list[str] = []

    async def reply(self, text: str) -> None:
        self.writer.write(text.encode() + b"\r\n")
        await self.writer.drain()

    async def run(self) -> None:
        await self.reply(f"220 {self.sink.hostname} ESMTP MusicCharts sink")
        while True:
            try:
                line = await self.reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError:
                await self.reply("500 5.5.2 Line too long")
                return
            except asyncio.IncompleteReadError:
                return  # the client went away
            command, _, argument = line[:-2].decode("ascii", "replace").partition(" ")
            verb = command.upper()
            if verb == "QUIT":
                await self.reply("221 2.0.0 Bye")
                return
            handler = getattr(self, f"do_{verb.lower()}", None) if verb.isalpha() else None
            if handler is None:
                await self.reply("502 5.5.1 Command not implemented")
                continue
            await handler(argument.strip())

    async def do_ehlo(self, argument: str) -> None:
        if not argument:
            await self.reply("501 5.5.4 EHLO needs a domain")
            return
        self.greeted = True
        self.reset()
        await self.reply(f"250-{self.sink.hostname}\r\n250-SIZE {MAX_MESSAGE_BYTES}\r\n250 8BITMIME")

    async def do_helo(self, argument: str) -> None:
        if not argument:
            await self.reply("501 5.5.4 HELO needs a domain")
            return
        self.greeted = True
        self.reset()
        await self.reply(f"250 {self.sink.hostname}")

    async def do_noop(self, _argument: str) -> None:
        await self.reply("250 2.0.0 OK")

    async def do_rset(self, _argument: str) -> None:
        self.reset()
        await self.reply("250 2.0.0 OK")

    async def do_vrfy(self, _argument: str) -> None:
        await self.reply("252 2.1.5 Cannot VRFY user")

    async def do_mail(self, argument: str) -> None:
        if not self.greeted:
            await self.reply("503 5.5.1 Send HELO/EHLO first")
        elif self.sender is not None:
            await self.reply("503 5.5.1 Nested MAIL command")
        elif not argument.upper().startswith("FROM:"):
            await self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
        else:
            self.sender = _address(argument[5:])
            await self.reply("250 2.1.0 OK")

    async def do_rcpt(self, argument: str) -> None:
        if self.sender is None:
            await self.reply("503 5.5.1 Need MAIL before RCPT")
        elif not argument.upper().startswith("TO:") or not _address(argument[3:]):
            await self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
        else:
            self.recipients.append(_address(argument[3:]))
            await self.reply("250 2.1.5 OK")

    async def do_data(self, argument: str) -> None:
        if argument:
            await self.reply("501 5.5.4 DATA takes no argument")
            return
        if not self.recipients:
            await self.reply("503 5.5.1 Need RCPT before DATA")
            return
        await self.reply("354 End data with <CR><LF>.<CR><LF>")
        lines: list[bytes] = []
        size = 0
        too_large = False
        while True:
            try:
                line = await self.reader.readuntil(b"\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            if line == b".\r\n":
                break
            size += len(line)
            too_large = too_large or size > MAX_MESSAGE_BYTES
            if not too_large:
                # RFC 5321 4.5.2: the client doubled every leading dot; undo it.
                lines.append(line[1:] if line.startswith(b".") else line)
        if too_large:
            self.reset()
            await self.reply("552 5.3.4 Message too large")
            return
        path = self.sink.store(self.sender or "", self.recipients, b"".join(lines))
        self.reset()
        await self.reply(f"250 2.0.0 OK queued as {path.stem}")


def _address(text: str) -> str:
    # "<a@b> SIZE=123" -> "a@b"; the null reverse-path "<>" stays empty.
    return text.strip().split(" ", 1)[0].strip("<>")


class SmtpSink:
    """An SMTP server on ``host:port`` writing each message to ``mailbox/<ns>-<id>.eml``.

    Use as a context manager (a background thread, for tests) or ``serve_forever()`` (``python -m
    smtp_sink``). ``port=0`` picks a free port; read ``port`` after ``start()``.
    """

    def __init__(self, mailbox: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.mailbox = Path(mailbox)
        self.host = host
        self.port = port
        self.hostname = "musiccharts-smtp-sink"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    def store(self, sender: str, recipients: list[str], data: bytes) -> Path:
        self.mailbox.mkdir(parents=True, exist_ok=True)
        # The envelope is kept in headers so that a reader sees who the message was really delivered to.
        envelope = f"X-Sink-Mail-From: {sender}\r\nX-Sink-Rcpt-To: {', '.join(recipients)}\r\n".encode()
        path = self.mailbox / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"
        partial = path.with_suffix(".part")
        partial.write_bytes(envelope + data)
        partial.rename(path)  # readers never see half a message
        log.info("stored a message from %s to %s in %s", sender, ", ".join(recipients), path.name)
        return path

    def messages(self) -> list[EmailMessage]:
        return read_mailbox(self.mailbox)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _Session(self, reader, writer).run()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _start_server(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, limit=max(MAX_COMMAND_BYTES, 1024 * 1024)
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def serve_forever(self) -> None:
        async def main() -> None:
            await self._start_server()
            log.info("SMTP sink on %s:%d, messages in %s", self.host, self.port, self.mailbox)
            async with self._server:  # type: ignore[union-attr]
                await self._server.serve_forever()  # type: ignore[union-attr]

        asyncio.run(main())

    def start(self) -> SmtpSink:
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start_server())  # type: ignore[union-attr]
            ready.set()
            self._loop.run_forever()  # type: ignore[union-attr]

        self._thread = threading.Thread(target=run, name="smtp-sink", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the SMTP sink did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        loop, server = self._loop, self._server

        def shutdown() -> None:
            if server is not None:
                server.close()
            loop.stop()

        loop.call_soon_threadsafe(shutdown)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = self._server = self._thread = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
