//! Shared helpers for the cross-crate tests live beside them.
