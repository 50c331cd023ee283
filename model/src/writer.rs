//! The application side of a writer: how long each handler takes and how it fails.
//!
//! The service-wide writer *status* (`VSS_WRITER_STATE`, last error) belongs to the coordinator
//! (rule 26: `GatherWriterStatus` reads what the service holds). This module is the
//! writer process: given an event, it answers after a latency, fails it, or never answers.
//! [`WriterLogic`] is an enum so a user-supplied async writer (rule 32) can become a variant.

use crate::ids::VolumeId;
use crate::machine::WriterInfo;
use crate::time::{Duration, Instant};
use crate::vss::{Hresult, WriterEvent};

/// What a writer does at one event, for the first `sessions` times it sees that event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterFault {
    /// The event.
    pub event: WriterEvent,
    /// What happens.
    pub action: FaultAction,
    /// Only the first N times the event arrives (rule 12); `None` for every time.
    pub sessions: Option<u32>,
}

/// A fault's effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// The handler returns false with this failure code (`SetWriterFailure`).
    Fail(Hresult),
    /// The handler never returns (rules 7, 11 bound the wait).
    Hang,
    /// The handler takes this long instead of its usual latency.
    Delay(Duration),
}

/// What a writer's handler or a provider's method does with one event or call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    /// Returns after `after` with `result` (`S_OK` or a failure code).
    Answer {
        /// How long it takes.
        after: Duration,
        /// `S_OK` or the failure.
        result: Hresult,
    },
    /// Never returns.
    Hang,
}

/// What the writer process does with one event.
pub type WriterResponse = Response;

/// Applies the first fault that matches the `n`th arrival of `what` (rule 12: a
/// fault limited to N applies to the first N arrivals), else answers `S_OK` after `latency`.
/// `None` when no fault fails or hangs (the caller may still check more).
pub(crate) fn fault_response<'a, K: PartialEq + 'a>(
    faults: impl Iterator<Item = (K, FaultAction, Option<u32>)>,
    what: K,
    n: u32,
    latency: Duration,
) -> (Duration, Option<Response>) {
    let mut after = latency;
    for (k, action, limit) in faults {
        if k != what || limit.is_some_and(|limit| n > limit) {
            continue;
        }
        match action {
            FaultAction::Fail(code) => {
                return (
                    after,
                    Some(Response::Answer {
                        after,
                        result: code,
                    }),
                );
            }
            FaultAction::Hang => return (after, Some(Response::Hang)),
            FaultAction::Delay(d) => {
                after = d;
                break;
            }
        }
    }
    (after, None)
}

/// A scripted writer: fixed per-event latencies and a list of faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptedWriter {
    /// Handler latency per event, indexed like [`WriterEvent::ALL`].
    pub latency: Vec<Duration>,
    /// Faults, checked in order; the first that applies wins.
    pub faults: Vec<WriterFault>,
    /// Rule 5b: fail PrepareForSnapshot when the set holds only some of the volumes
    /// of the writer's selected components.
    pub checks_volume_set: bool,
    /// How many times each event has arrived, indexed like [`WriterEvent::ALL`].
    seen: Vec<u32>,
}

/// Default handler latency for an event (our choice; Microsoft documents none).
pub fn default_latency(event: WriterEvent) -> Duration {
    match event {
        WriterEvent::Identify => Duration::from_ms(2),
        WriterEvent::PrepareForBackup => Duration::from_ms(5),
        WriterEvent::PrepareForSnapshot => Duration::from_ms(20),
        WriterEvent::Freeze => Duration::from_ms(10),
        WriterEvent::Thaw => Duration::from_ms(5),
        WriterEvent::PostSnapshot => Duration::from_ms(5),
        WriterEvent::BackupComplete => Duration::from_ms(5),
        _ => Duration::from_ms(1),
    }
}

fn event_idx(event: WriterEvent) -> usize {
    WriterEvent::ALL
        .iter()
        .position(|e| *e == event)
        .expect("every event is in ALL")
}

impl ScriptedWriter {
    /// A writer with default latencies and no faults.
    pub fn new(checks_volume_set: bool) -> ScriptedWriter {
        ScriptedWriter {
            latency: WriterEvent::ALL
                .iter()
                .map(|e| default_latency(*e))
                .collect(),
            faults: Vec::new(),
            checks_volume_set,
            seen: vec![0; WriterEvent::ALL.len()],
        }
    }

    /// Sets one event's handler latency.
    pub fn set_latency(&mut self, event: WriterEvent, latency: Duration) {
        self.latency[event_idx(event)] = latency;
    }
}

/// The writer process behind a subscribed writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriterLogic {
    /// Scenario-defined behaviour.
    Scripted(ScriptedWriter),
}

impl WriterLogic {
    /// Heals the writer (rule 31): no fault of its script fires from now on.
    pub fn heal(&mut self) {
        match self {
            WriterLogic::Scripted(w) => w.faults.clear(),
        }
    }

    /// Adds a fault from now on, ahead of the script's own (the first that applies wins); a
    /// `sessions` limit counts the events that arrive from now on.
    pub fn inject(&mut self, mut fault: WriterFault) {
        match self {
            WriterLogic::Scripted(w) => {
                let seen = w.seen[event_idx(fault.event)];
                fault.sessions = fault.sessions.map(|n| n.saturating_add(seen));
                w.faults.insert(0, fault);
            }
        }
    }

    /// The writer's answer to `event`, delivered at virtual time `now` (the scripted writer
    /// answers by its latency table and does not need it; a writer run by outside code does).
    /// `set_volumes` and `selected` are given with PrepareForSnapshot so the writer can check
    /// the set (rule 5b). The answer reaches the coordinator later, as
    /// `Input::WriterAnswer` with the event's token.
    pub fn on_event(
        &mut self,
        _now: Instant,
        info: &WriterInfo,
        event: WriterEvent,
        set_volumes: &[VolumeId],
        selected: &[u16],
    ) -> WriterResponse {
        match self {
            WriterLogic::Scripted(w) => {
                let i = event_idx(event);
                w.seen[i] += 1;
                let n = w.seen[i];
                let faults = w.faults.iter().map(|f| (f.event, f.action, f.sessions));
                let (after, fault) = fault_response(faults, event, n, w.latency[i]);
                if let Some(response) = fault {
                    return response;
                }
                if event == WriterEvent::PrepareForSnapshot
                    && w.checks_volume_set
                    && !volume_set_consistent(info, set_volumes, selected)
                {
                    return WriterResponse::Answer {
                        after,
                        result: Hresult::WriterErrorInconsistentSnapshot,
                    };
                }
                WriterResponse::Answer {
                    after,
                    result: Hresult::Ok,
                }
            }
        }
    }
}

/// Rule 5b: the volumes holding the selected components' files are either all in the
/// set or none of them is.
pub fn volume_set_consistent(
    info: &WriterInfo,
    set_volumes: &[VolumeId],
    selected: &[u16],
) -> bool {
    let mut any_in = false;
    let mut any_out = false;
    for &c in selected {
        for v in &info.components[c as usize].volumes {
            if set_volumes.contains(v) {
                any_in = true;
            } else {
                any_out = true;
            }
        }
    }
    !(any_in && any_out)
}
