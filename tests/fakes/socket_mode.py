"""A loopback Slack Socket Mode server: what ``apps.connections.open``'s ``wss://`` URL points at.

A real WebSocket server (RFC 6455 handshake and framing, written with the
standard library: the protocol needed here is one upgrade and text, ping and
close frames) on 127.0.0.1. Like Slack, it greets a new connection with
``{"type": "hello"}``, sends envelopes (``{"envelope_id", "type":
"interactive" | "slash_commands" | "events_api", "payload",
"accepts_response_payload"}``), answers pings with pongs and collects the
acknowledgements (``{"envelope_id", "payload"?}``) the app sends back.

Usage::

    with SocketModeServer() as server, FakeSlack(socket_url=...) as slack:
        ... start the Bolt app's SocketModeHandler against slack.api_url ...
        server.wait_connected()
        ack = server.send("interactive", block_actions_payload)   # waits for the ack
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import uuid
from typing import Any

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class SocketModeServer:
    def __init__(self) -> None:
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._connected = threading.Event()
        self._acks: dict[str, dict[str, Any]] = {}
        self._ack_events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.received: list[dict[str, Any]] = []   # every JSON frame the app sent
        self.connections = 0

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> "SocketModeServer":
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(4)
        threading.Thread(target=self._accept_loop, name="socket-mode-accept", daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._listener is not None
        host, port = self._listener.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=test"

    def stop(self) -> None:
        self._closed.set()
        for sock in (self._client, self._listener):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass

    def __enter__(self) -> "SocketModeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_connected(self, timeout: float = 10) -> bool:
        return self._connected.wait(timeout)

    # -- sending envelopes ---------------------------------------------------------------------------
    def send(self, kind: str, payload: dict[str, Any], *, timeout: float = 10) -> dict[str, Any] | None:
        """Send one envelope and wait for its acknowledgement (None if none came in time)."""
        envelope_id = str(uuid.uuid4())
        event = threading.Event()
        with self._lock:
            self._ack_events[envelope_id] = event
        self._send_text(json.dumps({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                    "accepts_response_payload": kind != "events_api", "retry_attempt": 0,
                                    "retry_reason": ""}))
        if not event.wait(timeout):
            return None
        with self._lock:
            return self._acks.get(envelope_id)

    # -- the protocol ----------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), name="socket-mode-conn", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(4096)
                if not chunk:
                    return
                request += chunk
            headers = {}
            for line in request.split(b"\r\n")[1:]:
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            key = headers.get("sec-websocket-key", "")
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            client.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            old, self._client = self._client, client
            if old is not None:
                try:
                    old.close()
                except OSError:
                    pass
            self.connections += 1
            self._send_text(json.dumps({"type": "hello", "num_connections": 1,
                                        "debug_info": {"host": "loopback", "approximate_connection_time": 3600},
                                        "connection_info": {"app_id": "A0TEST"}}))
            self._connected.set()
            buffer = b""
            while not self._closed.is_set():
                frame, buffer = self._read_frame(client, buffer)
                if frame is None:
                    return
                opcode, data = frame
                if opcode == 0x1:
                    self._on_text(data.decode("utf-8"))
                elif opcode == 0x9:
                    self._send_frame(0xA, data, client)
                elif opcode == 0x8:
                    self._send_frame(0x8, data[:2], client)
                    return
        except OSError:
            return

    def _on_text(self, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            return
        self.received.append(data)
        envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
        if envelope_id:
            with self._lock:
                self._acks[envelope_id] = data
                event = self._ack_events.get(envelope_id)
            if event is not None:
                event.set()

    @staticmethod
    def _read_frame(client: socket.socket, buffer: bytes):
        def need(count: int, buffer: bytes) -> bytes | None:
            while len(buffer) < count:
                chunk = client.recv(65536)
                if not chunk:
                    return None
                buffer += chunk
            return buffer

        buffer = need(2, buffer)
        if buffer is None:
            return None, b""
        first, second = buffer[0], buffer[1]
        opcode, masked, length = first & 0x0F, second & 0x80, second & 0x7F
        offset = 2
        if length == 126:
            buffer = need(4, buffer)
            if buffer is None:
                return None, b""
            length, offset = struct.unpack(">H", buffer[2:4])[0], 4
        elif length == 127:
            buffer = need(10, buffer)
            if buffer is None:
                return None, b""
            length, offset = struct.unpack(">Q", buffer[2:10])[0], 10
        mask_len = 4 if masked else 0
        buffer = need(offset + mask_len + length, buffer)
        if buffer is None:
            return None, b""
        mask = buffer[offset:offset + mask_len]
        data = buffer[offset + mask_len:offset + mask_len + length]
        if masked:
            data = bytes(byte ^ mask[index % 4] for index, byte in enumerate(data))
        return (opcode, data), buffer[offset + mask_len + length:]

    def _send_text(self, text: str) -> None:
        self._send_frame(0x1, text.encode("utf-8"))

    def _send_frame(self, opcode: int, data: bytes, client: socket.socket | None = None) -> None:
        target = client or self._client
        if target is None:
            raise RuntimeError("no Socket Mode client is connected")
        length = len(data)
        if length < 126:
            head = struct.pack(">BB", 0x80 | opcode, length)
        elif length < 65536:
            head = struct.pack(">BBH", 0x80 | opcode, 126, length)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 127, length)
        with self._send_lock:
            target.sendall(head + data)
