//! `wicket check PATH…`: reads manifests offline, runs the same translate as `serve`, and
//! reports every problem and the resulting routing table, for CI pipelines and GitOps repos.
//!
//! ```text
//! PATH… ─► files (a directory: every *.yaml/*.yml under it, sorted) ─► parse_documents
//!        ├─ broken document ─► "FILE: Error document N (line L): reason"
//!        └─ objects (later definition wins) ─► translate ─► Issues, each with its object's file
//!                                                      └─► table: host, path, type, backend, TLS
//! exit 0: clean or warnings only · 1: an Error Issue or a broken document · 2: unreadable PATH
//! ```

use std::{
    collections::BTreeMap,
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use crate::{
    debug::TableView,
    error::ControllerError,
    issue::{Issue, ObjectRef, Severity},
    manifest::{self, DocError, Object},
    snapshot::Snapshot,
    source::manifests::list,
    translate::{TranslateConfig, translate},
};

/// What a check found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Documents that could not be read, with their file.
    pub broken: Vec<(PathBuf, DocError)>,
    /// Every Issue of the translate, with the file of the object it is about (if known).
    pub issues: Vec<(Option<PathBuf>, Issue)>,
    /// The table `serve` would publish.
    pub table: TableView,
}

impl Findings {
    /// 1 when a document is broken or an Issue is an error, else 0.
    pub fn exit_code(&self) -> u8 {
        let errors = self
            .issues
            .iter()
            .any(|(_, i)| i.severity == Severity::Error);
        u8::from(errors || !self.broken.is_empty())
    }

    fn count(&self, severity: Severity) -> usize {
        self.issues
            .iter()
            .filter(|(_, i)| i.severity == severity)
            .count()
    }
}

/// Reads `paths` (files, or directories searched recursively) and translates them with
/// `config`. Unreadable paths fail the whole check.
pub fn check(paths: &[PathBuf], config: &TranslateConfig) -> Result<Findings, ControllerError> {
    let mut findings = Findings::default();
    let mut objects: BTreeMap<(&'static str, String, String), (PathBuf, Object)> = BTreeMap::new();
    for file in files(paths)? {
        let text = fs::read_to_string(&file).map_err(|source| ControllerError::CheckPath {
            path: file.clone(),
            source,
        })?;
        for result in manifest::parse_documents(&text) {
            match result {
                Ok(object) => {
                    if let Some(key) = object.key() {
                        objects.insert(key, (file.clone(), object));
                    }
                }
                Err(error) => findings.broken.push((file.clone(), error)),
            }
        }
    }
    let mut snapshot = Snapshot::default();
    let mut origin: BTreeMap<(String, String, String), PathBuf> = BTreeMap::new();
    for ((kind, namespace, name), (file, object)) in objects {
        origin.insert((kind.to_owned(), namespace, name), file);
        snapshot.insert(object);
    }
    let (table, issues) = translate(&snapshot, config);
    findings.issues = issues
        .into_iter()
        .map(|issue| (origin.get(&origin_key(&issue.object)).cloned(), issue))
        .collect();
    findings.table = TableView::of(&table, 0);
    Ok(findings)
}

fn origin_key(object: &ObjectRef) -> (String, String, String) {
    (
        object.kind.as_str().to_owned(),
        object.namespace.clone(),
        object.name.clone(),
    )
}

/// The files to read: each file path as given, and every manifest under each directory.
fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ControllerError> {
    let mut files = Vec::new();
    for path in paths {
        let fail = |source| ControllerError::CheckPath {
            path: path.clone(),
            source,
        };
        if fs::metadata(path).map_err(fail)?.is_dir() {
            let listing = list(path);
            if let Some((dir, source)) = listing.unlisted.into_iter().next() {
                return Err(ControllerError::CheckPath { path: dir, source });
            }
            files.extend(listing.files);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Writes the report: one line per broken document and per Issue, then the routing table,
/// then a summary line.
pub fn report(findings: &Findings, out: &mut impl Write) -> io::Result<()> {
    for (file, error) in &findings.broken {
        writeln!(out, "{}: Error {error}", file.display())?;
    }
    for (file, issue) in &findings.issues {
        let file = file.as_deref().map_or("-".into(), Path::to_string_lossy);
        writeln!(out, "{file}: {}", issue_line(issue))?;
    }
    if !findings.broken.is_empty() || !findings.issues.is_empty() {
        writeln!(out)?;
    }
    let rows = findings.table.rows();
    write_table(&rows, out)?;
    let errors = findings.count(Severity::Error) + findings.broken.len();
    let warnings = findings.count(Severity::Warning);
    writeln!(
        out,
        "\n{} {}, {} {}; {} {} on {} {}",
        errors,
        plural(errors, "error"),
        warnings,
        plural(warnings, "warning"),
        rows.len(),
        plural(rows.len(), "route"),
        findings.table.virtual_hosts.len(),
        plural(findings.table.virtual_hosts.len(), "host"),
    )
}

/// `Error Ingress default/web spec.rules[0].host InvalidHost: <message>`.
pub fn issue_line(issue: &Issue) -> String {
    let object = &issue.object;
    let name = if object.namespace.is_empty() {
        object.name.clone()
    } else {
        format!("{}/{}", object.namespace, object.name)
    };
    let field = issue
        .field
        .as_deref()
        .map(|f| format!(" {f}"))
        .unwrap_or_default();
    format!(
        "{} {} {name}{field} {}: {}",
        issue.severity,
        object.kind.as_str(),
        issue.reason,
        issue.message
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

/// Columns padded to their widest cell; `(no routes)` for an empty table.
fn write_table(rows: &[[String; 5]], out: &mut impl Write) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "(no routes)");
    }
    let header = ["HOST", "PATH", "TYPE", "BACKEND", "TLS"].map(str::to_owned);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
