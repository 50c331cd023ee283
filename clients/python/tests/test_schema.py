"""Every op of the schema's x-ops sent once at least; every line both ways validated."""

import pytest

import vss_sim
from helpers import FINISHED, component_volumes
from minischema import Validator


class Recorder:
    """Validates each line a connection sends or receives against the schema."""

    def __init__(self, schema):
        self.schema = schema
        self.v = Validator(schema)
        self.ops = {}  # id -> op
        self.sent = set()
        self.unknown = []
        self.errors = []
        self.kinds = {}
        self.invalid_on_purpose = False  # requests sent to see the error replies

    def __call__(self, direction, obj):
        if direction == "send":
            op = obj.get("op")
            self.ops[obj["id"]] = op
            if self.invalid_on_purpose:
                return
            self.sent.add(op)
            self._check(obj, "#/$defs/request." + op if op in self.schema["x-ops"] else "#/$defs/request", "request %s" % op)
            return
        if obj.get("event") == "writer_event":
            self._check(obj, "#/$defs/writer_event", "writer_event")
            return
        op = self.ops.get(obj.get("id"))
        self._check(obj, "#/$defs/reply", "reply to %s" % op)
        if obj.get("ok"):
            if op in self.schema["x-ops"]:
                self._check(obj["result"], self.schema["x-results"][op], "result of %s" % op)
        else:
            kind = obj.get("error", {}).get("kind")
            self.kinds.setdefault(op, []).append(kind)
            if kind == "unknown_op":
                self.unknown.append(op)

    def _check(self, obj, ref, what):
        errs = self.v.errors(obj, {"$ref": ref})
        if errs:
            self.errors.append("%s: %s\n    %r" % (what, "; ".join(errs[:5]), obj))


class W(vss_sim.CVssWriter):
    """Answers Freeze with `application: freeze` and Thaw with `thaw`."""

    def OnFreeze(self):
        return vss_sim.Answer(after_us=1000, application="freeze")

    def OnThaw(self):
        return vss_sim.Answer(application="thaw")


def _try(fn, *args, **kwargs):
    """Call; an error reply is fine here (the recorder validated it)."""
    try:
        return fn(*args, **kwargs)
    except (vss_sim.VssError, vss_sim.ProtocolError):
        return None


def test_every_op_and_every_reply_validates(schema):
    rec = Recorder(schema)
    with vss_sim.serve(seed=3) as srv:
        conn = srv.connect(on_line=rec)
        hello = conn.hello(client="schema-test")
        w = conn.register_writer(W(), "PyWriter", components=[{"name": "db", "logical_path": "app", "volumes": ["C:"]}],
                                 usage="VSS_UT_USERDATA", level="VSS_APP_BACK_END", timeout_freeze_us=60_000_000)
        conn.now()
        conn.inject({"writer": "WMI Writer", "event": "OnPostSnapshot", "fail": "VSS_E_WRITERERROR_RETRYABLE", "sessions": 1})

        # A first object for the writer-class calls, released (rule 38 would narrow the backup).
        bc = conn.CreateVssBackupComponents()
        bc.InitializeForBackup()
        bc.DisableWriterClasses([w.class_id])
        bc.EnableWriterClasses([w.class_id])
        bc.Release()

        bc = conn.CreateVssBackupComponents()
        bc.InitializeForBackup()
        bc.SetContext("VSS_CTX_BACKUP")
        bc.SetBackupState()
        assert bc.GatherWriterMetadata().Wait() == FINISHED
        md = bc.GetWriterMetadata()
        for wr in md:
            for c in wr["components"]:
                bc.AddComponent(wr["name"], c["name"])
        bc.StartSnapshotSet()
        vols = component_volumes(md)
        snaps = {v: bc.AddToSnapshotSet(v) for v in vols}
        assert bc.IsVolumeSupported(vols[0]) in (True, False)
        pb = bc.PrepareForBackup()
        pb.QueryStatus()
        pb.Wait()
        do = bc.DoSnapshotSet()
        do.Wait(timeout_us=1000)
        do.Wait()
        _try(do.Cancel)
        bc.GatherWriterStatus().Wait()
        bc.GetWriterStatus()
        shadows = bc.Query()
        vol, sid = next(iter(snaps.items()))
        bc.GetSnapshotProperties(sid)
        _try(bc.read_blocks, sid, vol, 0, 64)
        _try(bc.read_shadow, sid, vol)
        for wr in md:
            for c in wr["components"]:
                bc.SetBackupSucceeded(wr["name"], c["name"], True)
        bc.BackupComplete().Wait()
        if shadows:
            _try(bc.DeleteSnapshots, shadows[0]["snapshot_set_id"], "VSS_OBJECT_SNAPSHOT_SET", False)
        bc.AbortBackup()
        conn.advance(1000)
        conn.run_until_idle(max_us=10_000_000)
        conn.violations()
        for what in ("shadows", "writers", "providers", "shadowstorage"):
            conn.list(what)
        for what in ("shadows", "writers", "providers", "shadowstorage"):
            conn.vssadmin("list " + what)
        conn.trace_digest()
        # Error replies validate too (the requests themselves are invalid on purpose).
        rec.invalid_on_purpose = True
        _try(conn.request, "no_such_op")
        _try(conn.request, "advance", us=-1)
        _try(conn.request, "release", object="bc-nope")
        conn.send_raw(b"this is not json")
        conn.send_raw(b'{"v": 2, "id": 999, "op": "now"}')
        rec.invalid_on_purpose = False
        conn.shutdown()
        conn.close()
    assert hello["protocol"] == 1
    missing = [op for op in schema["x-ops"] if op not in rec.sent]
    assert not missing, "ops never sent: %s" % missing
    unknown = [op for op in rec.unknown if op in schema["x-ops"]]
    assert not unknown, "the server does not know: %s" % unknown
    assert not rec.errors, "lines that do not match the schema:\n" + "\n".join(rec.errors)


def test_hello_has_the_documented_fields(schema, conn):
    hello = conn.hello()
    Validator(schema).validate(hello, {"$ref": schema["x-results"]["hello"]}, "hello's result")
    assert hello["scenario"] == "default" and hello["started"] is False
    assert [v["name"].rstrip("\\") for v in hello["volumes"]] == ["C:", "D:", "E:"]
