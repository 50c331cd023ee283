//! The provider side: how long each provider call takes and how it fails.
//!
//! The copy mechanics (the system provider's copy-on-write diff area) live in
//! [`crate::volume`]; this module is the provider's answer to each call of
//! `IVssProviderCreateSnapshotSet` (rule S19).

use crate::time::{Duration, Instant};
use crate::vss::{Hresult, ProviderCall};
use crate::writer::FaultAction;

/// What a provider does at one call, for the first `times` calls (or every call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderFault {
    /// The call.
    pub call: ProviderCall,
    /// What happens.
    pub action: FaultAction,
    /// Only the first N calls; `None` for every call.
    pub times: Option<u32>,
}

/// A provider call's outcome; `result` is the provider's HRESULT before the service translates
/// it (rule 16).
pub type ProviderResponse = crate::writer::Response;

/// Default call latency (our choice, within rule S20: CommitSnapshots well under a second).
pub fn default_latency(call: ProviderCall) -> Duration {
    match call {
        ProviderCall::EndPrepareSnapshots => Duration::from_ms(20),
        ProviderCall::CommitSnapshots => Duration::from_ms(50),
        _ => Duration::from_ms(1),
    }
}

fn call_idx(call: ProviderCall) -> usize {
    ProviderCall::ALL
        .iter()
        .position(|c| *c == call)
        .expect("every call is in ALL")
}

/// A provider's scripted behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderLogic {
    /// Latency per call, indexed like [`ProviderCall::ALL`].
    pub latency: Vec<Duration>,
    /// Faults, first match wins.
    pub faults: Vec<ProviderFault>,
    seen: Vec<u32>,
}

impl Default for ProviderLogic {
    fn default() -> ProviderLogic {
        ProviderLogic {
            latency: ProviderCall::ALL
                .iter()
                .map(|c| default_latency(*c))
                .collect(),
            faults: Vec::new(),
            seen: vec![0; ProviderCall::ALL.len()],
        }
    }
}

impl ProviderLogic {
    /// Heals the provider (rule 31): no fault fires from now on.
    pub fn heal(&mut self) {
        self.faults.clear();
    }

    /// Adds a fault from now on, ahead of the scenario's own (the first that applies wins); a
    /// `times` limit counts the calls made from now on.
    pub fn inject(&mut self, mut fault: ProviderFault) {
        let seen = self.seen[call_idx(fault.call)];
        fault.times = fault.times.map(|n| n.saturating_add(seen));
        self.faults.insert(0, fault);
    }

    /// Sets one call's latency.
    pub fn set_latency(&mut self, call: ProviderCall, latency: Duration) {
        self.latency[call_idx(call)] = latency;
    }

    /// The provider's answer to `call`, made at virtual time `now` (the scripted provider answers
    /// by its latency table; a provider run by outside code needs the time). The answer reaches
    /// the coordinator later, as `Input::ProviderAnswer` with the call's token.
    pub fn on_call(&mut self, _now: Instant, call: ProviderCall) -> ProviderResponse {
        let i = call_idx(call);
        self.seen[i] += 1;
        let n = self.seen[i];
        let faults = self.faults.iter().map(|f| (f.call, f.action, f.times));
        let (after, fault) = crate::writer::fault_response(faults, call, n, self.latency[i]);
        if let Some(response) = fault {
            return response;
        }
        ProviderResponse::Answer {
            after,
            result: Hresult::Ok,
        }
    }
}
