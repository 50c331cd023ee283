//! The writer trait: [`Writer`] mirrors `CVssWriter`, async. The simulated service delivers each
//! event to your writer as it would to a scripted one (one handler at a time, the same time
//! limits, rule 30); your handler's answer goes back at the virtual time it returns.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;

use model::ids::{VolumeId, WriterId};
use model::machine::Machine;
use model::time::Duration;
use model::vss::{ApplicationLevel, Hresult, UsageType, VssError, WriterEvent};

use crate::guest::mailbox::{Delivery, Mailbox, Out};

/// `CVssWriter`, as async Rust. Each handler returns `true` for success, or calls
/// [`WriterCx::set_writer_failure`] and returns `false` (rule S9). A handler that returns
/// `false` without setting a failure fails the event with `VSS_E_WRITERERROR_NONRETRYABLE`; one
/// that sets a failure and returns `true` fails it too (rule 32).
///
/// A handler may take virtual time (`tokio::time::sleep`), and the service's limits apply to it:
/// the 60-second freeze window (your registration's `timeout_freeze`) from Freeze to Thaw, the
/// response limit for the other events (rules 7, 11). A handler that never returns is given up on
/// by those limits; its later answer is ignored (rule 30).
///
/// The required handlers are those `CVssWriter` declares pure virtual: `OnPrepareSnapshot`,
/// `OnFreeze`, `OnThaw`, `OnAbort`.
pub trait Writer: 'static {
    /// `OnIdentify`: describe the writer's components and the volumes their files are on.
    /// Asked once when the writer subscribes (the machine learns its metadata then) and again
    /// at every Identify event; rule S2 wants the same answer each time, and a writer whose
    /// answer changes ends the run with an error that says so. A writer that takes over one
    /// of the scenario's and describes no component keeps the components the scenario
    /// declares for it.
    fn on_identify(&mut self, metadata: &mut Metadata) -> impl Future<Output = bool> {
        let _ = metadata;
        async { true }
    }
    /// `OnPrepareBackup`.
    fn on_prepare_backup(&mut self, cx: &mut WriterCx) -> impl Future<Output = bool> {
        let _ = cx;
        async { true }
    }
    /// `OnPrepareSnapshot`: [`WriterCx::set_volumes`] holds the set's volumes.
    fn on_prepare_snapshot(&mut self, cx: &mut WriterCx) -> impl Future<Output = bool>;
    /// `OnFreeze`: stop writing (see [`WriterCx::freeze_application`]).
    fn on_freeze(&mut self, cx: &mut WriterCx) -> impl Future<Output = bool>;
    /// `OnThaw`: write again.
    fn on_thaw(&mut self, cx: &mut WriterCx) -> impl Future<Output = bool>;
    /// `OnPostSnapshot`.
    fn on_post_snapshot(&mut self, cx: &mut WriterCx) -> impl Future<Output = bool> {
        let _ = cx;
        async { true }
    }
    /// `OnAbort`.
    fn on_abort(&mut self, cx: &mut WriterCx) -> impl Future<Output = bool>;
    /// `OnBackupComplete`.
    fn on_backup_complete(&mut self, cx: &mut WriterCx) -> impl Future<Output = bool> {
        let _ = cx;
        async { true }
    }
    /// `OnBackupShutdown`.
    fn on_backup_shutdown(&mut self, cx: &mut WriterCx) -> impl Future<Output = bool> {
        let _ = cx;
        async { true }
    }
}

/// What `CVssWriter::Initialize` registers: the writer's name, usage, application level
/// (its place in the freeze order, rule S5) and `dwTimeoutFreeze` (its freeze window, rule 7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The writer's name, as `vssadmin list writers` prints it; a writer of the scenario with
    /// this name is taken over (your code answers its events).
    pub name: String,
    /// Usage type.
    pub usage: UsageType,
    /// Application level.
    pub level: ApplicationLevel,
    /// `dwTimeoutFreeze`; `None` is the profile's default (60 s).
    pub timeout_freeze: Option<Duration>,
}

impl Registration {
    /// A writer called `name`: a user-data writer at `VSS_APP_FRONT_END` (`Initialize`'s
    /// default), with the profile's freeze window.
    pub fn new(name: &str) -> Registration {
        Registration {
            name: name.to_string(),
            usage: UsageType::UserData,
            level: ApplicationLevel::FrontEnd,
            timeout_freeze: None,
        }
    }

    /// Sets the application level.
    pub fn level(mut self, level: ApplicationLevel) -> Registration {
        self.level = level;
        self
    }

    /// Sets `dwTimeoutFreeze`.
    pub fn timeout_freeze(mut self, d: Duration) -> Registration {
        self.timeout_freeze = Some(d);
        self
    }

    /// Sets the usage type.
    pub fn usage(mut self, usage: UsageType) -> Registration {
        self.usage = usage;
        self
    }
}

/// The metadata `OnIdentify` builds (`IVssCreateWriterMetadata`): components and the volumes
/// their files lie on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The machine's volume names, to name volumes by.
    pub(crate) volume_names: Vec<String>,
    /// Components added so far: name, logical path, volumes.
    pub(crate) components: Vec<(String, String, Vec<VolumeId>)>,
    /// A volume name the machine does not have, if one was given.
    pub(crate) unknown: Option<String>,
}

impl Metadata {
    /// `AddComponent` (with `AddFilesToFileGroup` for its files): a component named `name` at
    /// `logical_path` (`""` for top level) whose files lie on the volumes named `volumes`
    /// (e.g. `D:\`). A name the machine has no volume for ends the run with an error that
    /// names it.
    pub fn add_component(&mut self, name: &str, logical_path: &str, volumes: &[&str]) {
        let mut ids = Vec::new();
        for v in volumes {
            match self.volume_names.iter().position(|n| n == v) {
                Some(i) => ids.push(VolumeId::from_index(i)),
                None => {
                    self.unknown.get_or_insert_with(|| (*v).to_string());
                }
            }
        }
        self.components
            .push((name.to_string(), logical_path.to_string(), ids));
    }
}

/// What a handler is given: the event, the snapshot set, the writer's application, and
/// `SetWriterFailure`.
pub struct WriterCx {
    pub(crate) writer: WriterId,
    pub(crate) delivery: Delivery,
    pub(crate) failure: Option<VssError>,
    pub(crate) mail: Rc<RefCell<Mailbox>>,
    pub(crate) machine: Rc<Machine>,
}

impl WriterCx {
    /// The event being handled.
    pub fn event(&self) -> WriterEvent {
        self.delivery.event
    }

    /// `CVssWriter::SetWriterFailure`: the event fails with `code`, one of the
    /// `VSS_E_WRITERERROR_*` codes (rule S9).
    pub fn set_writer_failure(&mut self, code: VssError) {
        self.failure = Some(code);
    }

    /// For PrepareForSnapshot: the volumes in the snapshot set (what `IsPathAffected` asks).
    pub fn set_volumes(&self) -> &[VolumeId] {
        &self.delivery.set_volumes
    }

    /// For PrepareForSnapshot: the writer's components the requester selected, by index.
    pub fn selected_components(&self) -> &[u16] {
        &self.delivery.selected
    }

    /// The volume named `name`, if the machine has it.
    pub fn volume(&self, name: &str) -> Option<VolumeId> {
        self.machine
            .volumes
            .iter()
            .position(|v| v.name == name)
            .map(VolumeId::from_index)
    }

    /// Freezes the writer's application (the scenario's workload with `writer = ` this
    /// writer): the unit it is writing (a transaction, a file generation) is finished, then it
    /// writes nothing until [`WriterCx::thaw_application`]. A writer that returns from
    /// `OnFreeze` without this lets its application write on through the snapshot instant.
    pub fn freeze_application(&mut self) {
        self.app(true);
    }

    /// Lets the writer's application write again.
    pub fn thaw_application(&mut self) {
        self.app(false);
    }

    fn app(&mut self, frozen: bool) {
        self.mail.borrow_mut().act(Out::App {
            writer: self.writer,
            token: self.delivery.token,
            frozen,
        });
    }
}

/// The loop a guest writer runs: the next event, its handler, the answer.
pub(crate) async fn run_writer<W: Writer>(
    mut w: W,
    writer: WriterId,
    first: Metadata,
    mail: Rc<RefCell<Mailbox>>,
    machine: Rc<Machine>,
) {
    loop {
        let delivery = std::future::poll_fn(|cx| {
            let mut m = mail.borrow_mut();
            let b = m.writers[writer.idx()]
                .as_mut()
                .expect("a guest writer has its box");
            match b.events.pop_front() {
                Some(d) => Poll::Ready(d),
                None => {
                    b.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await;
        let token = delivery.token;
        let mut cx = WriterCx {
            writer,
            delivery,
            failure: None,
            mail: mail.clone(),
            machine: machine.clone(),
        };
        let ok = match cx.delivery.event {
            WriterEvent::Identify => {
                let mut md = Metadata {
                    volume_names: first.volume_names.clone(),
                    ..Metadata::default()
                };
                let ok = w.on_identify(&mut md).await;
                if md != first {
                    let name = &machine.writers[writer.idx()].name;
                    mail.borrow_mut().panicked.get_or_insert(format!(
                        "writer {name:?} described other components at Identify than when it \
                         subscribed; rule S2: OnIdentify must give the same answer every time"
                    ));
                }
                ok
            }
            WriterEvent::PrepareForBackup => w.on_prepare_backup(&mut cx).await,
            WriterEvent::PrepareForSnapshot => w.on_prepare_snapshot(&mut cx).await,
            WriterEvent::Freeze => w.on_freeze(&mut cx).await,
            WriterEvent::Thaw => w.on_thaw(&mut cx).await,
            WriterEvent::PostSnapshot => w.on_post_snapshot(&mut cx).await,
            WriterEvent::Abort => w.on_abort(&mut cx).await,
            WriterEvent::BackupComplete => w.on_backup_complete(&mut cx).await,
            WriterEvent::BackupShutdown => w.on_backup_shutdown(&mut cx).await,
            // Restore events are never sent in a backup.
            _ => true,
        };
        let result = match (ok, cx.failure) {
            (_, Some(e)) => Hresult::from(e),
            (true, None) => Hresult::Ok,
            (false, None) => Hresult::WriterErrorNonRetryable,
        };
        mail.borrow_mut().act(Out::Answer {
            writer,
            token,
            result,
        });
    }
}
