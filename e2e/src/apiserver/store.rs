//! The object store: one global resourceVersion counter (like an etcd revision), a bounded
//! history of changes for watch replay and point-in-time lists, registered watchers, the
//! bearer tokens and the log of mutating requests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::convert;
use super::defaults::{self, Allocator};
use super::meta;
use super::resources::{self, ResourceType};
use super::selector::{FieldSelector, LabelSelector};
use super::status::Status;
use super::validate;

/// The highest resourceVersion any store in this process has issued: a fresh store starts
/// above it, so a client that kept a resourceVersion across a restart sees it as expired.
static HIGHEST_RV: AtomicU64 = AtomicU64::new(0);

const DEFAULT_HISTORY: usize = 10_000;
const TOO_LARGE_WAIT: Duration = Duration::from_secs(3);

/// Namespaces every fresh store has.
pub const INITIAL_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// (storage key, namespace, name); cluster-scoped objects have an empty namespace.
type Key = (&'static str, String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One committed write.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub storage: &'static str,
    pub namespace: String,
    pub kind: ChangeKind,
    /// The stored object after the change (for Deleted: its last state, at `rv`).
    pub object: Value,
    /// The stored object before the change.
    pub old: Option<Value>,
}

/// What a watcher's channel carries.
#[derive(Debug, Clone)]
pub enum WatchItem {
    Change(Arc<Change>),
    /// Everything up to this resourceVersion has been delivered.
    Bookmark(u64),
}

#[derive(Debug)]
struct Watcher {
    id: u64,
    storage: &'static str,
    namespace: Option<String>,
    tx: mpsc::UnboundedSender<WatchItem>,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main resource: `.status` is kept for kinds with a status subresource.
    Main,
    /// The `status` subresource: only `.status` changes.
    Status,
    /// Both (in-process writes).
    All,
}

/// One mutating HTTP request, as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRecord {
    pub method: String,
    /// The URL path, without the query.
    pub path: String,
    pub user: String,
    pub at: SystemTime,
    /// The HTTP status code of the answer.
    pub code: u16,
}

/// The resourceVersion semantics of a list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListRv {
    /// `resourceVersion` unset: the most recent state.
    Latest,
    /// `resourceVersion=0`: any state (this store serves the latest).
    Any,
    NotOlderThan(u64),
    Exact(u64),
}

/// A list request.
#[derive(Debug)]
pub struct ListQuery<'a> {
    pub namespace: Option<&'a str>,
    pub labels: &'a LabelSelector,
    pub fields: &'a FieldSelector,
    pub rv: ListRv,
    pub limit: Option<usize>,
    pub continue_token: Option<&'a str>,
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFrom {
    /// At the current state; `initial` sends synthetic ADDED events for it first.
    Now { initial: bool },
    /// After this resourceVersion: replays retained history.
    After(u64),
    /// `sendInitialEvents=true`: ADDED for the current state, then an annotated BOOKMARK.
    InitialEvents,
}

/// A registered watch, ready to stream.
#[derive(Debug)]
pub struct WatchStart {
    pub id: u64,
    pub rx: mpsc::UnboundedReceiver<WatchItem>,
    /// Stored objects to send as ADDED first.
    pub initial: Vec<Value>,
    /// resourceVersion of the end-of-initial-events BOOKMARK, if one is due.
    pub initial_end: Option<u64>,
    /// Retained changes to send before live ones.
    pub replay: Vec<Arc<Change>>,
    /// Changes at or below this resourceVersion are not sent.
    pub skip_through: u64,
}

/// DeleteOptions.preconditions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

#[derive(Debug)]
struct Inner {
    rv: u64,
    /// Every change with `rv > floor` is retained in `history`.
    floor: u64,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    objects: BTreeMap<Key, Value>,
    watchers: Vec<Watcher>,
    next_watcher: u64,
    writes: Vec<WriteRecord>,
    /// token → user
    tokens: HashMap<String, String>,
    alloc: Allocator,
    bookmark_interval: Duration,
}

/// Everything the server knows; survives a restart of the listener when kept.
#[derive(Debug)]
pub struct State {
    inner: Mutex<Inner>,
    changed: Notify,
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

impl State {
    /// A fresh store holding the initial namespaces.
    pub fn new() -> Self {
        let base = HIGHEST_RV.load(Ordering::SeqCst) + 1000;
        HIGHEST_RV.fetch_max(base, Ordering::SeqCst);
        let state = Self {
            inner: Mutex::new(Inner {
                rv: base,
                floor: base,
                history: VecDeque::new(),
                history_limit: DEFAULT_HISTORY,
                objects: BTreeMap::new(),
                watchers: Vec::new(),
                next_watcher: 1,
                writes: Vec::new(),
                tokens: HashMap::new(),
                alloc: Allocator::default(),
                bookmark_interval: Duration::from_secs(1),
            }),
            changed: Notify::new(),
        };
        if let Some(rt) = resources::by_kind("v1", "Namespace") {
            for ns in INITIAL_NAMESPACES {
                let body = json!({"metadata": {"name": ns}});
                // The initial namespaces are valid by construction.
                let _ = state.create(rt, "", body, false, false);
            }
        }
        state
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// Forgets all history: older resourceVersions and continue tokens become expired.
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.floor = inner.rv;
        inner.history.clear();
    }

    /// Caps the retained history (oldest changes are forgotten first).
    pub fn set_history_limit(&self, limit: usize) {
        let mut inner = self.lock();
        inner.history_limit = limit.max(1);
        trim_history(&mut inner);
    }

    /// Ends every open watch (their streams finish after what is already queued).
    pub fn drop_watches(&self) {
        self.lock().watchers.clear();
    }

    pub fn open_watches(&self) -> usize {
        let mut inner = self.lock();
        inner.watchers.retain(|w| !w.tx.is_closed());
        inner.watchers.len()
    }

    pub fn bookmark_interval(&self) -> Duration {
        self.lock().bookmark_interval
    }

    pub fn set_bookmark_interval(&self, every: Duration) {
        self.lock().bookmark_interval = every.max(Duration::from_millis(1));
    }

    /// The bearer token of `user`, created on first use.
    pub fn token_for(&self, user: &str) -> String {
        let mut inner = self.lock();
        if let Some((token, _)) = inner.tokens.iter().find(|(_, u)| *u == user) {
            return token.clone();
        }
        let token = format!(
            "{}.{:016x}",
            user.replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
            fastrand::u64(..)
        );
        inner.tokens.insert(token.clone(), user.to_owned());
        token
    }

    pub fn user_for_token(&self, token: &str) -> Option<String> {
        self.lock().tokens.get(token).cloned()
    }

    pub fn record_write(&self, record: WriteRecord) {
        self.lock().writes.push(record);
    }

    pub fn writes(&self) -> Vec<WriteRecord> {
        self.lock().writes.clone()
    }

    /// The stored object, in the shape `rt` serves.
    pub fn get(
        &self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Value, Status> {
        let inner = self.lock();
        inner
            .objects
            .get(&key(rt, namespace, name))
            .map(|o| convert::to_external(rt, o))
            .ok_or_else(|| Status::not_found(rt, name))
    }

    /// Every object of `rt`, in the shape it serves, sorted by namespace and name.
    pub fn objects(&self, rt: &'static ResourceType) -> Vec<Value> {
        let inner = self.lock();
        objects_of(&inner.objects, rt.storage)
            .map(|(_, o)| convert::to_external(rt, o))
            .collect()
    }

    /// POST: creates `body` in `namespace` (ignored for cluster-scoped types).
    pub fn create(
        &self,
        rt: &'static ResourceType,
        namespace: &str,
        body: Value,
        dry_run: bool,
        keep_status: bool,
    ) -> Result<Value, Status> {
        let mut inner = self.lock();
        let out = self.create_locked(&mut inner, rt, namespace, body, dry_run, keep_status);
        drop(inner);
        out
    }

    /// PUT: replaces `name`; the bool is true when the object was created.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        body: Value,
        part: Part,
        dry_run: bool,
        create_if_missing: bool,
    ) -> Result<(Value, bool), Status> {
        let mut inner = self.lock();
        self.update_locked(
            &mut inner,
            rt,
            namespace,
            name,
            body,
            part,
            dry_run,
            create_if_missing,
        )
    }

    /// PATCH: `patch` maps the current object (external shape, or None when missing and
    /// `create_if_missing`) to the new one, atomically with the write.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        part: Part,
        dry_run: bool,
        create_if_missing: bool,
        patch: impl FnOnce(Option<&Value>) -> Result<Value, Status>,
    ) -> Result<(Value, bool), Status> {
        let mut inner = self.lock();
        let current = inner
            .objects
            .get(&key(rt, namespace, name))
            .map(|o| convert::to_external(rt, o));
        match current {
            Some(current) => {
                let new = patch(Some(&current))?;
                self.update_locked(&mut inner, rt, namespace, name, new, part, dry_run, false)
            }
            None if create_if_missing && part != Part::Status => {
                let mut new = patch(None)?;
                if meta::name(&new).is_empty() {
                    meta::set(&mut new, "name", name);
                }
                if meta::name(&new) != name {
                    return Err(name_mismatch(meta::name(&new), name));
                }
                let created = self.create_locked(&mut inner, rt, namespace, new, dry_run, false)?;
                Ok((created, true))
            }
            None => Err(Status::not_found(rt, name)),
        }
    }

    /// DELETE: the bool is true when the object is gone (false: finalizers hold it).
    pub fn delete(
        &self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        pre: &Preconditions,
        dry_run: bool,
    ) -> Result<(Value, bool), Status> {
        let mut inner = self.lock();
        self.delete_locked(&mut inner, rt, namespace, name, pre, dry_run)
    }

    /// DELETE on a collection: deletes every matching object, returns them as a list.
    pub fn delete_collection(
        &self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
        dry_run: bool,
    ) -> Result<Value, Status> {
        let mut inner = self.lock();
        let targets: Vec<(String, String)> = objects_of(&inner.objects, rt.storage)
            .filter(|((ns, _), o)| {
                namespace.is_none_or(|n| n == ns) && labels.matches(o) && fields.matches(o)
            })
            .map(|(k, _)| k)
            .collect();
        let mut items = Vec::new();
        for (ns, name) in targets {
            let (object, _) = self.delete_locked(
                &mut inner,
                rt,
                &ns,
                &name,
                &Preconditions::default(),
                dry_run,
            )?;
            items.push(strip_type(object));
        }
        let rv = inner.rv;
        Ok(list_body(rt, rv, items, None, None))
    }

    /// A list, waiting up to 3 s for a NotOlderThan resourceVersion the store has not reached
    /// (then 504, as the real server).
    pub async fn list(
        &self,
        rt: &'static ResourceType,
        query: &ListQuery<'_>,
    ) -> Result<Value, Status> {
        let deadline = Instant::now() + TOO_LARGE_WAIT;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.list_now(rt, query) {
                Err(status) if status.code == 504 && Instant::now() < deadline => {
                    let _ = tokio::time::timeout_at(deadline, notified).await;
                }
                other => return other,
            }
        }
    }

    fn list_now(&self, rt: &'static ResourceType, query: &ListQuery<'_>) -> Result<Value, Status> {
        let inner = self.lock();
        let (snapshot_rv, start) = match query.continue_token {
            Some(token) => {
                if !matches!(query.rv, ListRv::Latest) {
                    return Err(Status::bad_request(
                        "specifying resource version is not allowed when using continue",
                    ));
                }
                let (rv, start) = decode_continue(token)?;
                if rv < inner.floor {
                    return Err(Status::expired(EXPIRED_CONTINUE));
                }
                (rv, Some(start))
            }
            None => match query.rv {
                ListRv::Latest | ListRv::Any => (inner.rv, None),
                ListRv::NotOlderThan(n) | ListRv::Exact(n) if n > inner.rv => {
                    return Err(Status::too_large_resource_version(n, inner.rv));
                }
                ListRv::NotOlderThan(_) => (inner.rv, None),
                ListRv::Exact(n) if n < inner.floor => {
                    return Err(Status::expired(
                        "The resourceVersion for the provided list is too old.",
                    ));
                }
                ListRv::Exact(n) => (n, None),
            },
        };
        let snapshot = snapshot_at(&inner, rt.storage, snapshot_rv);
        let filtering = !query.labels.is_empty() || !query.fields.is_empty();
        let mut matching = snapshot.into_iter().filter(|((ns, name), o)| {
            query.namespace.is_none_or(|n| n == ns)
                && start
                    .as_ref()
                    .is_none_or(|s| (ns.as_str(), name.as_str()) > (s.0.as_str(), s.1.as_str()))
                && query.labels.matches(o)
                && query.fields.matches(o)
        });
        let mut items = Vec::new();
        let mut last = None;
        let limit = query.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        for (k, object) in matching.by_ref().take(limit) {
            items.push(strip_type(convert::to_external(rt, &object)));
            last = Some(k);
        }
        let rest = matching.count();
        let (token, remaining) = match (rest, last) {
            (0, _) | (_, None) => (None, None),
            (rest, Some(last)) => (
                Some(encode_continue(snapshot_rv, &last)),
                (!filtering).then_some(rest),
            ),
        };
        Ok(list_body(rt, snapshot_rv, items, token, remaining))
    }

    /// Registers a watch on `rt` (optionally one namespace).
    pub fn watch(
        &self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        from: WatchFrom,
    ) -> Result<WatchStart, Status> {
        let mut inner = self.lock();
        let in_scope =
            |c: &Change| c.storage == rt.storage && namespace.is_none_or(|n| n == c.namespace);
        let (initial, initial_end, replay, skip_through) = match from {
            WatchFrom::After(n) if n < inner.floor => {
                return Err(Status::expired(format!(
                    "too old resource version: {n} ({})",
                    inner.floor
                )));
            }
            WatchFrom::After(n) => {
                let replay = inner
                    .history
                    .iter()
                    .filter(|c| c.rv > n && in_scope(c))
                    .cloned()
                    .collect();
                (Vec::new(), None, replay, n)
            }
            WatchFrom::Now { initial } => {
                let objects = if initial {
                    current_objects(&inner, rt.storage, namespace)
                } else {
                    Vec::new()
                };
                (objects, None, Vec::new(), inner.rv)
            }
            WatchFrom::InitialEvents => {
                let objects = current_objects(&inner, rt.storage, namespace);
                (objects, Some(inner.rv), Vec::new(), inner.rv)
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let id = inner.next_watcher;
        inner.next_watcher += 1;
        inner.watchers.push(Watcher {
            id,
            storage: rt.storage,
            namespace: namespace.map(str::to_owned),
            tx,
        });
        Ok(WatchStart {
            id,
            rx,
            initial,
            initial_end,
            replay,
            skip_through,
        })
    }

    /// Queues a bookmark at the current resourceVersion for watcher `id`: it follows every
    /// change already queued for it, so it never runs ahead of what the watcher was sent.
    pub fn request_bookmark(&self, id: u64) {
        let inner = self.lock();
        if let Some(w) = inner.watchers.iter().find(|w| w.id == id) {
            let _ = w.tx.send(WatchItem::Bookmark(inner.rv));
        }
    }

    pub fn unregister(&self, id: u64) {
        self.lock().watchers.retain(|w| w.id != id);
    }

    fn create_locked(
        &self,
        inner: &mut Inner,
        rt: &'static ResourceType,
        namespace: &str,
        mut body: Value,
        dry_run: bool,
        keep_status: bool,
    ) -> Result<Value, Status> {
        if !body.is_object() {
            return Err(Status::bad_request(
                "the body of the request must be a JSON object",
            ));
        }
        let namespace = scope_namespace(rt, &mut body, namespace)?;
        if !meta::resource_version(&body).is_empty() {
            return Err(Status::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let generate = meta::get(&body, "generateName").to_owned();
        if meta::name(&body).is_empty() && !generate.is_empty() {
            meta::set(
                &mut body,
                "name",
                format!("{generate}{}", meta::name_suffix()),
            );
        }
        let mut stored = convert::to_storage(rt, body);
        if rt.has_status && !keep_status {
            meta::remove_top(&mut stored, "status");
        }
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "managedFields",
            "selfLink",
        ] {
            meta::remove(&mut stored, field);
        }
        defaults::apply(rt, &mut stored, None, &mut inner.alloc)?;
        let name = meta::name(&stored).to_owned();
        let errors = validate::validate_create(rt, &stored);
        if !errors.is_empty() {
            return Err(Status::invalid_object(rt, &name, &errors));
        }
        if rt.namespaced && !namespace_exists(inner, &namespace) {
            return Err(Status::namespace_not_found(&namespace));
        }
        let k = key(rt, &namespace, &name);
        if inner.objects.contains_key(&k) {
            return Err(Status::already_exists(rt, &name));
        }
        meta::set(&mut stored, "uid", meta::uid());
        meta::set(&mut stored, "creationTimestamp", meta::now());
        if rt.generation {
            meta::set(&mut stored, "generation", 1);
        }
        if dry_run {
            return Ok(convert::to_external(rt, &stored));
        }
        let stored = self.commit(inner, k, ChangeKind::Added, stored, None);
        Ok(convert::to_external(rt, &stored))
    }

    #[allow(clippy::too_many_arguments)]
    fn update_locked(
        &self,
        inner: &mut Inner,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        mut body: Value,
        part: Part,
        dry_run: bool,
        create_if_missing: bool,
    ) -> Result<(Value, bool), Status> {
        if !body.is_object() {
            return Err(Status::bad_request(
                "the body of the request must be a JSON object",
            ));
        }
        if meta::name(&body) != name {
            return Err(name_mismatch(meta::name(&body), name));
        }
        let namespace = scope_namespace(rt, &mut body, namespace)?;
        let k = key(rt, &namespace, name);
        let Some(old) = inner.objects.get(&k).cloned() else {
            if create_if_missing && part != Part::Status {
                let created =
                    self.create_locked(inner, rt, &namespace, body, dry_run, part == Part::All)?;
                return Ok((created, true));
            }
            return Err(Status::not_found(rt, name));
        };
        let asked = meta::resource_version(&body);
        if !asked.is_empty() {
            if asked.parse::<u64>().is_err() {
                return Err(Status::bad_request(format!(
                    "invalid resource version: {asked}"
                )));
            }
            if asked != meta::resource_version(&old) {
                return Err(Status::conflict(rt, name));
            }
        }
        let mut stored = convert::to_storage(rt, body);
        match part {
            Part::Main if rt.has_status => {
                meta::remove_top(&mut stored, "status");
                if let Some(status) = old.get("status") {
                    meta::set_top(&mut stored, "status", status.clone());
                }
            }
            Part::Status => {
                let status = meta::remove_top(&mut stored, "status");
                stored = old.clone();
                meta::remove_top(&mut stored, "status");
                if let Some(status) = status {
                    meta::set_top(&mut stored, "status", status);
                }
            }
            Part::All if stored.get("status").is_none() => {
                if let Some(status) = old.get("status") {
                    meta::set_top(&mut stored, "status", status.clone());
                }
            }
            Part::Main | Part::All => {}
        }
        if meta::get(&stored, "uid").is_empty() {
            meta::set(&mut stored, "uid", meta::get(&old, "uid"));
        }
        for field in [
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
        ] {
            match old.get("metadata").and_then(|m| m.get(field)) {
                Some(v) => meta::set(&mut stored, field, v.clone()),
                None => {
                    meta::remove(&mut stored, field);
                }
            }
        }
        meta::remove(&mut stored, "managedFields");
        meta::remove(&mut stored, "selfLink");
        defaults::apply(rt, &mut stored, Some(&old), &mut inner.alloc)?;
        let errors = validate::validate_update(rt, &stored, &old);
        if !errors.is_empty() {
            return Err(Status::invalid_object(rt, name, &errors));
        }
        if rt.generation && content_changed(&stored, &old) {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta::set(&mut stored, "generation", generation + 1);
        }
        if stored == old {
            // Nothing changed: no new resourceVersion and no watch event.
            return Ok((convert::to_external(rt, &old), false));
        }
        if dry_run {
            return Ok((convert::to_external(rt, &stored), false));
        }
        let finalized =
            !meta::get(&old, "deletionTimestamp").is_empty() && finalizers(&stored).is_empty();
        let kind = if finalized {
            ChangeKind::Deleted
        } else {
            ChangeKind::Modified
        };
        let stored = self.commit(inner, k, kind, stored, Some(old));
        Ok((convert::to_external(rt, &stored), false))
    }

    fn delete_locked(
        &self,
        inner: &mut Inner,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        pre: &Preconditions,
        dry_run: bool,
    ) -> Result<(Value, bool), Status> {
        let namespace = if rt.namespaced { namespace } else { "" };
        let k = key(rt, namespace, name);
        let Some(old) = inner.objects.get(&k).cloned() else {
            return Err(Status::not_found(rt, name));
        };
        if let Some(uid) = &pre.uid
            && uid != meta::get(&old, "uid")
        {
            return Err(Status::conflict_because(
                rt,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta::get(&old, "uid")
                ),
            ));
        }
        if let Some(rv) = &pre.resource_version
            && rv != meta::resource_version(&old)
        {
            return Err(Status::conflict_because(
                rt,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    meta::resource_version(&old)
                ),
            ));
        }
        if dry_run {
            return Ok((convert::to_external(rt, &old), true));
        }
        if !finalizers(&old).is_empty() {
            if !meta::get(&old, "deletionTimestamp").is_empty() {
                return Ok((convert::to_external(rt, &old), false));
            }
            let mut marked = old.clone();
            meta::set(&mut marked, "deletionTimestamp", meta::now());
            meta::set(&mut marked, "deletionGracePeriodSeconds", 0);
            let stored = self.commit(inner, k, ChangeKind::Modified, marked, Some(old));
            return Ok((convert::to_external(rt, &stored), false));
        }
        if rt.storage == "namespaces" {
            let contents: Vec<Key> = inner
                .objects
                .keys()
                .filter(|(_, ns, _)| ns == name)
                .cloned()
                .collect();
            for content in contents {
                if let Some(object) = inner.objects.get(&content).cloned() {
                    self.commit(
                        inner,
                        content,
                        ChangeKind::Deleted,
                        object.clone(),
                        Some(object),
                    );
                }
            }
        }
        self.commit(
            inner,
            k,
            ChangeKind::Deleted,
            old.clone(),
            Some(old.clone()),
        );
        Ok((convert::to_external(rt, &old), true))
    }

    /// Bumps the resourceVersion, stores the change, records it and hands it to watchers.
    fn commit(
        &self,
        inner: &mut Inner,
        k: Key,
        kind: ChangeKind,
        mut object: Value,
        old: Option<Value>,
    ) -> Value {
        inner.rv += 1;
        let rv = inner.rv;
        HIGHEST_RV.fetch_max(rv, Ordering::SeqCst);
        meta::set(&mut object, "resourceVersion", rv.to_string());
        let (storage, namespace, _) = k.clone();
        if kind == ChangeKind::Deleted {
            inner.objects.remove(&k);
        } else {
            inner.objects.insert(k, object.clone());
        }
        let change = Arc::new(Change {
            rv,
            storage,
            namespace,
            kind,
            object: object.clone(),
            old,
        });
        inner.history.push_back(change.clone());
        trim_history(inner);
        inner.watchers.retain(|w| {
            if w.storage == change.storage
                && w.namespace.as_ref().is_none_or(|n| *n == change.namespace)
            {
                w.tx.send(WatchItem::Change(change.clone())).is_ok()
            } else {
                !w.tx.is_closed()
            }
        });
        self.changed.notify_waiters();
        object
    }
}

const EXPIRED_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

fn trim_history(inner: &mut Inner) {
    while inner.history.len() > inner.history_limit {
        if let Some(oldest) = inner.history.pop_front() {
            inner.floor = oldest.rv;
        }
    }
}

fn key(rt: &ResourceType, namespace: &str, name: &str) -> Key {
    let namespace = if rt.namespaced { namespace } else { "" };
    (rt.storage, namespace.to_owned(), name.to_owned())
}

fn name_mismatch(in_body: &str, in_url: &str) -> Status {
    Status::bad_request(format!(
        "the name of the object ({in_body}) does not match the name on the URL ({in_url})"
    ))
}

/// Settles the object's namespace against the request's: the namespace it will live in.
fn scope_namespace(rt: &ResourceType, body: &mut Value, namespace: &str) -> Result<String, Status> {
    if !rt.namespaced {
        meta::remove(body, "namespace");
        return Ok(String::new());
    }
    let in_body = meta::namespace(body);
    if in_body.is_empty() {
        meta::set(body, "namespace", namespace);
    } else if in_body != namespace {
        return Err(Status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(namespace.to_owned())
}

fn namespace_exists(inner: &Inner, namespace: &str) -> bool {
    inner
        .objects
        .contains_key(&("namespaces", String::new(), namespace.to_owned()))
}

fn finalizers(object: &Value) -> &[Value] {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Whether anything outside metadata and status differs.
fn content_changed(new: &Value, old: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        meta::remove_top(&mut v, "metadata");
        meta::remove_top(&mut v, "status");
        v
    };
    strip(new) != strip(old)
}

fn strip_type(mut object: Value) -> Value {
    meta::remove_top(&mut object, "kind");
    meta::remove_top(&mut object, "apiVersion");
    object
}

fn objects_of<'a>(
    objects: &'a BTreeMap<Key, Value>,
    storage: &'static str,
) -> impl Iterator<Item = ((String, String), &'a Value)> + 'a {
    objects
        .range((storage, String::new(), String::new())..)
        .take_while(move |(k, _)| k.0 == storage)
        .map(|((_, ns, name), v)| ((ns.clone(), name.clone()), v))
}

fn current_objects(inner: &Inner, storage: &'static str, namespace: Option<&str>) -> Vec<Value> {
    objects_of(&inner.objects, storage)
        .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
        .map(|(_, o)| o.clone())
        .collect()
}

/// The objects of one storage as they were at `rv` (rolled back through retained history).
fn snapshot_at(inner: &Inner, storage: &'static str, rv: u64) -> BTreeMap<(String, String), Value> {
    let mut map: BTreeMap<(String, String), Value> = objects_of(&inner.objects, storage)
        .map(|(k, v)| (k, v.clone()))
        .collect();
    for change in inner.history.iter().rev().take_while(|c| c.rv > rv) {
        if change.storage != storage {
            continue;
        }
        let k = (
            change.namespace.clone(),
            meta::name(&change.object).to_owned(),
        );
        match (&change.kind, &change.old) {
            (ChangeKind::Added, _) | (_, None) => {
                map.remove(&k);
            }
            (ChangeKind::Modified | ChangeKind::Deleted, Some(old)) => {
                map.insert(k, old.clone());
            }
        }
    }
    map
}

fn list_body(
    rt: &ResourceType,
    rv: u64,
    items: Vec<Value>,
    continue_token: Option<String>,
    remaining: Option<usize>,
) -> Value {
    let mut metadata = serde_json::Map::new();
    metadata.insert("resourceVersion".to_owned(), json!(rv.to_string()));
    if let Some(token) = continue_token {
        metadata.insert("continue".to_owned(), json!(token));
    }
    if let Some(remaining) = remaining {
        metadata.insert("remainingItemCount".to_owned(), json!(remaining));
    }
    json!({
        "kind": rt.list_kind(),
        "apiVersion": rt.api_version(),
        "metadata": metadata,
        "items": items,
    })
}

/// The real server's continue token: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":KEY}`.
fn encode_continue(rv: u64, last: &(String, String)) -> String {
    let start = format!("{}/{}\u{0}", last.0, last.1);
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    STANDARD.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, (String, String)), Status> {
    let invalid = |why: &str| {
        Status::bad_request(format!(
            "invalid continue token: continue key is not valid: {why}"
        ))
    };
    let bytes = STANDARD.decode(token).map_err(|_| invalid("not base64"))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid("not JSON"))?;
    if value.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err(invalid(
            "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    let rv = value
        .get("rv")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("no rv"))?;
    let start = value
        .get("start")
        .and_then(Value::as_str)
        .and_then(|s| s.strip_suffix('\u{0}'))
        .and_then(|s| s.split_once('/'))
        .ok_or_else(|| invalid("no start key"))?;
    Ok((rv, (start.0.to_owned(), start.1.to_owned())))
}

#[cfg(test)]
mod tests;
