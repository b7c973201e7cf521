//! Plain data shared by memori-rig, the dashboard server and the dashboard's browser app.
//!
//! Everything here serialises with serde and compiles to `wasm32-unknown-unknown`: no IO, no
//! database, no rig. The library re-exports [`model`] and [`settings`] (`memori_rig::Memory`
//! is `memori_types::model::Memory`); the dashboard's JSON API speaks [`admin`] and [`http`].
#![warn(missing_docs)]

pub mod admin;
pub mod http;
pub mod model;
pub mod settings;
