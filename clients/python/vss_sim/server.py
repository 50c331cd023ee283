"""Starting ``vss-sim serve`` from Python: :func:`serve` and :class:`Server`."""

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time

from .connection import Connection
from .errors import BinaryNotFound, VssSimError

__all__ = ["serve", "Server", "find_binary", "ServerError"]

_HINT = "build it with `cargo build --release` or set VSS_SIM_BIN"


class ServerError(VssSimError):
    """The server did not start (or ended badly); ``stderr`` holds what it printed."""

    def __init__(self, message, stderr=""):
        self.stderr = stderr
        super().__init__(message + (("\n--- server stderr ---\n" + stderr) if stderr else ""))


def _candidates():
    seen = set()
    starts = [os.path.dirname(os.path.abspath(__file__)), os.getcwd()]
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        yield os.path.join(target, "release", "vss-sim")
    for start in starts:
        d = start
        while True:
            if d not in seen:
                seen.add(d)
                yield os.path.join(d, "target", "release", "vss-sim")
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent


def find_binary(binary=None):
    """The ``vss-sim`` binary: ``binary`` if given, else ``$VSS_SIM_BIN``, else
    ``target/release/vss-sim`` in the repository (found by walking up from this package and
    from the current directory; ``$CARGO_TARGET_DIR/release`` first when set)."""
    explicit = binary or os.environ.get("VSS_SIM_BIN")
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return os.path.abspath(explicit)
        raise BinaryNotFound("vss-sim binary %r not found or not executable; %s" % (explicit, _HINT))
    for path in _candidates():
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise BinaryNotFound("vss-sim binary not found (looked for target/release/vss-sim above %s and %s); %s"
                         % (os.path.dirname(os.path.abspath(__file__)), os.getcwd(), _HINT))


class Server:
    """A running ``vss-sim serve`` (as :func:`serve` yields it).

    Attributes:
        address: where it listens (the Unix socket path, or ``"127.0.0.1:PORT"``).
        nbd: the NBD address it printed, if any.
        process: the ``subprocess.Popen``.
        returncode: its exit code once it ended.
        shutdown_digest: the :data:`~vss_sim.TraceDigest` of the ``shutdown`` sent on exit.
    """

    def __init__(self, process, address, nbd, workdir, stderr_path):
        self.process = process
        self.address = address
        self.nbd = nbd
        self.workdir = workdir
        self._stderr_path = stderr_path
        self.shutdown_digest = None
        self._connections = []

    @property
    def returncode(self):
        """The exit code, or ``None`` while it runs."""
        return self.process.poll()

    def connect(self, **kwargs):
        """A new :class:`~vss_sim.Connection` to this server (keyword arguments passed on)."""
        conn = Connection(self.address, **kwargs)
        self._connections.append(conn)
        return conn

    def stderr(self):
        """What the server wrote to standard error so far."""
        try:
            with open(self._stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, timeout=30.0):
        """Send ``shutdown`` if the server still runs, wait for it, kill it after
        ``timeout`` s. Returns the exit code."""
        if self.process.poll() is None:
            try:
                with Connection(self.address, timeout=timeout) as conn:
                    self.shutdown_digest = conn.shutdown()
            except (OSError, VssSimError):
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for conn in self._connections:
            conn.close()
        return self.process.returncode


def _is_tcp(address):
    return bool(re.match(r"^[^/]+:\d+$", address))


def _build_args(binary, socket_path, scenario, seed, trace_out, clients, nbd, listen, extra_args):
    args = [binary, "serve"]
    if scenario is not None:
        args.append(os.path.abspath(os.fspath(scenario)))
    if listen is not None:
        args += ["--listen", listen]
    else:
        args += ["--socket", socket_path]
    if seed is not None:
        args += ["--seed", str(seed)]
    if trace_out is not None:
        args += ["--trace-out", os.path.abspath(os.fspath(trace_out))]
    if clients is not None:
        args += ["--clients", str(clients)]
    if nbd is not None:
        nbd = os.fspath(nbd)
        args += ["--nbd", nbd if _is_tcp(nbd) else os.path.abspath(nbd)]
    args += list(extra_args)
    return args


@contextlib.contextmanager
def serve(scenario=None, seed=None, trace_out=None, clients=None, nbd=None, *, binary=None,
          listen=None, start_timeout=30.0, stop_timeout=30.0, extra_args=()):
    """Run ``vss-sim serve`` for the duration of a ``with`` block.

    Args:
        scenario: a scenario file (``None``: the default machine, without its requesters).
        seed, trace_out, clients, nbd: the server's ``--seed``, ``--trace-out``,
            ``--clients`` and ``--nbd``. ``nbd=True`` puts an NBD socket in the temp dir.
        binary: the ``vss-sim`` binary (default: :func:`find_binary`).
        listen: ``"127.0.0.1:0"`` to listen on TCP instead of a Unix socket.
        start_timeout: wall seconds to wait for the ``listening on`` line.
        stop_timeout: wall seconds to wait for the exit after ``shutdown`` before killing it.

    Yields a :class:`Server`; ``server.connect()`` opens connections. On leaving the block the
    server is sent ``shutdown`` if it still runs, and waited for. Raises
    :class:`~vss_sim.BinaryNotFound` when the binary is missing and :class:`ServerError` when
    it does not start.
    """
    exe = find_binary(binary)
    workdir = tempfile.mkdtemp(prefix="vss-sim-")
    socket_path = os.path.join(workdir, "vss-sim.sock")
    if nbd is True:
        nbd = os.path.join(workdir, "vss-nbd.sock")
    out_path = os.path.join(workdir, "stdout")
    err_path = os.path.join(workdir, "stderr")
    args = _build_args(exe, socket_path, scenario, seed, trace_out, clients, nbd, listen, extra_args)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=workdir)
    server = None
    try:
        address, nbd_address = _wait_listening(proc, out_path, err_path, start_timeout, nbd is not None)
        server = Server(proc, address, nbd_address, workdir, err_path)
        yield server
    finally:
        if server is not None:
            server.stop(stop_timeout)
        elif proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _wait_listening(proc, out_path, err_path, timeout, want_nbd=False):
    # `listening on ADDR`, then (with --nbd) `nbd on ADDR`, each on its own line; the doc
    # does not say whether the NBD address shares the line, so either is accepted.
    deadline = time.monotonic() + timeout
    while True:
        text = _read(out_path)
        m = re.search(r"listening on (\S+?),?(?:\s|$)", text)
        n = re.search(r"nbd on (\S+?),?(?:[ \t]|\n)", text)
        if m and ("\n" in text[m.start():]) and (n or not want_nbd):
            return m.group(1), (n.group(1) if n else None)
        code = proc.poll()
        if code is not None:
            raise ServerError("vss-sim serve exited with %s before listening" % code, _read(err_path))
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise ServerError("vss-sim serve printed no `listening on` line within %ss" % timeout, _read(err_path))
        time.sleep(0.01)
