//! API keys for automation: create (the token is shown once; every key expires) and revoke.
use leptos::prelude::*;
use leptos::task::spawn_local;
use memori_types::admin::OperatorRole;
use memori_types::http::{ApiKeyInfo, CreateApiKey, CreatedApiKey};

use crate::api;
use crate::components::{ErrorLine, loaded, when};

#[component]
pub(crate) fn KeysPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let keys = LocalResource::new(move || {
        reload.track();
        async move { api::get::<Vec<ApiKeyInfo>>("/api-keys").await }
    });
    let name = RwSignal::new(String::new());
    let admin_role = RwSignal::new(false);
    let days = RwSignal::new("90".to_owned());
    let created = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let d = days.get_untracked();
        let Ok(expires_in_days) = d.trim().parse::<u32>() else {
            return error.set(Some(format!("days {d:?} is not a whole number")));
        };
        let body = CreateApiKey {
            name: name.get_untracked(),
            role: if admin_role.get_untracked() { OperatorRole::Admin } else { OperatorRole::Viewer },
            expires_in_days: Some(expires_in_days),
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
            <label>"expires in days (1–365)" <input id="key-days" inputmode="numeric" size="4" prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/></label>
            <button type="submit">"Create key"</button>
        </form>
        {move || loaded(keys.get(), move |ks: Vec<ApiKeyInfo>| view! {
            <table>
                <thead><tr><th>"Name"</th><th>"Prefix"</th><th>"Role"</th><th>"Created"</th><th>"Last used"</th><th>"Expires"</th><th></th></tr></thead>
                <tbody>{ks.into_iter().map(|k| {
                    let id = k.id;
                    view! {
                        <tr class:invalidated=k.revoked_at.is_some()>
                            <td>{k.name}</td><td class="mono">{k.prefix}</td><td>{k.role.as_str()}</td>
                            <td>{format!("{} by {}", when(k.created_at), k.created_by)}</td>
                            <td>{k.last_used_at.map(when).unwrap_or_default()}</td>
                            <td>{k.expires_at.map(when).unwrap_or_else(|| "never (made before keys expired)".into())}</td>
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
