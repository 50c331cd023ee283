//! A model-based test of the requester API (proptest-state-machine): random sequences of
//! `IVssBackupComponents` calls, made by one requester against the real coordinator through its
//! message edge (`Coordinator::handle`), are judged by a small reference model of the
//! `VSS_E_BAD_STATE` rules.
//!
//! The machine is healthy: one writer with one component on `C:\`, optionally a second volume
//! `D:\`, the system provider; every writer event and provider call is answered `S_OK`, every
//! flush is done at once. A step either waits for what it started (the host answers everything
//! outstanding, as it would during `Wait`) or, for an asynchronous call, holds: its writer
//! events and provider calls stay unanswered until a later step waits, so `Cancel` and a second
//! asynchronous call can meet a running operation.
//!
//! For every call the model says whether it is out of order (`VSS_E_BAD_STATE`), must succeed
//! (`S_OK`), or may return anything but `VSS_E_BAD_STATE` (an argument error, `Cancel`'s
//! report of an ended operation). The model follows the "Scripted requesters" call table of
//! `scenarios/README.md` and rules S1, S12, S13, S14, S21, S23, S24, 20, 21, 22, 23, 24, 25,
//! 27 and 34-38 of `docs/rules.md`; where those are silent it takes the reading noted at the
//! rule.
//! Where the coordinator answers otherwise than the documents, the difference is a named entry
//! of `Object::deviation`, checked as the coordinator's answer, so that the suite stays green
//! and a change either way is seen.
//!
//! After every step that waits, the service must be idle (nothing left outstanding on a healthy
//! host), and the machine's creation lock (rule 20) must be held exactly when the model says.

use std::collections::VecDeque;

use model::api::{ApiCall, ApiCallKind, ComponentRef, Input, Output, ProviderArg, Timer};
use model::coordinator::Coordinator;
use model::ids::{Guid, ProviderId, RequesterId, VolumeId, WriterId};
use model::machine::{Machine, VolumeInfo};
use model::profile::Profile;
use model::time::Instant;
use model::vss::{BackupType, Hresult, ObjectType, ProviderCall, SnapshotContext};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

const R: RequesterId = RequesterId(0);
const W: WriterId = WriterId(0);
/// `C:\`, where the writer's one component lies.
const C: VolumeId = VolumeId(0);
/// `D:\`, declared only on machines with two volumes.
const D: VolumeId = VolumeId(1);
/// The writer's one component.
const STORE: ComponentRef = ComponentRef { writer: W, idx: 0 };
/// A component the writer does not declare.
const GHOST: ComponentRef = ComponentRef { writer: W, idx: 1 };
/// A provider id nobody registered.
const UNREGISTERED: Guid = Guid(0xdead_beef);
/// A shadow copy or set id no call gives (the driver's ids count up from 1).
const NOBODY: Guid = Guid(1 << 100);
/// Component mode, full backup (rule S27).
const FULL: ApiCall = ApiCall::SetBackupState {
    select_components: true,
    backup_type: BackupType::Full,
    bootable_system_state: false,
    partial_file_support: false,
};

// The steps

/// One step of a generated sequence.
#[derive(Clone, Debug)]
enum Step {
    /// Requester `R` makes `call`. `hold` (asynchronous calls only): the host does not answer
    /// what the call started until a later step waits (`wait = false` in a script).
    Call { call: ApiCall, hold: bool },
    /// `CreateVssBackupComponents` again: the current object goes away first (rule 27).
    NewObject,
}

/// What the model says a call returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Out of order: `VSS_E_BAD_STATE`.
    BadState,
    /// In order and valid on a healthy machine: `S_OK`.
    Ok,
    /// In order; anything but `VSS_E_BAD_STATE` (an argument error, or `Cancel` reporting how
    /// an ended operation ended).
    NotBadState,
}

impl Expect {
    fn admits(self, got: Hresult) -> bool {
        match self {
            Expect::BadState => got == Hresult::BadState,
            Expect::Ok => got == Hresult::Ok,
            Expect::NotBadState => got != Hresult::BadState,
        }
    }
}

// The reference model

/// Where `GatherWriterMetadata` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum Metadata {
    #[default]
    NotAsked,
    /// Asked for and not in: still running, or cancelled (then it never comes in).
    Asked,
    Gathered,
}

/// How an asynchronous operation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpState {
    Running,
    Finished,
    Cancelled,
}

/// The model of one `IVssBackupComponents` object (`Default`: a new one).
#[derive(Clone, Debug, Default)]
struct Object {
    initialized: bool,
    released: bool,
    /// The context has no writers (rules S21, 24); `VSS_CTX_BACKUP` until `SetContext`.
    writer_less: bool,
    context_set: bool,
    /// `SetBackupState`'s `bSelectComponents`, once called.
    select_components: Option<bool>,
    metadata: Metadata,
    /// The writer's component was added.
    component_added: bool,
    /// The set's volumes, once `StartSnapshotSet` succeeded.
    set: Option<Vec<VolumeId>>,
    prepared: bool,
    /// The writer takes part (fixed at `PrepareForBackup`, rules S24, 23).
    writer_takes_part: bool,
    /// `DoSnapshotSet` was accepted; how it stands.
    snapshot: Option<OpState>,
    completed: bool,
    /// `AbortBackup` did its work (rule 22).
    aborted: bool,
    /// The last asynchronous operation accepted, and how it stands.
    op: Option<(ApiCallKind, OpState)>,
}

impl Object {
    fn writers(&self) -> bool {
        !self.writer_less
    }

    fn op_running(&self) -> bool {
        matches!(self.op, Some((_, OpState::Running)))
    }

    fn snapshot_succeeded(&self) -> bool {
        self.snapshot == Some(OpState::Finished)
    }

    /// Rule 20: the creation lock is this object's from `StartSnapshotSet` until its
    /// `DoSnapshotSet` is over, or until `AbortBackup` or `Release`.
    fn holds_lock(&self) -> bool {
        self.set.is_some()
            && !self.aborted
            && !self.released
            && matches!(self.snapshot, None | Some(OpState::Running))
    }

    /// Starts asynchronous operation `kind`; `at_once`: it waits for nobody and is over on
    /// return.
    fn start(&mut self, kind: ApiCallKind, at_once: bool) {
        let state = if at_once {
            OpState::Finished
        } else {
            OpState::Running
        };
        self.op = Some((kind, state));
        if kind == ApiCallKind::DoSnapshotSet {
            self.snapshot = Some(state);
        }
    }

    /// The running operation ends with `state`.
    fn end_op(&mut self, state: OpState) {
        let Some((kind, s)) = self.op.as_mut() else {
            return;
        };
        if *s != OpState::Running {
            return;
        }
        *s = state;
        match (*kind, state) {
            (ApiCallKind::GatherWriterMetadata, OpState::Finished) => {
                self.metadata = Metadata::Gathered
            }
            (ApiCallKind::DoSnapshotSet, _) => self.snapshot = Some(state),
            _ => {}
        }
    }

    /// The host answers everything outstanding: a running operation finishes (healthy host,
    /// rule S13's `VSS_S_ASYNC_FINISHED`).
    fn settle(&mut self) {
        if !self.released {
            self.end_op(OpState::Finished);
        }
    }

    /// The documents' answer to `call`, and what the call changes.
    fn call(&mut self, call: &ApiCall, two_volumes: bool) -> Expect {
        use Expect::{BadState, NotBadState, Ok};
        let kind = call.kind();
        // README, `Release`: every call after it returns VSS_E_BAD_STATE.
        if self.released {
            return BadState;
        }
        // README, `InitializeForBackup`: every other call before it returns VSS_E_BAD_STATE
        // (AbortBackup too, rules S12, 22; Release too: the table makes no exception).
        if !self.initialized {
            if kind == ApiCallKind::InitializeForBackup {
                self.initialized = true;
                return Ok;
            }
            return BadState;
        }
        // Rules 34-36: the calls outside the sequence are accepted at every step of an
        // initialised object; the ids the steps name are nobody's (VSS_E_OBJECT_NOT_FOUND).
        if matches!(
            kind,
            ApiCallKind::IsVolumeSupported
                | ApiCallKind::GetSnapshotProperties
                | ApiCallKind::Query
                | ApiCallKind::DeleteSnapshots
        ) {
            return NotBadState;
        }
        // README: an asynchronous call while another of the same object runs.
        if kind.is_async() && self.op_running() {
            return BadState;
        }
        // Rule 22 (and README, `BackupComplete`: "after an abort"): once AbortBackup did its
        // work nothing of the backup goes on; only AbortBackup (a no-op), Cancel and Release
        // remain. The documents say it only of BackupComplete; the model reads it of every call
        // of the backup.
        if self.aborted && !kind.is_clean_up() {
            return BadState;
        }
        match call {
            // README: a second one returns VSS_E_BAD_STATE.
            ApiCall::InitializeForBackup => BadState,
            // README: after GatherWriterMetadata or StartSnapshotSet, or a second time:
            // VSS_E_BAD_STATE; VSS_CTX_ALL: E_INVALIDARG.
            ApiCall::SetContext(ctx) => {
                if self.context_set || self.metadata != Metadata::NotAsked || self.set.is_some() {
                    BadState
                } else if *ctx == SnapshotContext::All {
                    NotBadState
                } else {
                    self.writer_less = !ctx.has_writers();
                    self.context_set = true;
                    Ok
                }
            }
            // Rule S1 puts SetBackupState before PrepareForBackup and DoSnapshotSet; rule 21
            // refuses a call outside that order. The table names no other condition: it may be
            // repeated, before or after GatherWriterMetadata and StartSnapshotSet.
            ApiCall::SetBackupState {
                select_components, ..
            } => {
                if self.prepared || self.snapshot.is_some() {
                    BadState
                } else {
                    self.select_components = Some(*select_components);
                    Ok
                }
            }
            // Once per object (a cancelled one counts: its metadata never comes in). In a
            // writer-less context it may follow StartSnapshotSet (nothing there needs it).
            ApiCall::GatherWriterMetadata => {
                if self.metadata != Metadata::NotAsked {
                    BadState
                } else {
                    self.metadata = Metadata::Asked;
                    self.start(kind, false);
                    Ok
                }
            }
            // README and rules 21, 24: before GatherWriterMetadata has finished, after
            // PrepareForBackup or in a writer-less context: VSS_E_BAD_STATE. Rule S23: an
            // unknown component VSS_E_OBJECT_NOT_FOUND, a second add
            // VSS_E_OBJECT_ALREADY_EXISTS.
            ApiCall::AddComponent(c) => {
                if self.metadata != Metadata::Gathered
                    || self.prepared
                    || self.snapshot.is_some()
                    || !self.writers()
                {
                    BadState
                } else if *c == Some(STORE) && !self.component_added {
                    self.component_added = true;
                    Ok
                } else {
                    NotBadState
                }
            }
            // README: a second set, or no writer metadata yet in a context with writers.
            ApiCall::StartSnapshotSet { .. } => {
                if self.set.is_some() || (self.writers() && self.metadata != Metadata::Gathered) {
                    BadState
                } else {
                    self.set = Some(Vec::new());
                    Ok
                }
            }
            // After StartSnapshotSet (rule S1) and before DoSnapshotSet; after PrepareForBackup
            // too, though S1 lists it before (the table names no such condition). The table's
            // other codes are argument errors (rule S23).
            ApiCall::AddToSnapshotSet {
                volume, provider, ..
            } => {
                let Some(set) = self.set.as_mut() else {
                    return BadState;
                };
                if self.snapshot.is_some() {
                    return BadState;
                }
                let declared = volume.is_some_and(|v| v == C || (v == D && two_volumes));
                match *volume {
                    Some(v)
                        if declared
                            && !set.contains(&v)
                            && !matches!(provider, ProviderArg::Unregistered(_)) =>
                    {
                        set.push(v);
                        Ok
                    }
                    _ => NotBadState,
                }
            }
            // README: needs SetBackupState and a started set; VSS_E_BAD_STATE in writer-less
            // contexts (rule 24). Once (rule S1).
            ApiCall::PrepareForBackup => {
                if !self.writers()
                    || self.select_components.is_none()
                    || self.set.is_none()
                    || self.prepared
                    || self.snapshot.is_some()
                {
                    BadState
                } else {
                    self.prepared = true;
                    // Rules S24, 23: in component mode only a writer with a component added
                    // takes part; an operation with nobody to wait for is over at once.
                    self.writer_takes_part =
                        self.select_components == Some(false) || self.component_added;
                    self.start(kind, !self.writer_takes_part);
                    Ok
                }
            }
            // README: needs PrepareForBackup in a context with writers; rule S1: a started set,
            // once.
            ApiCall::DoSnapshotSet => {
                if self.set.is_none()
                    || self.snapshot.is_some()
                    || (self.writers() && !self.prepared)
                {
                    BadState
                } else {
                    // It always waits at least for the flush (rule 13).
                    self.start(kind, false);
                    Ok
                }
            }
            // Rule S14: the status of the writers that answered Identify, so after
            // GatherWriterMetadata has finished; the table names no condition.
            ApiCall::GatherWriterStatus => {
                if self.metadata != Metadata::Gathered {
                    BadState
                } else {
                    self.start(kind, false);
                    Ok
                }
            }
            // README: before DoSnapshotSet succeeded or after BackupComplete: VSS_E_BAD_STATE;
            // a component not added: VSS_E_OBJECT_NOT_FOUND.
            ApiCall::SetBackupSucceeded { component, .. } => {
                if !self.snapshot_succeeded() || self.completed {
                    BadState
                } else if *component == STORE && self.component_added {
                    Ok
                } else {
                    NotBadState
                }
            }
            // README: before DoSnapshotSet succeeded, after an abort, or in a writer-less
            // context: VSS_E_BAD_STATE. Once (rule S1).
            ApiCall::BackupComplete => {
                if !self.snapshot_succeeded() || self.completed || !self.writers() {
                    BadState
                } else {
                    self.completed = true;
                    self.start(kind, !self.writer_takes_part);
                    Ok
                }
            }
            // Rule 22: does its work from StartSnapshotSet until BackupComplete, a no-op S_OK
            // elsewhere. A DoSnapshotSet still running ends cancelled (rule 20).
            ApiCall::AbortBackup => {
                if self.set.is_some() && !self.completed && !self.aborted {
                    self.aborted = true;
                    if self.op == Some((ApiCallKind::DoSnapshotSet, OpState::Running)) {
                        self.end_op(OpState::Cancelled);
                    }
                }
                Ok
            }
            // README and rule S13: S_OK on a running operation (rule 25: a DoSnapshotSet held
            // before its writes are released is stopped); an ended one reports how it ended.
            // With no IVssAsync at all there is nothing to cancel: the model says
            // VSS_E_BAD_STATE (the documents are silent).
            ApiCall::Cancel => match self.op {
                None => BadState,
                Some((_, OpState::Running)) => {
                    self.end_op(OpState::Cancelled);
                    Ok
                }
                Some(_) => NotBadState,
            },
            // Rule 38: only before GatherWriterMetadata. The steps never leave the writer's
            // class out, so nothing else changes.
            ApiCall::DisableWriterClasses(_) | ApiCall::EnableWriterClasses(_) => {
                if self.metadata != Metadata::NotAsked {
                    BadState
                } else {
                    Ok
                }
            }
            // Answered above.
            ApiCall::IsVolumeSupported { .. }
            | ApiCall::GetSnapshotProperties(_)
            | ApiCall::Query
            | ApiCall::DeleteSnapshots { .. } => NotBadState,
            // Rule 27: the object goes away; an operation still running ends with it.
            ApiCall::Release => {
                self.released = true;
                if self.op_running() {
                    self.end_op(OpState::Cancelled);
                }
                Ok
            }
        }
    }

    /// Where the coordinator knowingly answers otherwise than the documents: the coordinator's
    /// answer, and why. `self` is the object before the call.
    fn deviation(&self, call: &ApiCall) -> Option<(Expect, &'static str)> {
        if self.released || !self.initialized {
            return None;
        }
        match call {
            // The coordinator checks the argument first: VSS_CTX_ALL is E_INVALIDARG even
            // where SetContext is out of order (every other call checks the order first).
            ApiCall::SetContext(SnapshotContext::All)
                if self.context_set
                    || self.metadata != Metadata::NotAsked
                    || self.set.is_some()
                    || self.aborted =>
            {
                Some((
                    Expect::NotBadState,
                    "SetContext(VSS_CTX_ALL) out of order: E_INVALIDARG, not VSS_E_BAD_STATE",
                ))
            }
            // Writer-less contexts: the coordinator's cut-off for SetBackupState is "past
            // PrepareForBackup", which a writer-less object never is, so it still accepts
            // SetBackupState after DoSnapshotSet.
            ApiCall::SetBackupState { .. }
                if !self.writers() && self.snapshot.is_some() && !self.aborted =>
            {
                Some((
                    Expect::Ok,
                    "SetBackupState after DoSnapshotSet in a writer-less context: S_OK",
                ))
            }
            _ => None,
        }
    }
}

/// The reference state: the machine's shape, the current object, and what the last step's call
/// must return.
#[derive(Clone, Debug)]
struct Model {
    two_volumes: bool,
    obj: Object,
    /// The last step's expected result: the documents' answer, and the coordinator's where it
    /// knowingly differs ([`Object::deviation`]).
    expect: Option<(Expect, Option<(Expect, &'static str)>)>,
}

impl Model {
    fn new(two_volumes: bool) -> Model {
        Model {
            two_volumes,
            obj: Object::default(),
            expect: None,
        }
    }

    /// The calls that take the object one step further along rule S1's sequence (or its
    /// writer-less variant, rule 24), so that generated sequences reach the late calls often.
    fn forward(&self) -> Vec<ApiCall> {
        let o = &self.obj;
        let mut v = Vec::new();
        if o.released {
            return v;
        }
        if !o.initialized {
            v.push(ApiCall::InitializeForBackup);
            return v;
        }
        if !o.context_set && o.metadata == Metadata::NotAsked && o.set.is_none() {
            let contexts = [
                SnapshotContext::Backup,
                SnapshotContext::FileShareBackup,
                SnapshotContext::AppRollback,
            ];
            v.extend(contexts.map(ApiCall::SetContext));
        }
        if o.select_components.is_none() {
            v.push(FULL);
        }
        if o.metadata == Metadata::NotAsked {
            v.push(ApiCall::GatherWriterMetadata);
        }
        if o.metadata == Metadata::Gathered && !o.component_added && !o.prepared {
            v.push(ApiCall::AddComponent(Some(STORE)));
        }
        match &o.set {
            None => v.push(ApiCall::StartSnapshotSet { new_id: Guid(0) }),
            Some(set) if o.snapshot.is_none() => {
                if set.is_empty() {
                    v.push(add_to_set(C));
                }
                if o.writers() && !o.prepared {
                    v.push(ApiCall::PrepareForBackup);
                } else {
                    v.push(ApiCall::DoSnapshotSet);
                }
            }
            Some(_) => {}
        }
        if o.snapshot_succeeded() && !o.completed {
            v.push(ApiCall::SetBackupSucceeded {
                component: STORE,
                succeeded: true,
            });
            v.push(ApiCall::BackupComplete);
            v.push(ApiCall::GatherWriterStatus);
        }
        if o.op_running() {
            v.push(ApiCall::Cancel);
        }
        if o.completed || o.aborted {
            v.push(ApiCall::Release);
        }
        v
    }
}

fn add_to_set(volume: VolumeId) -> ApiCall {
    ApiCall::AddToSnapshotSet {
        volume: Some(volume),
        provider: ProviderArg::Any,
        new_id: Guid(0),
    }
}

/// Any call, with its arguments (valid or not). Ids are placeholders: the driver draws them.
fn any_call() -> BoxedStrategy<ApiCall> {
    let component = select(vec![STORE, GHOST]);
    prop_oneof![
        Just(ApiCall::InitializeForBackup),
        select(SnapshotContext::ALL).prop_map(ApiCall::SetContext),
        (
            any::<bool>(),
            select(vec![BackupType::Full, BackupType::Copy])
        )
            .prop_map(|(select_components, backup_type)| ApiCall::SetBackupState {
                select_components,
                bootable_system_state: false,
                backup_type,
                partial_file_support: false,
            }),
        Just(ApiCall::GatherWriterMetadata),
        proptest::option::weighted(0.9, component.clone()).prop_map(ApiCall::AddComponent),
        Just(ApiCall::StartSnapshotSet { new_id: Guid(0) }),
        (
            proptest::option::weighted(0.9, select(vec![C, D])),
            select(vec![
                ProviderArg::Any,
                ProviderArg::Registered(ProviderId(0)),
                ProviderArg::Unregistered(UNREGISTERED),
            ]),
        )
            .prop_map(|(volume, provider)| ApiCall::AddToSnapshotSet {
                volume,
                provider,
                new_id: Guid(0),
            }),
        Just(ApiCall::PrepareForBackup),
        Just(ApiCall::DoSnapshotSet),
        Just(ApiCall::GatherWriterStatus),
        (component, any::<bool>()).prop_map(|(component, succeeded)| ApiCall::SetBackupSucceeded {
            component,
            succeeded
        }),
        Just(ApiCall::BackupComplete),
        Just(ApiCall::AbortBackup),
        Just(ApiCall::Cancel),
        Just(ApiCall::Release),
        (
            proptest::option::weighted(0.9, select(vec![C, D])),
            select(vec![
                ProviderArg::Any,
                ProviderArg::Unregistered(UNREGISTERED)
            ]),
        )
            .prop_map(|(volume, provider)| ApiCall::IsVolumeSupported { volume, provider }),
        Just(ApiCall::GetSnapshotProperties(NOBODY)),
        Just(ApiCall::Query),
        select(vec![ObjectType::Snapshot, ObjectType::SnapshotSet]).prop_map(|object| {
            ApiCall::DeleteSnapshots {
                source: NOBODY,
                object,
                force: false,
            }
        }),
        // Another class, and the writer's own (`Guid(1)`): the writer always takes part.
        Just(ApiCall::DisableWriterClasses(vec![Guid(0x77)])),
        Just(ApiCall::EnableWriterClasses(vec![Guid(1)])),
    ]
    .boxed()
}

/// A call as a step: an asynchronous call holds one time in four.
fn step(call: impl Strategy<Value = ApiCall>) -> impl Strategy<Value = Step> {
    (call, proptest::bool::weighted(0.25)).prop_map(|(call, hold)| {
        let hold = hold && call.is_async();
        Step::Call { call, hold }
    })
}

struct ApiModel;

impl ReferenceStateMachine for ApiModel {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        any::<bool>().prop_map(Model::new).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        let forward = state.forward();
        if forward.is_empty() {
            return prop_oneof![19 => step(any_call()), 1 => Just(Step::NewObject)].boxed();
        }
        prop_oneof![
            12 => step(select(forward)),
            7 => step(any_call()),
            1 => Just(Step::NewObject),
        ]
        .boxed()
    }

    fn apply(mut state: Model, step: &Step) -> Model {
        match step {
            Step::NewObject => {
                // Rule 27: an object not released goes away first.
                state.obj = Object::default();
                state.expect = None;
            }
            Step::Call { call, hold } => {
                let deviation = state.obj.deviation(call);
                let expect = state.obj.call(call, state.two_volumes);
                state.expect = Some((expect, deviation));
                if !hold {
                    state.obj.settle();
                }
            }
        }
        state
    }
}

// The system under test: the coordinator and a healthy host around it

struct Host {
    c: Coordinator,
    /// What held steps asked of the host and nobody has answered yet.
    outstanding: Vec<Output>,
    now_ms: u64,
    next_id: u128,
}

impl Host {
    fn feed(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        self.c
            .handle(Instant::from_us(self.now_ms * 1000), input, &mut out);
        out
    }

    /// Keeps what `out` asks the host for, unanswered.
    fn hold(&mut self, out: &[Output]) {
        let asks = out.iter().filter(|o| healthy(o).is_some()).cloned();
        self.outstanding.extend(asks);
    }

    /// Answers, as a healthy host, everything outstanding, then `out`, and everything the
    /// answers lead to; returns `out` and every output on the way.
    fn settle(&mut self, out: Vec<Output>) -> Vec<Output> {
        let mut all = Vec::new();
        let mut todo: VecDeque<Output> = std::mem::take(&mut self.outstanding).into();
        todo.extend(out);
        while let Some(o) = todo.pop_front() {
            assert!(all.len() < 100_000, "a healthy host's answers never end");
            if let Some(input) = healthy(&o) {
                todo.extend(self.feed(input));
            }
            all.push(o);
        }
        all
    }

    /// Requester `R` makes `call` (`hold`: nothing it starts is answered yet); returns what the
    /// call returned.
    fn call(&mut self, call: &ApiCall, hold: bool) -> Hresult {
        self.now_ms += 1;
        let call = self.with_ids(call);
        let kind = call.kind();
        let out = self.feed(Input::Call { requester: R, call });
        // An asynchronous call returns its IVssAsync at once; AddToSnapshotSet returns when the
        // provider answers BeginPrepareSnapshot (rule 1).
        if hold {
            self.hold(&out);
            reply_of(&out, kind)
        } else {
            reply_of(&self.settle(out), kind)
        }
    }

    /// Gives a fresh id to the calls that carry one.
    fn with_ids(&mut self, call: &ApiCall) -> ApiCall {
        let mut call = call.clone();
        match &mut call {
            ApiCall::StartSnapshotSet { new_id } | ApiCall::AddToSnapshotSet { new_id, .. } => {
                self.next_id += 1;
                *new_id = Guid(self.next_id);
            }
            _ => {}
        }
        call
    }
}

/// What a healthy host answers to `o`: `S_OK` from writers and providers (`AbortSnapshots` is
/// never answered), the flush done at once, an operation that needs no writer finished.
fn healthy(o: &Output) -> Option<Input> {
    match *o {
        Output::WriterEvent { token, .. } => Some(Input::WriterAnswer {
            token,
            result: Hresult::Ok,
        }),
        Output::ProviderCall { call, token, .. } if call != ProviderCall::AbortSnapshots => {
            Some(Input::ProviderAnswer {
                token,
                result: Hresult::Ok,
            })
        }
        Output::FlushAndHold { token, .. } => Some(Input::FlushDone { token }),
        Output::SetTimer {
            timer: timer @ Timer::AsyncFinish { .. },
            ..
        } => Some(Input::Timer(timer)),
        _ => None,
    }
}

/// The one reply to `R`'s `kind` among `out`.
fn reply_of(out: &[Output], kind: ApiCallKind) -> Hresult {
    let replies: Vec<Hresult> = out
        .iter()
        .filter_map(|o| match o {
            Output::Reply {
                requester,
                call,
                result,
                ..
            } if *requester == R && *call == kind => Some(*result),
            _ => None,
        })
        .collect();
    match replies[..] {
        [r] => r,
        _ => panic!("{kind:?} is answered once, got {replies:?}: {out:?}"),
    }
}

impl StateMachineTest for ApiModel {
    type SystemUnderTest = Host;
    type Reference = ApiModel;

    fn init_test(model: &Model) -> Host {
        let mut machine = Machine::one_writer_one_volume();
        if model.two_volumes {
            machine.volumes.push(VolumeInfo {
                name: "D:\\".into(),
                bytes: 1 << 30,
            });
        }
        Host {
            c: Coordinator::new(Profile::windows(), machine, 1),
            outstanding: Vec::new(),
            now_ms: 0,
            next_id: 0,
        }
    }

    fn apply(mut host: Host, model: &Model, step: Step) -> Host {
        match step {
            Step::NewObject => {
                host.now_ms += 1;
                let out = host.feed(Input::NewObject { requester: R });
                host.settle(out);
            }
            Step::Call { call, hold } => {
                let got = host.call(&call, hold);
                let (docs, deviation) = model.expect.expect("a call sets the expectation");
                let expect = deviation.map_or(docs, |(e, _)| e);
                assert!(
                    expect.admits(got),
                    "{call:?} returned {got:?}; the model expects {expect:?}{}\nmodel after the \
                     call: {:?}",
                    deviation.map_or(String::new(), |(_, why)| format!(" (deviation: {why})")),
                    model.obj,
                );
            }
        }
        host
    }

    fn check_invariants(host: &Host, model: &Model) {
        if host.outstanding.is_empty() {
            assert!(
                host.c.is_idle(),
                "a healthy host answered everything, yet the service is not idle"
            );
        }
        // Rule 20.
        assert_eq!(
            host.c.creation_lock().is_some(),
            model.obj.holds_lock(),
            "the creation lock; model: {:?}",
            model.obj
        );
    }
}

prop_state_machine! {
    #![proptest_config(Config {
        cases: 512,
        rng_seed: RngSeed::Fixed(0xa91),
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn requester_calls_are_refused_exactly_when_out_of_order(sequential 1..=30 => ApiModel);
}

/// Runs `calls` (each waited for) through the model and the coordinator; returns, for the last
/// call, what the coordinator returned, the documents' answer and the deviation named, if any.
fn run_script(calls: &[ApiCall]) -> (Hresult, Expect, Option<&'static str>) {
    let mut model = Model::new(false);
    let mut host = <ApiModel as StateMachineTest>::init_test(&model);
    let mut last = None;
    for call in calls {
        let step = Step::Call {
            call: call.clone(),
            hold: false,
        };
        model = <ApiModel as ReferenceStateMachine>::apply(model, &step);
        let got = host.call(call, false);
        let (docs, deviation) = model.expect.expect("a call sets the expectation");
        last = Some((got, docs, deviation.map(|(_, why)| why)));
    }
    last.expect("at least one call")
}

/// The shortest sequences that show each deviation, so that the report of one is reproducible.
#[test]
fn each_deviation_has_a_minimal_sequence() {
    use ApiCall::{DoSnapshotSet, GatherWriterMetadata, InitializeForBackup, PrepareForBackup};
    use SnapshotContext::{All, Backup, FileShareBackup};
    let start = ApiCall::StartSnapshotSet { new_id: Guid(0) };
    // A second SetContext, with VSS_CTX_ALL: the README says VSS_E_BAD_STATE (a second time),
    // the coordinator checks the argument first.
    let calls = [
        InitializeForBackup,
        ApiCall::SetContext(Backup),
        ApiCall::SetContext(All),
    ];
    let got = run_script(&calls);
    assert!(
        matches!(got, (Hresult::InvalidArg, Expect::BadState, Some(_))),
        "{got:?}"
    );
    // SetBackupState after DoSnapshotSet: refused with writers, accepted writer-less.
    let calls = [
        InitializeForBackup,
        FULL,
        GatherWriterMetadata,
        start.clone(),
        PrepareForBackup,
        DoSnapshotSet,
        FULL,
    ];
    let got = run_script(&calls);
    assert!(
        matches!(got, (Hresult::BadState, Expect::BadState, None)),
        "{got:?}"
    );
    let calls = [
        InitializeForBackup,
        ApiCall::SetContext(FileShareBackup),
        start,
        DoSnapshotSet,
        FULL,
    ];
    let got = run_script(&calls);
    assert!(
        matches!(got, (Hresult::Ok, Expect::BadState, Some(_))),
        "{got:?}"
    );
}
