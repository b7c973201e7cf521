//! Compliance: erase an entity (typed confirmation, receipt by counts), export its data,
//! apply retention; the audit log; API keys for automation.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use memori_types::admin::{AuditEntry, ErasureReceipt, RetentionReceipt};
use memori_types::http::{ApiKeyInfo, CreateApiKey, CreatedApiKey, OperatorRole};

use crate::api::{self, seg};
use crate::app::{ErrorLine, is_admin, loaded, when};

fn counts(removed: std::collections::BTreeMap<String, u64>) -> impl IntoView {
    view! {
        <table class="receipt">
            <thead><tr><th>"Table"</th><th>"Rows removed"</th></tr></thead>
            <tbody>{removed.into_iter().map(|(t, n)| view! { <tr><td class="mono">{t}</td><td>{n}</td></tr> }).collect_view()}</tbody>
        </table>
    }
}

#[component]
pub(crate) fn Compliance() -> impl IntoView {
    let query_map = use_query_map();
    let entity = RwSignal::new(query_map.read_untracked().get("entity").unwrap_or_default());
    let confirm = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let receipt = RwSignal::new(None::<ErasureReceipt>);
    let retention = RwSignal::new(None::<RetentionReceipt>);
    let erase = move |_| {
        let id = entity.get_untracked();
        spawn_local(async move {
            match api::delete::<ErasureReceipt>(&format!("/entities/{}", seg(&id))).await {
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
                <p>"Removes the entity's messages, memories, embeddings, graph, jobs, summaries and sessions in one transaction. The audit log keeps counts only. This cannot be undone."</p>
                <label>{move || format!("Type the entity id ({}) to confirm", entity.get())}
                    <input id="erase-confirm" prop:value=move || confirm.get() on:input=move |ev| confirm.set(event_target_value(&ev))/></label>
                <button id="erase-button" class="danger"
                    disabled=move || entity.get().is_empty() || confirm.get() != entity.get()
                    on:click=erase>"Erase permanently"</button>
                {move || receipt.get().map(|r| view! {
                    <div id="erase-receipt" class="ok">
                        <p>{format!("Erased at {}; audit record {}.", when(r.erased_at), r.audit_id.map(|i| i.to_string()).unwrap_or_default())}</p>
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

/// Audit records as a table (details are counts and field names, never end-user text).
#[component]
pub(crate) fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    view! {
        <table class="audit">
            <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Target"</th><th>"Details"</th></tr></thead>
            <tbody>{entries.into_iter().map(|a| view! {
                <tr>
                    <td>{when(a.at)}</td><td>{a.actor}</td><td class="mono">{a.action}</td>
                    <td>{format!("{} {}", a.target_kind, a.target_ref.unwrap_or_default())}</td>
                    <td class="mono">{a.details.to_string()}</td>
                </tr>
            }).collect_view()}</tbody>
        </table>
    }
}

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

#[component]
pub(crate) fn KeysPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let keys = LocalResource::new(move || {
        reload.track();
        async move { api::get::<Vec<ApiKeyInfo>>("/api-keys").await }
    });
    let name = RwSignal::new(String::new());
    let admin_role = RwSignal::new(false);
    let created = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = CreateApiKey {
            name: name.get_untracked(),
            role: if admin_role.get_untracked() { OperatorRole::Admin } else { OperatorRole::Viewer },
        };
        spawn_local(async move {
            match api::post::<CreatedApiKey>("/api-keys", &body).await {
                Ok(k) => {
                    created.set(Some(k.token));
                    error.set(None);
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let revoke = move |id: i64| {
        spawn_local(async move {
            match api::delete::<()>(&format!("/api-keys/{id}")).await {
                Ok(()) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <h1>"API keys"</h1>
        <p class="muted">"For automation such as deletion requests: send "<code>"Authorization: Bearer <key>"</code>" to "<code>"/api/v1"</code>". Keys are stored hashed; a key is shown once."</p>
        <ErrorLine error/>
        {move || created.get().map(|t| view! { <p class="ok">"New key (copy it now): "<code id="new-key">{t}</code></p> })}
        <form class="form inline" on:submit=create>
            <input id="key-name" placeholder="What is it for?" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            <label class="check"><input type="checkbox" prop:checked=move || admin_role.get() on:change=move |ev| admin_role.set(event_target_checked(&ev))/>"admin (can erase)"</label>
            <button type="submit">"Create key"</button>
        </form>
        {move || loaded(keys.get(), move |ks: Vec<ApiKeyInfo>| view! {
            <table>
                <thead><tr><th>"Name"</th><th>"Prefix"</th><th>"Role"</th><th>"Created"</th><th>"Last used"</th><th></th></tr></thead>
                <tbody>{ks.into_iter().map(|k| {
                    let id = k.id;
                    view! {
                        <tr class:invalidated=k.revoked_at.is_some()>
                            <td>{k.name}</td><td class="mono">{k.prefix}</td><td>{k.role.as_str()}</td>
                            <td>{format!("{} by {}", when(k.created_at), k.created_by)}</td>
                            <td>{k.last_used_at.map(when).unwrap_or_default()}</td>
                            <td>{match k.revoked_at {
                                Some(t) => view! { <span>{format!("revoked {}", when(t))}</span> }.into_any(),
                                None => view! { <button on:click=move |_| revoke(id)>"Revoke"</button> }.into_any(),
                            }}</td>
                        </tr>
                    }
                }).collect_view()}</tbody>
            </table>
        })}
    }
}
