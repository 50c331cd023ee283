"""Tests that need no server: the schema against the doc, the validator, the HRESULT table,
writer answers, and the connection's event handling against a scripted fake server."""

import json
import os
import re
import socket
import tempfile
import threading

import pytest

import vss_sim
from conftest import REPO_ROOT
from minischema import SchemaError, Validator
from vss_sim.writer import Answer, CVssWriter, WriterEvent


def doc_ops():
    """The ops of docs/protocol.md's tables (first column of rows naming an op)."""
    with open(os.path.join(REPO_ROOT, "docs", "protocol.md"), encoding="utf-8") as f:
        text = f.read()
    ops = []
    for line in text.splitlines():
        m = re.match(r"^\| `([a-z_]+)` \|", line)
        if m and m.group(1) not in ops:
            ops.append(m.group(1))
    kinds = {"parse", "version", "unknown_op", "bad_request", "too_large", "no_object", "no_async", "hresult", "state", "ended"}
    return [op for op in ops if op not in kinds and op not in ("op", "kind")]


def test_x_ops_are_the_docs_ops(schema):
    assert len(set(schema["x-ops"])) == len(schema["x-ops"])
    assert sorted(schema["x-ops"]) == sorted(doc_ops())


def test_every_op_has_request_and_result(schema):
    defs = schema["$defs"]
    for op in schema["x-ops"]:
        req = defs["request." + op]
        assert req["additionalProperties"] is False
        assert {"v", "id", "op"} <= set(req["required"])
        assert req["properties"]["op"] == {"const": op}
        assert "result." + op in defs
        assert schema["x-results"][op] == "#/$defs/result." + op
    assert len(defs["request"]["oneOf"]) == len(schema["x-ops"])


def test_error_kinds_are_the_docs(schema):
    with open(os.path.join(REPO_ROOT, "docs", "protocol.md"), encoding="utf-8") as f:
        text = f.read()
    table = text.split("Error kinds:")[1].split("An out-of-order call")[0]
    kinds = [k for k in re.findall(r"^\| `([a-z_]+)` \|", table, re.M) if k != "kind"]
    assert sorted(schema["$defs"]["error_kind"]["enum"]) == sorted(kinds)


def test_schema_uses_only_the_validator_subset_and_refs_resolve(schema):
    v = Validator(schema)

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                v.resolve(node["$ref"])
            for k, sub in node.items():
                if k in ("enum", "const", "default", "required", "x-ops", "x-results"):
                    continue
                walk(sub)
        elif isinstance(node, list):
            for sub in node:
                walk(sub)

    walk(schema)
    # Exercise every keyword through the validator on the documented examples.
    event = {"v": 1, "event": "writer_event", "writer": "PyWriter", "token": 7, "name": "OnFreeze",
             "now_us": 1234567, "volumes": ["C:\\"], "components": ["db"]}
    v.validate(event, {"$ref": "#/$defs/writer_event"})
    v.validate(event)
    ok = {"v": 1, "id": 3, "ok": True, "now_us": 200, "result": {"hresult": "S_OK"}}
    v.validate(ok, {"$ref": "#/$defs/reply"})
    err = {"v": 1, "id": "x", "ok": False, "now_us": 0, "error": {"kind": "hresult", "message": "m",
           "hresult": "VSS_E_BAD_STATE", "code": "0x80042301"}}
    v.validate(err, {"$ref": "#/$defs/reply"})
    v.validate({"hresult": "S_OK"}, {"$ref": "#/$defs/result.initialize_for_backup"})
    v.validate({"v": 1, "id": 1, "op": "set_backup_state", "object": "bc-1", "select_components": True},
               {"$ref": "#/$defs/request"})


def test_validator_rejects(schema):
    v = Validator(schema)
    bad = [
        ({"v": 2, "id": 1, "op": "now"}, "#/$defs/request.now"),
        ({"v": 1, "id": 1, "op": "now", "extra": 1}, "#/$defs/request.now"),
        ({"v": 1, "id": 1, "op": "advance"}, "#/$defs/request.advance"),
        ({"v": 1, "id": 1.5, "op": "now"}, "#/$defs/request.now"),
        ({"v": 1, "id": True, "op": "now"}, "#/$defs/request.now"),
        ({"v": 1, "id": 1, "ok": False, "now_us": 0, "error": {"kind": "nope", "message": ""}}, "#/$defs/reply"),
        ({"v": 1, "id": 1, "ok": True, "now_us": -1, "result": {}}, "#/$defs/reply"),
        ({"hresult": "S_MAYBE"}, "#/$defs/result.initialize_for_backup"),
        ({"snapshot_id": "not-a-guid", "hresult": "S_OK"}, "#/$defs/result.add_to_snapshot_set"),
        ({"v": 1, "id": 1, "op": "read_blocks", "object": "bc-1", "snapshot_id": "{00000000-0000-0000-0000-000000000000}",
          "volume": "C:", "first": 0, "count": 16385}, "#/$defs/request"),
    ]
    for inst, ref in bad:
        assert v.errors(inst, {"$ref": ref}), (inst, ref)
    with pytest.raises(SchemaError):
        v.errors(1, {"multipleOf": 2})


def test_hresults_match_the_rust_source():
    with open(os.path.join(REPO_ROOT, "model", "src", "vss", "hresult.rs"), encoding="utf-8") as f:
        src = f.read()
    rows = re.findall(r'(?:ok|err) (\w+) =\s*(0x[0-9A-F_]+) => "(\w+)"', src)
    assert [(n, int(c.replace("_", ""), 16)) for _, c, n in rows] == [(n, c) for n, c, _ in vss_sim.hresults.HRESULTS]


def test_schema_hresults_match_the_rust_source(schema):
    names = [n for n, _, _ in vss_sim.hresults.HRESULTS]
    assert schema["$defs"]["hresult"]["enum"] == names
    assert schema["$defs"]["failure_hresult"]["enum"] == [n for n in names if not vss_sim.is_success(n)]


def test_error_classes():
    assert vss_sim.error_class("VSS_E_BAD_STATE") is vss_sim.VssBadState
    for name in ("VSS_E_BAD_STATE", "VSS_E_OBJECT_NOT_FOUND", "VSS_E_SNAPSHOT_SET_IN_PROGRESS",
                 "VSS_E_WRITERERROR_TIMEOUT", "VSS_E_UNEXPECTED", "E_UNEXPECTED", "E_INVALIDARG"):
        cls = vss_sim.error_class(name)
        assert issubclass(cls, vss_sim.VssError) and cls is not vss_sim.VssError
        e = vss_sim.VssError.of(name)
        assert type(e) is cls and e.hresult == name and e.code == vss_sim.CODES[name]
    assert vss_sim.VssSnapshotSetInProgress.HRESULT == "VSS_E_SNAPSHOT_SET_IN_PROGRESS"
    assert vss_sim.VssWriterErrorTimeout.HRESULT == "VSS_E_WRITERERROR_TIMEOUT"
    assert vss_sim.VssUnexpected.HRESULT == "VSS_E_UNEXPECTED"
    assert vss_sim.EUnexpected.HRESULT == "E_UNEXPECTED"
    e = vss_sim.VssError.of("VSS_E_BAD_STATE", code="0x80042301")
    assert e.code == 0x80042301
    assert vss_sim.error_class("S_OK") is vss_sim.VssError


def _ev(name):
    return WriterEvent("W", 1, name, 0, ["C:"], ["db"], {})


def test_writer_answers_follow_rule_32():
    class W(CVssWriter):
        def OnFreeze(self):
            return False

        def OnThaw(self):
            self.SetWriterFailure("VSS_E_WRITERERROR_RETRYABLE")
            return True

        def OnPostSnapshot(self):
            return Answer(after_us=5)

        def OnAbort(self):
            self.SetWriterFailure("VSS_E_WRITERERROR_OUTOFRESOURCES")
            return Answer(hang=True)

        def OnBackupComplete(self):
            raise RuntimeError("boom")

    w = W()
    assert w._answer_for(_ev("OnPrepareSnapshot"))[0].to_args() == {"result": "S_OK", "after_us": 0}
    assert w._answer_for(_ev("OnFreeze"))[0].result == "VSS_E_WRITERERROR_NONRETRYABLE"
    assert w._answer_for(_ev("OnThaw"))[0].result == "VSS_E_WRITERERROR_RETRYABLE"
    # The failure set in one event is forgotten at the next.
    assert w._answer_for(_ev("OnPostSnapshot"))[0].to_args() == {"result": "S_OK", "after_us": 5}
    assert w._answer_for(_ev("OnAbort"))[0].to_args() == {"result": "VSS_E_WRITERERROR_OUTOFRESOURCES", "hang": True}
    ans, exc = w._answer_for(_ev("OnBackupComplete"))
    assert ans.result == "VSS_E_WRITERERROR_NONRETRYABLE" and isinstance(exc, RuntimeError)
    assert w._answer_for(_ev("OnSomethingNew"))[0].result == "S_OK"
    assert w.events[:3] == ["OnPrepareSnapshot", "OnFreeze", "OnThaw"]


class FakeServer:
    """A scripted server on a Unix socket: ``script(conn_file)`` runs in a thread."""

    def __init__(self, script):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "fake.sock")
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(script,), daemon=True)
        self.thread.start()

    def _run(self, script):
        try:
            c, _ = self.sock.accept()
            with c, c.makefile("rwb") as f:
                def recv():
                    return json.loads(f.readline())

                def send(obj):
                    f.write((json.dumps(obj) + "\n").encode())
                    f.flush()
                script(recv, send)
        except Exception as e:  # reported by the test
            self.error = e

    def join(self):
        self.thread.join(5)
        self.sock.close()
        if self.error:
            raise self.error


@pytest.mark.parametrize("answer_reply_first", [True, False])
def test_events_are_answered_while_waiting(answer_reply_first):
    seen = {}

    def script(recv, send):
        req = recv()
        assert req["op"] == "register_writer"
        send({"v": 1, "id": req["id"], "ok": True, "now_us": 0,
              "result": {"writer": "PyWriter", "instance_id": "{00000000-0000-0000-0000-000000000001}",
                         "class_id": "{00000000-0000-0000-0000-000000000002}"}})
        wait = recv()
        assert wait["op"] == "wait" and wait["async"] == "a-1"
        send({"v": 1, "event": "writer_event", "writer": "PyWriter", "token": 7, "name": "OnFreeze",
              "now_us": 10, "volumes": ["C:\\"], "components": ["db"]})
        ans = recv()
        seen["answer"] = ans
        reply_ans = {"v": 1, "id": ans["id"], "ok": True, "now_us": 10, "result": {}}
        reply_wait = {"v": 1, "id": wait["id"], "ok": True, "now_us": 99, "result": {"hresult": "VSS_S_ASYNC_FINISHED"}}
        for r in ([reply_ans, reply_wait] if answer_reply_first else [reply_wait, reply_ans]):
            send(r)
        now = recv()
        send({"v": 1, "id": now["id"], "ok": False, "now_us": 99,
              "error": {"kind": "hresult", "message": "x", "hresult": "VSS_E_BAD_STATE", "code": "0x80042301"}})
        bad = recv()
        send({"v": 1, "id": bad["id"], "ok": False, "now_us": 99,
              "error": {"kind": "bad_request", "message": "no", "field": "us"}})

    class W(CVssWriter):
        def OnFreeze(self):
            return Answer(after_us=61_000_000, application="freeze")

    fake = FakeServer(script)
    conn = vss_sim.Connection(fake.path, timeout=5)
    w = conn.register_writer(W(), "PyWriter", components=[{"name": "db", "volumes": ["C:\\"]}])
    assert w.instance_id.endswith("1}")
    assert vss_sim.VssAsync(conn, "a-1").Wait() == "VSS_S_ASYNC_FINISHED"
    assert conn.last_now_us == 99 or answer_reply_first is False
    with pytest.raises(vss_sim.VssBadState) as e:
        conn.request("now")
    assert e.value.code == 0x80042301 and e.value.hresult == "VSS_E_BAD_STATE"
    with pytest.raises(vss_sim.ProtocolError) as e:
        conn.request("advance")
    assert e.value.kind == "bad_request" and e.value.field == "us"
    conn.close()
    fake.join()
    assert seen["answer"]["writer"] == "PyWriter" and seen["answer"]["token"] == 7
    assert seen["answer"]["after_us"] == 61_000_000 and seen["answer"]["application"] == "freeze"
    assert w.events == ["OnFreeze"]
    assert conn.answer_errors == []


def test_missing_binary_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("VSS_SIM_BIN", str(tmp_path / "nope"))
    with pytest.raises(vss_sim.BinaryNotFound, match="cargo build --release"):
        with vss_sim.serve():
            pass


def test_addresses():
    from vss_sim.connection import _parse_address
    assert _parse_address("127.0.0.1:7000") == (socket.AF_INET, ("127.0.0.1", 7000))
    assert _parse_address("/tmp/x.sock")[0] == socket.AF_UNIX
    assert _parse_address("./vss-sim.sock")[0] == socket.AF_UNIX


STUB = r'''#!/usr/bin/env python3
import json, socket, sys
args = sys.argv[1:]
assert args[0] == "serve", args
path = args[args.index("--socket") + 1]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(4)
print("listening on " + path, flush=True)
while True:
    c, _ = s.accept()
    f = c.makefile("rwb")
    for line in f:
        req = json.loads(line)
        if req["op"] == "shutdown":
            result = {"sha256": "0" * 64, "records": 1}
        else:
            result = {"server": "stub", "version": "0", "protocol": 1, "seed": 0, "volumes": [],
                      "writers": [], "providers": [], "clients": 8}
        f.write((json.dumps({"v": 1, "id": req["id"], "ok": True, "now_us": 0, "result": result}) + "\n").encode())
        f.flush()
        if req["op"] == "shutdown":
            sys.exit(0)
    c.close()
'''


def test_serve_starts_and_stops_a_server(tmp_path, monkeypatch):
    stub = tmp_path / "vss-sim"
    stub.write_text(STUB)
    stub.chmod(0o755)
    monkeypatch.setenv("VSS_SIM_BIN", str(stub))
    with vss_sim.serve(seed=5) as srv:
        assert srv.address.endswith("vss-sim.sock")
        conn = srv.connect()
        assert conn.hello()["server"] == "stub"
        conn.close()
    assert srv.returncode == 0
    assert srv.shutdown_digest == vss_sim.TraceDigest("0" * 64, 1)


def test_serve_reports_a_server_that_will_not_start(tmp_path, monkeypatch):
    stub = tmp_path / "vss-sim"
    stub.write_text("#!/bin/sh\necho 'vss-sim serve: bad scenario' >&2\nexit 2\n")
    stub.chmod(0o755)
    monkeypatch.setenv("VSS_SIM_BIN", str(stub))
    with pytest.raises(vss_sim.ServerError, match="bad scenario"):
        with vss_sim.serve():
            pass
