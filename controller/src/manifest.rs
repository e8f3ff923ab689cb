//! Parsing Kubernetes YAML (multi-document) into the typed objects of a [`crate::snapshot::Snapshot`].
