//! Overview: counts, the augmentation queue with its dead letters, recent activity.
use leptos::prelude::*;
use leptos::task::spawn_local;
use memori_types::admin::Overview;

use crate::api;
use crate::components::{AuditTable, ErrorLine, is_admin, loaded};

#[component]
pub(crate) fn Overview() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let data = LocalResource::new(move || {
        reload.track();
        async move { api::get::<Overview>("/overview").await }
    });
    let error = RwSignal::new(None::<String>);
    let retry = move |path: String| {
        spawn_local(async move {
            match api::post::<serde_json::Value>(&path, &serde_json::json!({})).await {
                Ok(_) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <h1>"Overview"</h1>
        <ErrorLine error/>
        {move || loaded(data.get(), |o: Overview| {
            let retry_all = retry;
            let dead_class = if o.jobs.dead > 0 { "card bad" } else { "card" };
            view! {
                <section class="cards">
                    <div class="card"><b id="count-entities">{o.entities}</b>" entities"</div>
                    <div class="card"><b>{o.sessions}</b>" sessions"</div>
                    <div class="card"><b>{o.messages}</b>" messages"</div>
                    <div class="card"><b>{o.memories}</b>" current memories"</div>
                    <div class="card"><b>{o.invalidated}</b>" invalidated"</div>
                    <div class="card"><b>{o.graph_edges}</b>" graph edges"</div>
                </section>
                <h2>"Augmentation queue"</h2>
                <section class="cards">
                    <div class="card"><b>{o.jobs.pending}</b>" pending"</div>
                    <div class="card"><b>{o.jobs.running}</b>" running"</div>
                    <div class="card"><b>{o.jobs.done}</b>" done"</div>
                    <div class=dead_class><b>{o.jobs.dead}</b>" dead letters"</div>
                </section>
                {(!o.failing_jobs.is_empty()).then(|| view! {
                    <table>
                        <thead><tr><th>"Job"</th><th>"Status"</th><th>"Attempts"</th><th>"Last error"</th><th></th></tr></thead>
                        <tbody>
                            {o.failing_jobs.into_iter().map(|j| {
                                let path = format!("/jobs/{}/retry", j.id);
                                view! {
                                    <tr>
                                        <td>{j.id}</td><td>{j.status.as_str()}</td>
                                        <td>{format!("{}/{}", j.attempts, j.max_attempts)}</td>
                                        <td class="mono">{j.last_error.unwrap_or_default()}</td>
                                        <td>{is_admin().then(|| view! {
                                            <button on:click=move |_| retry_all(path.clone())>"Retry"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    {is_admin().then(|| view! {
                        <button on:click=move |_| retry_all("/jobs/retry-dead".into())>"Retry all dead letters"</button>
                    })}
                })}
                <h2>"Recent activity"</h2>
                <AuditTable entries=o.recent/>
            }
        })}
    }
}
