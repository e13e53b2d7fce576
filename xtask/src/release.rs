//! Release checks: both crates package and build from their `.crate` files, and every
//! dependency compiled into them carries a licence from the allow-list.
//!
//! `cargo deny` would also check advisories, but its advisory database is a git clone from
//! GitHub, which machines with only the package registries cannot reach; installing it is
//! also a long build. The licence half is what `cargo metadata` answers, so that is done
//! here.

use anyhow::{Context as _, bail};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Licences a dependency may be under (SPDX identifiers), all permissive or, for MPL-2.0,
/// file-level copyleft that asks nothing of Lamina's own files.
const ALLOWED: [&str; 16] = [
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "MIT",
    "MIT-0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "0BSD",
    "BSL-1.0",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "CC0-1.0",
    "Unlicense",
    "CDLA-Permissive-2.0",
    "MPL-2.0",
];

/// The crates published from this workspace.
const CRATES: [&str; 2] = ["lamina-sdk", "lamina"];

/// `cargo package` for each published crate, which builds it from its packaged files
/// alone (so a crate that reads files outside itself fails here). The host's dependencies
/// are built as the workspace builds them, so the build reuses them.
///
/// # Errors
///
/// When a crate does not package or build.
pub(crate) fn package_crates(root: &Path) -> anyhow::Result<()> {
    for name in CRATES {
        crate::run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
                .current_dir(root)
                .args(["package", "-p", name, "--allow-dirty", "--quiet"])
                .args(["--config", r#"profile.dev.package."*".opt-level=2"#])
                .args(["--config", r#"profile.dev.package."*".debug=false"#]),
        )
        .with_context(|| format!("cargo package -p {name}"))?;
    }
    Ok(())
}

/// A crate compiled into the published ones.
struct Dependency {
    /// `name version`.
    name: String,
    /// The SPDX expression it declares (empty when none).
    license: String,
    /// Its source directory.
    dir: std::path::PathBuf,
}

/// Everything the published crates compile in (normal and build dependencies, for Linux),
/// sorted by name.
fn dependencies(root: &Path) -> anyhow::Result<Vec<Dependency>> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", "x86_64-unknown-linux-gnu"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    }
    let metadata: Value = serde_json::from_slice(&out.stdout)?;
    let packages: BTreeMap<&str, &Value> = metadata["packages"]
        .as_array()
        .context("no packages")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .context("no resolve graph")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let ours = |p: &Value| CRATES.contains(&p["name"].as_str().unwrap_or_default());
    let mut todo: Vec<&str> = packages
        .iter()
        .filter(|(_, p)| ours(p))
        .map(|(id, _)| *id)
        .collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let compiled_in = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| matches!(k["kind"].as_str(), None | Some("build")));
            if compiled_in && let Some(pkg) = dep["pkg"].as_str() {
                todo.push(pkg);
            }
        }
    }
    let mut deps: Vec<Dependency> = seen
        .iter()
        .map(|id| packages[id])
        .filter(|p| !ours(p))
        .map(|p| Dependency {
            name: format!(
                "{} {}",
                p["name"].as_str().unwrap_or("?"),
                p["version"].as_str().unwrap_or("?")
            ),
            license: p["license"].as_str().unwrap_or("").to_owned(),
            dir: Path::new(p["manifest_path"].as_str().unwrap_or("."))
                .parent()
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        })
        .collect();
    deps.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(deps)
}

/// Lists the licences of everything the published crates compile in, and fails on one
/// outside [`ALLOWED`].
///
/// # Errors
///
/// When `cargo metadata` fails, or a dependency has a licence not allowed (or none).
pub(crate) fn licenses(root: &Path) -> anyhow::Result<()> {
    let deps = dependencies(root)?;
    let mut by_license: BTreeMap<&str, usize> = BTreeMap::new();
    let mut refused = Vec::new();
    for dep in &deps {
        match allowed(&dep.license) {
            Ok(true) => *by_license.entry(&dep.license).or_default() += 1,
            Ok(false) => refused.push(format!("{}: {:?}", dep.name, dep.license)),
            Err(problem) => refused.push(format!("{}: {:?} ({problem})", dep.name, dep.license)),
        }
    }
    println!(
        "xtask: licences of the {} crates compiled into {CRATES:?}:",
        deps.len()
    );
    for (license, count) in &by_license {
        println!("  {count:>4}  {license}");
    }
    if !refused.is_empty() {
        bail!(
            "dependencies under a licence not in the allow-list (xtask/src/release.rs):\n  {}",
            refused.join("\n  ")
        );
    }
    Ok(())
}

/// Writes `out`: every compiled-in crate with its declared licence, then each distinct
/// licence text the crates ship (LICENSE*, COPYING*, NOTICE*), with the crates that ship it
/// — what a binary distribution owes its dependencies.
///
/// # Errors
///
/// When `cargo metadata` fails or `out` cannot be written.
pub(crate) fn third_party_notices(root: &Path, out: &Path) -> anyhow::Result<()> {
    let deps = dependencies(root)?;
    let mut texts: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut text = String::from(
        "Third-party software compiled into lamina and lamina-sdk, with the licences the crates declare.\n\n",
    );
    for dep in &deps {
        text.push_str(&format!("{}: {}\n", dep.name, dep.license));
        let mut files: Vec<_> = std::fs::read_dir(&dep.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                let upper = name.to_ascii_uppercase();
                p.is_file()
                    && ["LICENSE", "LICENCE", "COPYING", "NOTICE"]
                        .iter()
                        .any(|prefix| upper.starts_with(prefix))
            })
            .collect();
        files.sort();
        for file in files {
            if let Ok(body) = std::fs::read_to_string(&file) {
                texts
                    .entry(body.trim().to_owned())
                    .or_default()
                    .push(&dep.name);
            }
        }
    }
    for (body, crates) in &texts {
        text.push_str(&format!(
            "\n{}\nShipped by: {}\n\n{body}\n",
            "=".repeat(78),
            crates.join(", ")
        ));
    }
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
    println!("{}", out.display());
    Ok(())
}

/// Whether an SPDX licence expression is satisfied by [`ALLOWED`]: `OR` needs one side,
/// `AND` both, `X WITH exception` the pair; the legacy `A/B` spelling is `OR`.
fn allowed(expression: &str) -> Result<bool, String> {
    let spaced = expression
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace('/', " OR ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    if tokens.is_empty() {
        return Err("no licence declared".to_owned());
    }
    let mut at = 0;
    let value = or(&tokens, &mut at)?;
    if at != tokens.len() {
        return Err(format!("unexpected {:?}", tokens[at]));
    }
    Ok(value)
}

fn or(tokens: &[&str], at: &mut usize) -> Result<bool, String> {
    let mut value = and(tokens, at)?;
    while tokens.get(*at) == Some(&"OR") {
        *at += 1;
        value |= and(tokens, at)?;
    }
    Ok(value)
}

fn and(tokens: &[&str], at: &mut usize) -> Result<bool, String> {
    let mut value = term(tokens, at)?;
    while tokens.get(*at) == Some(&"AND") {
        *at += 1;
        value &= term(tokens, at)?;
    }
    Ok(value)
}

fn term(tokens: &[&str], at: &mut usize) -> Result<bool, String> {
    let token = *tokens.get(*at).ok_or("expression ends early")?;
    if matches!(token, "AND" | "OR" | "WITH" | ")") {
        return Err(format!("{token:?} where a licence should be"));
    }
    *at += 1;
    if token == "(" {
        let value = or(tokens, at)?;
        if tokens.get(*at) != Some(&")") {
            return Err("unbalanced parentheses".to_owned());
        }
        *at += 1;
        return Ok(value);
    }
    if tokens.get(*at) == Some(&"WITH") {
        let exception = tokens.get(*at + 1).ok_or("WITH without an exception")?;
        *at += 2;
        return Ok(ALLOWED.contains(&format!("{token} WITH {exception}").as_str()));
    }
    Ok(ALLOWED.contains(&token))
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn spdx_expressions_are_read_as_spdx_means_them() {
        assert_eq!(allowed("MIT OR Apache-2.0"), Ok(true));
        assert_eq!(allowed("MIT/Apache-2.0"), Ok(true));
        assert_eq!(allowed("GPL-3.0-only OR MIT"), Ok(true));
        assert_eq!(allowed("GPL-3.0-only AND MIT"), Ok(false));
        assert_eq!(allowed("(MIT OR Apache-2.0) AND Unicode-3.0"), Ok(true));
        assert_eq!(allowed("(MIT OR GPL-2.0) AND AGPL-3.0"), Ok(false));
        assert_eq!(allowed("Apache-2.0 WITH LLVM-exception OR MIT"), Ok(true));
        assert_eq!(allowed("GPL-2.0 WITH Classpath-exception-2.0"), Ok(false));
        // AND binds tighter than OR.
        assert_eq!(allowed("MIT OR GPL-3.0-only AND AGPL-3.0-only"), Ok(true));
        assert_eq!(allowed("GPL-3.0-only OR MIT AND AGPL-3.0-only"), Ok(false));
        assert!(allowed("").is_err());
        assert!(allowed("(MIT").is_err());
        assert!(allowed("MIT OR )").is_err());
        assert!(allowed("MIT AND").is_err());
        assert!(allowed("OR MIT").is_err());
    }
}
