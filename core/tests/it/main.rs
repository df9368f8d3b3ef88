//! The integration tests of baton-core, in one binary.

mod common;
mod crafted;
mod events;
mod fold;
mod fold_oversight;
mod ledger_entry;
mod ledger_head;
mod ledger_properties;
mod ledger_tree;
mod log;
mod properties;
mod render;
mod vectors;
mod verify;
