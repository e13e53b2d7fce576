//! The `lamina` command: Lambda runtime, local server, one-shot invoke, checks and compiles.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use lamina::fetch::Location;
use lamina::swap::{Reloader, Swap};
use lamina::{App, Runtime};
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `lamina --version`: the host's version and the contracts it serves (a component built
/// against any of them loads).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nserves components built against ",
    lamina::served_contracts!()
);

#[derive(Parser)]
#[command(
    name = "lamina",
    version = VERSION,
    about = "Serve HTTP events from WebAssembly components"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// How log lines are written: `json` (one object per line, Lambda's format) or `text`
    /// (default: $LAMINA_LOG_FORMAT, else $AWS_LAMBDA_LOG_FORMAT, else JSON in Lambda and
    /// text elsewhere).
    #[arg(long, global = true, value_parser = lamina::observe::LogFormat::parse)]
    log_format: Option<lamina::observe::LogFormat>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Lambda runtime loop (the default when AWS_LAMBDA_RUNTIME_API is set).
    /// The config comes from $LAMINA_CONFIG, $LAMBDA_TASK_ROOT/lamina.toml or
    /// /opt/lamina/lamina.toml.
    Lambda,
    /// Serve the config over plain HTTP on loopback, for development.
    Serve {
        /// The config: a file or s3://bucket/key.
        #[arg(long, short, value_parser = parse_location)]
        config: Location,
        /// The port (0 picks a free one; the address is printed).
        #[arg(long, short, default_value_t = 3000)]
        port: u16,
        /// Component instance slots in the engine's pool.
        #[arg(long, default_value_t = lamina::component::DEFAULT_INSTANCES)]
        instances: u32,
        /// Requests served at once (default: the pool's slots divided by the longest
        /// middleware chain plus its handler, so requests never run out of instances).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Requests that wait for a turn when all are busy; beyond it, 503 with Retry-After
        /// (default: twice the concurrency).
        #[arg(long)]
        queue: Option<usize>,
        /// Time a client has to send a request's headers ("10s"); also the idle keep-alive
        /// time.
        #[arg(long, value_parser = parse_duration, default_value = "10s")]
        header_timeout: Duration,
        /// Time a client has to send a request's body ("30s"); 408 after it.
        #[arg(long, value_parser = parse_duration, default_value = "30s")]
        body_timeout: Duration,
    },
    /// Send one Lambda event (a JSON file, or - for stdin) through the pipeline and print
    /// the response JSON the function would return.
    Invoke {
        /// The config: a file or s3://bucket/key.
        #[arg(long, short, value_parser = parse_location)]
        config: Location,
        /// The event file.
        event: PathBuf,
    },
    /// Load the config and every component, and list what would be served.
    Check {
        /// The config: a file or s3://bucket/key.
        #[arg(value_parser = parse_location)]
        config: Location,
    },
    /// Print the OpenAPI 3.1 document of the config's routes (components are not loaded).
    Openapi {
        /// The config: a file or s3://bucket/key.
        #[arg(value_parser = parse_location)]
        config: Location,
        /// Write the document here instead of printing it.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Create a component project from a template: a handler or middleware in Rust,
    /// Python or TypeScript, with its SDK, a unit test and a README.
    New {
        /// The component's name (also the project's directory).
        name: String,
        /// rust, python or ts.
        #[arg(long, value_parser = lamina::scaffold::Lang::parse)]
        lang: lamina::scaffold::Lang,
        /// handler or middleware.
        #[arg(long, value_parser = lamina::scaffold::Kind::parse, default_value = "handler")]
        kind: lamina::scaffold::Kind,
        /// Where to create it (default: here).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// A Lamina checkout whose SDKs the project uses (default: the one this binary was
        /// built from, when it is still there; else the registries' packages).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build the component of a project (Rust, Python or TypeScript) into DIR/dist/NAME.wasm.
    Build {
        /// The project (default: here).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Make a config ready for Lambda: every component precompiled for the architecture and
    /// pinned, a layer zip (lamina/lamina.toml and the components) and a function zip
    /// (bootstrap), checked by loading the bundle with the packaged bootstrap.
    Bundle {
        /// The config: a file or s3://bucket/key.
        #[arg(value_parser = parse_location)]
        config: Location,
        /// The directory to write the bundle into.
        #[arg(long, short)]
        output: PathBuf,
        /// The function's architecture.
        #[arg(long, value_parser = lamina::bundle::Arch::parse, default_value = "x86_64")]
        arch: lamina::bundle::Arch,
        /// The lamina executable to package as `bootstrap` (default: this one, when it is
        /// built for --arch).
        #[arg(long)]
        bootstrap: Option<PathBuf>,
    },
    /// Publish a new version for functions that read their config from S3: the config is
    /// bundled, its components uploaded to content-addressed keys, the pinned config last.
    Publish {
        /// The config: a file or s3://bucket/key.
        #[arg(value_parser = parse_location)]
        config: Location,
        /// Where: s3://bucket/prefix (functions read s3://bucket/prefix/lamina.toml).
        #[arg(value_parser = lamina::publish::S3Prefix::parse)]
        to: lamina::publish::S3Prefix,
        /// The functions' architecture.
        #[arg(long, value_parser = lamina::bundle::Arch::parse, default_value = "x86_64")]
        arch: lamina::bundle::Arch,
        /// Say what would be uploaded, and upload nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Precompile a component for this host (loads without JIT compilation at cold start).
    Compile {
        /// The .wasm component.
        input: PathBuf,
        /// The .cwasm to write.
        #[arg(long, short)]
        output: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    lamina::observe::init(cli.log_format);
    let command = cli.command.unwrap_or_else(|| {
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            Command::Lambda
        } else {
            eprintln!("lamina: no command given and not running in Lambda; see `lamina --help`");
            std::process::exit(2);
        }
    });
    match run(command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lamina: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A config argument: `s3://bucket/key`, or a path (relative to the working directory).
fn parse_location(text: &str) -> Result<Location, String> {
    let cwd = Location::File(std::env::current_dir().map_err(|e| e.to_string())?);
    Location::parse(text, &cwd).map_err(|e| format!("{e:#}"))
}

/// A duration argument: `"250ms"`, `"10s"`, `"2m"`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    lamina::limits::parse_duration(text)
}

fn current_thread() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Lambda => {
            current_thread()?.block_on(lamina::lambda::run(lamina::lambda::config_location()?))
        }
        Command::Serve {
            config,
            port,
            instances,
            concurrency,
            queue,
            header_timeout,
            body_timeout,
        } => {
            let runtime = Runtime::with_tuning(&lamina::component::EngineTuning {
                instances,
                ..Default::default()
            })?;
            let (_, app) = App::load(&config, &runtime)?;
            let derived = lamina::dev::Capacity::for_pool(&runtime, &app);
            let concurrency = concurrency.unwrap_or(derived.concurrency).max(1);
            let capacity = lamina::dev::Capacity {
                concurrency,
                queue: queue.unwrap_or(concurrency * 2),
                header_timeout,
                body_timeout,
            };
            let swap = Arc::new(Swap::new(app));
            // Development: look at the files twice a second and swap in what changed.
            let reloader = Arc::new(Reloader::new(
                config.clone(),
                runtime,
                swap.clone(),
                Duration::from_millis(500),
            ));
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .with_context(|| format!("binding 127.0.0.1:{port}"))?;
                let addr = listener.local_addr()?;
                println!(
                    "lamina: serving {config} on http://{addr} ({} at once, {} queued)",
                    capacity.concurrency, capacity.queue
                );
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_millis(250));
                    loop {
                        tick.tick().await;
                        reloader.maybe_check();
                    }
                });
                tokio::select! {
                    result = lamina::dev::serve(swap, listener, capacity) => result,
                    _ = tokio::signal::ctrl_c() => Ok(()),
                }
            })
        }
        Command::Invoke { config, event } => {
            // stdout is the reply's.
            lamina::observe::metrics::set_sink(lamina::observe::metrics::Sink::Stderr);
            let payload = if event.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::stdin().read_to_end(&mut buf)?;
                buf
            } else {
                std::fs::read(&event).with_context(|| format!("reading {}", event.display()))?
            };
            let (_, app) = App::load(&config, &Runtime::new()?)?;
            let invocation = lamina::Invocation::new(format!("invoke-{:x}", std::process::id()));
            match current_thread()?.block_on(app.answer(&payload, &invocation)) {
                Ok(encoded) => {
                    println!("{}", String::from_utf8_lossy(&encoded));
                    Ok(())
                }
                // A direct invocation's error: printed as Lambda reports a function error.
                Err(error) if error.is_direct() => {
                    println!(
                        "{}",
                        serde_json::json!({
                            "errorType": error.error_type,
                            "errorMessage": error.error_message,
                        })
                    );
                    std::process::exit(1);
                }
                Err(error) => Err(anyhow::anyhow!(
                    "{}: {}",
                    event.display(),
                    error.error_message
                )),
            }
        }
        Command::Check { config: path } => {
            let runtime = Runtime::new()?;
            let (config, app) = App::load(&path, &runtime)?;
            println!("{path}: ok");
            println!(
                "host: lamina {}, serving {}",
                env!("CARGO_PKG_VERSION"),
                lamina::component::SERVED_CONTRACTS
            );
            for (store, place, users) in config.stores()? {
                println!(
                    "key-value store {store}: {place}; opened by {}",
                    users.join(", ")
                );
            }
            match runtime.cache() {
                Some(cache) => println!("compile cache: {}", cache.dir().display()),
                None => println!("compile cache: off"),
            }
            for (name, guest) in app.components() {
                println!(
                    "component {name} ({}, {}): {} sha256={} code={}",
                    guest.kind().as_str(),
                    guest.contract().as_str(),
                    guest.source(),
                    guest.digest(),
                    guest.code_source().as_str(),
                );
                let limits = guest.limits();
                println!(
                    "  limits: memory {} MiB, timeout {:?}, max-response {} bytes",
                    limits.memory >> 20,
                    limits.timeout,
                    limits.max_response
                );
                if let lamina::component::InstancePolicy::Reuse { max_requests } =
                    guest.instance_policy()
                {
                    println!(
                        "  instances: reused, up to {max_requests} requests each, replaced after any failure"
                    );
                }
                // Each capability says what it grants (keys only, never a secret's value).
                for (capability, line) in guest.grants().describe() {
                    println!("  {capability}: {line}");
                }
            }
            let global = app.global_middleware();
            if !global.is_empty() {
                println!("middleware (every request): {}", global.join(" -> "));
            }
            for route in app.describe_routes() {
                println!("route {route}");
            }
            Ok(())
        }
        Command::Openapi { config, output } => {
            let config = lamina::Config::fetch(&config, &lamina::fetch::Fetcher::default())?;
            let document = lamina::openapi::document(&config)?;
            for warning in &document.warnings {
                eprintln!("lamina: warning: {warning}");
            }
            let text = document.to_json_pretty();
            match output {
                Some(path) => lamina::fetch::write_atomically(&path, text.as_bytes())?,
                None => print!("{text}"),
            }
            Ok(())
        }
        Command::New {
            name,
            lang,
            kind,
            dir,
            sdk,
        } => {
            let created = lamina::scaffold::create(&dir, &name, lang, kind, sdk.as_deref())?;
            println!(
                "created {} ({} {}): {}",
                created.dir.display(),
                lang.as_str(),
                kind.as_str(),
                created.files.join(", ")
            );
            println!(
                "next: cd {} and see README.md; `lamina build` builds it",
                created.dir.display()
            );
            println!(
                "to bind it in a config beside the project:\n\n{}",
                created.snippet
            );
            Ok(())
        }
        Command::Build { dir } => {
            let built = lamina::builder::build(&dir)?;
            println!(
                "{}: {} {}, sha256 = \"{}\"",
                built.wasm.display(),
                built.lang.as_str(),
                built.kind.as_str(),
                built.sha256
            );
            Ok(())
        }
        Command::Bundle {
            config,
            output,
            arch,
            bootstrap,
        } => {
            let options = lamina::bundle::Options { arch, bootstrap };
            let bundle = lamina::bundle::bundle(
                &config,
                &output,
                &options,
                &lamina::fetch::Fetcher::default(),
            )?;
            for c in &bundle.components {
                println!(
                    "component {}: {} -> {} ({} bytes, sha256 = \"{}\")",
                    c.name, c.source, c.file, c.bytes, c.sha256
                );
            }
            println!("config: {}", bundle.config.display());
            println!("layer: {}", bundle.layer_zip.display());
            println!(
                "template: {} (sam deploy --guided --template-file {})",
                bundle.template.display(),
                bundle.template.display()
            );
            if let Some(zip) = &bundle.function_zip {
                println!(
                    "function: {} (runtime provided.al2023, {})",
                    zip.display(),
                    arch.lambda_name()
                );
            }
            match &bundle.check {
                Ok(_) => println!(
                    "checked: the packaged bootstrap loads the bundle, every component precompiled"
                ),
                Err(why) => println!("not checked: {why}"),
            }
            for note in &bundle.notes {
                println!("note: {note}");
            }
            Ok(())
        }
        Command::Publish {
            config,
            to,
            arch,
            dry_run,
        } => {
            let published = lamina::publish::publish(
                &config,
                &to,
                arch,
                dry_run,
                &lamina::fetch::Fetcher::default(),
            )?;
            match &published.check {
                Ok(_) => {
                    println!("checked: this lamina loads the version, every component precompiled")
                }
                Err(why) => println!("not checked: {why}"),
            }
            let verb = if dry_run { "would upload" } else { "uploaded" };
            for upload in &published.uploads {
                if upload.uploaded {
                    println!("{verb} {} ({} bytes)", upload.to, upload.bytes);
                } else {
                    println!("already there: {}", upload.to);
                }
            }
            for note in &published.notes {
                println!("note: {note}");
            }
            if dry_run {
                println!("dry run: nothing was uploaded");
            } else {
                println!("{}", published.pickup);
            }
            Ok(())
        }
        Command::Compile { input, output } => {
            let runtime = Runtime::new()?;
            let bytes =
                std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
            let compiled = runtime
                .engine()
                .precompile_component(&bytes)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("compiling {}", input.display()))?;
            // A reader (a reloading host) never sees half a file.
            lamina::fetch::write_atomically(&output, &compiled)?;
            println!(
                "{}: sha256 = \"{}\"",
                output.display(),
                lamina::component::sha256_hex(&compiled)
            );
            Ok(())
        }
    }
}
