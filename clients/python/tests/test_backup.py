"""Backups against a real `vss-sim serve` on the default machine."""

import time

import pytest

import vss_sim
from helpers import FINISHED, complete, full_backup, prepare, status

DEFAULT_WRITERS = {"System Writer", "Registry Writer", "COM+ REGDB Writer", "WMI Writer", "SqlServerWriter"}


def test_hello(conn):
    hello = conn.hello(client="pytest")
    assert hello["protocol"] == 1
    assert hello["seed"] == 0


def test_full_default_backup(conn):
    bc, metadata, snaps, mid, final = full_backup(conn)
    names = {w["name"] for w in metadata}
    assert DEFAULT_WRITERS <= names
    # The writers' components live on C:, D: and E:.
    assert {v.rstrip("\\") for v in snaps} == {"C:", "D:", "E:"}
    for name in DEFAULT_WRITERS:
        assert mid[name]["state"] == "VSS_WS_WAITING_FOR_BACKUP_COMPLETE", mid[name]
        assert mid[name]["failure"] == "S_OK"
        assert final[name]["state"] == "VSS_WS_STABLE", final[name]
        assert final[name]["failure"] == "S_OK"
    shadows = bc.Query()
    assert {s["snapshot_id"] for s in shadows} >= set(snaps.values())
    for s in shadows:
        assert s["state"] == "VSS_SS_CREATED"
    bc.Release()
    assert conn.violations() == []
    # The shadows were auto-release: none remains once the object is released (rule S21).
    ids = set(snaps.values())
    assert not [i for i in conn.list("shadows") if _mentions(i, ids)]


def _mentions(item, ids):
    text = repr(item).lower()
    return any(i.lower() in text for i in ids)


def test_out_of_order_call_is_bad_state(conn):
    bc = conn.CreateVssBackupComponents()
    with pytest.raises(vss_sim.VssBadState) as e:
        bc.StartSnapshotSet()
    assert e.value.hresult == "VSS_E_BAD_STATE" and e.value.code == 0x80042301
    assert bc.InitializeForBackup() == "S_OK"
    with pytest.raises(vss_sim.VssBadState):
        bc.DoSnapshotSet()
    # The connection and the object stay usable.
    assert bc.SetBackupState() == "S_OK"


def test_protocol_errors(conn):
    with pytest.raises(vss_sim.ProtocolError) as e:
        conn.request("no_such_op")
    assert e.value.kind == "unknown_op"
    with pytest.raises(vss_sim.ProtocolError) as e:
        conn.request("advance", us="soon")
    assert e.value.kind == "bad_request" and e.value.field == "us"
    with pytest.raises(vss_sim.ProtocolError) as e:
        conn.request("initialize_for_backup", object="bc-99")
    assert e.value.kind == "no_object"
    with pytest.raises(vss_sim.ProtocolError) as e:
        conn.request("wait", **{"async": "nope"})
    assert e.value.kind == "no_async"
    with pytest.raises(vss_sim.ProtocolError) as e:
        conn.request("now", bogus=1)
    assert e.value.kind == "bad_request"
    assert conn.now() >= 0


def test_writer_fails_freeze(conn):
    conn.inject({"writer": "SqlServerWriter", "event": "OnFreeze", "fail": "VSS_E_WRITERERROR_RETRYABLE"})
    bc, metadata, snaps = prepare(conn)
    # Rule 6: the veto does not sink the set.
    assert bc.DoSnapshotSet().Wait() == FINISHED
    st = status(bc)
    assert st["SqlServerWriter"]["state"] == "VSS_WS_FAILED_AT_FREEZE"
    assert st["SqlServerWriter"]["failure"] == "VSS_E_WRITERERROR_RETRYABLE"
    for name in DEFAULT_WRITERS - {"SqlServerWriter"}:
        assert st[name]["state"] == "VSS_WS_WAITING_FOR_BACKUP_COMPLETE"
    bc.AbortBackup()
    assert conn.violations() == []


def _wait_gone(conn, ids, wall_s=5.0):
    """Poll (no virtual time passes) until no shadow in ``ids`` is listed."""
    deadline = time.monotonic() + wall_s
    while True:
        left = [i for i in conn.list("shadows") if _mentions(i, ids)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _second_backup_succeeds(conn):
    bc, metadata, snaps, mid, final = full_backup(conn)
    assert all(final[n]["state"] == "VSS_WS_STABLE" for n in DEFAULT_WRITERS)
    bc.Release()


def test_client_gone_after_do_snapshot_set_reply(server):
    a = server.connect()
    b = server.connect()
    b.hello(client="observer")
    bc, metadata, snaps = prepare(a)
    bc.DoSnapshotSet()  # the reply, then the process dies before Wait
    a.close()
    time.sleep(0.3)  # let the server see the hang-up before b's next line
    assert _wait_gone(b, set(snaps.values())) == []
    assert b.violations() == []
    text = b.vssadmin("list shadows").text
    assert not any(i.lower() in text.lower() for i in snaps.values())
    _second_backup_succeeds(b)
    assert b.violations() == []


def test_client_gone_with_shadows_made(server):
    a = server.connect()
    b = server.connect()
    bc, metadata, snaps = prepare(a)
    assert bc.DoSnapshotSet().Wait() == FINISHED
    ids = set(snaps.values())
    assert len([i for i in b.list("shadows") if _mentions(i, ids)]) == len(ids)
    a.close()
    time.sleep(0.3)
    assert _wait_gone(b, ids) == []
    text = b.vssadmin("list shadows").text
    assert not any(i.lower() in text.lower() for i in ids)
    assert b.violations() == []
    _second_backup_succeeds(b)


class RecordingWriter(vss_sim.CVssWriter):
    """Records events; OnFreeze takes ``freeze_us`` of virtual time."""

    def __init__(self, freeze_us=1000):
        super().__init__()
        self.freeze_us = freeze_us
        self.volumes_seen = {}

    def OnPrepareSnapshot(self):
        self.volumes_seen["OnPrepareSnapshot"] = self.GetCurrentVolumeArray()
        return True

    def OnFreeze(self):
        return vss_sim.Answer(after_us=self.freeze_us)

    def OnThaw(self):
        return vss_sim.Answer(after_us=500)


def test_python_writer_gets_events_in_order(conn):
    w = conn.register_writer(RecordingWriter(), "PyWriter", components=[{"name": "db", "volumes": ["C:"]}])
    assert w.instance_id and w.class_id
    bc, metadata, snaps, mid, final = full_backup(conn)
    assert "PyWriter" in {m["name"] for m in metadata}
    order = [e for e in w.events if e in ("OnPrepareSnapshot", "OnFreeze", "OnThaw")]
    assert order == ["OnPrepareSnapshot", "OnFreeze", "OnThaw"], w.events
    assert w.events.index("OnPrepareBackup") < w.events.index("OnPrepareSnapshot")
    assert {v.rstrip("\\") for v in w.volumes_seen["OnPrepareSnapshot"]} >= {"C:"}
    assert mid["PyWriter"]["state"] == "VSS_WS_WAITING_FOR_BACKUP_COMPLETE"
    assert final["PyWriter"]["state"] == "VSS_WS_STABLE"
    assert "OnBackupComplete" in w.events
    bc.Release()
    conn.run_until_idle()
    assert "OnBackupShutdown" in w.events
    assert conn.violations() == []
    assert conn.answer_errors == []


def test_python_writer_freeze_past_its_window(conn):
    # Rule 7: the freeze window is 60 s; an answer 61 s after Freeze is too late.
    w = conn.register_writer(RecordingWriter(freeze_us=61_000_000), "PyWriter",
                             components=[{"name": "db", "volumes": ["C:"]}])
    bc, metadata, snaps = prepare(conn)
    assert bc.DoSnapshotSet().Wait() == FINISHED
    st = status(bc)
    assert st["PyWriter"]["state"] == "VSS_WS_FAILED_AT_FREEZE"
    assert st["PyWriter"]["failure"] == "VSS_E_WRITERERROR_TIMEOUT"
    assert "OnThaw" not in w.events  # rule 7: the late Thaw is never sent
    complete(bc, metadata, snaps)
    assert conn.violations() == []


def test_python_writer_returning_false_fails_nonretryable(conn):
    class Fails(vss_sim.CVssWriter):
        def OnPrepareSnapshot(self):
            return False

    conn.register_writer(Fails(), "PyWriter", components=[{"name": "db", "volumes": ["C:"]}])
    bc, metadata, snaps = prepare(conn)
    assert bc.DoSnapshotSet().Wait() == FINISHED
    st = status(bc)
    assert st["PyWriter"]["state"] == "VSS_WS_FAILED_AT_PREPARE_SNAPSHOT"
    assert st["PyWriter"]["failure"] == "VSS_E_WRITERERROR_NONRETRYABLE"


def _session(seed):
    with vss_sim.serve(seed=seed) as srv:
        conn = srv.connect()
        conn.register_writer(RecordingWriter(), "PyWriter", components=[{"name": "db", "volumes": ["C:"]}])
        bc, metadata, snaps, mid, final = full_backup(conn)
        bc.Release()
        conn.advance(1_000_000)
        digest = conn.trace_digest()
        replies = (sorted(snaps.items()), sorted((k, v["state"]) for k, v in final.items()))
        return digest, replies, conn.shutdown()


def test_same_session_same_digest():
    d1, r1, s1 = _session(7)
    d2, r2, s2 = _session(7)
    assert d1 == d2 and d1.records > 0
    assert r1 == r2
    assert s1 == s2


def test_register_after_the_world_moved_is_refused(conn):
    conn.advance(1000)
    with pytest.raises(vss_sim.ProtocolError) as e:
        conn.register_writer(vss_sim.CVssWriter(), "Late", components=[{"name": "x", "volumes": ["C:"]}])
    assert e.value.kind == "state"


class EventRecorder(vss_sim.CVssWriter):
    """Keeps each event's volumes and components."""

    def __init__(self):
        super().__init__()
        self.seen = {}

    def _keep(self):
        ev = self.current_event
        self.seen[ev.name] = (list(ev.volumes), list(ev.components))
        return True

    OnPrepareBackup = OnPrepareSnapshot = OnFreeze = OnThaw = OnPostSnapshot = _keep


def test_events_carry_the_set_with_prepare_snapshot(conn):
    # The doc: volumes and components come with OnPrepareSnapshot, empty lists otherwise;
    # GetCurrentVolumeArray keeps answering with the set's volumes for the later events.
    class Keeper(EventRecorder):
        def OnFreeze(self):
            self.freeze_volumes = self.GetCurrentVolumeArray()
            return self._keep()

    w = conn.register_writer(Keeper(), "PyWriter", components=[{"name": "db", "volumes": ["C:"]}])
    full_backup(conn)
    vols, comps = w.seen["OnPrepareSnapshot"]
    assert {v.rstrip("\\") for v in vols} == {"C:", "D:", "E:"}
    assert comps == ["db"]
    for name in ("OnPrepareBackup", "OnFreeze", "OnThaw", "OnPostSnapshot"):
        assert w.seen[name] == ([], []), name
    assert w.freeze_volumes == vols


def test_writer_on_another_connection_is_served(server):
    # One thread: the requester's waits on `b` serve the events of the writer on `a`.
    a, b = server.connect(), server.connect()
    w = a.register_writer(RecordingWriter(), "PyWriter", components=[{"name": "db", "volumes": ["C:"]}])
    bc, metadata, snaps, mid, final = full_backup(b)
    assert [e for e in w.events if e in ("OnPrepareSnapshot", "OnFreeze", "OnThaw")] == \
        ["OnPrepareSnapshot", "OnFreeze", "OnThaw"]
    assert final["PyWriter"]["state"] == "VSS_WS_STABLE"
    assert b.violations() == []


def test_writer_whose_connection_closed_stops_answering(server):
    # Rules 11 and 32: a writer whose client went away never answers; its limit (600 s) fires
    # and the service marks it not responding. (Whether that happens at Identify or at
    # PrepareForBackup the doc leaves open: "OnIdentify is answered from the registration".)
    a, b = server.connect(), server.connect()
    w = a.register_writer(RecordingWriter(), "PyWriter", components=[{"name": "db", "volumes": ["C:"]}])
    b.hello()
    a.close()
    time.sleep(0.2)
    bc, metadata, snaps = prepare(b)
    st = status(bc)
    assert w.events == []
    assert b.now() >= 600_000_000
    view = {i["name"]: i for i in b.list("writers")}
    assert view["PyWriter"]["last_error"] == "VSS_E_WRITER_NOT_RESPONDING"
    assert view["PyWriter"]["state"].startswith("VSS_WS_FAILED_AT_")
    if "PyWriter" in st:
        assert st["PyWriter"]["failure"] == "VSS_E_WRITER_NOT_RESPONDING"
    assert st["SqlServerWriter"]["state"] == "VSS_WS_STABLE"


def test_client_gone_mid_hold(server):
    # The system provider's commit (inside the flush-and-hold) takes 5 s once; the requester
    # dies 2 s into DoSnapshotSet, with writes held. Rule 27: the creation is aborted, the held
    # writes are released in order, the frozen writers get Abort, and the lock is free.
    a, b = server.connect(), server.connect()
    b.inject({"provider": "system", "call": "CommitSnapshots", "delay": "5s", "times": 1})
    bc, metadata, snaps = prepare(a)
    op = bc.DoSnapshotSet()
    assert op.Wait(timeout_us=2_000_000) == "VSS_S_ASYNC_PENDING"
    assert op.QueryStatus() == "VSS_S_ASYNC_PENDING"
    a.close()
    time.sleep(0.3)
    assert _wait_gone(b, set(snaps.values())) == []
    b.run_until_idle()
    assert b.violations() == []
    view = {i["name"]: i for i in b.list("writers")}
    assert view["SqlServerWriter"]["state"] != "VSS_WS_WAITING_FOR_THAW"
    _second_backup_succeeds(b)
    assert b.violations() == []


def test_python_writer_takes_over_a_scenario_writer(conn):
    # Without components, the scenario writer's (sales on D: and E:) are kept.
    w = conn.register_writer(RecordingWriter(), "SqlServerWriter")
    bc, metadata, snaps, mid, final = full_backup(conn)
    sql = [m for m in metadata if m["name"] == "SqlServerWriter"]
    assert len(sql) == 1 and [c["name"] for c in sql[0]["components"]] == ["sales"]
    assert "OnFreeze" in w.events
    assert final["SqlServerWriter"]["state"] == "VSS_WS_STABLE"
