//! Where configs and components come from: local files (the deployment package, a Lambda
//! layer under `/opt`, any path) and S3 objects (`s3://bucket/key`, optionally
//! `?versionId=...`).
//!
//! Reading is blocking (loads run at start-up and on a reload thread, never on the request
//! path). S3 requests run on a small runtime of their own, started on first use, so a
//! process that only reads files starts no threads and makes no connections.
//!
//! Change detection is cheap for both: a file's size and modification time, an S3 object's
//! ETag through a conditional `GET` (`If-None-Match`): an unchanged object answers
//! `304 Not Modified` with no body; a changed one answers with the new bytes, which are kept
//! so the load that follows does not download them again.

use anyhow::{Context as _, bail};
use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, GetOptions, ObjectStore as _, RetryConfig};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

/// Where one artifact (a config or a component) lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    /// A local file.
    File(PathBuf),
    /// An S3 object, optionally one version of it.
    S3 {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// A fixed object version (`?versionId=`), or the latest.
        version: Option<String>,
    },
}

impl Location {
    /// Parses `s3://bucket/key[?versionId=V]`, or takes `text` as a file path (relative
    /// paths resolve against `base`: a directory, or an S3 prefix when the config itself
    /// came from S3).
    ///
    /// # Errors
    ///
    /// An `s3://` URL without a bucket or key, or with a query other than `versionId`.
    pub fn parse(text: &str, base: &Location) -> anyhow::Result<Self> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (object, query) = rest.split_once('?').unwrap_or((rest, ""));
            let Some((bucket, key)) = object
                .split_once('/')
                .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            else {
                bail!("{text:?}: an S3 source is s3://BUCKET/KEY");
            };
            let version = match query {
                "" => None,
                q => match q.strip_prefix("versionId=") {
                    Some(v) if !v.is_empty() && !v.contains('&') => Some(v.to_owned()),
                    _ => bail!("{text:?}: the only query an S3 source takes is ?versionId=..."),
                },
            };
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version,
            });
        }
        let path = Path::new(text);
        Ok(match base {
            _ if path.is_absolute() => Self::File(path.to_path_buf()),
            Self::File(dir) => Self::File(dir.join(path)),
            Self::S3 { bucket, key, .. } => {
                // `key` is the prefix ("" or ending in '/'); `./` and `../` are not
                // resolved in S3 keys, so refuse them rather than guess.
                if text.split('/').any(|s| s == "." || s == "..") {
                    bail!("{text:?}: relative sources next to an S3 config cannot use . or ..");
                }
                Self::S3 {
                    bucket: bucket.clone(),
                    key: format!("{key}{text}"),
                    version: None,
                }
            }
        })
    }

    /// The location relative sources resolve against: a file's directory, or an S3 key's
    /// "directory" prefix.
    #[must_use]
    pub fn base(&self) -> Location {
        match self {
            Self::File(path) => Self::File(parent_dir(path)),
            Self::S3 { bucket, key, .. } => Self::S3 {
                bucket: bucket.clone(),
                key: key
                    .rfind('/')
                    .map_or_else(String::new, |i| key[..=i].to_owned()),
                version: None,
            },
        }
    }

    /// Whether this names a precompiled artifact by its extension (`.cwasm`).
    #[must_use]
    pub fn is_cwasm(&self) -> bool {
        match self {
            Self::File(path) => path.extension().is_some_and(|e| e == "cwasm"),
            Self::S3 { key, .. } => key.ends_with(".cwasm"),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::S3 {
                bucket,
                key,
                version: None,
            } => write!(f, "s3://{bucket}/{key}"),
            Self::S3 {
                bucket,
                key,
                version: Some(v),
            } => write!(f, "s3://{bucket}/{key}?versionId={v}"),
        }
    }
}

/// What identifies one version of an artifact, without its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tag {
    /// A file's size and modification time.
    File {
        /// Size in bytes.
        len: u64,
        /// Modification time.
        modified: SystemTime,
    },
    /// The file or object does not exist (a state to notice when it changes, not an error
    /// to retry).
    Missing,
    /// An S3 object's ETag (and version id, on versioned buckets).
    S3 {
        /// The ETag, quotes included, as S3 sends it.
        etag: Option<String>,
        /// The version id, when the bucket is versioned.
        version: Option<String>,
    },
}

/// The directory `path` is in (`.` for a bare file name): what its relative paths resolve
/// against.
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Writes `bytes` to `path` as a deploy tool should: to a temporary file beside it (unique
/// to this process and moment), then renamed over it, so a reader only ever sees the old
/// file or the whole new one.
///
/// # Errors
///
/// When the temporary file cannot be written or renamed (it is removed then).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent_dir(path).join(format!(
        ".{name}.{}.{:x}.tmp",
        std::process::id(),
        SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("renaming into {}", path.display())
    })
}

/// One artifact's bytes and the version they are.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The content.
    pub bytes: Bytes,
    /// Which version it is.
    pub tag: Tag,
}

/// Reads locations, keeping one S3 client per bucket and the last version of each object.
#[derive(Default)]
pub struct Fetcher {
    s3: OnceLock<S3>,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("s3_started", &self.s3.get().is_some())
            .finish()
    }
}

impl Fetcher {
    /// Reads the whole artifact. Blocking.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or the S3 request fails (the message names the
    /// location and the cause: no such bucket or key, access denied, connection refused).
    pub fn read(&self, location: &Location) -> anyhow::Result<Fetched> {
        match location {
            Location::File(path) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                // The tag is taken after the read: a write racing with it shows up as a
                // change on the next check instead of being missed.
                let tag = file_tag(path)?;
                Ok(Fetched {
                    bytes: Bytes::from(bytes),
                    tag,
                })
            }
            Location::S3 { .. } => self
                .s3()?
                .fetch(location)
                .map_err(|e| anyhow::Error::new(e).context(format!("fetching {location}"))),
        }
    }

    /// [`Fetcher::read`], with a missing file or object as `None` rather than an error.
    ///
    /// # Errors
    ///
    /// As [`Fetcher::read`], for every other failure.
    pub fn read_if_present(&self, location: &Location) -> anyhow::Result<Option<Fetched>> {
        match location {
            Location::File(path) if !path.exists() => Ok(None),
            Location::File(_) => self.read(location).map(Some),
            Location::S3 { .. } => match self.s3()?.fetch(location) {
                Ok(fetched) => Ok(Some(fetched)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(anyhow::Error::new(e).context(format!("checking {location}"))),
            },
        }
    }

    /// The artifact's current version, as cheaply as the source allows: file metadata, or a
    /// conditional `GET` that costs a `304` when the object has not changed. Blocking.
    ///
    /// # Errors
    ///
    /// As [`Fetcher::read`].
    pub fn tag(&self, location: &Location) -> anyhow::Result<Tag> {
        match location {
            Location::File(path) => match std::fs::metadata(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tag::Missing),
                _ => file_tag(path),
            },
            Location::S3 { .. } => match self.s3()?.fetch(location) {
                Ok(fetched) => Ok(fetched.tag),
                Err(object_store::Error::NotFound { .. }) => Ok(Tag::Missing),
                Err(e) => Err(anyhow::Error::new(e).context(format!("checking {location}"))),
            },
        }
    }

    /// The version of `location` as last read, without a request: file metadata, or the
    /// ETag an earlier S3 read saw. `None` when an S3 object has not been read yet.
    #[must_use]
    pub fn known_tag(&self, location: &Location) -> Option<Tag> {
        match location {
            Location::File(path) => match std::fs::metadata(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Tag::Missing),
                _ => file_tag(path).ok(),
            },
            Location::S3 { .. } => self.s3.get().and_then(|s3| {
                s3.recent
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(location)
                    .map(|f| f.tag.clone())
            }),
        }
    }

    /// Writes `bytes` to the S3 object at `location` (one PUT: readers see the old object
    /// or the new one, never part of it).
    ///
    /// # Errors
    ///
    /// When `location` is not an S3 object or the request fails.
    pub fn put(&self, location: &Location, bytes: Bytes) -> anyhow::Result<()> {
        let (bucket, key) = s3_parts(location)?;
        let path = ObjectPath::from(key);
        self.s3()?
            .run(bucket, move |store| async move {
                store
                    .put(&path, object_store::PutPayload::from(bytes))
                    .await
                    .map(|_| ())
            })
            .with_context(|| format!("uploading {location}"))
    }

    /// Whether the S3 object at `location` exists (a HEAD request).
    ///
    /// # Errors
    ///
    /// When `location` is not an S3 object or the request fails other than with 404.
    pub fn exists(&self, location: &Location) -> anyhow::Result<bool> {
        let (bucket, key) = s3_parts(location)?;
        let path = ObjectPath::from(key);
        self.s3()?
            .run(bucket, move |store| async move {
                match store.head(&path).await {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(e) => Err(e),
                }
            })
            .with_context(|| format!("checking {location}"))
    }

    fn s3(&self) -> anyhow::Result<&S3> {
        if let Some(s3) = self.s3.get() {
            return Ok(s3);
        }
        let s3 = S3::start()?;
        Ok(self.s3.get_or_init(|| s3))
    }
}

fn s3_parts(location: &Location) -> anyhow::Result<(&str, &str)> {
    match location {
        Location::S3 { bucket, key, .. } => Ok((bucket, key)),
        Location::File(path) => bail!("{} is not an S3 object", path.display()),
    }
}

fn file_tag(path: &Path) -> anyhow::Result<Tag> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Tag::File {
        len: meta.len(),
        modified: meta.modified()?,
    })
}

/// S3 access: a two-thread runtime for the requests, a client per bucket, and the last
/// bytes seen per object (for conditional requests).
struct S3 {
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    stores: Mutex<HashMap<String, Arc<AmazonS3>>>,
    recent: Mutex<HashMap<Location, Fetched>>,
}

/// Bounds on S3 calls: a check must not hang a reload for minutes when S3 is unreachable
/// (object_store's default retry budget is three minutes).
const S3_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const S3_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const S3_RETRIES: usize = 2;

impl S3 {
    fn start() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lamina-s3")
            .enable_all()
            .build()
            .context("starting the S3 client runtime")?;
        Ok(Self {
            runtime: Some(runtime),
            stores: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
        })
    }

    /// The client for `bucket`: credentials, region and endpoint from the standard AWS
    /// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`), path-style
    /// requests when an endpoint is set.
    fn store(&self, bucket: &str) -> anyhow::Result<Arc<AmazonS3>> {
        let mut stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = stores.get(bucket) {
            return Ok(store.clone());
        }
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            // (Replaces the client options `from_env` set, so AWS_ALLOW_HTTP is read again.)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v == "true"))
                    .with_connect_timeout(S3_CONNECT_TIMEOUT)
                    .with_timeout(S3_REQUEST_TIMEOUT),
            )
            .with_retry(RetryConfig {
                max_retries: S3_RETRIES,
                retry_timeout: S3_REQUEST_TIMEOUT,
                ..RetryConfig::default()
            });
        // Lambda sets AWS_REGION; object_store's from_env reads AWS_DEFAULT_REGION too.
        if let Ok(region) = std::env::var("AWS_REGION") {
            builder = builder.with_region(region);
        }
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_S3") {
            builder = builder.with_endpoint(endpoint);
        }
        let store = Arc::new(
            builder
                .build()
                .with_context(|| format!("configuring the S3 client for bucket {bucket}"))?,
        );
        stores.insert(bucket.to_owned(), store.clone());
        Ok(store)
    }

    /// Runs `call` with `bucket`'s client on the S3 runtime and waits for its result.
    fn run<T, F>(&self, bucket: &str, call: impl FnOnce(Arc<AmazonS3>) -> F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, object_store::Error>> + Send + 'static,
    {
        let store = self.store(bucket)?;
        let Some(runtime) = &self.runtime else {
            unreachable!("the runtime is only taken on drop");
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let future = call(store);
        runtime.spawn(async move {
            let _ = tx.send(future.await);
        });
        Ok(rx.recv().context("the S3 runtime stopped")??)
    }

    /// GETs the object, conditionally when an earlier version is known: `304` → the kept
    /// bytes, `200` → the new ones (kept for next time).
    fn fetch(&self, location: &Location) -> Result<Fetched, object_store::Error> {
        let Location::S3 {
            bucket,
            key,
            version,
        } = location
        else {
            unreachable!("S3::fetch is only called with S3 locations");
        };
        let store = self
            .store(bucket)
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: e.into(),
            })?;
        let previous = self
            .recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(location)
            .cloned();
        let options = GetOptions {
            if_none_match: previous.as_ref().and_then(|p| match &p.tag {
                Tag::S3 { etag, .. } => etag.clone(),
                Tag::File { .. } | Tag::Missing => None,
            }),
            version: version.clone(),
            ..GetOptions::default()
        };
        let path = ObjectPath::from(key.as_str());
        let (tx, rx) = std::sync::mpsc::channel();
        let Some(runtime) = &self.runtime else {
            unreachable!("the runtime is only taken on drop");
        };
        runtime.spawn(async move {
            let result = async {
                let got = store.get_opts(&path, options).await?;
                let tag = Tag::S3 {
                    etag: got.meta.e_tag.clone(),
                    version: got.meta.version.clone(),
                };
                let bytes = got.bytes().await?;
                Ok::<_, object_store::Error>(Fetched { bytes, tag })
            }
            .await;
            let _ = tx.send(result);
        });
        let result = rx.recv().map_err(|e| object_store::Error::Generic {
            store: "S3",
            source: Box::new(e),
        })?;
        match result {
            Ok(fetched) => {
                self.recent
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(location.clone(), fetched.clone());
                Ok(fetched)
            }
            Err(object_store::Error::NotModified { path, source }) => {
                previous.ok_or(object_store::Error::NotModified { path, source })
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for S3 {
    /// The fetcher may be dropped on an async thread (a failed start-up in the Lambda loop),
    /// where waiting for the runtime's threads is not allowed: let them wind down alone.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_resolve_against_their_base() {
        let dir = Location::File(PathBuf::from("/opt/lamina"));
        assert_eq!(
            Location::parse("hello.wasm", &dir).unwrap(),
            Location::File(PathBuf::from("/opt/lamina/hello.wasm"))
        );
        assert_eq!(
            Location::parse("/abs/x.wasm", &dir).unwrap(),
            Location::File(PathBuf::from("/abs/x.wasm"))
        );
        let s3 = Location::parse("s3://bucket/app/v2/lamina.toml", &dir).unwrap();
        assert_eq!(s3.to_string(), "s3://bucket/app/v2/lamina.toml");
        let base = s3.base();
        assert_eq!(
            Location::parse("hello.wasm", &base).unwrap().to_string(),
            "s3://bucket/app/v2/hello.wasm"
        );
        assert!(Location::parse("../x.wasm", &base).is_err());
        let pinned = Location::parse("s3://b/k.wasm?versionId=abc", &dir).unwrap();
        assert_eq!(
            pinned,
            Location::S3 {
                bucket: "b".into(),
                key: "k.wasm".into(),
                version: Some("abc".into())
            }
        );
        assert_eq!(pinned.to_string(), "s3://b/k.wasm?versionId=abc");
        for bad in [
            "s3://",
            "s3://bucket",
            "s3://bucket/",
            "s3:///key",
            "s3://b/k?v=1",
        ] {
            assert!(Location::parse(bad, &dir).is_err(), "{bad}");
        }
        assert!(Location::parse("s3://b/x.cwasm", &dir).unwrap().is_cwasm());
    }
}
