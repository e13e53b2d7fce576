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

/// Lists the licences of everything the published crates compile in (normal and build
/// dependencies, for Linux), and fails on one outside [`ALLOWED`].
///
/// # Errors
///
/// When `cargo metadata` fails, or a dependency has a licence not allowed (or none).
pub(crate) fn licenses(root: &Path) -> anyhow::Result<()> {
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
    let mut todo: Vec<&str> = packages
        .iter()
        .filter(|(_, p)| CRATES.contains(&p["name"].as_str().unwrap_or_default()))
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
    let mut by_license: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut refused = Vec::new();
    for id in &seen {
        let p = packages[id];
        let name = format!(
            "{} {}",
            p["name"].as_str().unwrap_or("?"),
            p["version"].as_str().unwrap_or("?")
        );
        if CRATES.contains(&p["name"].as_str().unwrap_or_default()) {
            continue;
        }
        let license = p["license"].as_str().unwrap_or("").to_owned();
        match allowed(&license) {
            Ok(true) => by_license.entry(license).or_default().push(name),
            Ok(false) => refused.push(format!("{name}: {license:?}")),
            Err(problem) => refused.push(format!("{name}: {license:?} ({problem})")),
        }
    }
    println!(
        "xtask: licences of the {} crates compiled into {CRATES:?}:",
        seen.len() - CRATES.len()
    );
    for (license, crates) in &by_license {
        println!("  {:>4}  {license}", crates.len());
    }
    if !refused.is_empty() {
        bail!(
            "dependencies under a licence not in the allow-list (xtask/src/release.rs):\n  {}",
            refused.join("\n  ")
        );
    }
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
        assert!(allowed("").is_err());
        assert!(allowed("(MIT").is_err());
    }
}
