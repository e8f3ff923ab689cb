//! Parsing Kubernetes YAML (multi-document) into the typed objects of a [`crate::snapshot::Snapshot`].
//!
//! ```text
//! text ──split on `---` lines──► documents ──apiVersion + kind──► Object::{Ingress, …, Other}
//!                                     └─ kind: List / FooList ──► one Object per item
//! ```
//!
//! Documents are split by hand (on lines starting with `---`, as YAML itself does) so that a
//! syntactically broken document only costs that document. Error positions are absolute
//! line numbers in the whole text.

use std::{fmt, sync::Arc};

use k8s_openapi::{
    ByteString,
    api::{
        core::v1::{Secret, Service},
        discovery::v1::EndpointSlice,
        networking::v1::{Ingress, IngressClass},
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use serde::de::DeserializeOwned;
use serde_yaml_ng::{Mapping, Value};

/// One object read from a manifest, shared: cloning it copies a pointer.
#[derive(Clone, Debug)]
pub enum Object {
    Ingress(Arc<Ingress>),
    IngressClass(Arc<IngressClass>),
    Service(Arc<Service>),
    EndpointSlice(Arc<EndpointSlice>),
    Secret(Arc<Secret>),
    /// A well-formed object of a kind wicket does not read.
    Other {
        api_version: String,
        kind: String,
    },
}

impl Object {
    /// `(kind, namespace, name)` identifying the object, for de-duplication; `None` for
    /// [`Object::Other`] and for objects without a name. Cluster-scoped kinds have an
    /// empty namespace.
    pub fn key(&self) -> Option<(&'static str, String, String)> {
        self.key_ref()
            .map(|(kind, namespace, name)| (kind, namespace.to_owned(), name.to_owned()))
    }

    /// [`Object::key`], borrowed.
    pub fn key_ref(&self) -> Option<(&'static str, &str, &str)> {
        let (kind, meta) = match self {
            Self::Ingress(o) => ("Ingress", &o.metadata),
            Self::IngressClass(o) => ("IngressClass", &o.metadata),
            Self::Service(o) => ("Service", &o.metadata),
            Self::EndpointSlice(o) => ("EndpointSlice", &o.metadata),
            Self::Secret(o) => ("Secret", &o.metadata),
            Self::Other { .. } => return None,
        };
        let name = meta.name.as_deref().filter(|n| !n.is_empty())?;
        Some((kind, meta.namespace.as_deref().unwrap_or_default(), name))
    }
}

/// A document that could not be read. `index` is its 0-based position in the stream
/// (every `---` starts a new document; empty documents count but yield nothing).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("document {index} (line {line}): {message}")]
pub struct DocError {
    pub index: usize,
    /// 1-based line where the document starts in the text.
    pub line: usize,
    pub message: String,
}

/// Every [`DocError`] of one text, for [`crate::snapshot::Snapshot::from_yaml`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ManifestErrors(pub Vec<DocError>);

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The namespace a namespaced object without `metadata.namespace` lands in.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Parses every document of `text`. One entry per object: empty documents give none, a
/// `List` gives one per item, a broken document (or item) gives one `Err` and does not
/// affect the others.
pub fn parse_documents(text: &str) -> Vec<Result<Object, DocError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for doc in split_documents(text) {
        parse_document(&doc, &mut out);
    }
    out
}

/// One document of the stream. `text` starts at line `line` of the whole text; parser
/// positions in it are shifted by [`Document::shift_lines`] to whole-text line numbers.
/// (Padding each document with blank lines instead would make parsing a file quadratic in
/// its number of documents.)
struct Document {
    index: usize,
    line: usize,
    text: String,
}

impl Document {
    /// `message` with every `line N column` position moved from document-relative to
    /// whole-text line numbers.
    fn shift_lines(&self, message: &str) -> String {
        const LINE: &str = "line ";
        const COLUMN: &str = " column ";
        let offset = self.line.saturating_sub(1);
        if offset == 0 {
            return message.to_owned();
        }
        let mut out = String::with_capacity(message.len() + 8);
        let mut rest = message;
        while let Some(at) = rest.find(LINE) {
            let (before, after) = rest.split_at(at + LINE.len());
            out.push_str(before);
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let (number, tail) = after.split_at(digits);
            match number.parse::<usize>() {
                Ok(n) if tail.starts_with(COLUMN) => out.push_str(&(n + offset).to_string()),
                _ => out.push_str(number),
            }
            rest = tail;
        }
        out.push_str(rest);
        out
    }
}

/// Splits on lines that start a document (`---` alone or followed by whitespace).
/// Text before the first marker is a document only if it has content.
fn split_documents(text: &str) -> Vec<Document> {
    let mut docs = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut preamble = String::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if is_document_start(line) {
            if let Some((start, body)) = current.take() {
                docs.push((start, body));
            } else if has_content(&preamble) {
                docs.push((1, std::mem::take(&mut preamble)));
            }
            current = Some((n + 1, String::new()));
        }
        let body = match &mut current {
            Some((_, body)) => body,
            None => &mut preamble,
        };
        if is_document_end(line) {
            body.push('\n');
        } else {
            body.push_str(line);
        }
    }
    match current {
        Some(doc) => docs.push(doc),
        None if has_content(&preamble) => docs.push((1, preamble)),
        None => {}
    }
    docs.into_iter()
        .enumerate()
        .map(|(index, (line, text))| Document { index, line, text })
        .collect()
}

fn is_document_start(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

fn is_document_end(line: &str) -> bool {
    line.strip_prefix("...")
        .is_some_and(|rest| rest.trim_end().is_empty())
}

/// Whether some line is neither blank nor a comment.
fn has_content(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with('#')
    })
}

fn parse_document(doc: &Document, out: &mut Vec<Result<Object, DocError>>) {
    let err = |message: String| DocError {
        index: doc.index,
        line: doc.line,
        message,
    };
    let value: Value = match serde_yaml_ng::from_str(&doc.text) {
        Ok(v) => v,
        Err(e) => return out.push(Err(err(doc.shift_lines(&e.to_string())))),
    };
    if value.is_null() {
        return;
    }
    let (api_version, kind) = match type_of(&value) {
        Ok(t) => t,
        Err(message) => return out.push(Err(err(message))),
    };
    if kind == "List" || kind.ends_with("List") {
        let Some(items) = value.get("items") else {
            return out.push(Err(err(format!("{kind} without items"))));
        };
        let Some(items) = items.as_sequence() else {
            return out.push(Err(err(format!("{kind}: items is not a list"))));
        };
        let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
        for (i, item) in items.iter().enumerate() {
            let item = with_default_type(item, &api_version, item_kind);
            let result = type_of(&item).and_then(|(api_version, kind)| {
                object_from(&api_version, &kind, Input::Item(&item))
            });
            out.push(result.map_err(|m| err(format!("items[{i}]: {m}"))));
        }
    } else {
        // Typed parse from the text itself, so that errors carry a line and column.
        out.push(
            object_from(&api_version, &kind, Input::Text(&doc.text))
                .map_err(|message| err(doc.shift_lines(&message))),
        );
    }
}

/// `(apiVersion, kind)` of a document or list item.
fn type_of(value: &Value) -> Result<(String, String), String> {
    if !value.is_mapping() {
        return Err("not a mapping (expected a Kubernetes object)".to_owned());
    }
    let field = |name: &str| -> Result<String, String> {
        match value.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(format!("{name} is not a non-empty string")),
            None => Err(format!("{name} is missing")),
        }
    };
    Ok((field("apiVersion")?, field("kind")?))
}

/// Items of a typed list (`IngressList`) may omit their apiVersion and kind.
fn with_default_type(item: &Value, api_version: &str, kind: Option<&str>) -> Value {
    let mut item = item.clone();
    if let (Value::Mapping(map), Some(kind)) = (&mut item, kind) {
        let set = |map: &mut Mapping, key: &str, value: &str| {
            if !map.contains_key(key) {
                map.insert(Value::from(key), Value::from(value));
            }
        };
        set(map, "apiVersion", api_version);
        set(map, "kind", kind);
    }
    item
}

/// Where an object is deserialised from: a document's text (errors carry a line and
/// column) or a list item.
#[derive(Clone, Copy)]
enum Input<'a> {
    Text(&'a str),
    Item(&'a Value),
}

impl Input<'_> {
    fn typed<T: DeserializeOwned>(self) -> Result<T, String> {
        match self {
            Self::Text(text) => serde_yaml_ng::from_str(text),
            Self::Item(value) => serde_yaml_ng::from_value(value.clone()),
        }
        .map_err(|e| e.to_string())
    }
}

/// Deserialises the object when `(api_version, kind)` is a kind wicket reads.
fn object_from(api_version: &str, kind: &str, input: Input<'_>) -> Result<Object, String> {
    let object = match (api_version, kind) {
        ("networking.k8s.io/v1", "Ingress") => {
            let mut o: Ingress = input.typed()?;
            default_namespace(&mut o.metadata);
            Object::Ingress(Arc::new(o))
        }
        ("networking.k8s.io/v1", "IngressClass") => Object::IngressClass(Arc::new(input.typed()?)),
        ("v1", "Service") => {
            let mut o: Service = input.typed()?;
            default_namespace(&mut o.metadata);
            Object::Service(Arc::new(o))
        }
        ("discovery.k8s.io/v1", "EndpointSlice") => {
            let mut o: EndpointSlice = input.typed()?;
            default_namespace(&mut o.metadata);
            Object::EndpointSlice(Arc::new(o))
        }
        ("v1", "Secret") => {
            let mut o: Secret = input.typed()?;
            default_namespace(&mut o.metadata);
            merge_string_data(&mut o);
            Object::Secret(Arc::new(o))
        }
        _ => Object::Other {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        },
    };
    Ok(object)
}

/// Namespaced objects without a namespace land in `default`, as with `kubectl apply`.
fn default_namespace(meta: &mut ObjectMeta) {
    if meta.namespace.as_deref().is_none_or(str::is_empty) {
        meta.namespace = Some(DEFAULT_NAMESPACE.to_owned());
    }
}

/// `stringData` is write-only: the API server merges it into `data` (its keys win).
fn merge_string_data(secret: &mut Secret) {
    if let Some(string_data) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(Default::default);
        for (k, v) in string_data {
            data.insert(k, ByteString(v.into_bytes()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_counts_empty_documents_and_skips_comment_preamble() {
        let docs = split_documents("# header\n---\na: 1\n---\n---\nb: 2\n");
        let got: Vec<(usize, usize)> = docs.iter().map(|d| (d.index, d.line)).collect();
        assert_eq!(got, vec![(0, 2), (1, 4), (2, 5)]);
    }

    #[test]
    fn split_keeps_content_before_first_marker() {
        let docs = split_documents("a: 1\n--- \nb: 2\n...\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].line, 2);
        assert!(docs[1].text.starts_with("--- \nb: 2"));
    }

    #[test]
    fn positions_are_shifted_to_whole_text_lines() {
        let doc = Document {
            index: 3,
            line: 10,
            text: String::new(),
        };
        assert_eq!(
            doc.shift_lines("x at line 9 column 1, while parsing y at line 8 column 12"),
            "x at line 18 column 1, while parsing y at line 17 column 12"
        );
        assert_eq!(doc.shift_lines("line 5 is fine"), "line 5 is fine");
        assert_eq!(doc.shift_lines("trailing line "), "trailing line ");
        let first = Document { line: 1, ..doc };
        assert_eq!(
            first.shift_lines("at line 2 column 3"),
            "at line 2 column 3"
        );
    }

    #[test]
    fn many_documents_keep_whole_text_line_numbers() {
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s{i}\n"
            ));
        }
        text.push_str("---\napiVersion: v1\nkind: Service\nmetadata: [\n");
        let results = parse_documents(&text);
        assert_eq!(results.len(), 3001);
        let error = results[3000]
            .as_ref()
            .expect_err("the last document is broken");
        assert_eq!(error.line, 15_001);
        assert!(error.message.contains("line 15005"), "{}", error.message);
    }

    #[test]
    fn marker_must_be_alone_at_line_start() {
        assert!(is_document_start("---\n"));
        assert!(is_document_start("--- |\n"));
        assert!(is_document_start("---"));
        assert!(!is_document_start("----\n"));
        assert!(!is_document_start(" ---\n"));
        assert!(!is_document_start("---x\n"));
    }
}
