"""A connection to ``vss-sim serve``: JSON lines over a Unix socket or loopback TCP.

:class:`Connection` sends requests with increasing ids and reads the reply lines. While it waits
for a reply it also serves the writers registered on it: each ``writer_event`` is handed to the
writer's handler and its answer sent back, so a single-threaded program can be a requester and a
writer at once. It serves the writers of every other open :class:`Connection` of the process in
the same way (a request on one connection can run the world into an event for a writer on
another), so one thread can also drive several connections.

The client is not thread-safe: use one thread per process, or one connection per thread and
no shared writers.
"""

import collections
import json
import re
import select
import socket
import warnings
import weakref

from .errors import (
    ConnectionClosed,
    ProtocolError,
    VssError,
    WriterHandlerError,
    raise_for_hresult,
)
from .writer import DEFAULT_FAILURE, Answer, CVssWriter, WriterEvent

__all__ = ["Connection", "TraceDigest", "VssadminOutput", "PROTOCOL_VERSION"]

PROTOCOL_VERSION = 1
MAX_LINE = 1 << 20

#: ``trace_digest`` and ``shutdown`` results.
TraceDigest = collections.namedtuple("TraceDigest", "sha256 records")
#: ``vssadmin`` results: the bytes vssadmin prints (CRLF) and its exit code.
VssadminOutput = collections.namedtuple("VssadminOutput", "text exit_code")

_TCP = re.compile(r"^(?P<host>[^:/]+|\[[^\]]+\]):(?P<port>\d+)$")

# Every open connection of the process, so a wait on one serves the writers of all.
_OPEN = weakref.WeakSet()


def _parse_address(address):
    """``(family, sockaddr)`` of a Unix socket path, ``"host:port"`` or ``(host, port)``."""
    if isinstance(address, tuple):
        return socket.AF_INET, (address[0], int(address[1]))
    address = str(address)
    m = _TCP.match(address)
    if m and "/" not in address:
        return socket.AF_INET, (m.group("host").strip("[]"), int(m.group("port")))
    return socket.AF_UNIX, address


class Connection:
    """One client of the server: a requester slot, writers, and the admin requests.

    Args:
        address: a Unix socket path, ``"127.0.0.1:PORT"`` or ``(host, port)``.
        timeout: wall-clock seconds to wait for any reply before ``TimeoutError`` (``None``:
            for ever). Virtual time never waits on the wall clock; this only guards against a
            stuck server.
        client: an optional client name, sent with :meth:`hello` when given.
        on_line: optional callable ``(direction, obj)`` called with every line sent
            (``"send"``) and received (``"recv"``), e.g. to log or validate them.

    Each request method returns the op's ``result`` (converted where noted) and raises
    :class:`~vss_sim.VssError` for ``kind: "hresult"`` and :class:`~vss_sim.ProtocolError`
    for the other error kinds. ``last_now_us`` is the virtual time of the last reply.
    """

    def __init__(self, address, timeout=120.0, client=None, on_line=None):
        family, sockaddr = _parse_address(address)
        self.address = address
        self.timeout = timeout
        self.on_line = on_line
        self.last_now_us = None
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(sockaddr)
        except BaseException:
            self._sock.close()
            raise
        self._sock.setblocking(False)
        self._buf = bytearray()
        self._next_id = 1
        self._writers = {}
        self._answer_ids = {}  # id of an answer request -> event, until its reply comes
        self._replies = {}  # id -> reply, for replies read while serving another connection
        self._waiting = None
        self._handler_errors = []
        self.answer_errors = []  # error objects of refused answers
        self._closed = False
        _OPEN.add(self)
        if client is not None:
            self.hello(client=client)

    # -- plumbing ---------------------------------------------------------------------------

    def close(self):
        """Close the socket: for the server this requester process dies (rule 27) and the
        writers registered here stop answering (rule 32)."""
        if not self._closed:
            self._closed = True
            _OPEN.discard(self)
            try:
                self._sock.close()
            except OSError:
                pass

    @property
    def closed(self):
        """Whether :meth:`close` was called or the server closed the connection."""
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fileno(self):
        """The socket's file descriptor (for ``select``)."""
        return self._sock.fileno()

    def _send(self, obj):
        if self._closed:
            raise ConnectionClosed("connection is closed")
        if self.on_line:
            self.on_line("send", obj)
        data = (json.dumps(obj, separators=(",", ":")) + "\n").encode("utf-8")
        self._sock.setblocking(True)
        try:
            self._sock.sendall(data)
        except OSError as e:
            self.close()
            raise ConnectionClosed("send failed: %s" % e) from e
        finally:
            if not self._closed:
                self._sock.setblocking(False)

    def send_raw(self, line):
        """Send ``line`` (bytes or str, a newline added if missing) as is; for tests of
        the framing. Read its reply with :meth:`read_reply`."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        if not line.endswith(b"\n"):
            line += b"\n"
        self._sock.setblocking(True)
        try:
            self._sock.sendall(line)
        finally:
            self._sock.setblocking(False)

    def _fill(self):
        """Read what the socket has; False at end of stream."""
        try:
            data = self._sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            data = b""
        if not data:
            self.close()
            return False
        self._buf += data
        return True

    def _lines(self):
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                return
            line = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if not line.strip():
                continue
            try:
                msg = json.loads(line.decode("utf-8"))
            except ValueError as e:
                raise ProtocolError("client", "server sent a line that is not JSON: %r" % line[:200]) from e
            if self.on_line:
                self.on_line("recv", msg)
            yield msg

    def _handle(self, msg):
        """Route one message from the server."""
        if not isinstance(msg, dict):
            raise ProtocolError("client", "server sent a non-object line: %r" % (msg,))
        if msg.get("event") == "writer_event":
            self._dispatch(msg)
            return
        mid = msg.get("id")
        if "now_us" in msg:
            self.last_now_us = msg["now_us"]
        if mid in self._answer_ids:
            event = self._answer_ids.pop(mid)
            if not msg.get("ok", False):
                self.answer_errors.append(msg.get("error"))
                warnings.warn("answer to %s %s refused: %r" % (event.writer, event.name, msg.get("error")))
            return
        self._replies[mid] = msg

    def _dispatch(self, msg):
        event = WriterEvent.from_message(msg)
        writer = self._writers.get(event.writer)
        exc = None
        if writer is None:
            ans = Answer(result=DEFAULT_FAILURE)
            exc = ProtocolError("client", "event for a writer not registered here: %r" % event.writer)
        else:
            try:
                ans, exc = writer._answer_for(event)
            except Exception as e:
                ans, exc = Answer(result=DEFAULT_FAILURE), e
        if exc is not None:
            err = WriterHandlerError(event, exc)
            err.__cause__ = exc
            self._handler_errors.append(err)
        rid = self._new_id()
        self._answer_ids[rid] = event
        req = {"v": PROTOCOL_VERSION, "id": rid, "op": "answer", "writer": event.writer, "token": event.token}
        req.update(ans.to_args())
        self._send(req)

    def _new_id(self):
        rid = self._next_id
        self._next_id += 1
        return rid

    def _pump(self, timeout):
        """Wait up to ``timeout`` s for input on any open connection and handle it."""
        conns = [c for c in list(_OPEN) if not c._closed]
        if self not in conns and not self._closed:
            conns.append(self)
        if not conns:
            return
        ready, _, _ = select.select(conns, [], [], timeout)
        for c in ready:
            alive = c._fill()
            for msg in c._lines():
                c._handle(msg)
            if not alive and c is self and self._waiting is not None and self._waiting not in self._replies:
                raise ConnectionClosed("server closed the connection before replying")

    def poll(self, timeout=0.0):
        """Serve writer events that have arrived (on any open connection), waiting up to
        ``timeout`` wall-clock seconds for the first. Needed only when the program waits for
        something other than a reply, since every request serves events while it waits."""
        self._pump(timeout)
        self._raise_handler_errors()

    def read_reply(self, rid):
        """Wait for the reply to request ``rid`` (serving writer events meanwhile)."""
        import time

        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self._waiting = rid
        try:
            # Lines already buffered first.
            for msg in self._lines():
                self._handle(msg)
            while rid not in self._replies:
                if self._closed:
                    raise ConnectionClosed("connection closed before the reply to id %r" % (rid,))
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError("no reply to id %r within %ss" % (rid, self.timeout))
                self._pump(left if left is None else min(left, 1.0))
            return self._replies.pop(rid)
        finally:
            self._waiting = None

    def _raise_handler_errors(self):
        if self._handler_errors:
            err = self._handler_errors.pop(0)
            self._handler_errors.clear()
            raise err

    def request_raw(self, op, **args):
        """Send ``op`` with ``args`` (``None`` values left out) and return the whole reply
        object, error or not."""
        rid = self._new_id()
        req = {"v": PROTOCOL_VERSION, "id": rid, "op": op}
        req.update({k: v for k, v in args.items() if v is not None})
        self._send(req)
        return self.read_reply(rid)

    def request(self, op, **args):
        """Send ``op`` and return its ``result``; raise on an error reply."""
        reply = self.request_raw(op, **args)
        self._raise_handler_errors()
        if reply.get("ok"):
            return reply.get("result", {})
        error = reply.get("error") or {}
        kind = error.get("kind")
        if kind == "hresult":
            raise VssError.of(error.get("hresult", "?"), code=error.get("code"), message=error.get("message", ""), op=op)
        raise ProtocolError(kind, error.get("message", ""), field=error.get("field"), op=op, error=error)

    # -- requester ---------------------------------------------------------------------------

    def CreateVssBackupComponents(self):
        """``CreateVssBackupComponents``: a new :class:`~vss_sim.BackupComponents` (a second
        one releases the first, rule 27)."""
        from .backup import BackupComponents

        result = self.request("create_backup_components")
        return BackupComponents(self, result["object"])

    # -- writers -----------------------------------------------------------------------------

    def register_writer(self, writer, name, components=None, usage=None, level=None, timeout_freeze_us=None):
        """Subscribe ``writer`` (a :class:`~vss_sim.CVssWriter`) as writer ``name``.

        ``components`` is a list of ``{"name", "volumes", "logical_path"?}`` dicts (or
        ``(name, volumes)`` pairs); ``None`` over a scenario writer keeps the scenario's
        components. Accepted only until the service starts (the first request of any
        connection other than ``hello``, ``now`` and ``register_writer``); it takes over a
        scenario writer of the same name or adds one. Returns ``writer``, with ``name``,
        ``instance_id``, ``class_id`` and ``connection`` set.
        """
        if not isinstance(writer, CVssWriter):
            raise TypeError("writer must be a CVssWriter")
        comps = None if components is None else []
        for c in components or ():
            if isinstance(c, dict):
                comps.append(dict(c))
            else:
                cname, vols = c
                comps.append({"name": cname, "volumes": list(vols)})
        result = self.request(
            "register_writer",
            name=name,
            components=comps,
            usage=usage,
            level=level,
            timeout_freeze_us=timeout_freeze_us,
        )
        key = result.get("writer", name)
        writer.name = key
        writer.instance_id = result.get("instance_id")
        writer.class_id = result.get("class_id")
        writer.connection = self
        self._writers[key] = writer
        return writer

    @property
    def writers(self):
        """The writers registered on this connection, by name."""
        return dict(self._writers)

    # -- machine, time, faults, verdicts -----------------------------------------------------

    def hello(self, client=None):
        """``hello``: the server, protocol version, seed, volumes, writers, providers, clients."""
        return self.request("hello", client=client)

    def now(self):
        """The virtual time, in µs since the run began."""
        return self.request("now")["now_us"]

    def advance(self, us):
        """Run the world ``us`` virtual µs on; returns the new time."""
        return self.request("advance", us=int(us))["now_us"]

    def run_until_idle(self, max_us=None):
        """Run until nothing is left but workload writes (at most ``max_us``, default one
        virtual hour). Returns ``{"now_us", "idle"}``."""
        return self.request("run_until_idle", max_us=max_us)

    def inject(self, fault):
        """Inject a fault given as a scenario fault entry, e.g.
        ``{"writer": "SqlServerWriter", "event": "OnFreeze", "fail": "VSS_E_WRITERERROR_RETRYABLE"}``."""
        self.request("inject", fault=fault)

    def violations(self):
        """The invariants broken so far: ``[{oracle, rule, t_us, message}]``."""
        return self.request("violations")["violations"]

    def findings(self):
        """The findings so far (rule 33): what is worth knowing but is no violation."""
        return self.request("violations").get("findings", [])

    def list(self, what):
        """An administrator's view as data: ``"shadows"``, ``"writers"``, ``"providers"`` or
        ``"shadowstorage"``. Returns the ``items`` list."""
        return self.request("list", what=what)["items"]

    def vssadmin(self, command):
        """vssadmin's output for ``"list shadows"`` (``writers``, ``providers``,
        ``shadowstorage``): a :data:`VssadminOutput` ``(text, exit_code)``."""
        result = self.request("vssadmin", command=command)
        return VssadminOutput(result["text"], result["exit_code"])

    def trace_digest(self):
        """The SHA-256 of the trace so far and its record count: :data:`TraceDigest`."""
        result = self.request("trace_digest")
        return TraceDigest(result["sha256"], result["records"])

    def shutdown(self):
        """End the server: every session ends, the world runs until idle, ``--trace-out`` is
        written. Returns the final :data:`TraceDigest`."""
        result = self.request("shutdown")
        return TraceDigest(result["sha256"], result["records"])


def check_hresult(result, op):
    """Raise for a failing ``hresult`` in ``result`` (the protocol reports failures as
    errors, so this only guards against a server that puts one in a result)."""
    hr = result.get("hresult")
    if hr is not None:
        raise_for_hresult(hr, op=op)
    return hr
