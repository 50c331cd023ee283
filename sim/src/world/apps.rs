//! Writers' applications in the run: a writer's successful `OnFreeze` finishes its
//! application's unit in progress and stops it (rule S5), Thaw or Abort starts it again
//! (rule S6), a hold notes what each application's image would cut, and once a set holds every
//! volume of an application the run notes whether that image is consistent (rule 33).

use model::ids::{RequesterId, SnapshotSetId, VolumeId, WriterId};
use model::vss::{Hresult, WriterEvent};

use super::{World, vid};
use crate::record::Fact;

/// A backup session: the requester slot and its object's generation.
type Session = (RequesterId, u32);

impl World {
    /// A writer's handler answered `result` to `event` of `session`: a successful Freeze
    /// freezes its applications for that session.
    pub(super) fn apps_on_answer(
        &mut self,
        of: Option<(WriterId, WriterEvent)>,
        result: Hresult,
        session: Option<Session>,
    ) {
        if let (Some((writer, WriterEvent::Freeze)), Some(session)) = (of, session)
            && result.is_success()
        {
            self.freeze_apps(writer, session);
        }
    }

    /// `event` of `session` was handed to `writer`: that session's Thaw, Abort and
    /// BackupShutdown let its applications write again; another session's events do not.
    pub(super) fn apps_on_event(
        &mut self,
        writer: WriterId,
        event: WriterEvent,
        session: Option<Session>,
    ) {
        if matches!(
            event,
            WriterEvent::Thaw | WriterEvent::Abort | WriterEvent::BackupShutdown
        ) && let Some(session) = session
        {
            self.thaw_apps(writer, Some(session));
        }
    }

    pub(super) fn freeze_apps(&mut self, writer: WriterId, session: Session) {
        let now = self.kernel.now();
        for w in 0..self.workloads.len() {
            let Some(app) = self.workloads[w].app.as_ref() else {
                continue;
            };
            if app.writer != writer || app.frozen.is_some() {
                continue;
            }
            // The unit in progress is finished before OnFreeze returns, then nothing more.
            for (v, block, latency) in self.workloads[w].finish_unit() {
                if self.running {
                    self.store
                        .write(now, vid(v), block, latency, &mut self.notes);
                    self.store_notes();
                }
            }
            if let Some(app) = self.workloads[w].app.as_mut() {
                app.frozen = Some(session);
            }
            self.kernel.disarm_slot(w);
        }
    }

    /// The applications of `writer` frozen for `session` write again (that session's Thaw,
    /// Abort or BackupShutdown); `None`: whatever froze them (the end of the freeze window).
    pub(super) fn thaw_apps(&mut self, writer: WriterId, session: Option<Session>) {
        let now = self.kernel.now();
        for w in 0..self.workloads.len() {
            let Some(app) = self.workloads[w].app.as_mut() else {
                continue;
            };
            if app.writer != writer || app.frozen.is_none() {
                continue;
            }
            if session.is_some_and(|s| app.frozen != Some(s)) {
                continue;
            }
            app.frozen = None;
            let at = self.workloads[w].write_after(now);
            self.kernel.arm_slot(w, at);
        }
    }

    /// Writes are held on `volumes` from now: each application all of whose volumes are held
    /// notes the unit an image of this instant cuts.
    pub(super) fn apps_on_hold(&mut self, volumes: &[VolumeId]) {
        for w in &mut self.workloads {
            let covered = w.volumes().iter().all(|v| volumes.contains(&vid(*v)));
            if let Some(app) = w.app.as_mut() {
                app.at_hold = covered.then(|| (app.frozen.is_some(), app.app.torn_now()));
            }
        }
    }

    /// A shadow copy of `volume` was made in `set_id`: an application whose every volume now
    /// has one in this set gets its verdict.
    pub(super) fn apps_on_shadow(&mut self, set_id: SnapshotSetId, volume: VolumeId) {
        match self.set_shadows.as_mut() {
            Some((id, vols)) if *id == set_id => vols.push(volume),
            _ => self.set_shadows = Some((set_id, vec![volume])),
        }
        let Some((_, made)) = self.set_shadows.as_ref() else {
            return;
        };
        let mut images = Vec::new();
        for (i, w) in self.workloads.iter_mut().enumerate() {
            let all = w.volumes().iter().all(|v| made.contains(&vid(*v)));
            let Some(app) = w.app.as_mut() else { continue };
            if !all {
                continue;
            }
            if let Some((frozen, torn)) = app.at_hold.take() {
                images.push((i, app.writer, app.app.kind(), frozen, torn));
            }
        }
        for (i, writer, kind, frozen, torn) in images {
            let name = self.workload_names[i].clone();
            self.note(Fact::AppImage {
                set_id,
                app: name,
                writer,
                kind,
                frozen,
                torn,
            });
        }
    }
}
