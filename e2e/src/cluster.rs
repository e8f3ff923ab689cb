//! Where scenarios put Kubernetes objects: the [`Cluster`] trait and its manifest-directory
//! implementation.
//!
//! Scenarios only ever call [`Cluster::apply`] and [`Cluster::delete`], and get their
//! backends from [`Cluster::backends`], so the same list runs against
//! `wicket serve --manifests DIR` and against a Kubernetes API
//! ([`ApiCluster`](crate::apicluster::ApiCluster)).

use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::manifest::NAMESPACE;

/// A place that holds Kubernetes objects and that a running wicket reads them from.
///
/// Objects are grouped in named bundles: `apply(name, yaml)` makes the objects of bundle
/// `name` exactly those of the multi-document `yaml` (creating, replacing or removing),
/// and it becomes visible to wicket as one change where the implementation allows it.
pub trait Cluster: Send + Sync {
    /// Creates or replaces bundle `name` with the objects in `yaml`.
    fn apply(&self, name: &str, yaml: &str) -> impl Future<Output = Result<()>> + Send;

    /// Removes bundle `name` and its objects.
    fn delete(&self, name: &str) -> impl Future<Output = Result<()>> + Send;

    /// Starts one echo backend per name, the way this cluster runs workloads (loopback
    /// processes, or pods whose addresses EndpointSlices may carry).
    fn backends(&self, names: &[&str]) -> impl Future<Output = Result<Vec<Backend>>> + Send;

    /// An address of the kind [`Cluster::backends`] hands out where nothing listens
    /// (connections are refused).
    fn dead_backend(&self, name: &str) -> impl Future<Output = Result<Backend>> + Send;

    /// The namespace the objects of bundles end up in (what wicket names in its logs).
    fn namespace(&self) -> &str {
        NAMESPACE
    }
}

/// A temporary directory of manifests: bundle `name` is the file `name.yaml`, written
/// atomically (temporary file in the same directory, then rename).
#[derive(Debug)]
pub struct ManifestDir {
    dir: TempDir,
}

impl ManifestDir {
    /// A new, empty directory (removed when dropped).
    pub fn new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("wicket-e2e-")
            .tempdir()
            .map_err(|e| Error::io("creating a manifests directory", e))?;
        Ok(Self { dir })
    }

    /// The directory to pass to `--manifests`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The file that holds bundle `name`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.yaml"))
    }

    /// Writes `text` verbatim as bundle `name`, atomically.
    pub fn write(&self, name: &str, text: &str) -> Result<()> {
        write_atomic(&self.file(name), text.as_bytes())
    }

    /// Removes bundle `name`.
    pub fn remove(&self, name: &str) -> Result<()> {
        let path = self.file(name);
        std::fs::remove_file(&path)
            .map_err(|e| Error::io(format!("removing {}", path.display()), e))
    }
}

impl Cluster for ManifestDir {
    async fn apply(&self, name: &str, yaml: &str) -> Result<()> {
        self.write(name, yaml)
    }

    async fn delete(&self, name: &str) -> Result<()> {
        self.remove(name)
    }

    /// Loopback `wicket echo` processes.
    async fn backends(&self, names: &[&str]) -> Result<Vec<Backend>> {
        let mut backends = Vec::with_capacity(names.len());
        for name in names {
            backends.push(Backend::loopback(name).await?);
        }
        Ok(backends)
    }

    /// A released loopback port.
    async fn dead_backend(&self, name: &str) -> Result<Backend> {
        Backend::dead_loopback(name)
    }
}

/// Replaces `path` with `contents` in one step: readers see the old file or the new one,
/// never a partial write. The temporary file has no `.yaml` extension, so a directory
/// watcher that only reads `*.yaml` ignores it.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let what = || format!("writing {}", path.display());
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".wicket-e2e-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(what(), e))?;
    temp.write_all(contents).map_err(|e| Error::io(what(), e))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| Error::io(what(), e))?;
    temp.persist(path).map_err(|e| Error::io(what(), e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn apply_replaces_the_whole_file_and_leaves_no_temporaries() -> Result<()> {
        let dir = ManifestDir::new()?;
        dir.apply("app", "first: 1\n").await?;
        dir.apply("app", "second: 2\n").await?;
        let text = std::fs::read_to_string(dir.file("app")).map_err(|e| Error::io("read", e))?;
        assert_eq!(text, "second: 2\n");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .map_err(|e| Error::io("list", e))?
            .filter_map(|entry| {
                entry
                    .ok()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
            })
            .collect();
        assert_eq!(names, vec!["app.yaml".to_owned()]);
        dir.delete("app").await?;
        assert!(!dir.file("app").exists());
        Ok(())
    }
}
