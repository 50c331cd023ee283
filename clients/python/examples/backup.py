"""A whole backup of the default machine driven from Python, timed.

    cargo build --release
    PYTHONPATH=clients/python python3 clients/python/examples/backup.py

Prints the writers' states at the end, the virtual time the backup took, and the wall time of
the whole thing (the server's start and shutdown included, and the backup alone).
"""

import time

import vss_sim


def backup(conn):
    """The standard sequence on every volume of the default machine (component mode)."""
    bc = conn.CreateVssBackupComponents()
    bc.InitializeForBackup()
    bc.SetBackupState(select_components=True, backup_type="VSS_BT_FULL")
    bc.GatherWriterMetadata().wait_ok()
    volumes = set()
    for w in bc.GetWriterMetadata():
        for c in w["components"]:
            bc.AddComponent(w["name"], c["name"])
            volumes.update(c["volumes"])
    set_id = bc.StartSnapshotSet()
    shadows = {v: bc.AddToSnapshotSet(v) for v in sorted(volumes)}
    bc.PrepareForBackup().wait_ok()
    bc.DoSnapshotSet().wait_ok()
    for v, sid in shadows.items():
        bc.read_shadow(sid, v)                     # read each image back, verified
    for w in bc.GetWriterMetadata():
        for c in w["components"]:
            bc.SetBackupSucceeded(w["name"], c["name"], True)
    bc.BackupComplete().wait_ok()
    bc.GatherWriterStatus().wait_ok()
    status = bc.GetWriterStatus()
    bc.Release()
    return set_id, status


def main():
    t0 = time.perf_counter()
    with vss_sim.serve(seed=7) as server:
        conn = server.connect()
        t1 = time.perf_counter()
        set_id, status = backup(conn)
        t2 = time.perf_counter()
        for w in status:
            print(f"{w['name']:35} {w['state']:25} {w['failure']}")
        print(f"snapshot set {set_id}, virtual time {conn.now() / 1e6:.3f} s")
        assert not conn.violations()
    t3 = time.perf_counter()
    print(f"wall time: backup {1e3 * (t2 - t1):.1f} ms, with server start and shutdown "
          f"{1e3 * (t3 - t0):.1f} ms")


if __name__ == "__main__":
    main()
