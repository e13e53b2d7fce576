//! AWS calls signed by the host, checked by botocore: a loopback service recomputes every
//! signature with AWS's own implementation and refuses a mismatch. The guest
//! (`tests/components/outbound`) never sees a credential.

use crate::serve::{Server, send, start_with_env};
use crate::support::{guest, temp_dir, tokio_runtime};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

const ACCESS_KEY: &str = "AKIDLAMINATEST";
const SECRET_KEY: &str = "verySecretKeyThatMustNeverLeak/0123456789";
const TOKEN: &str = "SessionTokenThatMustNeverLeakEither";

/// The verifier, checking signatures made with `secret`; killed when dropped.
struct Verifier(Child, u16);

impl Drop for Verifier {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn verifier(secret: &str) -> Verifier {
    let python = std::env::var("LAMINA_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigv4_verifier.py");
    let mut child = Command::new(python)
        .arg(script)
        .args([ACCESS_KEY, secret, TOKEN])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("starting the SigV4 verifier (needs botocore: run through cargo xtask test)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the verifier printed {line:?}"));
    Verifier(child, port)
}

/// `lamina serve` with the outbound guest granted DynamoDB, pointed at `port`, with the
/// function's credentials in its environment (`with_credentials`).
fn serve(name: &str, port: u16, with_credentials: bool) -> (Server, std::path::PathBuf) {
    let dir = temp_dir(name);
    let config = dir.join("lamina.toml");
    std::fs::write(
        &config,
        format!(
            "[components.outbound]\nsource = {:?}\naws = {{ services = [\"dynamodb\"] }}\nconfig = {{ table = \"todos\" }}\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/aws\"\ncomponent = \"outbound\"\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/leak\"\ncomponent = \"outbound\"\n",
            guest("outbound"),
        ),
    )
    .unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut env = vec![
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "eu-west-1"),
    ];
    if with_credentials {
        env.extend([
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_SESSION_TOKEN", TOKEN),
        ]);
    }
    let log = dir.join("serve.log");
    (start_with_env(&config, &[], &env, Some(&log)), log)
}

#[test]
fn calls_to_a_granted_service_are_signed_so_that_botocore_verifies_them() {
    let good = verifier(SECRET_KEY);
    let (server, log) = serve("aws-signed", good.1, true);
    tokio_runtime().block_on(async {
        let res = send(
            &server,
            "GET",
            "/aws?service=dynamodb&target=DynamoDB_20120810.ListTables",
            &[],
            "",
        )
        .await;
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        let verified = res.json();
        assert_eq!(verified["verified"], true);
        assert_eq!(verified["service"], "dynamodb");
        assert_eq!(verified["region"], "eu-west-1");
        assert_eq!(verified["target"], "DynamoDB_20120810.ListTables");
        let signed: Vec<&str> = verified["signed"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(
            signed.contains(&"x-amz-target") && signed.contains(&"host"),
            "{signed:?}"
        );

        // A service it was not granted is not signed, and not reachable either.
        let res = send(
            &server,
            "GET",
            "/aws?service=sqs&target=AmazonSQS.ListQueues",
            &[],
            "",
        )
        .await;
        assert_eq!(res.status, 403, "{}", String::from_utf8_lossy(&res.body));
        assert_eq!(res.json()["error"]["code"], "denied");

        // Nothing the guest can read carries a credential.
        let res = send(&server, "GET", "/leak", &[], "").await;
        let seen = String::from_utf8_lossy(&res.body).into_owned();
        assert_eq!(
            res.json()["env"],
            serde_json::json!([]),
            "the guest's environment stays empty"
        );
        for secret in [SECRET_KEY, TOKEN] {
            assert!(!seen.contains(secret), "the guest saw a credential: {seen}");
        }
    });
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    for secret in [SECRET_KEY, TOKEN] {
        assert!(!log.contains(secret), "a credential reached the log");
    }
}

#[test]
fn a_signature_made_with_the_wrong_secret_is_refused() {
    let strict = verifier("a-different-secret");
    let (server, _log) = serve("aws-wrong-secret", strict.1, true);
    let res = tokio_runtime().block_on(send(&server, "GET", "/aws?service=dynamodb", &[], ""));
    assert_eq!(res.status, 403, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["error"]["code"], "InvalidSignatureException");
}

#[test]
fn without_credentials_the_call_fails_and_the_log_says_why() {
    let good = verifier(SECRET_KEY);
    let (server, log) = serve("aws-no-credentials", good.1, false);
    let res = tokio_runtime().block_on(send(&server, "GET", "/aws?service=dynamodb", &[], ""));
    assert_eq!(res.status, 500, "{}", String::from_utf8_lossy(&res.body));
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("AWS_ACCESS_KEY_ID is not set"), "{log}");
}
