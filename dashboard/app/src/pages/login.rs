//! The sign-in form.
use leptos::prelude::*;
use leptos::task::spawn_local;
use memori_types::http::{LoginRequest, Me};

use crate::api;
use crate::components::{Auth, ErrorLine};

#[component]
pub(crate) fn Login() -> impl IntoView {
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
