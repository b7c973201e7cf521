//! One session's transcript, tool calls and results included.
use leptos::prelude::*;
use leptos_router::components::A;
use memori_types::admin::TranscriptMessage;

use crate::api::{self, seg};
use crate::components::{loaded, message_view, param};

#[component]
pub(crate) fn SessionPage() -> impl IntoView {
    let id = param("id");
    let session = param("session");
    let data = LocalResource::new(move || {
        let (id, session) = (id(), session());
        async move {
            api::get::<Vec<TranscriptMessage>>(&format!("/entities/{}/sessions/{}", seg(&id), seg(&session))).await
        }
    });
    view! {
        <p><A href=move || format!("/entities/{}", seg(&id()))>{move || format!("← {}", id())}</A></p>
        <h1>{move || format!("Session {}", session())}</h1>
        {move || loaded(data.get(), |msgs: Vec<TranscriptMessage>| view! {
            <div class="transcript">{msgs.into_iter().map(message_view).collect_view()}</div>
        })}
    }
}
