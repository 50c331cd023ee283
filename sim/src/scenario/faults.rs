//! Faults as data: every injected fault of a scenario, named by what it targets.
//!
//! A fault is one entry of the scenario's data: a `[[writer.fault]]`, a `[[provider.fault]]` or
//! `[[system_provider.fault]]`, a requester's `go_away_at`, a volume's bounded `diff_area`, a
//! workload's bursts. [`Scenario::faults`] lists them (a view, not a new layout) and
//! [`Scenario::without_fault`] removes exactly one, so a test can ask which fault a failure
//! needs. Each is addressed by the name of its target, never by a position.

use std::fmt;

use model::provider::ProviderFault;
use model::requester::ScriptStep;
use model::time::Duration;
use model::vss::{ProviderCall, WriterEvent};
use model::writer::FaultAction;

use super::write::short_volume_name;
use super::{Scenario, ScenarioError, WriterFaultSpec, parse};
use crate::units::{format_duration, format_size};

/// One injected fault: its target, by name, and what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultRef {
    /// A `[[writer.fault]]` entry.
    Writer {
        /// The writer's name.
        writer: String,
        /// The event it applies to.
        event: WriterEvent,
        /// What the handler does.
        action: FaultAction,
        /// Only the first N sessions that reach the event.
        sessions: Option<u32>,
    },
    /// A `[[provider.fault]]` entry (`provider` is the provider's name) or a
    /// `[[system_provider.fault]]` entry (`provider` is `None`).
    Provider {
        /// The provider's name; `None` for the system provider.
        provider: Option<String>,
        /// The call it applies to.
        call: ProviderCall,
        /// What the call does.
        action: FaultAction,
        /// Only the first N calls.
        times: Option<u32>,
    },
    /// A requester's `go_away_at`: its process dies at this virtual time (rule 27).
    GoAway {
        /// The requester's name.
        requester: String,
        /// When.
        at: Duration,
    },
    /// A `{ go_away = true }` step of a requester's script: its process dies there (rule 27).
    /// Without it the script goes on with its next step.
    ScriptGoAway {
        /// The requester's name.
        requester: String,
    },
    /// A volume's bounded `diff_area` (rules 17, 28); without it the diff area is unbounded.
    DiffArea {
        /// The volume's canonical name (`C:\`).
        volume: String,
        /// The capacity in bytes.
        bytes: u64,
    },
    /// A workload's `burst_on` / `burst_off`; without them it writes steadily.
    Burst {
        /// The workload's name.
        workload: String,
        /// Writing for this long...
        on: Duration,
        /// ... then quiet for this long.
        off: Duration,
    },
}

/// A name as the fault's text shows it: quoted when it holds a space or a quote.
struct Name<'a>(&'a str);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() || self.0.contains(|c: char| c.is_whitespace() || c == '"') {
            write!(f, "{:?}", self.0)
        } else {
            f.write_str(self.0)
        }
    }
}

fn action(f: &mut fmt::Formatter<'_>, a: &FaultAction) -> fmt::Result {
    match a {
        FaultAction::Fail(code) => write!(f, "fail {code}"),
        FaultAction::Hang => f.write_str("hang"),
        FaultAction::Delay(d) => write!(f, "delay {}", format_duration(*d)),
    }
}

impl fmt::Display for FaultRef {
    /// `writer SqlServerWriter OnFreeze fail VSS_E_WRITERERROR_TIMEOUT`, `provider HwProv
    /// CommitSnapshots hang times 1`, `system_provider PreCommitSnapshots fail
    /// VSS_E_PROVIDER_VETO`, `requester backup go_away_at 2s`, `volume D: diff_area 64MiB`,
    /// `requester script script go_away`, `workload sqlservr.exe burst 200ms 50ms`: the keys
    /// of the file, in its spellings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultRef::Writer {
                writer,
                event,
                action: a,
                sessions,
            } => {
                write!(f, "writer {} {event} ", Name(writer))?;
                action(f, a)?;
                match sessions {
                    Some(n) => write!(f, " sessions {n}"),
                    None => Ok(()),
                }
            }
            FaultRef::Provider {
                provider,
                call,
                action: a,
                times,
            } => {
                match provider {
                    Some(p) => write!(f, "provider {} {call} ", Name(p))?,
                    None => write!(f, "system_provider {call} ")?,
                }
                action(f, a)?;
                match times {
                    Some(n) => write!(f, " times {n}"),
                    None => Ok(()),
                }
            }
            FaultRef::GoAway { requester, at } => write!(
                f,
                "requester {} go_away_at {}",
                Name(requester),
                format_duration(*at)
            ),
            FaultRef::ScriptGoAway { requester } => {
                write!(f, "requester {} script go_away", Name(requester))
            }
            FaultRef::DiffArea { volume, bytes } => {
                let shown = short_volume_name(volume);
                write!(
                    f,
                    "volume {} diff_area {}",
                    Name(&shown),
                    format_size(*bytes)
                )
            }
            FaultRef::Burst { workload, on, off } => write!(
                f,
                "workload {} burst {} {}",
                Name(workload),
                format_duration(*on),
                format_duration(*off)
            ),
        }
    }
}

fn provider_ref(provider: Option<&str>, p: &ProviderFault) -> FaultRef {
    FaultRef::Provider {
        provider: provider.map(str::to_string),
        call: p.call,
        action: p.action,
        times: p.times,
    }
}

fn writer_ref(writer: &str, w: &WriterFaultSpec) -> FaultRef {
    FaultRef::Writer {
        writer: writer.to_string(),
        event: w.event,
        action: w.action,
        sessions: w.sessions,
    }
}

/// Removes the first entry of `list` that `is` names; whether one was.
fn remove_first<T>(list: &mut Vec<T>, is: impl Fn(&T) -> bool) -> bool {
    match list.iter().position(is) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

impl Scenario {
    /// Every injected fault, in the file's order of sections: volumes' diff areas, the system
    /// provider's faults, each provider's, each writer's, workloads' bursts, requesters'
    /// go-aways (`go_away_at`, then each `go_away` step of a script).
    pub fn faults(&self) -> Vec<FaultRef> {
        let mut out = Vec::new();
        for v in &self.volumes {
            if let Some(bytes) = v.diff_area {
                out.push(FaultRef::DiffArea {
                    volume: v.name.clone(),
                    bytes,
                });
            }
        }
        for p in &self.system_provider_faults {
            out.push(provider_ref(None, p));
        }
        for p in &self.providers {
            for fault in &p.faults {
                out.push(provider_ref(Some(&p.name), fault));
            }
        }
        for w in &self.writers {
            for fault in &w.faults {
                out.push(writer_ref(&w.name, fault));
            }
        }
        for w in &self.workloads {
            if let Some((on, off)) = w.burst {
                out.push(FaultRef::Burst {
                    workload: w.name.clone(),
                    on,
                    off,
                });
            }
        }
        for r in &self.requesters {
            if let Some(at) = r.go_away_at {
                out.push(FaultRef::GoAway {
                    requester: r.name.clone(),
                    at,
                });
            }
            let steps = r.script.iter().flatten();
            for _ in steps.filter(|st| **st == ScriptStep::GoAway) {
                out.push(FaultRef::ScriptGoAway {
                    requester: r.name.clone(),
                });
            }
        }
        out
    }

    /// This scenario without `fault`: the first entry that matches it (target and effect) is
    /// removed and every other entry is kept. A fault the scenario does not have leaves it
    /// unchanged.
    pub fn without_fault(&self, fault: &FaultRef) -> Scenario {
        let mut s = self.clone();
        match fault {
            FaultRef::Writer { writer, .. } => {
                for w in s.writers.iter_mut().filter(|w| &w.name == writer) {
                    if remove_first(&mut w.faults, |f| &writer_ref(writer, f) == fault) {
                        break;
                    }
                }
            }
            FaultRef::Provider { provider: None, .. } => {
                remove_first(&mut s.system_provider_faults, |f| {
                    &provider_ref(None, f) == fault
                });
            }
            FaultRef::Provider {
                provider: Some(name),
                ..
            } => {
                for p in s.providers.iter_mut().filter(|p| &p.name == name) {
                    if remove_first(&mut p.faults, |f| &provider_ref(Some(name), f) == fault) {
                        break;
                    }
                }
            }
            FaultRef::GoAway { requester, at } => {
                if let Some(r) = s
                    .requesters
                    .iter_mut()
                    .find(|r| &r.name == requester && r.go_away_at == Some(*at))
                {
                    r.go_away_at = None;
                }
            }
            FaultRef::ScriptGoAway { requester } => {
                if let Some(r) = s.requesters.iter_mut().find(|r| {
                    &r.name == requester
                        && r.script
                            .iter()
                            .flatten()
                            .any(|st| *st == ScriptStep::GoAway)
                }) {
                    let steps = r.script.as_mut().expect("a script with a go_away step");
                    let i = steps
                        .iter()
                        .position(|st| *st == ScriptStep::GoAway)
                        .expect("a go_away step");
                    steps.remove(i);
                    if i < r.script_names.len() {
                        r.script_names.remove(i);
                    }
                }
            }
            FaultRef::DiffArea { volume, bytes } => {
                if let Some(v) = s
                    .volumes
                    .iter_mut()
                    .find(|v| &v.name == volume && v.diff_area == Some(*bytes))
                {
                    v.diff_area = None;
                }
            }
            FaultRef::Burst { workload, on, off } => {
                if let Some(w) = s
                    .workloads
                    .iter_mut()
                    .find(|w| &w.name == workload && w.burst == Some((*on, *off)))
                {
                    w.burst = None;
                }
            }
        }
        s
    }

    /// Runs every check of a scenario file on this scenario (one built or changed in memory):
    /// its canonical text is parsed again, so an error names the line of that text.
    pub fn check(&self) -> Result<Scenario, ScenarioError> {
        let text = self.to_toml();
        parse(
            &format!("{} (canonical text)", self.name),
            &self.name,
            &text,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_FAULTS: &str = r#"
name = "two-faults"
[[volume]]
name = "D:"
size = "1GiB"
diff_area = "64MiB"
[[system_provider.fault]]
call = "PreCommitSnapshots"
fail = "VSS_E_PROVIDER_VETO"
times = 1
[[writer]]
name = "SQL Writer"
[[writer.fault]]
event = "OnFreeze"
fail = "VSS_E_WRITERERROR_TIMEOUT"
[[writer.fault]]
event = "OnThaw"
delay = "2s"
sessions = 1
[[workload]]
name = "app"
volumes = ["D:"]
rate = 100
burst_on = "200ms"
burst_off = "50ms"
[[requester]]
name = "backup"
go_away_at = "5s"
[[requester]]
name = "script"
script = [{ call = "InitializeForBackup" }, { go_away = true }, { call = "Release" }]
"#;

    #[test]
    fn faults_are_listed_by_target_with_a_stable_text() {
        let s = parse("<t>", "t", TWO_FAULTS).unwrap();
        let shown: Vec<String> = s.faults().iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "volume D: diff_area 64MiB",
                "system_provider PreCommitSnapshots fail VSS_E_PROVIDER_VETO times 1",
                "writer \"SQL Writer\" OnFreeze fail VSS_E_WRITERERROR_TIMEOUT",
                "writer \"SQL Writer\" OnThaw delay 2s sessions 1",
                "workload app burst 200ms 50ms",
                "requester backup go_away_at 5s",
                "requester script script go_away",
            ]
        );
    }

    #[test]
    fn removing_one_fault_keeps_every_other() {
        let s = parse("<t>", "t", TWO_FAULTS).unwrap();
        let all = s.faults();
        for f in &all {
            let without = s.without_fault(f);
            let mut rest = all.clone();
            rest.remove(all.iter().position(|g| g == f).expect("listed"));
            assert_eq!(without.faults(), rest, "removing {f}");
            assert_eq!(without.check().unwrap(), without, "{f}: re-validates");
        }
    }

    #[test]
    fn a_fault_the_scenario_does_not_have_changes_nothing() {
        let s = parse("<t>", "t", TWO_FAULTS).unwrap();
        let other = FaultRef::GoAway {
            requester: "nobody".into(),
            at: Duration::from_secs(1),
        };
        assert_eq!(s.without_fault(&other), s);
    }
}
