//! `ManifestDir`: the `--manifests DIR` source. Reads every `*.yaml`/`*.yml` file under a
//! directory (recursively, sorted by path), keeps the last good version of whatever breaks,
//! and watches the directory for changes.
//!
//! ```text
//! DIR ──walk (sorted, hidden names skipped)──► file ──parse_documents──► objects of that file
//!                                                 (broken document or unreadable file: keep the
//!                                                  objects it had before)
//! every file's objects ──dedupe by (kind, namespace, name), later path wins──► Snapshot
//! ```
//!
//! Names starting with `.` are skipped, so editor temporaries and the `..data` directories of
//! a mounted ConfigMap are not read twice.

use std::{
    collections::{BTreeMap, HashSet},
    fs, io,
    path::{Path, PathBuf},
};

use notify::{
    EventKind, RecommendedWatcher, RecursiveMode, Watcher,
    event::{AccessKind, AccessMode},
};

use super::{Changes, Source};
use crate::{
    error::ControllerError,
    manifest::{self, Object},
    snapshot::Snapshot,
};

/// `(kind, namespace, name)`, as returned by [`Object::key`].
type Key<'a> = (&'static str, &'a str, &'a str);

/// Directory depth beyond which the walk stops (guards against symlink loops).
const MAX_DEPTH: usize = 32;

/// What one file contributed at the last read.
#[derive(Clone)]
struct FileState {
    /// The fingerprint of the text that was parsed: an unchanged file is not parsed again.
    /// `None` after a read failed, so that the next successful read parses.
    text: Option<Fingerprint>,
    /// The objects it contributes (after keeping last good versions).
    objects: Vec<Object>,
    /// The problems its parse reported, kept alive while the text stays the same.
    problems: Vec<String>,
}

/// The `--manifests DIR` source.
pub struct ManifestDir {
    dir: PathBuf,
    /// Every manifest file read, by path.
    files: BTreeMap<PathBuf, FileState>,
    reported: Reported,
    watcher: Option<RecommendedWatcher>,
}

impl ManifestDir {
    /// Checks that `dir` is a readable directory. Nothing is read yet.
    pub fn open(dir: &Path) -> Result<Self, ControllerError> {
        let fail = |source| ControllerError::ManifestsDir {
            path: dir.to_owned(),
            source,
        };
        if !fs::metadata(dir).map_err(fail)?.is_dir() {
            return Err(fail(io::Error::from(io::ErrorKind::NotADirectory)));
        }
        fs::read_dir(dir).map_err(fail)?;
        Ok(Self {
            dir: dir.to_owned(),
            files: BTreeMap::new(),
            reported: Reported::default(),
            watcher: None,
        })
    }

    /// The directory this source reads.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Watches the directory (recursively) and calls `changes.notify()` on every change:
    /// files created, written, renamed or removed, and directories likewise.
    pub fn watch(&mut self, changes: Changes) -> Result<(), ControllerError> {
        self.watch_with(changes, || {})
    }

    /// [`Self::watch`], also calling `on_change` once per change event (for metrics).
    pub fn watch_with(
        &mut self,
        changes: Changes,
        on_change: impl Fn() + Send + 'static,
    ) -> Result<(), ControllerError> {
        let fail = |source| ControllerError::Watch {
            path: self.dir.clone(),
            source,
        };
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
                Ok(event) if is_change(&event.kind) => {
                    on_change();
                    changes.notify();
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "manifest watch error; re-reading");
                    changes.notify();
                }
            })
            .map_err(fail)?;
        watcher
            .watch(&self.dir, RecursiveMode::Recursive)
            .map_err(fail)?;
        self.watcher = Some(watcher);
        Ok(())
    }

    /// Re-reads the directory and returns every object, de-duplicated and sorted by key.
    pub fn read(&mut self) -> Vec<Object> {
        let listing = list(&self.dir);
        let mut next = BTreeMap::new();
        for (dir, error) in &listing.unlisted {
            let id = format!("list {} {error}", dir.display());
            if self.reported.first(id) {
                tracing::error!(dir = %dir.display(), %error, "cannot list manifests; keeping what was read before");
            }
            for (path, state) in self.files.range(dir.clone()..) {
                if !path.starts_with(dir) {
                    break;
                }
                self.reported.keep(&state.problems);
                next.insert(path.clone(), state.clone());
            }
        }
        self.reported.take_recorded();
        for path in listing.files {
            let previous = self.files.remove(&path);
            let state = match fs::read_to_string(&path) {
                Ok(text) => match previous {
                    Some(previous) if previous.text == Some(Fingerprint::of(&text)) => {
                        self.reported.keep(&previous.problems);
                        previous
                    }
                    previous => {
                        let previous = previous.map(|p| p.objects);
                        let objects =
                            read_file(&path, &text, previous.as_deref(), &mut self.reported);
                        FileState {
                            text: Some(Fingerprint::of(&text)),
                            objects,
                            problems: self.reported.take_recorded(),
                        }
                    }
                },
                // Removed between listing and reading: a removal, like a missing file.
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => {
                    if self
                        .reported
                        .first(format!("read {} {error}", path.display()))
                    {
                        tracing::error!(file = %path.display(), %error, "cannot read manifest file; keeping what was read before");
                    }
                    self.reported.take_recorded();
                    FileState {
                        text: None,
                        objects: previous.map(|p| p.objects).unwrap_or_default(),
                        problems: Vec::new(),
                    }
                }
            };
            next.insert(path, state);
        }
        self.files = next;
        let objects = dedupe(&self.files, &mut self.reported);
        self.reported.end_round();
        objects
    }
}

impl Source for ManifestDir {
    fn snapshot(&mut self) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for object in self.read() {
            snapshot.insert(object);
        }
        snapshot
    }
}

/// Identifies a file's text without keeping it: its length and two 64-bit SipHashes with
/// different seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint(usize, u64, u64);

impl Fingerprint {
    fn of(text: &str) -> Self {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let hash = |seed: u8| {
            let mut hasher = DefaultHasher::new();
            seed.hash(&mut hasher);
            text.hash(&mut hasher);
            hasher.finish()
        };
        Self(text.len(), hash(1), hash(2))
    }
}

/// Whether a watch event may mean different content. Opening or reading a file (as this
/// source itself does) is not a change; closing a file after writing is.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// The objects of one file. When some document is broken, objects the file had before and
/// that no good document provides now are kept: a broken edit never removes anything.
fn read_file(
    path: &Path,
    text: &str,
    previous: Option<&[Object]>,
    reported: &mut Reported,
) -> Vec<Object> {
    let mut objects = Vec::new();
    let mut broken = false;
    for result in manifest::parse_documents(text) {
        match result {
            Ok(Object::Other { api_version, kind }) => {
                tracing::debug!(file = %path.display(), %api_version, %kind, "ignoring object of a kind wicket does not read");
            }
            Ok(object) if object.key().is_none() => {
                if reported.first(format!("noname {} {}", path.display(), kind_of(&object))) {
                    tracing::warn!(file = %path.display(), kind = kind_of(&object), "ignoring object without metadata.name");
                }
            }
            Ok(object) => objects.push(object),
            Err(error) => {
                broken = true;
                if reported.first(format!("doc {} {error}", path.display())) {
                    tracing::error!(
                        file = %path.display(),
                        document = error.index,
                        line = error.line,
                        reason = %error.message,
                        "cannot parse manifest document; its last good version, if any, stays in use"
                    );
                }
            }
        }
    }
    if let (true, Some(previous)) = (broken, previous) {
        let present: HashSet<Key<'_>> = objects.iter().filter_map(Object::key_ref).collect();
        let kept: Vec<Object> = previous
            .iter()
            .filter(|o| o.key_ref().is_some_and(|k| !present.contains(&k)))
            .cloned()
            .collect();
        objects.extend(kept);
    }
    objects
}

/// One object per key; the later file (in path order), then the later document, wins.
fn dedupe(files: &BTreeMap<PathBuf, FileState>, reported: &mut Reported) -> Vec<Object> {
    let mut by_key: BTreeMap<Key<'_>, (&Path, &Object)> = BTreeMap::new();
    for (path, state) in files {
        for object in &state.objects {
            let Some(key) = object.key_ref() else {
                continue;
            };
            if let Some((earlier, _)) = by_key.insert(key, (path, object)) {
                let object = display_key(&key);
                if reported.first(format!(
                    "dup {object} {} {}",
                    earlier.display(),
                    path.display()
                )) {
                    tracing::warn!(
                        %object,
                        used = %path.display(),
                        ignored = %earlier.display(),
                        "object defined more than once; the later definition wins"
                    );
                }
            }
        }
    }
    by_key
        .into_values()
        .map(|(_, object)| object.clone())
        .collect()
}

/// `Ingress default/web`, or `IngressClass wicket` for cluster-scoped kinds.
fn display_key((kind, namespace, name): &Key<'_>) -> String {
    if namespace.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {namespace}/{name}")
    }
}

pub(crate) fn kind_of(object: &Object) -> &str {
    match object {
        Object::Ingress(_) => "Ingress",
        Object::IngressClass(_) => "IngressClass",
        Object::Service(_) => "Service",
        Object::EndpointSlice(_) => "EndpointSlice",
        Object::Secret(_) => "Secret",
        Object::Other { kind, .. } => kind,
    }
}

/// Manifest files found under a directory, and the directories that could not be listed.
#[derive(Default)]
pub(crate) struct Listing {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) unlisted: Vec<(PathBuf, io::Error)>,
}

/// Every `*.yaml`/`*.yml` file under `dir` (recursively, sorted, hidden names skipped).
pub(crate) fn list(dir: &Path) -> Listing {
    let mut listing = Listing::default();
    let mut visited = HashSet::new();
    walk(dir, 0, &mut visited, &mut listing);
    listing.files.sort();
    listing
}

fn walk(dir: &Path, depth: usize, visited: &mut HashSet<PathBuf>, listing: &mut Listing) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Ok(real) = fs::canonicalize(dir)
        && !visited.insert(real)
    {
        return;
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => return listing.unlisted.push((dir.to_owned(), error)),
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follows symlinks; a dangling one is skipped.
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, depth + 1, visited, listing);
        } else if meta.is_file() && is_manifest(&path) {
            listing.files.push(path);
        }
    }
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// Problems are logged once while they persist; one that goes away and comes back is
/// logged again.
#[derive(Default)]
struct Reported {
    before: HashSet<String>,
    now: HashSet<String>,
    /// Ids recorded since the last [`Reported::take_recorded`].
    recorded: Vec<String>,
}

impl Reported {
    /// Records `id` for this round; true when it was not present in the previous round.
    fn first(&mut self, id: String) -> bool {
        let new = !self.before.contains(&id);
        self.recorded.push(id.clone());
        self.now.insert(id);
        new
    }

    /// The ids recorded since the last call: the problems of one file's parse.
    fn take_recorded(&mut self) -> Vec<String> {
        std::mem::take(&mut self.recorded)
    }

    /// Records `ids` for this round without logging: problems of a file not parsed again.
    fn keep(&mut self, ids: &[String]) {
        self.now.extend(ids.iter().cloned());
    }

    fn end_round(&mut self) {
        self.recorded.clear();
        self.before = std::mem::take(&mut self.now);
    }
}

#[cfg(test)]
mod tests;
