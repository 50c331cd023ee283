//! The records of what a backup got: a writer's application image (`app_image`, and a
//! `finding` when it is torn, rule 33) and a flawed requester's copy of a live volume
//! (`read_live`); and the run's heal (`heal`, rule 31), after which faults stop.

use model::time::Instant;

use super::{Names, Tracer};
use crate::fact::Fact;
use crate::trace::Record;

impl Tracer {
    /// The `heal` record (rule 31): how many stuck calls answered `S_OK`.
    pub(super) fn healed(now: Instant, answered: u32) -> Record {
        let mut r = Tracer::rec(now, "heal", &Tracer::sim());
        r.rule = Some("31");
        r.detail = Some(match answered {
            1 => "1 stuck call answered S_OK".to_string(),
            n => format!("{n} stuck calls answered S_OK"),
        });
        r
    }

    /// An `app_image` record on the application's writer (rule S5 when it is consistent, 33
    /// when torn), and a `finding` when it is torn.
    pub(super) fn app_image(
        &mut self,
        n: &Names<'_>,
        now: Instant,
        fact: &Fact,
        out: &mut Vec<Record>,
    ) {
        let Fact::AppImage {
            set_id,
            app,
            writer,
            kind,
            frozen,
            torn,
        } = fact
        else {
            return;
        };
        let mut r = Tracer::rec(now, "app_image", &self.writer(n, *writer));
        r.parent_id = Some(self.creation.or(self.cause()));
        r.set_id = Some(set_id.to_string());
        r.application = Some(app.clone());
        r.name = Some(kind.name());
        r.result = Some(if torn.is_some() { "torn" } else { "consistent" });
        // Frozen by its writer (S5), or only crash-consistent (33), torn or not.
        r.rule = Some(if *frozen { "S5" } else { "33" });
        r.detail = Some(
            if *frozen {
                "frozen by its writer"
            } else {
                "not frozen: crash-consistent only"
            }
            .into(),
        );
        out.push(r);
        if let Some(t) = torn {
            let mut f = Tracer::rec(now, "finding", &Tracer::sim());
            f.name = Some(kind.finding());
            f.set_id = Some(set_id.to_string());
            f.application = Some(app.clone());
            f.rule = Some("33");
            f.detail = Some(crate::record::torn_detail(app, *kind, *t));
            out.push(f);
        }
    }

    /// A `read_live` record: a (flawed) requester copied a live volume.
    pub(super) fn live_read(
        &mut self,
        n: &Names<'_>,
        now: Instant,
        fact: &Fact,
        out: &mut Vec<Record>,
    ) {
        let Fact::LiveRead {
            requester,
            volume,
            n: blocks,
        } = fact
        else {
            return;
        };
        let mut r = Tracer::rec(now, "read_live", &self.requester(n, *requester));
        r.parent_id = Some(self.cause());
        r.volume = Some(n.volume(*volume));
        r.n = Some(*blocks);
        out.push(r);
    }
}
