"""The NBD export (docs/protocol.md, "Shadow copies over NBD"): each shadow copy is an export
named by its device, and its blocks are the documented function of (volume, block, sequence)."""

import socket
import struct

import vss_sim
from helpers import FINISHED, prepare

NBD_OPT_ABORT, NBD_OPT_LIST = 2, 3
NBD_REP_ACK, NBD_REP_SERVER = 1, 2
REPLY_MAGIC = 0x3E889045565A9


def _recv(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        assert chunk, "NBD server closed the connection"
        buf += chunk
    return buf


def nbd_list(path):
    """The export names, by the fixed newstyle handshake and NBD_OPT_LIST."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        magic, opt, flags = struct.unpack(">8s8sH", _recv(s, 18))
        assert (magic, opt) == (b"NBDMAGIC", b"IHAVEOPT") and flags & 1
        s.sendall(struct.pack(">I", 3))  # FIXED_NEWSTYLE | NO_ZEROES
        s.sendall(b"IHAVEOPT" + struct.pack(">II", NBD_OPT_LIST, 0))
        names = []
        while True:
            rmagic, ropt, rtype, rlen = struct.unpack(">QIII", _recv(s, 20))
            assert rmagic == REPLY_MAGIC and ropt == NBD_OPT_LIST
            data = _recv(s, rlen)
            if rtype == NBD_REP_ACK:
                break
            assert rtype == NBD_REP_SERVER, rtype
            (n,) = struct.unpack(">I", data[:4])
            names.append(data[4:4 + n].decode())
        s.sendall(b"IHAVEOPT" + struct.pack(">II", NBD_OPT_ABORT, 0))
        return names


def test_every_shadow_is_an_nbd_export():
    with vss_sim.serve(nbd=True) as srv:
        assert srv.nbd
        conn = srv.connect()
        assert nbd_list(srv.nbd) == []
        bc, metadata, snaps = prepare(conn)
        assert bc.DoSnapshotSet().Wait() == FINISHED
        devices = sorted(s["device"].rsplit("\\", 1)[-1] for s in bc.Query())
        assert len(devices) == len(snaps)
        assert sorted(nbd_list(srv.nbd)) == devices
        bc.AbortBackup()  # rule 22: the set's shadow copies go, and so do their exports
        assert nbd_list(srv.nbd) == []
