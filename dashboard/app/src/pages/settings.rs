//! Settings: recall ranking, extractor choice and retention, saved as audited versions.
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use memori_types::http::{SaveSettings, SettingsVersion, SettingsView};
use memori_types::settings::{ExtractorChoice, RecallConfig, Settings};

use crate::api;
use crate::components::{ErrorLine, Invalid, RecallConfigForm, is_admin, loaded, when};

#[component]
pub(crate) fn SettingsPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let view_data = LocalResource::new(move || {
        reload.track();
        async move { api::get::<SettingsView>("/settings").await }
    });
    let history = LocalResource::new(move || {
        reload.track();
        async move { api::get::<Vec<SettingsVersion>>("/settings/history").await }
    });
    let config = RwSignal::new(RecallConfig::default());
    let invalid = Invalid::new();
    let offline = RwSignal::new(false);
    let configured = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let per_process = RwSignal::new(String::new());
    let base = RwSignal::new(None::<i64>);
    let error = RwSignal::new(None::<String>);
    let status = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(v)) = view_data.get() {
            config.set(v.settings.recall.clone());
            offline.set(v.settings.extraction.extractor == ExtractorChoice::Offline);
            configured.set(v.extractor.clone());
            days.set(v.settings.retention.days.map(|d| d.to_string()).unwrap_or_default());
            per_process.set(
                v.settings.retention.processes.iter().map(|(p, d)| format!("{p}={d}")).collect::<Vec<_>>().join("\n"),
            );
            base.set(Some(v.version));
        }
    });
    let save = move |_| {
        status.set(None);
        if let Err(e) = invalid.check() {
            return error.set(Some(e));
        }
        let mut settings = Settings { recall: config.get_untracked(), ..Settings::default() };
        settings.extraction.extractor =
            if offline.get_untracked() { ExtractorChoice::Offline } else { ExtractorChoice::Configured };
        let d = days.get_untracked();
        settings.retention.days = if d.trim().is_empty() {
            None
        } else {
            match d.trim().parse() {
                Ok(n) => Some(n),
                Err(_) => return error.set(Some(format!("retention days {d:?} is not a whole number"))),
            }
        };
        for line in per_process.get_untracked().lines().filter(|l| !l.trim().is_empty()) {
            match line.split_once('=').and_then(|(p, n)| Some((p.trim().to_owned(), n.trim().parse().ok()?))) {
                Some((p, n)) => {
                    settings.retention.processes.insert(p, n);
                }
                None => return error.set(Some(format!("{line:?} is not process=days"))),
            }
        }
        let body = SaveSettings { base: base.get_untracked(), settings };
        spawn_local(async move {
            match api::put::<SettingsView>("/settings", &body).await {
                Ok(v) => {
                    error.set(None);
                    status.set(Some(format!("Saved as version {}. Running agents use it within seconds.", v.version)));
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <h1>"Settings"</h1>
        {move || loaded(view_data.get(), |v: SettingsView| view! {
            <p class="muted" id="settings-version">{format!("Version {} in effect · extractor {} · embeddings {}", v.version, v.extractor, v.embedder)}</p>
        })}
        {move || (!is_admin()).then(|| view! { <p class="muted" id="read-only">"Read-only: viewers see the settings; admins change them."</p> })}
        <fieldset class="plain" disabled=move || !is_admin()>
        <RecallConfigForm config invalid/>
        <fieldset class="knobs">
            <legend>"Extraction"</legend>
            <label>"Extractor for new conversations"
                <select id="set-extractor" prop:value=move || if offline.get() { "offline" } else { "configured" }
                    on:change=move |ev| offline.set(event_target_value(&ev) == "offline")>
                    <option value="configured">{move || format!("as configured in code ({})", configured.get())}</option>
                    <option value="offline">"built-in offline extractor (nothing sent to a model)"</option>
                </select>
            </label>
        </fieldset>
        <fieldset class="knobs">
            <legend>"Retention"</legend>
            <label>"Keep data for days (empty: forever)" <input id="set-retention-days" prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/></label>
            <label>"Per process (one process=days per line)" <textarea prop:value=move || per_process.get() on:input=move |ev| per_process.set(event_target_value(&ev))></textarea></label>
        </fieldset>
        </fieldset>
        {move || is_admin().then(|| view! { <button id="set-save" on:click=save>"Save settings"</button> })}
        <ErrorLine error/>
        {move || status.get().map(|s| view! { <p class="ok" id="settings-status">{s}</p> })}
        <p><A href="/playground">"Try settings in the recall playground before saving →"</A></p>
        <h2>"History"</h2>
        {move || loaded(history.get(), |h: Vec<SettingsVersion>| view! {
            <table>
                <thead><tr><th>"Version"</th><th>"Saved by"</th><th>"When"</th><th>"Token budget"</th><th>"Half-life"</th><th>"Retention"</th></tr></thead>
                <tbody>{h.into_iter().map(|v| view! {
                    <tr class="saved-version">
                        <td>{v.version}</td><td>{v.saved_by}</td><td>{when(v.saved_at)}</td>
                        <td>{v.settings.recall.token_budget}</td>
                        <td>{v.settings.recall.half_life_days.map(|h| format!("{h} d")).unwrap_or_else(|| "off".into())}</td>
                        <td>{v.settings.retention.days.map(|d| format!("{d} d")).unwrap_or_else(|| "forever".into())}</td>
                    </tr>
                }).collect_view()}</tbody>
            </table>
        })}
    }
}
