//! The shell: sign-in gate, navigation and routes.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;
use memori_types::http::{LoginRequest, Me, OperatorRole};

use crate::api;

/// The signed-in operator, shared by every page (`None`: show the sign-in form).
#[derive(Clone, Copy)]
pub(crate) struct Auth(pub(crate) RwSignal<Option<Me>>);

thread_local! {
    static AUTH: std::cell::Cell<Option<RwSignal<Option<Me>>>> = const { std::cell::Cell::new(None) };
}

/// The session ended (a 401): forget the operator so the sign-in form shows.
pub(crate) fn signed_out() {
    if let Some(s) = AUTH.with(std::cell::Cell::get) {
        s.set(None);
    }
    api::set_csrf(None);
}

/// Whether the operator may change things.
pub(crate) fn is_admin() -> bool {
    use_context::<Auth>().is_some_and(|a| a.0.with(|m| m.as_ref().is_some_and(|m| m.role == OperatorRole::Admin)))
}

/// A message line for failures, empty when there is none.
#[component]
pub(crate) fn ErrorLine(error: RwSignal<Option<String>>) -> impl IntoView {
    move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })
}

#[component]
pub(crate) fn App() -> impl IntoView {
    let me = RwSignal::new(None::<Me>);
    let checked = RwSignal::new(false);
    AUTH.with(|a| a.set(Some(me)));
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
                    view! { <Login/> }.into_any()
                } else {
                    view! { <Shell/> }.into_any()
                }
            }}
        </Router>
    }
}

#[component]
fn Login() -> impl IntoView {
    let Auth(me) = expect_context::<Auth>();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let req = LoginRequest { username: username.get_untracked(), password: password.get_untracked() };
        spawn_local(async move {
            match api::post::<Me>("/auth/login", &req).await {
                Ok(m) => {
                    api::set_csrf(m.csrf_token.clone());
                    error.set(None);
                    me.set(Some(m));
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <main class="login">
            <h1>"memori"</h1>
            <p class="muted">"Sign in to audit, tune and erase memories."</p>
            <form on:submit=submit>
                <label>"Name" <input id="username" autocomplete="username" required
                    prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev))/></label>
                <label>"Password" <input id="password" type="password" autocomplete="current-password" required
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/></label>
                <button id="login" type="submit" disabled=move || busy.get()>"Sign in"</button>
            </form>
            <ErrorLine error/>
        </main>
    }
}

#[component]
fn Shell() -> impl IntoView {
    let Auth(me) = expect_context::<Auth>();
    let logout = move |_| {
        spawn_local(async move {
            let _ = api::post::<()>("/auth/logout", &serde_json::json!({})).await;
            signed_out();
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
            <A href="/keys">"API keys"</A>
            <span class="who">
                {move || me.with(|m| m.as_ref().map(|m| format!("{} ({})", m.name, m.role.as_str())))}
                <button id="logout" class="link" on:click=logout>"Sign out"</button>
            </span>
        </nav>
        <main>
            <Routes fallback=|| view! { <p>"No such page."</p> }>
                <Route path=path!("/") view=crate::pages::Overview/>
                <Route path=path!("/entities") view=crate::pages::Entities/>
                <Route path=path!("/entities/:id") view=crate::pages::EntityPage/>
                <Route path=path!("/entities/:id/sessions/:session") view=crate::pages::SessionPage/>
                <Route path=path!("/entities/:id/graph") view=crate::graph::GraphPage/>
                <Route path=path!("/memories/:id") view=crate::pages::MemoryPage/>
                <Route path=path!("/playground") view=crate::tune::Playground/>
                <Route path=path!("/settings") view=crate::tune::SettingsPage/>
                <Route path=path!("/compliance") view=crate::compliance::Compliance/>
                <Route path=path!("/audit") view=crate::compliance::AuditPage/>
                <Route path=path!("/keys") view=crate::compliance::KeysPage/>
            </Routes>
        </main>
    }
}

/// Show a loaded value, a loading line, or the failure.
pub(crate) fn loaded<T: Clone + Send + Sync + 'static, V: IntoView + 'static>(
    r: Option<api::ApiResult<T>>,
    f: impl FnOnce(T) -> V,
) -> AnyView {
    match r {
        None => view! { <p class="loading">"Loading…"</p> }.into_any(),
        Some(Ok(v)) => f(v).into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
    }
}

/// A date-time as `YYYY-MM-DD HH:MM` (UTC).
pub(crate) fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}
