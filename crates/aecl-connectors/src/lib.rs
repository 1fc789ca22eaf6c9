//! aecl's connectors: what executes an allowed call, and how each effect is undone.
//!
//! The catalog binds an action to a connector by name (`connector = "NAME"`); the
//! operator's `connectors.toml` says what each name is (`kind = "sql" | "fs" | "http" |
//! "webhook" | "shell"`) and how it is set up ([`config`]). Every connector implements the
//! engine's one [`aecl_engine::Connector`] port; [`Connectors`] is the registry, itself a
//! connector: it hands each call to the instance that the call's action names in the
//! policy that decided it (the engine's [`aecl_engine::Invocation`]), failing closed
//! (`not_configured`) when there is none.
//!
//! Each connector keeps what it needs to undo an effect — the pre-image of the rows a SQL
//! statement changed (in the target database, in the same transaction), the previous
//! content of a file — and its compensation first checks that the resource is still in the
//! state the effect left it in, else it answers `undo_conflict` and touches nothing.

mod binding;
pub mod config;
mod error;
pub mod fs;
pub mod http;
mod http_client;
mod private_places;
mod real_path;
mod reconcile;
pub mod registry;
pub mod secrets;
pub mod shell;
pub mod sql;
pub mod webhook;

pub use config::{ConnectorConfig, ConnectorsFile};
pub use error::ConnectorError;
pub use private_places::{refuse_reaching, refuse_store_database};
pub use registry::Connectors;
