"""The requester API: :class:`BackupComponents` (``IVssBackupComponents``) and
:class:`VssAsync` (``IVssAsync``), with the COM method names.

A method whose VSS call returns an HRESULT returns its name (``"S_OK"``, ``"S_FALSE"``, ...)
or, where the COM method has an out-parameter, that value; a failing HRESULT raises its
:class:`~vss_sim.VssError` subclass (``VssBadState``, ...). Asynchronous calls return a
:class:`VssAsync`.
"""

from .connection import check_hresult
from .errors import raise_for_hresult

__all__ = ["BackupComponents", "VssAsync", "CreateVssBackupComponents"]


def CreateVssBackupComponents(conn):
    """``CreateVssBackupComponents`` on connection ``conn``."""
    return conn.CreateVssBackupComponents()


class VssAsync:
    """An asynchronous operation (``IVssAsync``) as a call returned it.

    As in COM (rule 25 of docs/rules.md), :meth:`Wait` returns when the operation is over,
    whatever its outcome, and the outcome is the HRESULT it returns (and :meth:`QueryStatus`
    returns): ``"VSS_S_ASYNC_FINISHED"``, ``"VSS_S_ASYNC_CANCELLED"``, a failure such as
    ``"VSS_E_HOLD_WRITES_TIMEOUT"``, or ``"VSS_S_ASYNC_PENDING"`` when a timeout passed
    first. Neither raises for a failed operation; :meth:`wait_ok` does.

    Attributes:
        id: the protocol's ``async`` name.
        hresult: what the call that started it returned (``"S_OK"``).
        op: that call's op (``"do_snapshot_set"``, ...).
    """

    def __init__(self, conn, async_id, hresult="S_OK", op=None):
        self.connection = conn
        self.id = async_id
        self.hresult = hresult
        self.op = op

    def __repr__(self):
        return "VssAsync(%r, op=%r)" % (self.id, self.op)

    def Wait(self, timeout_us=None):
        """Run the world until the operation ends (or ``timeout_us`` virtual µs pass).
        Returns the outcome's HRESULT name."""
        return self.connection.request("wait", **{"async": self.id, "timeout_us": timeout_us})["hresult"]

    def QueryStatus(self):
        """The operation's status now, without moving time."""
        return self.connection.request("query_status", **{"async": self.id})["hresult"]

    def Cancel(self):
        """``IVssAsync::Cancel``; returns its HRESULT (a failure raises)."""
        return check_hresult(self.connection.request("cancel", **{"async": self.id}), "cancel")

    def wait_ok(self, timeout_us=None):
        """:meth:`Wait`, raising the :class:`~vss_sim.VssError` of a failed operation.

        Returns ``"VSS_S_ASYNC_FINISHED"`` (or ``VSS_S_ASYNC_PENDING`` / ``_CANCELLED``)."""
        return raise_for_hresult(self.Wait(timeout_us), op=self.op)


class BackupComponents:
    """A backup components object (``IVssBackupComponents``) of one connection.

    Usable as a context manager: leaving the block calls :meth:`Release`.
    """

    def __init__(self, conn, object_id):
        self.connection = conn
        self.object = object_id
        self.released = False

    def __repr__(self):
        return "BackupComponents(%r)" % (self.object,)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.released and not self.connection.closed:
            self.Release()

    def _call(self, op, **args):
        return self.connection.request(op, object=self.object, **args)

    def _hr(self, op, **args):
        return check_hresult(self._call(op, **args), op)

    def _async(self, op):
        result = self._call(op)
        hr = check_hresult(result, op)
        return VssAsync(self.connection, result["async"], hr, op)

    # -- the backup sequence -----------------------------------------------------------------

    def InitializeForBackup(self):
        """``InitializeForBackup(NULL)``."""
        return self._hr("initialize_for_backup")

    def SetContext(self, ctx):
        """``SetContext``: a context name (``"VSS_CTX_BACKUP"``, ...) or its integer value."""
        return self._hr("set_context", context=ctx)

    def SetBackupState(self, select_components=True, bootable_system_state=False, backup_type="VSS_BT_FULL", partial_file_support=False):
        """``SetBackupState``."""
        return self._hr(
            "set_backup_state",
            select_components=bool(select_components),
            bootable_system_state=bool(bootable_system_state),
            backup_type=backup_type,
            partial_file_support=bool(partial_file_support),
        )

    def GatherWriterMetadata(self):
        """``GatherWriterMetadata`` -> :class:`VssAsync`."""
        return self._async("gather_writer_metadata")

    def GetWriterMetadata(self):
        """The metadata of the last gathering: ``[{name, instance_id, class_id,
        components: [{name, logical_path, volumes}]}]``."""
        return self._call("writer_metadata")["writers"]

    def AddComponent(self, writer, component):
        """``AddComponent``: ``writer`` by name, ``component`` by name."""
        return self._hr("add_component", writer=writer, component=component)

    def StartSnapshotSet(self):
        """``StartSnapshotSet`` -> the snapshot set id (a GUID string)."""
        result = self._call("start_snapshot_set")
        check_hresult(result, "start_snapshot_set")
        return result["snapshot_set_id"]

    def AddToSnapshotSet(self, volume, provider=None):
        """``AddToSnapshotSet`` -> the snapshot id. ``provider``: a provider GUID or ``None``
        (``GUID_NULL``: VSS chooses)."""
        result = self._call("add_to_snapshot_set", volume=volume, provider=provider)
        check_hresult(result, "add_to_snapshot_set")
        return result["snapshot_id"]

    def PrepareForBackup(self):
        """``PrepareForBackup`` -> :class:`VssAsync`."""
        return self._async("prepare_for_backup")

    def DoSnapshotSet(self):
        """``DoSnapshotSet`` -> :class:`VssAsync`."""
        return self._async("do_snapshot_set")

    def GatherWriterStatus(self):
        """``GatherWriterStatus`` -> :class:`VssAsync`."""
        return self._async("gather_writer_status")

    def GetWriterStatus(self):
        """The status of the last gathering: ``[{name, instance_id, state, failure}]``."""
        return self._call("writer_status")["writers"]

    def GetWriterStatusByName(self):
        """:meth:`GetWriterStatus` as a dict by writer name."""
        return {w["name"]: w for w in self.GetWriterStatus()}

    def SetBackupSucceeded(self, writer, component, succeeded=True):
        """``SetBackupSucceeded`` for ``component`` of ``writer``."""
        return self._hr("set_backup_succeeded", writer=writer, component=component, succeeded=bool(succeeded))

    def BackupComplete(self):
        """``BackupComplete`` -> :class:`VssAsync`."""
        return self._async("backup_complete")

    def AbortBackup(self):
        """``AbortBackup``."""
        return self._hr("abort_backup")

    # -- outside the sequence ----------------------------------------------------------------

    def IsVolumeSupported(self, volume, provider=None):
        """``IsVolumeSupported`` -> bool."""
        result = self._call("is_volume_supported", volume=volume, provider=provider)
        check_hresult(result, "is_volume_supported")
        return bool(result["supported"])

    def GetSnapshotProperties(self, snapshot_id):
        """``GetSnapshotProperties`` -> the snapshot dict ``{snapshot_id, snapshot_set_id,
        set_count, volume, device, provider_id, context, attributes, created_us, state}``."""
        result = self._call("get_snapshot_properties", snapshot_id=snapshot_id)
        check_hresult(result, "get_snapshot_properties")
        return result["snapshot"]

    def Query(self):
        """``Query(GUID_NULL, VSS_OBJECT_NONE, VSS_OBJECT_SNAPSHOT)`` -> list of snapshot dicts."""
        result = self._call("query")
        check_hresult(result, "query")
        return result["snapshots"]

    def DeleteSnapshots(self, source, object_type="VSS_OBJECT_SNAPSHOT", force=False):
        """``DeleteSnapshots`` -> ``(deleted, nondeleted_id)``."""
        result = self._call("delete_snapshots", source=source, object_type=object_type, force=bool(force))
        check_hresult(result, "delete_snapshots")
        return result["deleted"], result["nondeleted_id"]

    def DisableWriterClasses(self, classes):
        """``DisableWriterClasses`` (class GUIDs)."""
        return self._hr("disable_writer_classes", classes=list(classes))

    def EnableWriterClasses(self, classes):
        """``EnableWriterClasses`` (class GUIDs)."""
        return self._hr("enable_writer_classes", classes=list(classes))

    def Release(self):
        """``IUnknown::Release``: the session ends (rule 27)."""
        self._call("release")
        self.released = True

    # -- reading the shadow copies -----------------------------------------------------------

    def read_shadow(self, snapshot_id, volume):
        """Read the whole shadow image at the requester's bandwidth (time passes), checked
        against the snapshot instant. Returns the result (``{"complete": ...}``)."""
        return self._call("read_shadow", snapshot_id=snapshot_id, volume=volume)

    def read_blocks(self, snapshot_id, volume, first, count):
        """Read blocks ``first`` .. ``first + count`` (``count`` ≤ 16384) of a shadow copy.
        Returns ``{hresult, digest, held, seqs}``: ``seqs`` is each block's write sequence at
        the snapshot instant (``None``: never written)."""
        result = self._call("read_blocks", snapshot_id=snapshot_id, volume=volume, first=int(first), count=int(count))
        check_hresult(result, "read_blocks")
        return result
