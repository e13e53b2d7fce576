//! `lamina bundle`: a config and its components made ready for Lambda in one step, so no
//! component is compiled at cold start (a Python or JavaScript component takes seconds and
//! hundreds of MiB to compile, more than a small function has) and no digest is pinned by
//! hand.
//!
//! ```text
//! DIR/layer/lamina/lamina.toml              the config, every component pinned to its .cwasm
//! DIR/layer/lamina/components/NAME-HASH.cwasm   compiled for --arch by this host version
//! DIR/layer/lamina/schemas/…                the validation schemas the routes name
//! DIR/layer/lamina/files/NAME/…             the directories components are granted
//! DIR/layer.zip                             the layer (mounted at /opt: /opt/lamina/lamina.toml)
//! DIR/function.zip                          bootstrap, LICENSE, NOTICE, for provided.al2023
//! DIR/template.yaml                         an AWS SAM template deploying both (`sam deploy`)
//! ```
//!
//! A file-backed key-value store moves to `/tmp/lamina/` (a layer is read-only; the data
//! lasts as long as the sandbox): the bundle says so, and DynamoDB is the store for data that
//! must last. When the bundle is for this machine's architecture, the packaged `bootstrap`
//! itself loads the bundled config (`bootstrap check`) before `bundle` succeeds, and must
//! find every component precompiled: compatibility is checked, not assumed.

use crate::Config;
use crate::component::{compile_engine, sha256_hex};
use crate::fetch::{Fetcher, Location, write_atomically};
use anyhow::{Context as _, bail};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// A Lambda architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// `x86_64`.
    X86_64,
    /// `arm64` (Graviton).
    Aarch64,
}

impl Arch {
    /// Parses `x86_64` / `aarch64` (also `amd64`, `arm64`).
    ///
    /// # Errors
    ///
    /// Any other name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "x86_64" | "amd64" | "x86-64" => Ok(Self::X86_64),
            "aarch64" | "arm64" => Ok(Self::Aarch64),
            other => Err(format!(
                "{other:?} is not a Lambda architecture (x86_64 or aarch64)"
            )),
        }
    }

    /// This machine's architecture, if Lambda has it.
    #[must_use]
    pub fn host() -> Option<Self> {
        Self::parse(std::env::consts::ARCH).ok()
    }

    /// The Rust target triple of a Lambda host on this architecture.
    #[must_use]
    pub fn triple(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64-unknown-linux-gnu",
            Self::Aarch64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The name Lambda gives it (`Architectures` in a template).
    #[must_use]
    pub fn lambda_name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "arm64",
        }
    }

    /// The ELF `e_machine` of its executables.
    fn elf_machine(self) -> u16 {
        match self {
            Self::X86_64 => 62,
            Self::Aarch64 => 183,
        }
    }
}

/// What to bundle for.
#[derive(Clone, Debug)]
pub struct Options {
    /// The function's architecture.
    pub arch: Arch,
    /// The `lamina` executable to package as `bootstrap` (default: this one, when it is for
    /// `arch`).
    pub bootstrap: Option<PathBuf>,
}

/// One component as bundled.
#[derive(Clone, Debug)]
pub struct Bundled {
    /// Its name in the config.
    pub name: String,
    /// Where it came from.
    pub source: String,
    /// Its `.cwasm`, relative to the bundled config.
    pub file: String,
    /// The `.cwasm`'s SHA-256, pinned in the bundled config.
    pub sha256: String,
    /// The `.cwasm`'s size.
    pub bytes: usize,
}

/// A bundle written to disk.
#[derive(Debug)]
pub struct Bundle {
    /// The bundled config (`DIR/layer/lamina/lamina.toml`).
    pub config: PathBuf,
    /// The layer zip.
    pub layer_zip: PathBuf,
    /// The AWS SAM template deploying both zips (`sam deploy --template-file`).
    pub template: PathBuf,
    /// The function zip, when there is a `bootstrap` for the architecture.
    pub function_zip: Option<PathBuf>,
    /// Every component, by name.
    pub components: Vec<Bundled>,
    /// What the bundle changed or could not do, one sentence each.
    pub notes: Vec<String>,
    /// How the bundled config was checked: `bootstrap check`'s report, or why it was not run.
    pub check: Result<String, String>,
}

/// The AWS SAM template for a bundle, its zips beside it (`deploy/template.yaml` is this
/// file for a bundle in `deploy/bundle/`; a test keeps the two in step).
pub const SAM_TEMPLATE: &str = include_str!("../templates/sam.yaml");

/// [`SAM_TEMPLATE`] with its `Architecture` defaulting to `arch`.
fn sam_template(arch: Arch) -> String {
    SAM_TEMPLATE.replacen(
        "    Default: x86_64\n",
        &format!("    Default: {}\n", arch.lambda_name()),
        1,
    )
}

/// The dependencies' licence texts, which travel with the `bootstrap` they sit beside.
const THIRD_PARTY: &str = "THIRD-PARTY-LICENSES.txt";

/// The licence texts shipped beside `bootstrap`.
const LICENSE: &str = include_str!("../LICENSE");
const NOTICE: &str = include_str!("../NOTICE");

/// Bundles the config at `location` into `out` (see the module docs).
///
/// # Errors
///
/// The config does not load; a component cannot be read, breaks its pin, is already
/// precompiled, or does not compile; a schema or granted directory is missing; the
/// `bootstrap` is not an executable for `options.arch`; or the packaged `bootstrap`
/// refuses the bundled config (its message is quoted).
pub fn bundle(
    location: &Location,
    out: &Path,
    options: &Options,
    fetcher: &Fetcher,
) -> anyhow::Result<Bundle> {
    let layer = out.join("layer");
    if layer.exists() {
        std::fs::remove_dir_all(&layer)
            .with_context(|| format!("removing the previous {}", layer.display()))?;
    }
    let Prepared {
        config: bundled_config,
        components,
        mut notes,
        ..
    } = prepare(
        location,
        &layer.join("lamina"),
        options.arch,
        Destination::Layer,
        fetcher,
    )?;
    let foreign = Arch::host() != Some(options.arch);

    let layer_zip = out.join("layer.zip");
    zip_dir(&layer, &layer_zip)?;
    let template = out.join("template.yaml");
    write_atomically(&template, sam_template(options.arch).as_bytes())?;

    let bootstrap = match &options.bootstrap {
        Some(path) => Some(path.clone()),
        None if !foreign => Some(std::env::current_exe().context("finding this executable")?),
        None => None,
    };
    let function_zip = match &bootstrap {
        Some(path) => {
            check_executable(path, options.arch)?;
            let zip = out.join("function.zip");
            let notices = path.with_file_name(THIRD_PARTY);
            let notices = notices.is_file().then_some(notices);
            if notices.is_none() {
                notes.push(format!(
                    "function.zip has no {THIRD_PARTY}: none beside {}; `cargo xtask package` \
                     writes the release host to target/lambda/bootstrap with it",
                    path.display()
                ));
            }
            zip_function(path, notices.as_deref(), &zip)?;
            Some(zip)
        }
        None => {
            notes.push(format!(
                "no function.zip: this lamina is not built for {}; pass --bootstrap with a \
                 lamina built for {}",
                options.arch.lambda_name(),
                options.arch.triple()
            ));
            None
        }
    };
    let check = match (&bootstrap, foreign) {
        (Some(path), false) => Ok(check_with(path, &bundled_config, &components)?),
        // Another architecture's bootstrap runs here under qemu-user, when it is installed.
        (Some(path), true) if let Some(qemu) = emulator(options.arch) => {
            Ok(check_in(qemu, path, &bundled_config, &components)?)
        }
        (_, true) => Err(format!(
            "not loaded here: this machine cannot run {} code (with Debian's qemu-user and \
             the target's libc installed it would, under qemu); the function checks each \
             .cwasm when it starts and names any it cannot load",
            options.arch.lambda_name()
        )),
        (None, false) => Err("no bootstrap to check with".to_owned()),
    };
    Ok(Bundle {
        config: bundled_config,
        layer_zip,
        template,
        function_zip,
        components,
        notes,
        check,
    })
}

/// Where a bundled config will be read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Destination {
    /// A layer (or any directory): local files the config names are copied beside it.
    Layer,
    /// S3 (`lamina publish`): a function reading its config from S3 reads local paths from
    /// its own filesystem, so none is copied; relative ones are refused, absolute ones kept.
    S3,
}

/// A config bundled into a directory.
pub(crate) struct Prepared {
    /// The bundled config (`root/lamina.toml`).
    pub(crate) config: PathBuf,
    /// Every component, by name.
    pub(crate) components: Vec<Bundled>,
    /// What the bundle changed, one sentence each.
    pub(crate) notes: Vec<String>,
    /// The config's `reload-interval`.
    pub(crate) reload_interval: Option<std::time::Duration>,
}

/// Bundles the config at `location` into the directory `root` (created): components
/// compiled for `arch` and pinned, local files handled for `destination`.
///
/// # Errors
///
/// As [`bundle`], and for [`Destination::S3`] a relative local path, naming its setting.
pub(crate) fn prepare(
    location: &Location,
    root: &Path,
    arch: Arch,
    destination: Destination,
    fetcher: &Fetcher,
) -> anyhow::Result<Prepared> {
    let fetched = fetcher.read(location)?;
    let config = Config::from_bytes(location, &fetched.bytes)?;
    let text = std::str::from_utf8(&fetched.bytes)?;
    let mut table: Table = toml::from_str(text).with_context(|| format!("in config {location}"))?;
    if destination == Destination::S3
        && let Some((setting, path)) = local_paths(&mut table)
            .into_iter()
            .find(|(_, path)| Path::new(path).is_relative())
    {
        bail!(
            "{setting}: {path:?} is a local file; a function that reads its config from S3 reads \
             local files from its own filesystem, so publish cannot ship it. Deploy it with the \
             function (a layer from `lamina bundle`) and name it by its absolute path there \
             (e.g. /opt/lamina/{path})"
        );
    }
    std::fs::create_dir_all(root.join("components"))
        .with_context(|| format!("creating {}", root.display()))?;

    let foreign = Arch::host() != Some(arch);
    let engine = compile_engine(foreign.then(|| arch.triple()))
        .with_context(|| format!("an engine compiling for {}", arch.triple()))?;
    let mut components = Vec::new();
    for name in config.components.keys() {
        let bundled = compile_component(&config, name, &engine, fetcher, root)?;
        let entry = component_table(&mut table, name)?;
        entry.insert("source".into(), Value::String(bundled.file.clone()));
        entry.insert("sha256".into(), Value::String(bundled.sha256.clone()));
        entry.remove("trust-precompiled");
        components.push(bundled);
    }

    let mut notes = Vec::new();
    if destination == Destination::Layer {
        let mut copier = Copier {
            base: config.base_dir.clone(),
            root: root.to_path_buf(),
            taken: BTreeMap::new(),
        };
        rewrite_schemas(&mut table, &mut copier)?;
        rewrite_files(&mut table, &mut copier)?;
    }
    rewrite_stores(&mut table, &mut notes);

    let header = format!(
        "# Written by `lamina bundle` (lamina {}, {}) from {location}.\n\
         # Every component is pinned to the .cwasm beside this file: bundle again rather than edit.\n\n",
        env!("CARGO_PKG_VERSION"),
        arch.lambda_name(),
    );
    let bundled_config = root.join("lamina.toml");
    let body = toml::to_string(&table).context("writing the bundled config")?;
    write_atomically(&bundled_config, format!("{header}{body}").as_bytes())?;
    Ok(Prepared {
        config: bundled_config,
        components,
        notes,
        reload_interval: config.reload_interval(),
    })
}

/// Every local path the config names (validation schemas, granted directories), with its
/// setting.
fn local_paths(table: &mut Table) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let _ = each_validate(table, &mut |at, validate| {
        for key in ["schema", "query-schema", "params-schema"] {
            if let Some(Value::String(path)) = validate.get(key) {
                out.push((format!("{at}.validate.{key}"), path.clone()));
            }
        }
        Ok(())
    });
    if let Some(components) = table.get("components").and_then(Value::as_table) {
        for (name, component) in components {
            if let Some(Value::String(host)) = component.get("files").and_then(|f| f.get("host")) {
                out.push((format!("components.{name}.files.host"), host.clone()));
            }
        }
    }
    out
}

/// Reads, verifies and compiles component `name` into `root/components/`.
fn compile_component(
    config: &Config,
    name: &str,
    engine: &wasmtime::Engine,
    fetcher: &Fetcher,
    root: &Path,
) -> anyhow::Result<Bundled> {
    let spec = config.component_spec(name)?;
    let source = spec.source.to_string();
    let bytes = fetcher
        .read(&spec.source)
        .with_context(|| format!("components.{name}.source"))?
        .bytes;
    if let Some(pin) = &spec.sha256 {
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(pin) {
            bail!("components.{name}: {source} has sha256 {actual}, but the config pins {pin}");
        }
    }
    if wasmtime::Engine::detect_precompiled(&bytes).is_some() {
        bail!(
            "components.{name}: {source} is already precompiled; bundle from its .wasm, so it is \
             compiled for the function's architecture by this lamina version"
        );
    }
    let compiled = engine
        .precompile_component(&bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("components.{name}: compiling {source}"))?;
    let sha256 = sha256_hex(&compiled);
    let file = format!("components/{name}-{}.cwasm", &sha256[..12]);
    let path = root.join(&file);
    write_atomically(&path, &compiled)?;
    // Read-only, so the host maps it instead of copying it into memory (the loader maps
    // only files that cannot change under it). In Lambda the layer's file system is
    // read-only anyway; this makes a local `lamina serve` of the bundle load the same way.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444))
        .with_context(|| format!("making {} read-only", path.display()))?;
    Ok(Bundled {
        name: name.to_owned(),
        source,
        file,
        sha256,
        bytes: compiled.len(),
    })
}

fn component_table<'t>(table: &'t mut Table, name: &str) -> anyhow::Result<&'t mut Table> {
    table
        .get_mut("components")
        .and_then(Value::as_table_mut)
        .and_then(|c| c.get_mut(name))
        .and_then(Value::as_table_mut)
        .with_context(|| format!("components.{name}: not a table"))
}

/// Copies local files into the bundle under names that do not collide.
struct Copier {
    /// What relative paths in the config resolve against.
    base: PathBuf,
    /// The bundle's `lamina/` directory.
    root: PathBuf,
    /// Bundle path → the source it holds.
    taken: BTreeMap<String, PathBuf>,
}

impl Copier {
    /// Copies `path` (a file or a directory, as the config names it) to `dir/` in the bundle;
    /// returns its path there, relative to the bundled config.
    fn copy(&mut self, setting: &str, path: &str, dir: &str) -> anyhow::Result<String> {
        let from = self.base.join(path);
        let stem = from
            .file_name()
            .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
        let mut name = format!("{dir}/{stem}");
        let mut n = 2;
        loop {
            match self.taken.get(&name) {
                Some(held) if *held == from => return Ok(name),
                Some(_) => {
                    name = format!("{dir}/{n}-{stem}");
                    n += 1;
                }
                None => break,
            }
        }
        let to = self.root.join(&name);
        copy_tree(&from, &to).with_context(|| format!("{setting}: copying {}", from.display()))?;
        self.taken.insert(name.clone(), from);
        Ok(name)
    }
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    let meta = std::fs::metadata(from).with_context(|| format!("reading {}", from.display()))?;
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to).with_context(|| format!("copying to {}", to.display()))?;
    }
    Ok(())
}

/// Calls `f` on every `validate` table of the config (routes, group routes, `[direct]`),
/// with the name messages use.
fn each_validate(
    table: &mut Table,
    f: &mut dyn FnMut(&str, &mut Table) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut visit = |at: String, route: &mut Value| match route
        .get_mut("validate")
        .and_then(Value::as_table_mut)
    {
        Some(validate) => f(&at, validate),
        None => Ok(()),
    };
    if let Some(routes) = table.get_mut("routes").and_then(Value::as_array_mut) {
        for (i, route) in routes.iter_mut().enumerate() {
            visit(format!("routes[{i}]"), route)?;
        }
    }
    if let Some(groups) = table.get_mut("groups").and_then(Value::as_array_mut) {
        for (g, group) in groups.iter_mut().enumerate() {
            if let Some(routes) = group.get_mut("routes").and_then(Value::as_array_mut) {
                for (i, route) in routes.iter_mut().enumerate() {
                    visit(format!("groups[{g}].routes[{i}]"), route)?;
                }
            }
        }
    }
    if let Some(direct) = table.get_mut("direct") {
        visit("direct".to_owned(), direct)?;
    }
    Ok(())
}

fn rewrite_schemas(table: &mut Table, copier: &mut Copier) -> anyhow::Result<()> {
    each_validate(table, &mut |at, validate| {
        for key in ["schema", "query-schema", "params-schema"] {
            if let Some(Value::String(path)) = validate.get(key) {
                let copied = copier.copy(&format!("{at}.validate.{key}"), path, "schemas")?;
                validate.insert(key.into(), Value::String(copied));
            }
        }
        Ok(())
    })
}

fn rewrite_files(table: &mut Table, copier: &mut Copier) -> anyhow::Result<()> {
    let Some(components) = table.get_mut("components").and_then(Value::as_table_mut) else {
        return Ok(());
    };
    for (name, component) in components.iter_mut() {
        if let Some(files) = component.get_mut("files").and_then(Value::as_table_mut)
            && let Some(Value::String(host)) = files.get("host")
        {
            let copied = copier.copy(
                &format!("components.{name}.files.host"),
                host,
                &format!("files/{name}"),
            )?;
            files.insert("host".into(), Value::String(copied));
        }
    }
    Ok(())
}

/// A file store's database moves to `/tmp/lamina/`, keeping which stores share a file.
fn rewrite_stores(table: &mut Table, notes: &mut Vec<String>) {
    let Some(stores) = table.get_mut("key-value").and_then(Value::as_table_mut) else {
        return;
    };
    for (name, store) in stores.iter_mut() {
        let Some(store) = store.as_table_mut() else {
            continue;
        };
        if store.get("backend").and_then(Value::as_str) != Some("file") {
            continue;
        }
        if let Some(Value::String(path)) = store.get("path") {
            let file = Path::new(path).file_name().map_or_else(
                || format!("{name}.redb"),
                |f| f.to_string_lossy().into_owned(),
            );
            let moved = format!("/tmp/lamina/{file}");
            notes.push(format!(
                "key-value.{name}: the file store moves from {path} to {moved} (a layer is \
                 read-only; the data lasts as long as the Lambda sandbox); use backend = \
                 \"dynamodb\" for data that must last"
            ));
            store.insert("path".into(), Value::String(moved));
        }
    }
}

/// Refuses a `bootstrap` that is not an ELF executable for `arch`.
fn check_executable(path: &Path, arch: Arch) -> anyhow::Result<()> {
    let mut head = [0u8; 20];
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    std::io::Read::read_exact(&mut file, &mut head)
        .with_context(|| format!("{} is not an executable", path.display()))?;
    if &head[..4] != b"\x7fELF" {
        bail!(
            "{} is not a Linux executable (no ELF header)",
            path.display()
        );
    }
    let machine = u16::from_le_bytes([head[18], head[19]]);
    if machine != arch.elf_machine() {
        let found = match machine {
            62 => "x86_64",
            183 => "aarch64",
            _ => "another architecture",
        };
        bail!(
            "{} is built for {found}, not {}: pass --bootstrap with a lamina built for {}",
            path.display(),
            arch.lambda_name(),
            arch.triple()
        );
    }
    Ok(())
}

/// Has the packaged `bootstrap` load the bundled config, as the function will, with no
/// compile cache: every component must load from its `.cwasm`.
pub(crate) fn check_with(
    bootstrap: &Path,
    config: &Path,
    components: &[Bundled],
) -> anyhow::Result<String> {
    check_in(
        std::process::Command::new(bootstrap),
        bootstrap,
        config,
        components,
    )
}

/// An emulator that runs `arch` executables here: Debian's qemu-user and the target's
/// libraries (`qemu-aarch64 -L /usr/aarch64-linux-gnu`), when both are installed.
fn emulator(arch: Arch) -> Option<std::process::Command> {
    let (qemu, sysroot) = match arch {
        Arch::Aarch64 => ("qemu-aarch64", "/usr/aarch64-linux-gnu"),
        Arch::X86_64 => ("qemu-x86_64", "/usr/x86_64-linux-gnu"),
    };
    let found = std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(qemu))
        .find(|p| p.is_file())?;
    if !Path::new(sysroot).is_dir() {
        return None;
    }
    let mut cmd = std::process::Command::new(found);
    cmd.args(["-L", sysroot]);
    Some(cmd)
}

fn check_in(
    mut cmd: std::process::Command,
    bootstrap: &Path,
    config: &Path,
    components: &[Bundled],
) -> anyhow::Result<String> {
    if cmd.get_program() != bootstrap.as_os_str() {
        cmd.arg(bootstrap);
    }
    let out = cmd
        .arg("--log-format")
        .arg("text")
        .arg("check")
        .arg(config)
        .env("LAMINA_CACHE_DIR", "off")
        .env("LAMINA_LOG", "warn")
        .output()
        .with_context(|| format!("running {} check", bootstrap.display()))?;
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "the packaged bootstrap refuses the bundle: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    for component in components {
        let line = format!("component {} (", component.name);
        if !report
            .lines()
            .any(|l| l.starts_with(&line) && l.ends_with("code=precompiled"))
        {
            bail!(
                "the packaged bootstrap did not load component {} from its .cwasm:\n{report}",
                component.name
            );
        }
    }
    Ok(report)
}

fn zip_options(mode: u32) -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(mode)
        // A fixed time: the same inputs make the same zip.
        .last_modified_time(zip::DateTime::default())
}

/// Zips the contents of `dir` (entries relative to it, sorted) into `to`.
fn zip_dir(dir: &Path, to: &Path) -> anyhow::Result<()> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for relative in files {
        let name = relative.to_string_lossy().replace('\\', "/");
        let mode = if name.ends_with(".cwasm") {
            0o444
        } else {
            0o644
        };
        zip.start_file(name, zip_options(mode))?;
        zip.write_all(&std::fs::read(dir.join(&relative))?)?;
    }
    let bytes = zip.finish()?.into_inner();
    write_atomically(to, &bytes)
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(base, &path, out)?;
        } else {
            out.push(path.strip_prefix(base)?.to_path_buf());
        }
    }
    Ok(())
}

/// The function zip: `bootstrap` (executable, as `provided.al2023` runs it) and the
/// licence texts (the dependencies' from `notices`, when there is one).
fn zip_function(bootstrap: &Path, notices: Option<&Path>, to: &Path) -> anyhow::Result<()> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("bootstrap", zip_options(0o755))?;
    zip.write_all(
        &std::fs::read(bootstrap).with_context(|| format!("reading {}", bootstrap.display()))?,
    )?;
    for (name, text) in [("LICENSE", LICENSE), ("NOTICE", NOTICE)] {
        zip.start_file(name, zip_options(0o644))?;
        zip.write_all(text.as_bytes())?;
    }
    if let Some(notices) = notices {
        zip.start_file(THIRD_PARTY, zip_options(0o644))?;
        zip.write_all(&std::fs::read(notices)?)?;
    }
    let bytes = zip.finish()?.into_inner();
    write_atomically(to, &bytes)
}
