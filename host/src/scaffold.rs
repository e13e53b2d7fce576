//! `lamina new NAME --lang rust|python|ts [--kind handler|middleware]`: a project that builds
//! with `lamina build`, from templates shipped in the binary (`host/templates/`): the
//! SDK dependency, the language's build settings, a unit test, a README, and for a
//! handler a `lamina.toml` that serves it.
//!
//! The SDK dependency points at a Lamina checkout when there is one (`--sdk DIR`, else
//! the repository this binary was built from, if it is still there), else at the
//! registries' `lamina-sdk` / `@lamina/sdk`.

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};

/// A guest language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Rust, with `lamina-sdk`.
    Rust,
    /// Python, with the `lamina` package (componentize-py).
    Python,
    /// TypeScript, with `@lamina/sdk` (componentize-js).
    TypeScript,
}

impl Lang {
    /// Parses `rust`, `python` (`py`), `ts` (`typescript`, `js`).
    ///
    /// # Errors
    ///
    /// Any other name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "rust" | "rs" => Ok(Self::Rust),
            "python" | "py" => Ok(Self::Python),
            "ts" | "typescript" | "js" | "javascript" => Ok(Self::TypeScript),
            other => Err(format!(
                "{other:?} is not a language here: rust, python or ts"
            )),
        }
    }

    /// The name people use for it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rust => "Rust",
            Self::Python => "Python",
            Self::TypeScript => "TypeScript",
        }
    }
}

/// What the component is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Answers requests.
    Handler,
    /// Runs in front of handlers.
    Middleware,
}

impl Kind {
    /// Parses `handler` / `middleware`.
    ///
    /// # Errors
    ///
    /// Any other name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "handler" => Ok(Self::Handler),
            "middleware" => Ok(Self::Middleware),
            other => Err(format!("{other:?} is not a kind: handler or middleware")),
        }
    }

    /// `handler` or `middleware`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handler => "handler",
            Self::Middleware => "middleware",
        }
    }
}

/// A created project.
#[derive(Debug)]
pub struct Created {
    /// The project directory.
    pub dir: PathBuf,
    /// The files written, relative to it.
    pub files: Vec<String>,
    /// Config lines that bind the component (paths relative to the project's parent).
    pub snippet: String,
}

/// The repository this binary was built from, when it is still there (a `cargo install
/// --path` or a checkout's own build); not for a binary built from a published crate.
fn built_from() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    repo.join("guest-sdk/Cargo.toml")
        .is_file()
        .then(|| repo.canonicalize().unwrap_or(repo))
}

/// Creates project `name` in `parent` (see the module docs).
///
/// # Errors
///
/// A name that is not a component name (letters, digits, `-`, `_`, starting with a
/// letter), a directory that exists and is not empty, an `sdk` that is not a Lamina
/// checkout, or a file that cannot be written.
pub fn create(
    parent: &Path,
    name: &str,
    lang: Lang,
    kind: Kind,
    sdk: Option<&Path>,
) -> anyhow::Result<Created> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!("{name:?}: a component name is letters, digits, '-' and '_', starting with a letter");
    }
    let dir = parent.join(name);
    if dir.exists() && std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!("{} exists and is not empty", dir.display());
    }
    let repo = match sdk {
        Some(path) => {
            let path = path
                .canonicalize()
                .with_context(|| format!("--sdk {}", path.display()))?;
            if !path.join("guest-sdk/Cargo.toml").is_file() {
                bail!(
                    "--sdk {}: not a Lamina checkout (no guest-sdk/)",
                    path.display()
                );
            }
            Some(path)
        }
        None => built_from(),
    };
    let vars = Vars::new(name, lang, kind, repo.as_deref());
    let files = files(lang, kind);
    for (path, template) in &files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&target, vars.render(template))
            .with_context(|| format!("writing {}", target.display()))?;
    }
    let source = format!("{name}/dist/{name}.wasm");
    let snippet = match kind {
        Kind::Handler => format!(
            "[components.{name}]\nsource = \"{source}\"\n\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"{name}\"\n"
        ),
        Kind::Middleware => format!(
            "middleware = [\"{name}\"]   # at the top of the file: in front of every request\n\n\
             [components.{name}]\nsource = \"{source}\"\n"
        ),
    };
    Ok(Created {
        dir,
        files: files.into_iter().map(|(path, _)| path.to_owned()).collect(),
        snippet,
    })
}

/// The files of a project: where each goes and its template.
fn files(lang: Lang, kind: Kind) -> Vec<(&'static str, &'static str)> {
    let handler = kind == Kind::Handler;
    let mut files = match lang {
        // The Rust manifest template is `Cargo.toml.in`: `cargo package` leaves out any
        // directory holding a `Cargo.toml`, which would drop the whole Rust template.
        Lang::Rust => vec![
            (
                "Cargo.toml",
                include_str!("../templates/rust/Cargo.toml.in"),
            ),
            (
                "src/lib.rs",
                if handler {
                    include_str!("../templates/rust/handler.rs")
                } else {
                    include_str!("../templates/rust/middleware.rs")
                },
            ),
            (".gitignore", include_str!("../templates/rust/gitignore")),
        ],
        Lang::Python => vec![
            (
                "app.py",
                if handler {
                    include_str!("../templates/python/handler.py")
                } else {
                    include_str!("../templates/python/middleware.py")
                },
            ),
            (
                "test_app.py",
                if handler {
                    include_str!("../templates/python/test_handler.py")
                } else {
                    include_str!("../templates/python/test_middleware.py")
                },
            ),
            (
                "pyproject.toml",
                include_str!("../templates/python/pyproject.toml"),
            ),
            (
                "requirements.txt",
                include_str!("../templates/python/requirements.txt"),
            ),
            (".gitignore", include_str!("../templates/python/gitignore")),
        ],
        Lang::TypeScript => vec![
            (
                "app.ts",
                if handler {
                    include_str!("../templates/ts/handler.ts")
                } else {
                    include_str!("../templates/ts/middleware.ts")
                },
            ),
            (
                "app.test.ts",
                if handler {
                    include_str!("../templates/ts/handler.test.ts")
                } else {
                    include_str!("../templates/ts/middleware.test.ts")
                },
            ),
            ("package.json", include_str!("../templates/ts/package.json")),
            (
                "tsconfig.json",
                include_str!("../templates/ts/tsconfig.json"),
            ),
            (".gitignore", include_str!("../templates/ts/gitignore")),
        ],
    };
    files.push(("README.md", include_str!("../templates/README.md")));
    if handler {
        files.push(("lamina.toml", include_str!("../templates/lamina.toml")));
    }
    files
}

/// The values templates are filled with: `{{name}}` and friends.
struct Vars(Vec<(&'static str, String)>);

impl Vars {
    fn new(name: &str, lang: Lang, kind: Kind, repo: Option<&Path>) -> Self {
        let class: String = name
            .split(['-', '_'])
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut chars = w.chars();
                chars.next().map_or_else(String::new, |c| {
                    c.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect();
        let (rust_sdk, py_sdk, js_sdk) = match repo {
            Some(repo) => (
                format!(
                    "lamina-sdk = {{ path = {:?} }}",
                    repo.join("guest-sdk").display().to_string()
                ),
                format!("lamina-sdk @ file://{}", repo.join("sdks/python").display()),
                format!("file:{}", repo.join("sdks/js").display()),
            ),
            None => (
                format!("lamina-sdk = \"{}\"", env!("CARGO_PKG_VERSION")),
                format!("lamina-sdk=={}", env!("CARGO_PKG_VERSION")),
                format!("^{}", env!("CARGO_PKG_VERSION")),
            ),
        };
        let setup = match lang {
            Lang::Rust => "",
            Lang::Python => {
                "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt   # the SDK, componentize-py, pytest\n"
            }
            Lang::TypeScript => {
                "npm install                          # the SDK, componentize-js, esbuild\n"
            }
        };
        let test = match lang {
            Lang::Rust => "cargo test                           # the unit test, natively\n",
            Lang::Python => ".venv/bin/pytest                     # the unit test, on CPython\n",
            Lang::TypeScript => "npm test                             # the unit test, in Node\n",
        };
        let try_it = match kind {
            Kind::Handler => {
                "lamina serve --config lamina.toml &  # then: curl http://127.0.0.1:3000/hello/Ada\n"
            }
            Kind::Middleware => "",
        };
        Self(vec![
            ("name", name.to_owned()),
            ("class", class),
            ("kind", kind.as_str().to_owned()),
            ("language", lang.as_str().to_owned()),
            ("rust_sdk", rust_sdk),
            ("py_sdk", py_sdk),
            ("js_sdk", js_sdk),
            ("setup", setup.to_owned()),
            ("test", test.to_owned()),
            ("try", try_it.to_owned()),
        ])
    }

    fn render(&self, template: &str) -> String {
        let mut out = template.to_owned();
        for (key, value) in &self.0 {
            out = out.replace(&format!("{{{{{key}}}}}"), value);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_of_every_template_is_filled() {
        for lang in [Lang::Rust, Lang::Python, Lang::TypeScript] {
            for kind in [Kind::Handler, Kind::Middleware] {
                let vars = Vars::new("my-api", lang, kind, None);
                for (path, template) in files(lang, kind) {
                    let text = vars.render(template);
                    assert!(!text.contains("{{"), "{lang:?} {kind:?} {path}: {text}");
                }
            }
        }
        let vars = Vars::new("my-api", Lang::Python, Kind::Middleware, None);
        assert_eq!(vars.render("class {{class}}"), "class MyApi");
    }
}
