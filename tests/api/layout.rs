//! The layout of the shared crate, checked: no module imports one of a layer above it,
//! and the store's entity modules import each other without a circle. Read from the
//! source (every `crate::<module>` and, in the store, `super::<module>` outside comments).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module of `shared/src` must not import: the layers above it.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("domain", &["store", "outbound", "state", "delivery", "scheduler", "http", "routes", "auth", "cors", "error"]),
    ("store", &["outbound", "state", "delivery", "scheduler", "http", "routes", "auth", "cors", "error"]),
    ("outbound", &["store", "state", "delivery", "scheduler", "http", "routes", "auth", "cors", "error"]),
    ("state", &["delivery", "scheduler", "http", "routes", "auth", "cors", "error"]),
    ("delivery", &["scheduler", "http", "routes", "auth", "cors"]),
    ("scheduler", &["http", "routes", "auth", "cors", "error"]),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names that follow `prefix` in `code` (comments left out).
fn uses(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in code.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            rest = &rest[at + prefix.len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn shared_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src")
}

#[test]
fn no_module_of_the_shared_crate_imports_a_layer_above_it() {
    let root = shared_src();
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap();
        let top =
            relative.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_owned();
        let Some((_, above)) = FORBIDDEN.iter().find(|(module, _)| *module == top) else { continue };
        let code = std::fs::read_to_string(file).unwrap();
        for used in uses(&code, "crate::") {
            if above.contains(&used.as_str()) {
                wrong.push(format!("{} imports crate::{used}", relative.display()));
            }
        }
    }
    assert!(files.len() > 30, "read the crate's files");
    assert!(wrong.is_empty(), "imports pointing up a layer: {wrong:#?}");
}

#[test]
fn the_stores_modules_import_each_other_without_a_circle() {
    let dir = shared_src().join("store");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = Vec::new();
    sources(&dir, &mut files);
    let names: BTreeSet<String> =
        files.iter().map(|f| f.file_stem().unwrap().to_string_lossy().into_owned()).filter(|n| n != "mod").collect();
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "mod" {
            continue;
        }
        let code = std::fs::read_to_string(file).unwrap();
        let mut deps = uses(&code, "super::");
        deps.extend(uses(&code, "crate::store::"));
        deps.retain(|d| names.contains(d) && *d != name);
        graph.insert(name, deps);
    }
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let circle = visit(node, &graph, &mut Vec::new(), &mut done);
        assert!(circle.is_none(), "the store's modules import in a circle: {}", circle.unwrap().join(" → "));
    }
    assert!(graph.len() > 10, "read the store's modules");
}
