//! The notices told to pages (`INVALIDATED`, `UPDATED`), kept for the pages that were away
//! ([`crate::policy::notices`]): posted to every open page, kept, saved in the state cache
//! (the saved ones read first, once per instance; one save at a time), and answered to
//! `GET_NOTICES`, which a page back from the back/forward cache sends.

use crate::policy::config::NOTICES_KEY;
use crate::policy::prelude::*;

use super::{Cmd, Engine, Io, Kind, OpId, Tag, NOT_A_JOB};

impl Engine {
    /// Tells every open page (`json`, sent `at`) and keeps the notice, saved under
    /// operation `id`, whose event keeps the worker running until it is.
    pub(super) fn notify(&mut self, id: OpId, at: f64, json: String, now: f64) {
        self.emit(Cmd::Broadcast { json: json.clone() });
        self.notices.push(at, json);
        self.save_notices(id, now);
    }

    /// Saves the kept notices, once the saved ones are read. A save or read under way
    /// saves what came meanwhile when it ends.
    fn save_notices(&mut self, id: OpId, now: f64) {
        let n = &mut self.notices;
        if !n.unsaved || n.saving || n.loading {
            return;
        }
        if n.loaded {
            n.saving = true;
            let text = n.write(now);
            self.notices_step(id, Cmd::SaveState { op: id, tag: Tag::Notices, key: NOTICES_KEY, text });
        } else {
            n.loading = true;
            self.load_notices(id);
        }
    }

    fn load_notices(&mut self, id: OpId) {
        self.notices_step(id, Cmd::LoadState { op: id, tag: Tag::Notices, key: NOTICES_KEY });
    }

    /// A read or save of the state cache: the event waits for it, and so does a removal
    /// (it would create the deleted cache again), as for a cache write.
    fn notices_step(&mut self, id: OpId, c: Cmd) {
        self.bg(id, 1);
        self.writes.push((id, NOT_A_JOB));
        self.emit(c);
    }

    /// GET_NOTICES: the notices sent at or after `since`, once the saved ones are read.
    pub(super) fn get_notices(&mut self, id: OpId, since: f64) {
        // (Off the site nothing is read: a read would create the deleted state cache.)
        if self.notices.loaded || self.removed {
            let json = self.notices.reply(since);
            return self.reply_and_end(id, json);
        }
        if let Some(o) = self.op(id) {
            o.kind = Kind::Notices { since };
        }
        self.load_notices(id);
    }

    /// The saved notices were read, or the kept ones saved.
    pub(super) fn notices_io(&mut self, id: OpId, io: Io, now: f64) {
        match io {
            Io::State(saved) => self.notices.read(saved.as_ref()),
            _ => self.notices.saving = false,
        }
        self.save_notices(id, now);
        if let Some(&Kind::Notices { since }) = self.op(id).map(|o| &o.kind) {
            let json = self.notices.reply(since);
            self.reply_and_end(id, json);
        }
        self.write_ended(id, NOT_A_JOB);
        self.wake_invalidations();
        self.bg(id, -1);
    }
}
