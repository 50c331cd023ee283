"""The server's framing, transport and lifecycle as docs/protocol.md describes them."""

import hashlib
import os

import pytest

import vss_sim
from helpers import FINISHED, prepare


def test_too_large_line_is_refused_and_skipped(conn):
    seen = []
    conn.on_line = lambda d, o: seen.append((d, o))
    conn.send_raw(b'{"v":1,"id":"big","op":"now","pad":"' + b"x" * (1 << 20) + b'"}')
    assert conn.now() == 0  # the connection stays usable
    errors = [o["error"]["kind"] for d, o in seen if d == "recv" and not o.get("ok")]
    assert errors == ["too_large"]


def test_parse_and_version_errors(conn):
    seen = []
    conn.on_line = lambda d, o: seen.append((d, o))
    conn.send_raw(b"[1, 2]")
    conn.send_raw(b"not json")
    conn.send_raw(b'{"id": 5, "op": "now"}')
    conn.now()
    kinds = [o["error"]["kind"] for d, o in seen if d == "recv" and not o.get("ok")]
    assert kinds == ["parse", "parse", "version"]


def test_tcp_listen():
    with vss_sim.serve(listen="127.0.0.1:0") as srv:
        assert srv.address.startswith("127.0.0.1:")
        assert srv.connect().hello()["protocol"] == 1
    assert srv.returncode == 0


def test_trace_out_is_the_shutdown_digest(tmp_path):
    trace = tmp_path / "run.jsonl"
    with vss_sim.serve(seed=1, trace_out=trace) as srv:
        conn = srv.connect()
        conn.advance(5_000_000)
        digest = conn.shutdown()
    assert srv.returncode == 0
    assert hashlib.sha256(trace.read_bytes()).hexdigest() == digest.sha256


def test_requester_slots_run_out():
    with vss_sim.serve(clients=1) as srv:
        a, b = srv.connect(), srv.connect()
        a.CreateVssBackupComponents()
        with pytest.raises(vss_sim.ProtocolError) as e:
            b.CreateVssBackupComponents()
        assert e.value.kind == "state"


def test_bad_scenario_exits_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("nonsense = [")
    with pytest.raises(vss_sim.ServerError, match="exited with 2"):
        with vss_sim.serve(bad):
            pass


def test_replies_come_in_request_order_but_answers(conn):
    # An `answer` is carried out at once, so its reply may overtake the reply of the request
    # whose world-run sent the event; every other reply comes in request order.
    conn.register_writer(vss_sim.CVssWriter(), "PyWriter", components=[{"name": "db", "volumes": ["C:"]}])
    sent, replies, answers = [], [], set()

    def rec(d, o):
        if d == "send":
            sent.append(o["id"])
            if o["op"] == "answer":
                answers.add(o["id"])
        elif "id" in o:
            replies.append(o["id"])

    conn.on_line = rec
    bc = conn.CreateVssBackupComponents()
    bc.InitializeForBackup()
    bc.SetBackupState()
    assert bc.GatherWriterMetadata().Wait() == FINISHED
    bc.AddComponent("PyWriter", "db")
    bc.StartSnapshotSet()
    bc.AddToSnapshotSet("C:")
    assert bc.PrepareForBackup().Wait() == FINISHED
    assert bc.DoSnapshotSet().Wait() == FINISHED
    assert answers
    assert sorted(replies) == sorted(sent)
    assert [r for r in replies if r not in answers] == [r for r in sent if r not in answers]


@pytest.mark.parametrize("op,args", [
    ("inject", {"fault": {"writer": "WMI Writer", "event": "OnThaw", "delay": "2s"}}),
    ("list", {"what": "writers"}),
    ("violations", {}),
    ("create_backup_components", {}),
    ("advance", {"us": 1}),
])
def test_the_first_request_but_hello_and_now_starts_the_service(conn, op, args):
    conn.hello()
    conn.now()
    conn.register_writer(vss_sim.CVssWriter(), "Early", components=[{"name": "db", "volumes": ["C:"]}])
    assert conn.hello()["started"] is False
    conn.request(op, **args)
    assert conn.hello()["started"] is True
    with pytest.raises(vss_sim.ProtocolError) as e:
        conn.register_writer(vss_sim.CVssWriter(), "Late", components=[{"name": "db", "volumes": ["C:"]}])
    assert e.value.kind == "state"


def test_read_blocks_count_out_of_range_is_invalid_arg(conn):
    bc, metadata, snaps = prepare(conn)
    assert bc.DoSnapshotSet().Wait() == FINISHED
    volume, sid = next(iter(snaps.items()))
    assert len(bc.read_blocks(sid, volume, 0, 16384)["seqs"]) == 16384
    for count in (0, 16385):
        with pytest.raises(vss_sim.EInvalidArg):
            bc.read_blocks(sid, volume, 0, count)
