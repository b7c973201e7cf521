//! The shell: the sign-in gate, navigation and the routes to each page.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;
use memori_types::http::Me;

use crate::api;
use crate::components::Auth;

#[component]
pub(crate) fn App() -> impl IntoView {
    let me = RwSignal::new(None::<Me>);
    let checked = RwSignal::new(false);
    // A 401 from any call means the session ended: show the sign-in form. Not when nobody
    // was signed in (a wrong password): that would remount the form and wipe its error.
    api::on_signed_out(move || {
        if me.with_untracked(Option::is_some) {
            me.set(None);
        }
    });
    provide_context(Auth(me));
    spawn_local(async move {
        if let Ok(m) = api::get::<Me>("/auth/me").await {
            api::set_csrf(m.csrf_token.clone());
            me.set(Some(m));
        }
        checked.set(true);
    });
    view! {
        <Router>
            {move || {
                if !checked.get() {
                    view! { <p class="loading">"Loading…"</p> }.into_any()
                } else if me.with(Option::is_none) {
                    view! { <crate::pages::login::Login/> }.into_any()
                } else {
                    view! { <Shell/> }.into_any()
                }
            }}
        </Router>
    }
}

#[component]
fn Shell() -> impl IntoView {
    let Auth(me) = expect_context::<Auth>();
    let logout = move |_| {
        spawn_local(async move {
            let _ = api::post::<()>("/auth/logout", &serde_json::json!({})).await;
            api::set_csrf(None);
            me.set(None);
        });
    };
    view! {
        <nav class="top">
            <span class="brand">"memori"</span>
            <A href="/">"Overview"</A>
            <A href="/entities">"Entities"</A>
            <A href="/playground">"Recall playground"</A>
            <A href="/settings">"Settings"</A>
            <A href="/compliance">"Compliance"</A>
            <A href="/audit">"Audit log"</A>
            {move || crate::components::is_admin().then(|| view! { <A href="/keys">"API keys"</A> })}
            <span class="who">
                {move || me.with(|m| m.as_ref().map(|m| format!("{} ({})", m.name, m.role.as_str())))}
                <button id="logout" class="link" on:click=logout>"Sign out"</button>
            </span>
        </nav>
        <main>
            <Routes fallback=|| view! { <p>"No such page."</p> }>
                <Route path=path!("/") view=crate::pages::overview::Overview/>
                <Route path=path!("/entities") view=crate::pages::entities::Entities/>
                <Route path=path!("/entities/:id") view=crate::pages::entity::EntityPage/>
                <Route path=path!("/entities/:id/sessions/:session") view=crate::pages::session::SessionPage/>
                <Route path=path!("/entities/:id/graph") view=crate::pages::graph::GraphPage/>
                <Route path=path!("/memories/:id") view=crate::pages::memory::MemoryPage/>
                <Route path=path!("/playground") view=crate::pages::playground::Playground/>
                <Route path=path!("/settings") view=crate::pages::settings::SettingsPage/>
                <Route path=path!("/compliance") view=crate::pages::compliance::Compliance/>
                <Route path=path!("/audit") view=crate::pages::audit::AuditPage/>
                <Route path=path!("/keys") view=crate::pages::keys::KeysPage/>
            </Routes>
        </main>
    }
}
