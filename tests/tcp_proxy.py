"""A TCP proxy for fault tests: it stands between Tessera and a service (PostgreSQL, Redis) on this machine and
can "stop" and "start" that service for Tessera alone, without touching the service that other tests use.

    with TcpProxy(6379) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        ...
        proxy.cut()       # every open connection is reset and new ones are refused, as if the service stopped
        proxy.restore()   # connections are accepted again on the same port, as if it came back
        proxy.freeze()    # connections stay open but nothing passes, as on a dead network link

Plain threads and blocking sockets, one pair of pump threads per connection; it only ever listens on and
connects to 127.0.0.1.
"""

import contextlib
import socket
import struct
import threading
from types import TracebackType

__all__ = ["TcpProxy"]

_HOST = "127.0.0.1"


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``127.0.0.1:<target_port>`` until :meth:`cut`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.accepted = 0
        self.frozen = False
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._listen()

    def __enter__(self) -> "TcpProxy":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.cut()
        for thread in self._threads:
            thread.join(timeout=5)

    def restore(self) -> None:
        """Forward again: after :meth:`cut`, accept connections again on the same port; after :meth:`freeze`,
        let data through again."""
        self.frozen = False
        with self._lock:
            listening = self._listener is not None
        if not listening:
            self._listen()

    def freeze(self) -> None:
        """Keep every connection open and accept new ones, but pass no data either way."""
        self.frozen = True

    def cut(self) -> None:
        """Stop listening (new connections are refused) and reset every open connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            open_sockets, self._open = self._open, set()
        if listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone would leave the port listening
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in open_sockets:
            _reset(sock)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._open) // 2

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((_HOST, self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        self._spawn(self._accept, listener)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                downstream, _ = listener.accept()
            except OSError:
                return  # the listener was closed by cut()
            try:
                upstream = socket.create_connection((_HOST, self.target_port), timeout=5)
            except OSError:
                _reset(downstream)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut() ran meanwhile
                    _reset(downstream)
                    _reset(upstream)
                    return
                self._open.update((downstream, upstream))
                self.accepted += 1
            self._spawn(self._pump, downstream, upstream)
            self._spawn(self._pump, upstream, downstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                if not self.frozen:
                    sink.sendall(chunk)
        except OSError:
            pass
        # one side closed or failed: close both (the protocols proxied here need no half-closed connections)
        with self._lock:
            self._open.discard(source)
            self._open.discard(sink)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN: the peer sees the connection fail, as when a server process dies."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
