//! `ManifestDir` against real temporary directories, including the file watcher.

use std::{sync::Arc, time::Duration};

use k8s_openapi::api::core::v1::Service;

use tokio::time::Instant;

use super::*;

fn service(name: &str, port: i32) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  ports:\n  - port: {port}\n"
    )
}

const BROKEN: &str = "apiVersion: v1\nkind: Service\nmetadata: [unclosed\n";

/// `name:port` of every Service, in the order returned.
fn services(objects: &[Object]) -> Vec<String> {
    objects
        .iter()
        .filter_map(|o| match o {
            Object::Service(s) => {
                let port = s.spec.as_ref()?.ports.as_ref()?.first()?.port;
                Some(format!("{}:{port}", s.metadata.name.as_deref()?))
            }
            _ => None,
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create dir");
    }
    fs::write(path, text).expect("write manifest");
}

#[test]
fn reads_yaml_files_recursively_and_skips_the_rest() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(
        dir,
        "a.yaml",
        &format!("{}---\n{}", service("a1", 80), service("a2", 81)),
    );
    write(dir, "sub/deeper/b.YML", &service("b", 82));
    write(dir, "c.txt", &service("c", 83));
    write(dir, ".hidden.yaml", &service("d", 84));
    write(dir, "..data/e.yaml", &service("e", 85));
    write(
        dir,
        "other.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n",
    );
    let mut source = ManifestDir::open(dir).expect("open");
    assert_eq!(services(&source.read()), ["a1:80", "a2:81", "b:82"]);
    let snapshot = source.snapshot();
    assert_eq!(snapshot.services.len(), 3);
    assert!(snapshot.ingresses.is_empty());
}

#[test]
fn open_rejects_a_missing_directory_and_a_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = ManifestDir::open(&tmp.path().join("nope")).err();
    assert_eq!(missing.as_ref().map(ControllerError::exit_code), Some(2));
    write(tmp.path(), "f.yaml", "");
    let file = ManifestDir::open(&tmp.path().join("f.yaml")).err();
    assert_eq!(file.as_ref().map(ControllerError::exit_code), Some(2));
}

#[test]
fn a_broken_document_keeps_its_last_good_version_and_the_others_count() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(
        dir,
        "app.yaml",
        &format!("{}---\n{}", service("one", 80), service("two", 81)),
    );
    let mut source = ManifestDir::open(dir).expect("open");
    assert_eq!(services(&source.read()), ["one:80", "two:81"]);

    // Document 0 breaks while document 1 changes: "one" stays as it was, "two" is updated.
    write(
        dir,
        "app.yaml",
        &format!("{BROKEN}---\n{}", service("two", 91)),
    );
    assert_eq!(services(&source.read()), ["one:80", "two:91"]);
    // Still broken on the next read: still kept.
    write(dir, "extra.yaml", &service("three", 82));
    assert_eq!(services(&source.read()), ["one:80", "three:82", "two:91"]);

    // Fixed: the file is taken as written, removals included.
    write(dir, "app.yaml", &service("two", 92));
    assert_eq!(services(&source.read()), ["three:82", "two:92"]);
}

#[test]
fn an_unreadable_file_keeps_its_objects_and_a_removed_one_drops_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(dir, "a.yaml", &service("a", 80));
    write(dir, "b.yaml", &service("b", 81));
    let mut source = ManifestDir::open(dir).expect("open");
    assert_eq!(services(&source.read()), ["a:80", "b:81"]);
    fs::write(dir.join("a.yaml"), [0xff, 0xfe, 0x00]).expect("write invalid UTF-8");
    assert_eq!(services(&source.read()), ["a:80", "b:81"]);
    fs::remove_file(dir.join("a.yaml")).expect("remove");
    assert_eq!(services(&source.read()), ["b:81"]);
}

#[test]
fn a_duplicate_key_is_won_by_the_later_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(dir, "b.yaml", &service("same", 2));
    write(dir, "a.yaml", &service("same", 1));
    let mut source = ManifestDir::open(dir).expect("open");
    assert_eq!(services(&source.read()), ["same:2"]);
    write(dir, "c/x.yaml", &service("same", 3));
    assert_eq!(services(&source.read()), ["same:3"]);
}

/// Waits for watch notifications until `condition` holds on a fresh read, or fails after a
/// deadline.
async fn read_until(
    source: &mut ManifestDir,
    changes: &Changes,
    condition: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = services(&source.read());
        if condition(&seen) {
            return seen;
        }
        let waited = tokio::time::timeout_at(deadline, changes.changed()).await;
        assert!(
            waited.is_ok(),
            "no matching change before the deadline; last read {seen:?}"
        );
    }
}

#[tokio::test]
async fn the_watcher_sees_renames_and_removals() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let mut source = ManifestDir::open(dir).expect("open");
    let changes = Changes::new();
    source.watch(changes.clone()).expect("watch");
    assert!(services(&source.read()).is_empty());

    // Written aside, then renamed into place, as editors and `kubectl`-style tools do.
    write(dir, ".web.yaml.tmp", &service("web", 80));
    fs::rename(dir.join(".web.yaml.tmp"), dir.join("web.yaml")).expect("rename");
    read_until(&mut source, &changes, |s| s == ["web:80"]).await;

    // Replaced by rename.
    write(dir, ".web.yaml.tmp", &service("web", 81));
    fs::rename(dir.join(".web.yaml.tmp"), dir.join("web.yaml")).expect("rename");
    read_until(&mut source, &changes, |s| s == ["web:81"]).await;

    // A new subdirectory is watched too.
    write(dir, "nested/api.yaml", &service("api", 90));
    read_until(&mut source, &changes, |s| s == ["api:90", "web:81"]).await;

    fs::remove_file(dir.join("web.yaml")).expect("remove");
    read_until(&mut source, &changes, |s| s == ["api:90"]).await;
    // Renamed out of the directory tree's manifests (to a hidden name).
    fs::rename(dir.join("nested/api.yaml"), dir.join("nested/.api.yaml")).expect("rename");
    read_until(&mut source, &changes, |s| s.is_empty()).await;
}

/// The Service object named `name` among `objects`.
fn service_object(objects: &[Object], name: &str) -> Option<Arc<Service>> {
    objects.iter().find_map(|o| match o {
        Object::Service(s) if s.metadata.name.as_deref() == Some(name) => Some(s.clone()),
        _ => None,
    })
}

#[test]
fn only_changed_files_are_parsed_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(dir, "a.yaml", &service("a", 80));
    write(dir, "b.yaml", &service("b", 81));
    let mut source = ManifestDir::open(dir).expect("open");
    let first = source.read();
    write(dir, "b.yaml", &service("b", 82));
    let second = source.read();
    assert_eq!(services(&second), ["a:80", "b:82"]);
    let a = |objects: &[Object]| service_object(objects, "a").expect("a is read");
    let b = |objects: &[Object]| service_object(objects, "b").expect("b is read");
    assert!(Arc::ptr_eq(&a(&first), &a(&second)), "a.yaml is unchanged");
    assert!(!Arc::ptr_eq(&b(&first), &b(&second)), "b.yaml changed");
    // Rewriting the same text is no change either.
    write(dir, "b.yaml", &service("b", 82));
    assert!(Arc::ptr_eq(&b(&second), &b(&source.read())));
}

#[test]
fn an_unreadable_file_is_parsed_again_once_readable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(dir, "a.yaml", &service("a", 80));
    let mut source = ManifestDir::open(dir).expect("open");
    assert_eq!(services(&source.read()), ["a:80"]);
    // Not valid UTF-8: the read fails and the last good objects stay.
    fs::write(dir.join("a.yaml"), [0xff, 0xfe, 0x00]).expect("write bytes");
    assert_eq!(services(&source.read()), ["a:80"]);
    // Readable again, and empty: nothing is left.
    write(dir, "a.yaml", "");
    assert_eq!(services(&source.read()), Vec::<String>::new());
}
