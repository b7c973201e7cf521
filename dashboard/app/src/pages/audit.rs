//! The audit log, newest first: filtered by kind of action or actor, paged back by record id
//! and forward again.
use leptos::prelude::*;
use memori_types::admin::AuditEntry;

use crate::api::{self, seg};
use crate::components::{AuditTable, loaded};

const PAGE: usize = 50;

/// The action filters offered: a label and the `action` query (a prefix when it ends in `.`).
const KINDS: &[(&str, &str)] = &[
    ("everything", ""),
    ("sign-ins", "auth."),
    ("erasures", "entity.erase"),
    ("exports (personal-data access)", "entity.export"),
    ("memory edits", "memory."),
    ("settings", "settings.save"),
    ("API keys", "api_key."),
    ("operators", "operator."),
];

#[component]
pub(crate) fn AuditPage() -> impl IntoView {
    let action = RwSignal::new(String::new());
    let actor = RwSignal::new(String::new());
    // The `before` cursor of each page seen, so "Newer" can go back.
    let cursors = RwSignal::new(Vec::<i64>::new());
    let data = LocalResource::new(move || {
        let mut q = format!("/audit?limit={PAGE}");
        if let Some(b) = cursors.with(|c| c.last().copied()) {
            q.push_str(&format!("&before={b}"));
        }
        let a = action.get();
        if !a.is_empty() {
            q.push_str(&format!("&action={}", seg(&a)));
        }
        let who = actor.get();
        if !who.trim().is_empty() {
            q.push_str(&format!("&actor={}", seg(who.trim())));
        }
        async move { api::get::<Vec<AuditEntry>>(&q).await }
    });
    view! {
        <h1>"Audit log"</h1>
        <p class="muted">"Every change, sign-in and export, by whom and when."</p>
        <div class="filters">
            <label>"Show" <select id="audit-kind" on:change=move |ev| { cursors.set(Vec::new()); action.set(event_target_value(&ev)); }>
                {KINDS.iter().map(|(label, value)| view! { <option value=*value>{*label}</option> }).collect_view()}
            </select></label>
            <label>"By" <input id="audit-actor" placeholder="operator or key:name" prop:value=move || actor.get()
                on:change=move |ev| { cursors.set(Vec::new()); actor.set(event_target_value(&ev)); }/></label>
        </div>
        {move || loaded(data.get(), |entries: Vec<AuditEntry>| {
            let full = entries.len() == PAGE;
            let last = entries.last().map(|e| e.id);
            let empty = entries.is_empty();
            view! {
                {empty.then(|| view! { <p class="muted" id="audit-empty">"No records here."</p> })}
                <AuditTable entries/>
                <p class="pager">
                    {move || cursors.with(|c| !c.is_empty()).then(|| view! {
                        <button id="audit-newer" on:click=move |_| cursors.update(|c| { c.pop(); })>"← Newer"</button>
                    })}
                    {(full && last.is_some()).then(|| view! {
                        <button id="audit-older" on:click=move |_| if let Some(id) = last { cursors.update(|c| c.push(id)) }>"Older →"</button>
                    })}
                </p>
            }
        })}
    }
}
