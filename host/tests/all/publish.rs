//! `lamina publish` against a real S3-compatible server (moto on loopback): components at
//! content-addressed keys first, the pinned config last, so a poller reading the config
//! while versions are published never finds one whose components are missing, and
//! `lamina serve` reading the bucket swaps from one version to the next without a failed
//! request.

use crate::moto::{free_port, start_moto};
use crate::s3::{BUCKET, bucket, s3_env};
use crate::serve::{send, start_with_env};
use crate::support::{guest, temp_dir, tokio_runtime};
use object_store::ObjectStore as _;
use object_store::path::Path as ObjectPath;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn lamina(args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

/// A version of the app: `hello` greeting with `greeting`, `echo`, and `timing` in front of
/// `hello` when `with_timing` (a component the previous version did not have).
fn version(dir: &Path, name: &str, greeting: &str, with_timing: bool) -> std::path::PathBuf {
    let timing = if with_timing {
        format!("[components.timing]\nsource = {:?}\n", guest("timing"))
    } else {
        String::new()
    };
    let chain = if with_timing {
        "middleware = [\"timing\"]\n"
    } else {
        ""
    };
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "reload-interval = \"200ms\"\n{chain}\
             [components.hello]\nsource = {:?}\nconfig = {{ greeting = {greeting:?} }}\n\
             [components.echo]\nsource = {:?}\n{timing}\
             [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n\
             [[routes]]\nmethod = \"ANY\"\npath = \"/echo\"\ncomponent = \"echo\"\n",
            guest("hello"),
            guest("echo"),
        ),
    )
    .unwrap();
    path
}

/// Reads `prefix/lamina.toml` over and over until told to stop; for each config it finds,
/// every component it names must already be in the bucket. Returns the distinct greetings
/// seen and every violation.
fn poll(
    store: &object_store::aws::AmazonS3,
    prefix: &str,
    stop: &AtomicBool,
) -> (Vec<String>, Vec<String>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut greetings: Vec<String> = Vec::new();
        let mut missing = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let Ok(got) = store
                .get(&ObjectPath::from(format!("{prefix}lamina.toml")))
                .await
            else {
                continue;
            };
            let text = String::from_utf8(got.bytes().await.unwrap().to_vec()).unwrap();
            let table: toml::Table = toml::from_str(&text).unwrap();
            for (name, component) in table["components"].as_table().unwrap() {
                let source = component["source"].as_str().unwrap();
                let key = ObjectPath::from(format!("{prefix}{source}"));
                if store.head(&key).await.is_err() {
                    missing.push(format!("{name}: {source}"));
                }
            }
            let greeting = table["components"]["hello"]["config"]["greeting"]
                .as_str()
                .unwrap()
                .to_owned();
            if !greetings.contains(&greeting) {
                greetings.push(greeting);
            }
        }
        (greetings, missing)
    })
}

#[test]
fn versions_are_published_components_first_and_served_without_a_failed_request() {
    let dir = temp_dir("publish");
    let port = free_port();
    let _moto = start_moto(port, &dir.join("moto.log"));
    let env = s3_env(port);
    let store = Arc::new(tokio_runtime().block_on(bucket(port)));
    let to = format!("s3://{BUCKET}/app");
    let config_url = format!("s3://{BUCKET}/app/lamina.toml");

    let v1 = version(&dir, "v1.toml", "Hi", false);
    let out = lamina(&["publish", v1.to_str().unwrap(), &to], &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("checked: this lamina loads the version"),
        "{stdout}"
    );
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("uploaded "))
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with(&format!("uploaded s3://{BUCKET}/app/components/echo-")));
    assert!(lines[1].starts_with(&format!("uploaded s3://{BUCKET}/app/components/hello-")));
    assert!(
        lines[2].starts_with(&format!("uploaded {config_url} (")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "functions with LAMINA_CONFIG={config_url} pick it up at their first invocation more than 200ms"
        )),
        "{stdout}"
    );

    // A function of this version, reading the bucket.
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = start_with_env(Path::new(&config_url), &[], &env_refs, None);
    tokio_runtime().block_on(async {
        let res = send(&server, "GET", "/hello/Ada", &[], "").await;
        assert_eq!(res.status, 200);
        assert_eq!(res.json()["message"], "Hi, Ada!");
    });

    // A dry run of the next version uploads nothing and says what it would.
    let v2 = version(&dir, "v2.toml", "Yo", true);
    let out = lamina(&["publish", v2.to_str().unwrap(), &to, "--dry-run"], &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "would upload s3://{BUCKET}/app/components/timing-"
        )) && stdout.contains(&format!(
            "already there: s3://{BUCKET}/app/components/hello-"
        )) && stdout.contains("dry run: nothing was uploaded"),
        "{stdout}"
    );
    // Everything under `prefix` (one level of folders down, which is all publish writes).
    let listed = |prefix: &str| -> Vec<object_store::ObjectMeta> {
        tokio_runtime().block_on(async {
            let top = store
                .list_with_delimiter(Some(&ObjectPath::from(prefix)))
                .await
                .unwrap();
            let mut objects = top.objects;
            for folder in top.common_prefixes {
                objects.extend(
                    store
                        .list_with_delimiter(Some(&folder))
                        .await
                        .unwrap()
                        .objects,
                );
            }
            objects
        })
    };
    assert_eq!(listed("app").len(), 3, "the dry run uploaded nothing");

    // The next version, with a poller reading the config throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || poll(&store, "app/", &stop))
    };
    let out = lamina(&["publish", v2.to_str().unwrap(), &to], &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "already there: s3://{BUCKET}/app/components/echo-"
        )),
        "unchanged components are not uploaded again: {stdout}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (greetings, missing) = poller.join().unwrap();
    assert!(
        missing.is_empty(),
        "a config named missing components: {missing:?}"
    );
    assert_eq!(
        greetings.last().map(String::as_str),
        Some("Yo"),
        "{greetings:?}"
    );

    // Every component was in the bucket before the config that names it.
    let objects = listed("app");
    let config_time = objects
        .iter()
        .find(|o| o.location.as_ref() == "app/lamina.toml")
        .unwrap()
        .last_modified;
    for object in &objects {
        assert!(object.last_modified <= config_time, "{object:?}");
    }
    assert_eq!(objects.len(), 4, "{objects:?}");

    // The running function swaps to it, and every request in between is served.
    tokio_runtime().block_on(async {
        for _ in 0..100 {
            let res = send(&server, "GET", "/hello/Ada", &[], "").await;
            assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
            let message = res.json()["message"].as_str().unwrap().to_owned();
            if message == "Yo, Ada!" {
                return;
            }
            assert_eq!(message, "Hi, Ada!");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the function never served the published version");
    });

    // What publish cannot ship is refused before anything is uploaded.
    let schema = dir.join("schema.toml");
    std::fs::write(
        &schema,
        format!(
            "[components.hello]\nsource = {:?}\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n\
             validate = {{ query-schema = \"schemas/q.json\" }}\n",
            guest("hello")
        ),
    )
    .unwrap();
    let out = lamina(
        &[
            "publish",
            schema.to_str().unwrap(),
            &format!("s3://{BUCKET}/refused"),
        ],
        &env,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("routes[0].validate.query-schema: \"schemas/q.json\" is a local file"),
        "{stderr}"
    );
    assert!(listed("refused").is_empty());
}
