//! Key-value benchmark: one request through the whole pipeline to the `kv` test guest
//! (`tests/components/kv`), whose handler makes one `get` or one `set` of a 100-byte value
//! on a `memory`, a `file` and a `dynamodb` store (moto on loopback), next to the same
//! pipeline to `hello` (a fresh instance, no store) in the same run.
//!
//! Run with `cargo xtask bench` (which builds the guests, and has moto installed for the
//! DynamoDB rows; without moto they are skipped). Not run by CI: read the ratios within one
//! run.

#[path = "support/measure.rs"]
mod measure;
use lamina::{App, Config, Context, Request, Runtime, Source};
use measure::{guest_dir, stats, us};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Requests per row (after warm-up) for the local stores, and for DynamoDB on moto (a
/// Python server, two orders of magnitude slower).
const REQUESTS: usize = 2000;
const REMOTE_REQUESTS: usize = 200;

/// Set in the child process this benchmark runs itself as, with the AWS environment.
const CHILD: &str = "LAMINA_BENCH_KV_CHILD";

fn moto_server() -> Option<PathBuf> {
    std::env::var_os("LAMINA_MOTO_SERVER")
        .map(PathBuf::from)
        .or_else(|| {
            Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv/bin/moto_server"))
        })
        .filter(|p| p.exists())
}

fn config(dir: &Path, dynamodb: bool) -> anyhow::Result<Config> {
    let kv = guest_dir().join("kv.wasm");
    let hello = guest_dir().join("hello.wasm");
    anyhow::ensure!(
        kv.exists(),
        "{} is missing: run `cargo xtask bench`",
        kv.display()
    );
    let mut text = format!(
        "[key-value.mem]\nbackend = \"memory\"\n[key-value.file]\nbackend = \"file\"\npath = \"bench.redb\"\n\
         [components.hello]\nsource = {:?}\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/hello\"\ncomponent = \"hello\"\n\
         [[routes]]\nmethod = \"ANY\"\npath = \"/get\"\ncomponent = \"kv\"\n\
         [[routes]]\nmethod = \"ANY\"\npath = \"/set\"\ncomponent = \"kv\"\n",
        hello.display().to_string(),
    );
    let stores = if dynamodb {
        text.push_str("[key-value.ddb]\nbackend = \"dynamodb\"\ntable = \"bench\"\n");
        "[\"mem\", \"file\", \"ddb\"]"
    } else {
        "[\"mem\", \"file\"]"
    };
    text.push_str(&format!(
        "[components.kv]\nsource = {:?}\nkey-value = {stores}\ntimeout = \"30s\"\n",
        kv.display().to_string()
    ));
    Config::parse(&text, dir.to_path_buf())
}

async fn run(
    app: &App,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: &[u8],
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let mut request = Request::new(
            method.parse()?,
            path,
            Context::new(Source::Local, format!("bench-{i}")),
        );
        request.query = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        request.body = bytes::Bytes::copy_from_slice(body);
        let started = Instant::now();
        let response = app.handle(request).await;
        let took = started.elapsed();
        anyhow::ensure!(
            response.status.as_u16() < 300,
            "{method} {path} {query:?}: {} {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
        if i >= n / 10 {
            samples.push(took);
        }
    }
    Ok(samples)
}

fn measure(dynamodb: bool) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("lamina-bench-kv-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let runtime = Runtime::new()?;
    let app = App::from_config(&config(&dir, dynamodb)?, &runtime)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let value = [b'v'; 100];
    println!(
        "key-value: a request through the pipeline whose handler makes one call, {REQUESTS} requests per local row, {REMOTE_REQUESTS} on DynamoDB (moto)"
    );
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>9}",
        "path", "p50 µs", "p99 µs", "mean µs", "x hello"
    );
    let baseline = stats(rt.block_on(run(&app, "GET", "/hello", &[], b"", REQUESTS))?);
    let mut rows: Vec<(String, &str, &str, usize)> = Vec::new();
    let mut stores = vec![("mem", "memory"), ("file", "file (redb, fsync per write)")];
    if dynamodb {
        stores.push(("ddb", "dynamodb (moto on loopback)"));
    }
    println!(
        "{:<44} {:>9.1} {:>9.1} {:>9.1} {:>9.2}",
        "hello (fresh instance, no store)",
        us(baseline.p50),
        us(baseline.p99),
        us(baseline.mean),
        1.0
    );
    for (store, label) in stores {
        let n = if store == "ddb" {
            REMOTE_REQUESTS
        } else {
            REQUESTS
        };
        rows.push((format!("{label}: set"), store, "/set", n));
        rows.push((format!("{label}: get"), store, "/get", n));
    }
    for (label, store, path, n) in rows {
        let query = [("store", store), ("key", "bench-key")];
        let method = if path == "/set" { "PUT" } else { "GET" };
        let s = stats(rt.block_on(run(&app, method, path, &query, &value, n))?);
        println!(
            "{:<44} {:>9.1} {:>9.1} {:>9.1} {:>9.2}",
            label,
            us(s.p50),
            us(s.p99),
            us(s.mean),
            s.p50.as_secs_f64() / baseline.p50.as_secs_f64()
        );
    }
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A moto server on a free loopback port with the table `bench`, killed when dropped.
struct Moto(std::process::Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto(binary: &Path) -> anyhow::Result<(Moto, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let moto = Moto(
        Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let python = binary.with_file_name("python");
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let created = Command::new(&python)
                .args([
                    "-c",
                    &format!(
                        "import boto3; boto3.client('dynamodb', endpoint_url='http://127.0.0.1:{port}', \
                         region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='y')\
                         .create_table(TableName='bench', KeySchema=[{{'AttributeName': 'k', 'KeyType': 'HASH'}}], \
                         AttributeDefinitions=[{{'AttributeName': 'k', 'AttributeType': 'S'}}], BillingMode='PAY_PER_REQUEST')"
                    ),
                ])
                .status()?;
            anyhow::ensure!(created.success(), "creating the bench table on moto failed");
            return Ok((moto, port));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("moto did not listen within 30 s")
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os(CHILD).is_some() {
        return measure(true);
    }
    let Some(moto) = moto_server() else {
        println!(
            "(no moto_server: the DynamoDB rows are skipped; `cargo xtask bench` installs it)"
        );
        return measure(false);
    };
    // The DynamoDB store reads its region and endpoint from the environment: run again as a
    // child process that has them.
    let (_moto, port) = start_moto(&moto)?;
    let status = Command::new(std::env::current_exe()?)
        .env(CHILD, "1")
        .env("AWS_REGION", "us-east-1")
        .env(
            "AWS_ENDPOINT_URL_DYNAMODB",
            format!("http://127.0.0.1:{port}"),
        )
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench-secret")
        .status()?;
    anyhow::ensure!(status.success(), "the measuring process failed");
    Ok(())
}
