//! The requester API: [`BackupComponents`] mirrors `IVssBackupComponents`, [`VssAsync`] mirrors
//! `IVssAsync`. Every call goes to the simulated service as the scripted requesters' calls do
//! (the same rules, the same `VSS_E_BAD_STATE` checks, the same API latency) and comes back at
//! its virtual time.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::Poll;

use model::api::{
    ApiCall, ApiCallKind, ComponentRef, ProviderArg, ReplyData, SnapshotProp, WriterStatus,
};
use model::ids::{Guid, RequesterId, SnapshotId, SnapshotSetId, VolumeId, WriterId};
use model::machine::Machine;
use model::vss::{BackupType, Hresult, ObjectType, SnapshotContext, VssError};

use crate::guest::mailbox::{Answer, Mailbox, Out};

/// A requester process your code runs: its place on the simulated machine. Your requester's
/// async function is given one; [`Requester::create_backup_components`] is
/// `CreateVssBackupComponents`.
pub struct Requester {
    pub(crate) id: RequesterId,
    pub(crate) name: String,
    pub(crate) mail: Rc<RefCell<Mailbox>>,
    pub(crate) machine: Rc<Machine>,
    /// One call at a time per requester (an `IVssAsync::Cancel` waits for a call in flight).
    pub(crate) gate: Rc<tokio::sync::Mutex<()>>,
}

/// A volume of the machine as a requester names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeRef {
    /// The volume's id (its index on the machine).
    pub id: VolumeId,
    /// Its name, e.g. `C:\`.
    pub name: String,
}

impl Requester {
    /// The requester's name (as the trace and the report print it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The machine's volumes, in declaration order.
    pub fn volumes(&self) -> Vec<VolumeRef> {
        self.machine
            .volumes
            .iter()
            .enumerate()
            .map(|(i, v)| VolumeRef {
                id: VolumeId::from_index(i),
                name: v.name.clone(),
            })
            .collect()
    }

    /// The volume named `name` (e.g. `C:\`), if the machine has it.
    pub fn volume(&self, name: &str) -> Option<VolumeId> {
        self.machine
            .volumes
            .iter()
            .position(|v| v.name == name)
            .map(VolumeId::from_index)
    }

    /// `CreateVssBackupComponents`: a new `IVssBackupComponents` object. The service gives
    /// each requester one object at a time: making another goes back to the service as a new
    /// object, and the earlier one, if still held, goes away first (rule 27); its handle then
    /// answers every call `VSS_E_BAD_STATE` without reaching the service.
    pub fn create_backup_components(&self) -> BackupComponents {
        let object = {
            let mut m = self.mail.borrow_mut();
            let b = m.req(self.id);
            let first = !b.has_object;
            if !first {
                // The earlier object goes away (rule 27).
                b.object_gone();
            }
            b.has_object = true;
            b.object += 1;
            let object = b.object;
            if !first {
                m.act(Out::NewObject { requester: self.id });
            }
            object
        };
        BackupComponents {
            id: self.id,
            object,
            mail: self.mail.clone(),
            machine: self.machine.clone(),
            gate: self.gate.clone(),
            released: false,
        }
    }
}

/// A writer as `GatherWriterMetadata` describes it (`IVssExamineWriterMetadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterMetadata {
    /// The writer instance.
    pub writer: WriterId,
    /// Its name.
    pub name: String,
    /// Its class id.
    pub class_id: Guid,
    /// Its instance id.
    pub instance_id: Guid,
    /// Its components, in declaration order.
    pub components: Vec<ComponentMetadata>,
}

/// One component of a writer's metadata (`IVssWMComponent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentMetadata {
    /// What `AddComponent` and `SetBackupSucceeded` name.
    pub component: ComponentRef,
    /// The component's name.
    pub name: String,
    /// Its logical path, `""` at top level.
    pub logical_path: String,
    /// The volumes its files lie on.
    pub volumes: Vec<VolumeId>,
}

/// The most blocks one [`BackupComponents::read_blocks`] reads (64 MiB of 4 KiB blocks).
pub const MAX_READ_BLOCKS: u64 = 16_384;

/// What a block range read found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRange {
    /// The first block read.
    pub first: u64,
    /// Blocks read.
    pub count: u64,
    /// A fingerprint of the range's content at the snapshot instant: equal ranges of one
    /// volume have equal digests, and a block written since changes it only on the live volume.
    pub digest: u64,
    /// Blocks of the range the volume had written by the snapshot instant (the others read as
    /// zeros, at no cost).
    pub held: u64,
}

/// `IVssBackupComponents`, as your requester holds it. Dropping it is releasing it (the
/// service then sends BackupShutdown and removes auto-release shadow copies, rule 27).
///
/// Every method is a call to the simulated service and takes the API's latency in virtual
/// time. Calls on one object run one at a time, in the order they are made.
pub struct BackupComponents {
    id: RequesterId,
    /// The requester's object generation this handle is.
    object: u32,
    mail: Rc<RefCell<Mailbox>>,
    machine: Rc<Machine>,
    gate: Rc<tokio::sync::Mutex<()>>,
    released: bool,
}

/// `IVssAsync`: an asynchronous operation in progress (`GatherWriterMetadata`,
/// `PrepareForBackup`, `DoSnapshotSet`, `GatherWriterStatus`, `BackupComplete`).
pub struct VssAsync {
    id: RequesterId,
    op: u64,
    /// The object generation that started it.
    object: u32,
    call: ApiCallKind,
    mail: Rc<RefCell<Mailbox>>,
    gate: Rc<tokio::sync::Mutex<()>>,
}

impl VssAsync {
    /// The call that started the operation.
    pub fn call(&self) -> &'static str {
        self.call.name()
    }

    /// `IVssAsync::Wait`: returns when the operation is over, whatever its outcome (rule 25);
    /// read the outcome with [`VssAsync::query_status`]. Wait with a limit by wrapping it in
    /// `tokio::time::timeout`.
    pub async fn wait(&self) {
        std::future::poll_fn(|cx| {
            let mut m = self.mail.borrow_mut();
            let b = m.req(self.id);
            match b.ops.iter_mut().find(|o| o.number == self.op) {
                Some(o) if o.end.is_some() => Poll::Ready(()),
                Some(o) => {
                    o.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
                // Its object is gone and the operation with it: cancelled.
                None => Poll::Ready(()),
            }
        })
        .await
    }

    /// `IVssAsync::QueryStatus` (rule S13): `VSS_S_ASYNC_PENDING` while the operation runs,
    /// then `VSS_S_ASYNC_FINISHED`, `VSS_S_ASYNC_CANCELLED` (also once its object went away,
    /// rule 27) or its failure.
    pub fn query_status(&self) -> Hresult {
        let mut m = self.mail.borrow_mut();
        let b = m.req(self.id);
        match b.ops.iter().find(|o| o.number == self.op) {
            Some(o) => o.end.as_ref().map_or(Hresult::AsyncPending, |(_, h, _)| *h),
            None => Hresult::AsyncCancelled,
        }
    }

    /// [`VssAsync::wait`], then the outcome as a `Result`: `Ok(VSS_S_ASYNC_FINISHED)`,
    /// `Ok(VSS_S_ASYNC_CANCELLED)`, or the failure.
    pub async fn finish(&self) -> Result<Hresult, VssError> {
        self.wait().await;
        let h = self.query_status();
        VssError::check(h).map(|()| h)
    }

    /// `IVssAsync::Cancel` (rules S13, 25): `S_OK` when it cancelled the running operation,
    /// `VSS_S_ASYNC_CANCELLED` if it was cancelled already, `VSS_S_ASYNC_FINISHED` if it had
    /// completed, or the operation's failure.
    pub async fn cancel(&self) -> Hresult {
        let _g = self.gate.lock().await;
        // An operation that is over answers for itself (the service's Cancel acts on whatever
        // its object runs now, which may be another operation).
        let running = {
            let mut m = self.mail.borrow_mut();
            let b = m.req(self.id);
            let open = |o: &&crate::guest::mailbox::Op| o.object == self.object && o.end.is_none();
            let newest_open = b.ops.iter().rev().find(open).map(|o| o.number);
            match b.ops.iter().find(|o| o.number == self.op) {
                None => return Hresult::AsyncCancelled,
                Some(o) => match &o.end {
                    Some((_, Hresult::AsyncFinished, _)) => return Hresult::AsyncFinished,
                    Some((_, h, _)) => return *h,
                    None => b.object == self.object && newest_open == Some(self.op),
                },
            }
        };
        if !running {
            return Hresult::AsyncCancelled;
        }
        let ((_, h, _), _) = send(&self.mail, self.id, ApiCall::Cancel).await;
        h
    }
}

impl BackupComponents {
    /// Whether this handle is still the requester's object (not released, not replaced).
    fn current(&self) -> bool {
        !self.released && self.mail.borrow_mut().req(self.id).object == self.object
    }

    /// Makes call `c` once the calls before it are answered; a handle that is no longer the
    /// requester's object answers `VSS_E_BAD_STATE` without reaching the service.
    async fn call(&mut self, c: ApiCall) -> (Answer, Option<u64>) {
        let _g = self.gate.lock().await;
        if !self.current() {
            return ((c.kind(), Hresult::BadState, ReplyData::None), None);
        }
        send(&self.mail, self.id, c).await
    }

    async fn sync(&mut self, c: ApiCall) -> Result<(), VssError> {
        let ((_, h, _), _) = self.call(c).await;
        VssError::check(h)
    }

    async fn start(&mut self, c: ApiCall) -> Result<VssAsync, VssError> {
        let kind = c.kind();
        let ((_, h, _), op) = self.call(c).await;
        VssError::check(h)?;
        Ok(VssAsync {
            id: self.id,
            op: op.unwrap_or(0),
            object: self.object,
            call: kind,
            mail: self.mail.clone(),
            gate: self.gate.clone(),
        })
    }

    /// `InitializeForBackup(NULL)`.
    pub async fn initialize_for_backup(&mut self) -> Result<(), VssError> {
        self.sync(ApiCall::InitializeForBackup).await
    }

    /// `SetContext(lContext)`.
    pub async fn set_context(&mut self, context: SnapshotContext) -> Result<(), VssError> {
        self.sync(ApiCall::SetContext(context)).await
    }

    /// `SetBackupState(bSelectComponents, bBootableSystemState, backupType,
    /// bPartialFileSupport)`. The service keeps `select_components` (component mode) and
    /// `backup_type`; `bootable_system_state` and `partial_file_support` are recorded in the
    /// trace and change nothing else (rule 37).
    pub async fn set_backup_state(
        &mut self,
        select_components: bool,
        bootable_system_state: bool,
        backup_type: BackupType,
        partial_file_support: bool,
    ) -> Result<(), VssError> {
        self.sync(ApiCall::SetBackupState {
            select_components,
            bootable_system_state,
            backup_type,
            partial_file_support,
        })
        .await
    }

    /// The provider argument of a call: `None` is `GUID_NULL`.
    fn provider_arg(&self, provider: Option<Guid>) -> ProviderArg {
        match provider {
            None => ProviderArg::Any,
            Some(g) => match self.machine.providers.iter().position(|p| p.id == g) {
                Some(i) => ProviderArg::Registered(model::ids::ProviderId::from_index(i)),
                None => ProviderArg::Unregistered(g),
            },
        }
    }

    /// `IsVolumeSupported(provider, volume)` (rule 34): whether that provider (`None`,
    /// `GUID_NULL`: any provider) can shadow `volume` in this object's context.
    /// `VSS_E_OBJECT_NOT_FOUND` for a volume the machine does not have,
    /// `VSS_E_PROVIDER_NOT_REGISTERED` for an unknown provider, `VSS_E_BAD_STATE` before
    /// `InitializeForBackup`.
    pub async fn is_volume_supported(
        &mut self,
        provider: Option<Guid>,
        volume: VolumeId,
    ) -> Result<bool, VssError> {
        let provider = self.provider_arg(provider);
        let volume = (volume.idx() < self.machine.volumes.len()).then_some(volume);
        let ((_, h, data), _) = self
            .call(ApiCall::IsVolumeSupported { provider, volume })
            .await;
        VssError::check(h)?;
        match data {
            ReplyData::Supported(b) => Ok(b),
            _ => Err(VssError::VssUnexpected),
        }
    }

    /// `GetSnapshotProperties(snapshot)` (rule 35): the shadow copy's `VSS_SNAPSHOT_PROP`.
    /// `VSS_E_OBJECT_NOT_FOUND` if it does not exist (any more) or belongs to another context.
    pub async fn get_snapshot_properties(
        &mut self,
        snapshot: SnapshotId,
    ) -> Result<SnapshotProp, VssError> {
        let ((_, h, data), _) = self.call(ApiCall::GetSnapshotProperties(snapshot)).await;
        VssError::check(h)?;
        match data {
            ReplyData::SnapshotProps(mut list) if list.len() == 1 => Ok(list.remove(0)),
            _ => Err(VssError::VssUnexpected),
        }
    }

    /// `Query(GUID_NULL, VSS_OBJECT_NONE, VSS_OBJECT_SNAPSHOT)` (rule 35): every shadow copy
    /// of this object's context, in creation order.
    pub async fn query(&mut self) -> Result<Vec<SnapshotProp>, VssError> {
        let ((_, h, data), _) = self.call(ApiCall::Query).await;
        VssError::check(h)?;
        match data {
            ReplyData::SnapshotProps(list) => Ok(list),
            _ => Err(VssError::VssUnexpected),
        }
    }

    /// `DeleteSnapshots(source, object, force)` (rule 36) with `object`
    /// `VSS_OBJECT_SNAPSHOT` (one shadow copy) or `VSS_OBJECT_SNAPSHOT_SET` (every shadow copy
    /// of a set): how many were deleted. `VSS_E_OBJECT_NOT_FOUND` when there is nothing of
    /// that id in this object's context; `VSS_E_BAD_STATE` when it reaches a shadow copy of a
    /// set still being created ([`BackupComponents::delete_snapshots_partial`] gives the count
    /// and the id it stopped at).
    pub async fn delete_snapshots(
        &mut self,
        source: Guid,
        object: ObjectType,
        force: bool,
    ) -> Result<u32, VssError> {
        let (h, count, _) = self.delete_snapshots_partial(source, object, force).await;
        VssError::check(h).map(|()| count)
    }

    /// `DeleteSnapshots` with all it returns: the HRESULT, `plDeletedSnapshots` and
    /// `pNondeletedSnapshotID` (`GUID_NULL` when nothing was left undeleted).
    pub async fn delete_snapshots_partial(
        &mut self,
        source: Guid,
        object: ObjectType,
        force: bool,
    ) -> (Hresult, u32, SnapshotId) {
        let ((_, h, data), _) = self
            .call(ApiCall::DeleteSnapshots {
                source,
                object,
                force,
            })
            .await;
        match data {
            ReplyData::Deleted {
                count,
                first_not_deleted,
            } => (h, count, first_not_deleted),
            _ => (h, 0, Guid::NULL),
        }
    }

    /// `DisableWriterClasses(classes)` (rule 38): writers of these classes get no event of
    /// this object's session and are absent from its metadata and writer status.
    /// `VSS_E_BAD_STATE` once `GatherWriterMetadata` has been called.
    pub async fn disable_writer_classes(&mut self, classes: &[Guid]) -> Result<(), VssError> {
        self.sync(ApiCall::DisableWriterClasses(classes.to_vec()))
            .await
    }

    /// `EnableWriterClasses(classes)` (rule 38): the first call leaves only these classes
    /// enabled, later ones add to them. `VSS_E_BAD_STATE` once `GatherWriterMetadata` has been
    /// called.
    pub async fn enable_writer_classes(&mut self, classes: &[Guid]) -> Result<(), VssError> {
        self.sync(ApiCall::EnableWriterClasses(classes.to_vec()))
            .await
    }

    /// `GatherWriterMetadata` (asynchronous): Identify goes to every writer; once it has
    /// finished, [`BackupComponents::writer_metadata`] describes those that answered.
    pub async fn gather_writer_metadata(&mut self) -> Result<VssAsync, VssError> {
        self.start(ApiCall::GatherWriterMetadata).await
    }

    /// The writers the last finished `GatherWriterMetadata` heard from, in subscription order
    /// (`GetWriterMetadataCount` / `GetWriterMetadata`); empty before one finished.
    pub fn writer_metadata(&self) -> Vec<WriterMetadata> {
        let ids = self.mail.borrow_mut().req(self.id).metadata.clone();
        ids.iter()
            .map(|&w| {
                let info = &self.machine.writers[w.idx()];
                WriterMetadata {
                    writer: w,
                    name: info.name.clone(),
                    class_id: info.class_id,
                    instance_id: info.instance_id,
                    components: info
                        .components
                        .iter()
                        .enumerate()
                        .map(|(i, c)| ComponentMetadata {
                            component: ComponentRef {
                                writer: w,
                                idx: u16::try_from(i).expect("component count fits u16"),
                            },
                            name: c.name.clone(),
                            logical_path: c.logical_path.clone(),
                            volumes: c.volumes.clone(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// `AddComponent` for a component of the writer metadata.
    pub async fn add_component(&mut self, component: ComponentRef) -> Result<(), VssError> {
        self.sync(ApiCall::AddComponent(Some(component))).await
    }

    /// `StartSnapshotSet`: the new set's id.
    pub async fn start_snapshot_set(&mut self) -> Result<SnapshotSetId, VssError> {
        let ((_, h, data), _) = self
            .call(ApiCall::StartSnapshotSet { new_id: Guid(0) })
            .await;
        VssError::check(h)?;
        match data {
            ReplyData::SnapshotSet(id) => Ok(id),
            _ => Err(VssError::VssUnexpected),
        }
    }

    /// `AddToSnapshotSet(volume, provider)`: `None` is `GUID_NULL`, the service chooses the
    /// provider (rule 4). Returns the new shadow copy's id.
    pub async fn add_to_snapshot_set(
        &mut self,
        volume: VolumeId,
        provider: Option<Guid>,
    ) -> Result<SnapshotId, VssError> {
        let provider = self.provider_arg(provider);
        let volume = (volume.idx() < self.machine.volumes.len()).then_some(volume);
        let ((_, h, data), _) = self
            .call(ApiCall::AddToSnapshotSet {
                volume,
                provider,
                new_id: Guid(0),
            })
            .await;
        VssError::check(h)?;
        match data {
            ReplyData::Snapshot(id) => Ok(id),
            _ => Err(VssError::VssUnexpected),
        }
    }

    /// `PrepareForBackup` (asynchronous).
    pub async fn prepare_for_backup(&mut self) -> Result<VssAsync, VssError> {
        self.start(ApiCall::PrepareForBackup).await
    }

    /// `DoSnapshotSet` (asynchronous): the shadow copies are made.
    pub async fn do_snapshot_set(&mut self) -> Result<VssAsync, VssError> {
        self.start(ApiCall::DoSnapshotSet).await
    }

    /// `GatherWriterStatus` (asynchronous); then [`BackupComponents::writer_status`].
    pub async fn gather_writer_status(&mut self) -> Result<VssAsync, VssError> {
        self.start(ApiCall::GatherWriterStatus).await
    }

    /// What the last finished `GatherWriterStatus` reported, one entry per writer of the
    /// session (`GetWriterStatusCount` / `GetWriterStatus`); empty before one finished.
    pub fn writer_status(&self) -> Vec<WriterStatus> {
        self.mail.borrow_mut().req(self.id).status.clone()
    }

    /// `SetBackupSucceeded` for an explicitly included component.
    pub async fn set_backup_succeeded(
        &mut self,
        component: ComponentRef,
        succeeded: bool,
    ) -> Result<(), VssError> {
        self.sync(ApiCall::SetBackupSucceeded {
            component,
            succeeded,
        })
        .await
    }

    /// `BackupComplete` (asynchronous).
    pub async fn backup_complete(&mut self) -> Result<VssAsync, VssError> {
        self.start(ApiCall::BackupComplete).await
    }

    /// `AbortBackup`.
    pub async fn abort_backup(&mut self) -> Result<(), VssError> {
        self.sync(ApiCall::AbortBackup).await
    }

    /// Reads shadow copy `snapshot` of `volume` in full, range by range at the requester's
    /// read bandwidth, and verifies it against the volume's image at the snapshot instant.
    /// `VSS_E_OBJECT_NOT_FOUND` if the shadow copy does not exist or is deleted during the
    /// read (a full diff area, rule 17).
    pub async fn read_shadow(
        &mut self,
        snapshot: SnapshotId,
        volume: VolumeId,
    ) -> Result<(), VssError> {
        let _g = self.gate.lock().await;
        if !self.current() || volume.idx() >= self.machine.volumes.len() {
            return Err(VssError::ObjectNotFound);
        }
        {
            let mut m = self.mail.borrow_mut();
            m.req(self.id).read.arm();
            m.act(Out::Read {
                requester: self.id,
                volume,
                snapshot,
            });
        }
        let complete =
            std::future::poll_fn(|cx| self.mail.borrow_mut().req(self.id).read.poll_take(cx)).await;
        if complete {
            Ok(())
        } else {
            Err(VssError::ObjectNotFound)
        }
    }

    /// Reads `count` blocks of shadow copy `snapshot` of `volume` from block `first` (blocks of
    /// the volume's block size, 4 KiB unless the scenario says otherwise), at the requester's
    /// read bandwidth: what the volume held there at the snapshot instant. At most
    /// [`MAX_READ_BLOCKS`] per call; a range past the volume's end is `E_INVALIDARG`; a shadow
    /// copy that does not exist or is deleted during the read is `VSS_E_OBJECT_NOT_FOUND`.
    pub async fn read_blocks(
        &mut self,
        snapshot: SnapshotId,
        volume: VolumeId,
        first: u64,
        count: u64,
    ) -> Result<BlockRange, VssError> {
        if count == 0 || count > MAX_READ_BLOCKS {
            return Err(VssError::InvalidArg);
        }
        let _g = self.gate.lock().await;
        if !self.current() || volume.idx() >= self.machine.volumes.len() {
            return Err(VssError::ObjectNotFound);
        }
        {
            let mut m = self.mail.borrow_mut();
            m.req(self.id).blocks.arm();
            m.act(Out::ReadBlocks {
                requester: self.id,
                volume,
                snapshot,
                first,
                count,
            });
        }
        let (h, digest, held) =
            std::future::poll_fn(|cx| self.mail.borrow_mut().req(self.id).blocks.poll_take(cx))
                .await;
        VssError::check(h)?;
        Ok(BlockRange {
            first,
            count,
            digest,
            held,
        })
    }

    /// Releases the object now and waits for the service to have taken note (dropping it
    /// releases it too, without waiting).
    pub async fn release(mut self) {
        let _g = self.gate.lock().await;
        if self.current() {
            self.mail.borrow_mut().req(self.id).object_gone();
            self.released = true;
            let _ = send(&self.mail, self.id, ApiCall::Release).await;
        }
        self.released = true;
    }
}

impl Drop for BackupComponents {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Ok(mut m) = self.mail.try_borrow_mut()
            && !m.closed
            && m.req(self.id).object == self.object
        {
            let b = m.req(self.id);
            b.object_gone();
            // Nobody waits for the reply.
            b.call_made(true);
            m.act(Out::Call {
                requester: self.id,
                call: ApiCall::Release,
            });
        }
    }
}

/// Sends call `c` for requester `id` and waits for its reply (the caller holds the gate). If
/// the waiting future is dropped (a `timeout`), its reply, when it comes, is dropped too.
async fn send(mail: &Rc<RefCell<Mailbox>>, id: RequesterId, c: ApiCall) -> (Answer, Option<u64>) {
    let seq = {
        let mut m = mail.borrow_mut();
        let seq = m.req(id).call_made(false);
        m.act(Out::Call {
            requester: id,
            call: c,
        });
        seq
    };
    let guard = Abandon { mail, id, seq };
    let answer = std::future::poll_fn(|cx| mail.borrow_mut().req(id).poll_reply(seq, cx)).await;
    std::mem::forget(guard);
    answer
}

/// Marks a call's reply unwanted if its future is dropped before it came.
struct Abandon<'a> {
    mail: &'a Rc<RefCell<Mailbox>>,
    id: RequesterId,
    seq: u64,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.mail.try_borrow_mut()
            && let Some(b) = m.reqs.get_mut(self.id.idx()).and_then(Option::as_mut)
        {
            b.abandon(self.seq);
        }
    }
}
