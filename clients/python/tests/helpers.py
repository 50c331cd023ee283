"""The backup sequences the server tests share."""

import vss_sim

FINISHED = "VSS_S_ASYNC_FINISHED"


def component_volumes(metadata):
    """The volumes of every component of every writer, in first-seen order."""
    vols = []
    for w in metadata:
        for c in w["components"]:
            for v in c["volumes"]:
                if v not in vols:
                    vols.append(v)
    return vols


def prepare(conn, extra_volumes=()):
    """InitializeForBackup .. PrepareForBackup, every component added. Returns
    ``(bc, metadata, snapshot ids by volume)``."""
    bc = conn.CreateVssBackupComponents()
    assert bc.InitializeForBackup() == "S_OK"
    assert bc.SetContext("VSS_CTX_BACKUP") == "S_OK"
    assert bc.SetBackupState(select_components=True, backup_type="VSS_BT_FULL") == "S_OK"
    assert bc.GatherWriterMetadata().Wait() == FINISHED
    metadata = bc.GetWriterMetadata()
    for w in metadata:
        for c in w["components"]:
            assert bc.AddComponent(w["name"], c["name"]) == "S_OK"
    bc.StartSnapshotSet()
    snaps = {}
    for v in component_volumes(metadata) + list(extra_volumes):
        if v not in snaps:
            snaps[v] = bc.AddToSnapshotSet(v)
    assert bc.PrepareForBackup().Wait() == FINISHED
    return bc, metadata, snaps


def status(bc):
    """GatherWriterStatus + GetWriterStatus, by writer name."""
    assert bc.GatherWriterStatus().Wait() == FINISHED
    return bc.GetWriterStatusByName()


def read_all(bc, snaps):
    """Read every shadow copy in full, as a backup does before it marks components backed up
    (the component_backup_consistent oracle checks it)."""
    for volume, snapshot_id in snaps.items():
        result = bc.read_shadow(snapshot_id, volume)
        assert result["complete"] is True, (volume, result)


def complete(bc, metadata, snaps):
    """Read the shadows, SetBackupSucceeded for every component, BackupComplete, the final
    status."""
    read_all(bc, snaps)
    for w in metadata:
        for c in w["components"]:
            assert bc.SetBackupSucceeded(w["name"], c["name"], True) == "S_OK"
    assert bc.BackupComplete().Wait() == FINISHED
    return status(bc)


def full_backup(conn):
    """The whole default backup; returns ``(bc, metadata, snaps, status after DoSnapshotSet,
    final status)``."""
    bc, metadata, snaps = prepare(conn)
    assert bc.DoSnapshotSet().Wait() == FINISHED
    mid = status(bc)
    final = complete(bc, metadata, snaps)
    return bc, metadata, snaps, mid, final
