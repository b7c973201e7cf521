//! Compliance: export an entity's data, erase it (typed confirmation, receipt by counts),
//! apply retention now.
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use memori_types::admin::{ErasureReceipt, RetentionReceipt};

use crate::api::{self, seg};
use crate::components::{ErrorLine, counts, is_admin, when};

#[component]
pub(crate) fn Compliance() -> impl IntoView {
    let query_map = use_query_map();
    let entity = RwSignal::new(query_map.read_untracked().get("entity").unwrap_or_default());
    let confirm = RwSignal::new(String::new());
    let reference = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let receipt = RwSignal::new(None::<ErasureReceipt>);
    let retention = RwSignal::new(None::<RetentionReceipt>);
    let erase = move |_| {
        let id = entity.get_untracked();
        let r = reference.get_untracked();
        let query = if r.trim().is_empty() { String::new() } else { format!("?reference={}", seg(r.trim())) };
        spawn_local(async move {
            match api::delete::<ErasureReceipt>(&format!("/entities/{}{query}", seg(&id))).await {
                Ok(r) => {
                    receipt.set(Some(r));
                    confirm.set(String::new());
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let apply = move |_| {
        spawn_local(async move {
            match api::post::<RetentionReceipt>("/retention/apply", &serde_json::json!({})).await {
                Ok(r) => retention.set(Some(r)),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <h1>"Compliance"</h1>
        <ErrorLine error/>
        <section class="panel">
            <h2>"Export an entity's data"</h2>
            <p class="muted">"Everything stored about one end user as a JSON file: sessions, messages, memories, embeddings, graph and jobs."</p>
            <label>"Entity" <input id="erase-entity" prop:value=move || entity.get() on:input=move |ev| entity.set(event_target_value(&ev))/></label>
            <a id="export-link" href=move || format!("/api/v1/entities/{}/export", seg(&entity.get())) download="memori-export.json">"Download export"</a>
        </section>
        {move || is_admin().then(|| view! {
            <section class="panel danger-zone">
                <h2>"Erase an entity"</h2>
                <p>"Removes the entity's messages, memories, embeddings, graph, jobs, summaries and sessions in one transaction. The audit log keeps counts and your request reference, never the entity id. This cannot be undone."</p>
                <label>"Request reference (your ticket number for the deletion request; optional)"
                    <input id="erase-reference" prop:value=move || reference.get() on:input=move |ev| reference.set(event_target_value(&ev))/></label>
                <label>{move || format!("Type the entity id ({}) to confirm", entity.get())}
                    <input id="erase-confirm" prop:value=move || confirm.get() on:input=move |ev| confirm.set(event_target_value(&ev))/></label>
                <button id="erase-button" class="danger"
                    disabled=move || entity.get().is_empty() || confirm.get() != entity.get()
                    on:click=erase>"Erase permanently"</button>
                {move || receipt.get().map(|r| view! {
                    <div id="erase-receipt" class="ok">
                        <p>{format!("Erased at {}; audit record {}.", when(r.erased_at), r.audit_id.map(|i| i.to_string()).unwrap_or_default())}</p>
                        <p class="muted" id="erase-on-disk">{format!("On disk: {}.", r.on_disk)}</p>
                        {counts(r.removed)}
                    </div>
                })}
            </section>
            <section class="panel">
                <h2>"Retention"</h2>
                <p class="muted">"The policy (days to keep, per process or global) is part of the settings; the server applies it hourly. Apply it now:"</p>
                <button id="retention-apply" on:click=apply>"Apply retention now"</button>
                {move || retention.get().map(|r| counts(r.removed))}
            </section>
        })}
    }
}
