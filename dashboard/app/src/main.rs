//! The memori dashboard's browser app: Leptos, client-side rendered, talking to `/api/v1`.
//!
//! Stored text (messages, memories, entity ids) is only ever rendered as text nodes, never as
//! HTML, so a memory saying `<script>` shows those characters and runs nothing.

// `#[component]` expands to `pub` props structs, which the workspace lint would flag.
#![allow(unreachable_pub)]

// Layers, bottom up: `api` (the HTTP client) < `components` (shared widgets) < `pages` (one
// file per page) < `app` (the shell and routes). Nothing imports from a layer above it.
mod api;
mod app;
mod components;
mod pages;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
