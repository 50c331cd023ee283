//! The host: carries each coordinator output to the role instance, timer or store it is for,
//! and schedules the answers back. It applies no VSS rule of its own: writers and providers
//! answer through their logic, the store applies the storage rules, the coordinator the rest.

use model::api::{Input, Output};
use model::ids::RequesterId;
use model::requester::Feedback;
use model::vss::{Hresult, ProviderCall, ProviderType};
use model::writer::Response;

use super::{Payload, World};
use crate::record::{DeletedBy, Fact};

impl World {
    /// The requester sees a reply one API call latency after the service gave it.
    fn feed_later(&mut self, requester: RequesterId, feedback: Feedback) {
        let at = self.kernel.now() + self.profile.api_call_latency;
        self.schedule(at, Payload::Feed(requester, feedback));
    }

    /// A handler or provider call hung: a scenario that heals answers it `S_OK` at `heal_at`
    /// (rule 31); one that does not leaves it hanging (rules 11, 16).
    fn hang(&mut self, answer: Input) {
        if self.heals {
            self.hung.push(answer);
        }
    }

    pub(super) fn execute(&mut self, o: Output) {
        let now = self.kernel.now();
        match o {
            Output::Reply {
                requester,
                call,
                result,
                data,
            } => {
                self.note(Fact::Answered {
                    requester,
                    call,
                    result,
                });
                self.feed_later(requester, Feedback::Reply { call, result, data });
            }
            Output::AsyncDone {
                requester,
                call,
                result,
                data,
            } => {
                let writers = match &data {
                    model::api::ReplyData::WriterStatus(list) => list.clone(),
                    _ => Vec::new(),
                };
                self.note(Fact::AsyncAnswered {
                    requester,
                    result,
                    writers,
                });
                self.feed_later(requester, Feedback::AsyncDone { call, result, data });
            }
            Output::WriterEvent {
                writer,
                event,
                token,
                set_volumes,
                selected,
            } => {
                self.note(Fact::WriterEvent { writer, event });
                if self.guest_runs_writer(writer) {
                    self.deliver_to_guest(
                        writer,
                        crate::guest::mailbox::Delivery {
                            event,
                            token,
                            set_volumes,
                            selected,
                        },
                    );
                    return;
                }
                let session = self.coord.event_session(token);
                self.apps_on_event(writer, event, session);
                let info = &self.coord.machine().writers[writer.idx()];
                match self.writers[writer.idx()].on_event(now, info, event, &set_volumes, &selected)
                {
                    Response::Answer { after, result } => self.schedule(
                        now + after,
                        Payload::Coord(Input::WriterAnswer { token, result }),
                    ),
                    Response::Hang => self.hang(Input::WriterAnswer {
                        token,
                        result: Hresult::Ok,
                    }),
                }
            }
            Output::ProviderCall {
                provider,
                call,
                set_id,
                volumes,
                token,
            } => {
                self.note(Fact::ProviderCall {
                    provider,
                    call,
                    set_id,
                    volumes: volumes.clone(),
                });
                let kind = self.coord.machine().providers[provider.idx()].kind;
                let response = self.providers[provider.idx()].on_call(now, call);
                self.store.provider_called(kind, call, &volumes);
                if call == ProviderCall::AbortSnapshots {
                    // AbortSnapshots is not answered.
                    return;
                }
                match response {
                    Response::Answer { after, mut result } => {
                        if result.is_success()
                            && call == ProviderCall::EndPrepareSnapshots
                            && kind == ProviderType::System
                        {
                            // Rule 17: the diff area must hold the minimum.
                            let profile = &self.profile;
                            if self
                                .store
                                .make_room(&volumes, |b| profile.diff_area_min(b), &mut self.notes)
                                .is_err()
                            {
                                result = Hresult::InsufficientStorage;
                            }
                            self.store_notes();
                        }
                        self.schedule(
                            now + after,
                            Payload::Coord(Input::ProviderAnswer { token, result }),
                        );
                    }
                    Response::Hang => self.hang(Input::ProviderAnswer {
                        token,
                        result: Hresult::Ok,
                    }),
                }
            }
            Output::SetTimer { at, timer } => {
                self.schedule(at, Payload::Coord(Input::Timer(timer)))
            }
            Output::FlushAndHold { volumes, token } => {
                self.apps_on_hold(&volumes);
                let drained = self.store.hold(now, &volumes);
                self.note(Fact::Hold { volumes });
                self.schedule(
                    drained + self.profile.flush_latency,
                    Payload::Coord(Input::FlushDone { token }),
                );
            }
            Output::ReleaseWrites { volumes } => {
                let released = self.store.release(now, &volumes, &mut self.notes);
                let (counts, queued) = (self.store.counts(), self.store.held_now());
                // What the release's writes did to the diff areas comes first, as it happened.
                self.store_notes();
                for &v in volumes.iter() {
                    self.sample(v);
                }
                self.note(Fact::Release {
                    volumes,
                    released,
                    counts,
                    queued,
                });
            }
            Output::CreateShadow {
                snapshot,
                set_id,
                volume,
                provider,
                context,
            } => {
                let kind = self.coord.machine().providers[provider.idx()].kind;
                let created = self.store.create(snapshot, set_id, volume, kind);
                self.note(Fact::ShadowCreated {
                    set_id,
                    snapshot,
                    volume,
                    provider,
                    context,
                    created,
                });
                self.apps_on_shadow(set_id, volume);
            }
            Output::DeleteShadow { snapshot, status } => {
                if let Some(volume) = self.store.delete(snapshot) {
                    self.note(Fact::ShadowDeleted {
                        snapshot,
                        volume,
                        by: DeletedBy::Service(status),
                    });
                }
            }
            Output::WriterStateChanged {
                writer,
                event,
                prev,
                next,
                last_error,
                rule,
            } => self.note(Fact::StateChanged {
                writer,
                event,
                prev,
                next,
                last_error,
                rule,
            }),
            Output::FreezeTimedOut { writer } => {
                self.note(Fact::FreezeTimedOut { writer });
                self.thaw_apps(writer, None);
            }
            Output::LateAnswerIgnored { .. } => self.note(Fact::LateAnswer),
            Output::SnapshotState {
                set_id,
                snapshot,
                volume,
                state,
            } => self.note(Fact::SnapshotState {
                set_id,
                snapshot,
                volume,
                state,
            }),
            Output::Phase {
                set_id,
                phase,
                rule,
            } => self.note(Fact::Phase {
                set_id,
                phase,
                rule,
            }),
        }
    }
}
