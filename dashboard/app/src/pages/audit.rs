//! The audit log, newest first, paged back by record id.
use leptos::prelude::*;
use memori_types::admin::AuditEntry;

use crate::api;
use crate::components::{AuditTable, loaded};

#[component]
pub(crate) fn AuditPage() -> impl IntoView {
    let before = RwSignal::new(None::<i64>);
    let data = LocalResource::new(move || {
        let b = before.get();
        async move {
            let q = b.map(|b| format!("&before={b}")).unwrap_or_default();
            api::get::<Vec<AuditEntry>>(&format!("/audit?limit=50{q}")).await
        }
    });
    view! {
        <h1>"Audit log"</h1>
        <p class="muted">"Every change, by whom and when."</p>
        {move || loaded(data.get(), |entries: Vec<AuditEntry>| {
            let last = entries.last().map(|e| e.id);
            view! {
                <AuditTable entries/>
                {last.map(|id| view! { <button on:click=move |_| before.set(Some(id))>"Older →"</button> })}
            }
        })}
    }
}
