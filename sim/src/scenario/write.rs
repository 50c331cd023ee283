//! A scenario back to its file: the canonical text `vss-sim scenario fmt` prints.
//!
//! [`Scenario`] serializes (serde) as the file's shape ([`super::raw`]), so the keys are the
//! ones `scenarios/README.md` documents and the values carry VSS spellings and units.
//! Canonical means:
//!
//! - `name` is always written (a file without one takes its file name, so the text would
//!   otherwise change meaning when saved elsewhere); every other key that holds its default is
//!   left out, and empty tables and lists are not written;
//! - durations, sizes and bandwidths are written in the largest unit that holds them whole
//!   (`"10min"`, `"64GiB"`, `"200MB/s"`), volumes by their canonical name (`"C:"` for a drive's
//!   root), latency tables in the order of rule 2, events with their `On` spelling;
//! - sections in the order of the README: the top-level keys, `[machine]`, `[profile]`, `[run]`,
//!   `[[volume]]`, `[system_provider]`, `[[provider]]`, `[[writer]]`, `[[workload]]`,
//!   `[[requester]]`, `[expect]`; latency tables and `[expect]`'s tables inline, script steps
//!   and expected calls one inline table a line.
//!
//! Parsing the text gives back an equal [`Scenario`], and formatting that gives the same text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use model::api::{ApiCall, ProviderArg};
use model::profile::Profile;
use model::requester::{Policy, ScriptStep, WriterFailurePolicy};
use model::time::Duration;
use model::vss::{ApplicationLevel, BackupType, Hresult, SnapshotContext, UsageType, WriterState};
use model::writer::FaultAction;
use serde::{Serialize, Serializer};
use toml::Spanned;

use super::check::machine::{
    DEFAULT_EPOCH, DEFAULT_MACHINE_NAME, DEFAULT_MAX_STEPS, DEFAULT_MAX_VIRTUAL_TIME,
    DEFAULT_SETTLE_WITHIN,
};
use super::raw::{
    RawCallExpect, RawComponent, RawExpect, RawMachine, RawPolicy, RawProfile, RawProvider,
    RawProviderFault, RawRequester, RawRun, RawScenario, RawStep, RawSystemProvider, RawVolume,
    RawWorkload, RawWriter, RawWriterExpect, RawWriterFault,
};
use super::{
    Pattern, RequesterSpec, Scenario, StepNames, VolumeSpec, WorkloadSpec, WriterFaultSpec,
    WriterSpec,
};
use crate::units::{Bandwidth, Dur, Size, format_size};

/// The block size a volume has when the file gives none.
pub(crate) const DEFAULT_BLOCK_SIZE: u32 = 4096;
/// A workload's write latency when the file gives none.
pub(crate) const DEFAULT_WRITE_LATENCY: Duration = Duration::from_us(200);
/// A requester's read bandwidth when the file gives none (200 MB/s).
pub(crate) const DEFAULT_READ_BANDWIDTH: u64 = 200_000_000;
/// A provider's version string when the file gives none.
pub(crate) const DEFAULT_PROVIDER_VERSION: &str = "1.0";

impl Scenario {
    /// The scenario's canonical text: a scenario file that parses back to an equal scenario.
    pub fn to_toml(&self) -> String {
        let mut raw = self.to_raw();
        // The file may hold integers up to 2^64 - 1, which TOML values (i64) cannot: such a
        // `seed` or `max_steps` is written through a placeholder line, replaced below (each
        // key occurs once), and a workload region is capped, which changes no run (a region
        // is never larger than its volume).
        let big = |n: Option<u64>| n.filter(|&n| i64::try_from(n).is_err());
        let big_seed = big(raw.seed);
        let big_steps = big(raw.run.max_steps);
        if big_seed.is_some() {
            raw.seed = Some(0);
        }
        if big_steps.is_some() {
            raw.run.max_steps = Some(0);
        }
        for w in &mut raw.workload {
            w.blocks = w
                .blocks
                .take()
                .map(|b| sp((*b.get_ref()).min(i64::MAX as u64)));
        }
        let value = toml::Value::try_from(raw).expect("every integer of the file fits in i64");
        let toml::Value::Table(table) = value else {
            unreachable!("a scenario serializes as a table")
        };
        let mut out = String::new();
        section(&mut out, "", &table, 0);
        for (key, n) in [("seed", big_seed), ("max_steps", big_steps)] {
            if let Some(n) = n {
                let placeholder = format!("{key} = 0");
                let lines: Vec<String> = out
                    .lines()
                    .map(|l| {
                        if l == placeholder {
                            format!("{key} = {n}")
                        } else {
                            l.to_string()
                        }
                    })
                    .collect();
                out = lines.join("\n") + "\n";
            }
        }
        out
    }

    /// The file's shape of this scenario, defaults left out.
    pub(crate) fn to_raw(&self) -> RawScenario {
        let vols = &self.volumes;
        let all: Vec<usize> = (0..vols.len()).collect();
        RawScenario {
            name: Some(self.name.clone()),
            description: (!self.description.is_empty()).then(|| self.description.clone()),
            seed: (self.seed != 0).then_some(self.seed),
            machine: RawMachine {
                name: (self.machine_name != DEFAULT_MACHINE_NAME)
                    .then(|| self.machine_name.clone()),
                epoch: (self.epoch != DEFAULT_EPOCH).then(|| self.epoch.clone()),
            },
            profile: profile(&self.profile),
            run: RawRun {
                max_virtual_time: changed(self.max_virtual_time, DEFAULT_MAX_VIRTUAL_TIME).map(Dur),
                max_steps: changed(self.max_steps, DEFAULT_MAX_STEPS),
                heal_at: self.heal.map(|h| Dur(h.at)),
                settle_within: self
                    .heal
                    .and_then(|h| changed(h.settle_within, DEFAULT_SETTLE_WITHIN))
                    .map(Dur),
            },
            volume: vols.iter().map(volume).collect(),
            system_provider: RawSystemProvider {
                latency: latency(&self.system_provider_latency, |c| c.name()),
                fault: self
                    .system_provider_faults
                    .iter()
                    .map(provider_fault)
                    .collect(),
            },
            provider: self
                .providers
                .iter()
                .map(|p| RawProvider {
                    name: sp(p.name.clone()),
                    kind: sp(p.kind),
                    id: p.id.map(|g| sp(g.to_string())),
                    version: (p.version != DEFAULT_PROVIDER_VERSION).then(|| p.version.clone()),
                    volumes: p.volumes.as_ref().map(|list| names(vols, list)),
                    latency: latency(&p.latency, |c| c.name()),
                    fault: p.faults.iter().map(provider_fault).collect(),
                })
                .collect(),
            writer: self.writers.iter().map(|w| writer(vols, w)).collect(),
            workload: self
                .workloads
                .iter()
                .map(|w| workload(vols, &self.writers, w))
                .collect(),
            requester: self
                .requesters
                .iter()
                .map(|r| requester(self, r, &all))
                .collect(),
            expect: expect(self),
        }
    }
}

impl Serialize for Scenario {
    /// The file's shape: the keys of `scenarios/README.md`, defaults left out.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(serializer)
    }
}

/// A value with no place in any text (the writer's spans are never shown).
fn sp<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

/// `Some(value)` when it is not the default.
fn changed<T: PartialEq>(value: T, default: T) -> Option<T> {
    (value != default).then_some(value)
}

/// The name a volume is written with: `C:` for a drive's root, otherwise its canonical name.
pub(crate) fn volume_name(v: &VolumeSpec) -> String {
    short_volume_name(&v.name)
}

/// A canonical volume name as written: `C:` for `C:\`, any other name unchanged.
pub(crate) fn short_volume_name(n: &str) -> String {
    if n.len() == 3 && n.as_bytes()[1] == b':' && n.ends_with('\\') {
        n[..2].to_string()
    } else {
        n.to_string()
    }
}

fn names(vols: &[VolumeSpec], list: &[usize]) -> Vec<Spanned<String>> {
    list.iter().map(|&i| sp(volume_name(&vols[i]))).collect()
}

fn latency<K: Copy>(list: &[(K, Duration)], name: fn(K) -> &'static str) -> BTreeMap<String, Dur> {
    list.iter()
        .map(|&(k, d)| (name(k).to_string(), Dur(d)))
        .collect()
}

fn profile(p: &Profile) -> RawProfile {
    let d = Profile::windows();
    RawProfile {
        freeze_timeout_default: changed(p.freeze_timeout_default, d.freeze_timeout_default)
            .map(Dur),
        flush_and_hold_timeout: changed(p.flush_and_hold_timeout, d.flush_and_hold_timeout)
            .map(Dur),
        writer_response_timeout: changed(p.writer_response_timeout, d.writer_response_timeout)
            .map(Dur),
        kb915331_race: changed(p.kb915331_race, d.kb915331_race),
        checks_volume_set: changed(p.checks_volume_set, d.checks_volume_set),
        protection_level: changed(p.protection_level, d.protection_level),
        shadows_per_volume_max: changed(p.shadows_per_volume_max, d.shadows_per_volume_max),
        client_accessible_shadows_max: changed(
            p.client_accessible_shadows_max,
            d.client_accessible_shadows_max,
        ),
        volumes_per_set_max: changed(p.volumes_per_set_max, d.volumes_per_set_max),
        api_call_latency: changed(p.api_call_latency, d.api_call_latency).map(Dur),
        flush_latency: changed(p.flush_latency, d.flush_latency).map(Dur),
        diff_area_min_small: changed(p.diff_area_min_small, d.diff_area_min_small).map(Size),
        diff_area_min_large: changed(p.diff_area_min_large, d.diff_area_min_large).map(Size),
    }
}

fn volume(v: &VolumeSpec) -> RawVolume {
    RawVolume {
        name: sp(volume_name(v)),
        size: sp(Size(v.bytes)),
        block_size: changed(v.block_size, DEFAULT_BLOCK_SIZE).map(|b| sp(Size(b.into()))),
        diff_area: v.diff_area.map(|b| sp(format_size(b))),
        removable: changed(v.removable, false),
    }
}

/// `(fail, hang, delay)` of a fault's action: exactly one is given.
fn action(a: FaultAction) -> (Option<Hresult>, Option<bool>, Option<Dur>) {
    match a {
        FaultAction::Fail(code) => (Some(code), None, None),
        FaultAction::Hang => (None, Some(true), None),
        FaultAction::Delay(d) => (None, None, Some(Dur(d))),
    }
}

fn provider_fault(f: &model::provider::ProviderFault) -> RawProviderFault {
    let (fail, hang, delay) = action(f.action);
    RawProviderFault {
        call: sp(f.call.name().to_string()),
        fail,
        hang,
        delay,
        times: f.times,
    }
}

fn writer_fault(f: &WriterFaultSpec) -> RawWriterFault {
    let (fail, hang, delay) = action(f.action);
    RawWriterFault {
        event: sp(f.event),
        fail,
        hang,
        delay,
        sessions: f.sessions,
    }
}

fn writer(vols: &[VolumeSpec], w: &WriterSpec) -> RawWriter {
    RawWriter {
        name: sp(w.name.clone()),
        class_id: w.class_id.map(|g| sp(g.to_string())),
        level: changed(w.level, ApplicationLevel::FrontEnd),
        usage: changed(w.usage, UsageType::UserData),
        freeze_timeout: w.freeze_timeout.map(Dur),
        checks_volume_set: w.checks_volume_set,
        latency: latency(&w.latency, |e| e.name()),
        component: w
            .components
            .iter()
            .map(|c| RawComponent {
                name: sp(c.name.clone()),
                logical_path: (!c.logical_path.is_empty()).then(|| c.logical_path.clone()),
                volumes: names(vols, &c.volumes),
            })
            .collect(),
        fault: w.faults.iter().map(writer_fault).collect(),
    }
}

fn workload(vols: &[VolumeSpec], writers: &[WriterSpec], w: &WorkloadSpec) -> RawWorkload {
    RawWorkload {
        name: sp(w.name.clone()),
        volumes: names(vols, &w.volumes),
        rate: sp(w.rate),
        pattern: match w.pattern {
            Pattern::Uniform => None,
            Pattern::Sequential => Some(sp("sequential".to_string())),
            Pattern::Hotspot => Some(sp("hotspot".to_string())),
        },
        blocks: w.blocks.map(sp),
        write_latency: changed(w.write_latency, DEFAULT_WRITE_LATENCY).map(Dur),
        burst_on: w.burst.map(|(on, _)| sp(Dur(on))),
        burst_off: w.burst.map(|(_, off)| sp(Dur(off))),
        application: w.app.map(|a| sp(a.kind.name().to_string())),
        writer: w.app.map(|a| sp(writers[a.writer].name.clone())),
    }
}

/// The spelling of a writer-failure policy in `[requester.policy]`.
pub(crate) fn writer_failure_name(w: WriterFailurePolicy) -> &'static str {
    match w {
        WriterFailurePolicy::Continue => "continue",
        WriterFailurePolicy::Abort => "abort",
        WriterFailurePolicy::Retry => "retry",
        WriterFailurePolicy::Stop => "stop",
    }
}

fn policy(p: &Policy) -> Option<RawPolicy> {
    let d = Policy::default();
    let raw = RawPolicy {
        retries: changed(p.retries, d.retries),
        retry_wait: changed(p.retry_wait, d.retry_wait).map(Dur),
        retry_on: changed(&p.retry_on, &d.retry_on).cloned().map(sp),
        writer_failure: changed(p.writer_failure, d.writer_failure)
            .map(|w| sp(writer_failure_name(w).to_string())),
        deadline: p.deadline.map(Dur),
    };
    (p != &d).then_some(raw)
}

fn requester(s: &Scenario, r: &RequesterSpec, all: &[usize]) -> RawRequester {
    RawRequester {
        name: sp(r.name.clone()),
        context: changed(r.context, SnapshotContext::Backup).map(sp),
        volumes: (r.volumes != all).then(|| names(&s.volumes, &r.volumes)),
        start: changed(r.start, Duration::ZERO).map(|d| sp(Dur(d))),
        read_bandwidth: changed(r.read_bandwidth, DEFAULT_READ_BANDWIDTH).map(Bandwidth),
        go_away_at: r.go_away_at.map(Dur),
        repeat: changed(r.repeat, 0).map(sp),
        policy: policy(&r.policy),
        kind: r.flaw.map(|f| sp(f.name().to_string())),
        script: r.script.as_ref().map(|steps| {
            steps
                .iter()
                .enumerate()
                .map(|(i, st)| {
                    let names = r.script_names.get(i).cloned().unwrap_or_default();
                    sp(step(s, st, &names))
                })
                .collect()
        }),
    }
}

fn empty_step() -> RawStep {
    RawStep {
        call: None,
        volume: None,
        provider: None,
        writer: None,
        component: None,
        context: None,
        select_components: None,
        bootable_system_state: None,
        backup_type: None,
        partial_file_support: None,
        succeeded: None,
        force: None,
        wait: None,
        sleep: None,
        read: None,
        go_away: None,
    }
}

fn step(s: &Scenario, st: &ScriptStep, names: &StepNames) -> RawStep {
    let mut raw = empty_step();
    let (call, wait) = match st {
        ScriptStep::Sleep(d) => {
            raw.sleep = Some(Dur(*d));
            return raw;
        }
        ScriptStep::Read(v) => {
            raw.read = Some(sp(volume_name(&s.volumes[v.idx()])));
            return raw;
        }
        ScriptStep::GoAway => {
            raw.go_away = Some(true);
            return raw;
        }
        ScriptStep::WriterClass { enable, writer } => {
            let name = if *enable {
                "EnableWriterClasses"
            } else {
                "DisableWriterClasses"
            };
            raw.call = Some(sp(name.to_string()));
            raw.writer = Some(sp(s.writers[writer.idx()].name.clone()));
            return raw;
        }
        ScriptStep::OnShadow { call, volume } => {
            raw.call = Some(sp(call.name().to_string()));
            raw.volume = volume.map(|v| sp(volume_name(&s.volumes[v.idx()])));
            if let ApiCall::DeleteSnapshots { force: true, .. } = call {
                raw.force = Some(true);
            }
            return raw;
        }
        ScriptStep::Call { call, wait } => (call, *wait),
    };
    raw.call = Some(sp(call.name().to_string()));
    if !wait {
        raw.wait = Some(false);
    }
    let component = |raw: &mut RawStep, c: &model::api::ComponentRef| {
        let w = &s.writers[c.writer.idx()];
        raw.writer = Some(sp(w.name.clone()));
        raw.component = Some(sp(w.components[usize::from(c.idx)].name.clone()));
    };
    match call {
        ApiCall::SetContext(c) => raw.context = Some(*c),
        ApiCall::SetBackupState {
            select_components,
            bootable_system_state,
            backup_type,
            partial_file_support,
        } => {
            raw.select_components = changed(*select_components, true);
            raw.bootable_system_state = changed(*bootable_system_state, false);
            raw.backup_type = changed(*backup_type, BackupType::Full);
            raw.partial_file_support = changed(*partial_file_support, false);
        }
        ApiCall::AddComponent(Some(c)) => component(&mut raw, c),
        ApiCall::AddComponent(None) => {
            raw.writer = names.writer.clone().map(sp);
            raw.component = names.component.clone().map(sp);
        }
        ApiCall::SetBackupSucceeded {
            component: c,
            succeeded,
        } => {
            component(&mut raw, c);
            raw.succeeded = changed(*succeeded, true);
        }
        ApiCall::AddToSnapshotSet {
            volume, provider, ..
        }
        | ApiCall::IsVolumeSupported { volume, provider } => {
            raw.volume = match volume {
                Some(v) => Some(sp(volume_name(&s.volumes[v.idx()]))),
                None => names.volume.clone().map(sp),
            };
            raw.provider = match provider {
                ProviderArg::Any => None,
                ProviderArg::Registered(id) if id.idx() == 0 => {
                    Some(sp(model::machine::ProviderInfo::system().name.to_string()))
                }
                ProviderArg::Registered(id) => {
                    let p = &s.providers[id.idx() - 1];
                    // The name finds the first provider of that name; a later namesake is
                    // named by its id.
                    let first = s.providers.iter().position(|x| x.name == p.name);
                    match p.id {
                        Some(g) if first != Some(id.idx() - 1) => Some(sp(g.to_string())),
                        _ => Some(sp(p.name.clone())),
                    }
                }
                ProviderArg::Unregistered(g) => Some(sp(g.to_string())),
            };
        }
        _ => {}
    }
    raw
}

fn expect(s: &Scenario) -> RawExpect {
    let e = &s.expect;
    RawExpect {
        result: e.result,
        requesters: e.requesters.iter().cloned().collect(),
        writers: writer_expects(&e.writers),
        calls: e
            .calls
            .iter()
            .map(|c| RawCallExpect {
                requester: c.requester.clone(),
                call: sp(c.call.clone()),
                nth: changed(c.nth, 1),
                result: c.result,
                async_result: c.async_result,
                writers: writer_expects(&c.writers),
            })
            .collect(),
        violations: e.violations.iter().cloned().map(sp).collect(),
        findings: e
            .findings
            .as_ref()
            .map(|f| f.iter().cloned().map(sp).collect()),
        snapshots: e.snapshots.iter().cloned().collect(),
    }
}

// -------------------------------------------------------------------------------------------
// Layout: TOML values to text
// -------------------------------------------------------------------------------------------

/// Tables below the top level that get their own `[header]` (the README writes them so).
const SUBTABLES: &[&str] = &["policy"];
/// Arrays of tables below the top level written as `[[header]]` sections; any other array of
/// tables is written one inline table a line (`script`, `calls`).
const ARRAY_SECTIONS: &[&str] = &["component", "fault"];

fn is_table_array(v: &toml::Value) -> bool {
    matches!(v, toml::Value::Array(a) if !a.is_empty() && a.iter().all(toml::Value::is_table))
}

/// Writes the keys of `table` (whose header is already written, or the top level when `path`
/// is empty), then its sub-sections.
fn section(out: &mut String, path: &str, table: &toml::Table, depth: usize) {
    let join = |k: &str| {
        if path.is_empty() {
            key(k)
        } else {
            format!("{path}.{}", key(k))
        }
    };
    let own_section = |k: &str, v: &toml::Value| match v {
        toml::Value::Table(_) => depth == 0 || SUBTABLES.contains(&k),
        v if is_table_array(v) => depth == 0 || ARRAY_SECTIONS.contains(&k),
        _ => false,
    };
    for (k, v) in table {
        if own_section(k, v) {
            continue;
        }
        if is_table_array(v) {
            let toml::Value::Array(items) = v else {
                unreachable!()
            };
            let _ = writeln!(out, "{} = [", key(k));
            for item in items {
                let _ = writeln!(out, "  {},", inline(item));
            }
            out.push_str("]\n");
        } else {
            let _ = writeln!(out, "{} = {}", key(k), inline(v));
        }
    }
    for (k, v) in table {
        if !own_section(k, v) {
            continue;
        }
        match v {
            toml::Value::Table(t) => {
                blank_line(out);
                let _ = writeln!(out, "[{}]", join(k));
                section(out, &join(k), t, depth + 1);
            }
            toml::Value::Array(items) => {
                for item in items {
                    let toml::Value::Table(t) = item else {
                        unreachable!()
                    };
                    blank_line(out);
                    let _ = writeln!(out, "[[{}]]", join(k));
                    section(out, &join(k), t, depth + 1);
                }
            }
            _ => unreachable!(),
        }
    }
}

fn blank_line(out: &mut String) {
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
}

/// A key, bare when TOML allows it.
fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        string(k)
    }
}

/// A basic string, escaped.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value on one line.
fn inline(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => string(s),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        toml::Value::Table(t) if t.is_empty() => "{}".to_string(),
        toml::Value::Table(t) => {
            let items: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{} = {}", key(k), inline(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
    }
}

/// `[expect] writers` (or a call's `writers`) as the file's table.
fn writer_expects(
    writers: &[(String, Option<WriterState>, Option<Hresult>)],
) -> BTreeMap<String, RawWriterExpect> {
    writers
        .iter()
        .map(|(name, state, last_error)| {
            (
                name.clone(),
                RawWriterExpect {
                    state: *state,
                    last_error: *last_error,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    #[test]
    fn integers_beyond_i64_are_written_as_the_file_gave_them() {
        let src = "seed = 18446744073709551615\n[run]\nmax_steps = 18446744073709551614\n\
                   [[volume]]\nname = \"C:\"\nsize = \"1GiB\"\n\
                   [[workload]]\nname = \"w\"\nvolumes = [\"C:\"]\nrate = 5\n\
                   blocks = 18446744073709551615\n[[requester]]\nname = \"r\"\n";
        let s = parse("<t>", "big", src).unwrap();
        let text = s.to_toml();
        assert!(text.contains("\nseed = 18446744073709551615\n"), "{text}");
        assert!(
            text.contains("\nmax_steps = 18446744073709551614\n"),
            "{text}"
        );
        let back = parse("<t>", "big", &text).unwrap();
        assert_eq!(back.seed, s.seed);
        assert_eq!(back.max_steps, s.max_steps);
        // The region is capped at i64::MAX blocks: larger than any volume, so the same run.
        assert_eq!(back.workloads[0].blocks, Some(i64::MAX as u64));
        assert_eq!(back.to_toml(), text);
    }

    #[test]
    fn a_scenario_is_serde_data_in_the_files_shape() {
        let src = "[[volume]]\nname = \"c:\"\nsize = \"2GiB\"\n[[requester]]\nname = \"r\"\n\
                   [requester.policy]\nwriter_failure = \"stop\"\n";
        let s = parse("<t>", "shape", src).unwrap();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "shape",
                "volume": [{ "name": "C:", "size": "2GiB" }],
                "requester": [{ "name": "r", "policy": { "writer_failure": "stop" } }],
            })
        );
    }

    #[test]
    fn strings_are_escaped() {
        let src = "description = \"a \\\"quoted\\\" \\\\ back\\tslash \\u0001\"\n\
                   [[volume]]\nname = \"D:\\\\mnt\\\\x\"\nsize = \"1GiB\"\n\
                   [[writer]]\nname = \"W \\\"1\\\"\"\n[[requester]]\nname = \"r\"\n\
                   [expect]\nwriters = { \"W \\\"1\\\"\" = { state = \"VSS_WS_STABLE\" } }\n";
        let s = parse("<t>", "esc", src).unwrap();
        let text = s.to_toml();
        assert_eq!(parse("<t>", "esc", &text).unwrap(), s, "{text}");
        assert!(text.contains("name = \"D:\\\\mnt\\\\x\\\\\"\n"), "{text}");
    }
}
