"""A Python client of ``vss-sim serve``, the Volume Shadow Copy Service simulator's server.

Pure standard library. The protocol is docs/protocol.md of the vss-sim repository (and
docs/protocol.schema.json). Quick use::

    import vss_sim

    with vss_sim.serve() as server:                  # the default machine
        conn = server.connect()
        bc = conn.CreateVssBackupComponents()
        bc.InitializeForBackup()
        bc.SetBackupState()
        bc.GatherWriterMetadata().Wait()
        ...

Main names: :func:`serve`, :class:`Connection`, :class:`BackupComponents`, :class:`VssAsync`,
:class:`CVssWriter`, :class:`Answer`, :class:`VssError` (and one subclass per failing HRESULT,
e.g. :class:`VssBadState`), :class:`ProtocolError`.
"""

from . import errors as _errors
from .backup import BackupComponents, CreateVssBackupComponents, VssAsync
from .connection import PROTOCOL_VERSION, Connection, TraceDigest, VssadminOutput
from .errors import *  # noqa: F401,F403  (VssError and its per-HRESULT subclasses)
from .hresults import CODES, NAMES, is_success
from .server import Server, ServerError, find_binary, serve
from .writer import Answer, CVssWriter, WriterEvent

__version__ = "0.1.0"

__all__ = [
    "serve",
    "Server",
    "ServerError",
    "find_binary",
    "Connection",
    "TraceDigest",
    "VssadminOutput",
    "PROTOCOL_VERSION",
    "BackupComponents",
    "CreateVssBackupComponents",
    "VssAsync",
    "CVssWriter",
    "Answer",
    "WriterEvent",
    "CODES",
    "NAMES",
    "is_success",
] + list(_errors.__all__)
