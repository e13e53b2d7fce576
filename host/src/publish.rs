//! `lamina publish CONFIG s3://bucket/prefix`: a new version for functions that read their
//! config from S3 (`LAMINA_CONFIG=s3://bucket/prefix/lamina.toml`), uploaded so that a
//! running function can only ever see a complete version.
//!
//! The config is bundled first ([`crate::bundle`]: every component precompiled for the
//! function's architecture and pinned), then:
//!
//! 1. each component goes to a content-addressed key, `prefix/components/NAME-HASH.cwasm`,
//!    skipped when it is already there — so no key a published config names ever changes;
//! 2. the pinned config goes to `prefix/lamina.toml`, last, in one PUT.
//!
//! A function that reads the config between the two steps still reads the previous one,
//! whose components are untouched; once it reads the new one, every component it names is
//! there. A function of another `lamina` version refuses the new `.cwasm` files at its
//! reload and keeps serving what it had.

use crate::bundle::{self, Arch, Bundled, Destination};
use crate::fetch::{Fetcher, Location};
use anyhow::{Context as _, bail};
use bytes::Bytes;
use std::path::Path;

/// Where a version goes: a bucket and a key prefix (empty or ending in `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Prefix {
    bucket: String,
    prefix: String,
}

impl S3Prefix {
    /// Parses `s3://bucket/prefix` (the prefix may be empty; a `/` is added after it).
    ///
    /// # Errors
    ///
    /// Anything else, with the form expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{text:?}: expected s3://BUCKET/PREFIX"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{text:?}: expected s3://BUCKET/PREFIX"));
        }
        let prefix = prefix.trim_matches('/');
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }

    /// The object `key` under the prefix.
    fn object(&self, key: &str) -> Location {
        Location::S3 {
            bucket: self.bucket.clone(),
            key: format!("{}{key}", self.prefix),
            version: None,
        }
    }

    /// Where functions read the published config: their `LAMINA_CONFIG`.
    #[must_use]
    pub fn config(&self) -> Location {
        self.object("lamina.toml")
    }
}

/// One object of a publish.
#[derive(Clone, Debug)]
pub struct Upload {
    /// Where it goes.
    pub to: Location,
    /// Its size.
    pub bytes: usize,
    /// Whether it was (or, in a dry run, would be) uploaded; `false` when already there.
    pub uploaded: bool,
}

/// What a publish did, or in a dry run would do.
#[derive(Debug)]
pub struct Published {
    /// The components, in upload order, then the config.
    pub uploads: Vec<Upload>,
    /// When running functions pick the version up, in a sentence.
    pub pickup: String,
    /// What bundling changed, one sentence each.
    pub notes: Vec<String>,
    /// How the version was checked before any upload.
    pub check: Result<String, String>,
}

/// Bundles the config at `location` for `arch` and uploads it to `to` (see the module
/// docs); with `dry_run`, checks what is already there and uploads nothing.
///
/// # Errors
///
/// As [`bundle::bundle`]; a relative local file the config names (a function reading
/// its config from S3 reads local files from its own filesystem); an S3 request that
/// fails (the message names the key). Nothing is uploaded after a failure, and the config
/// never before its components.
pub fn publish(
    location: &Location,
    to: &S3Prefix,
    arch: Arch,
    dry_run: bool,
    fetcher: &Fetcher,
) -> anyhow::Result<Published> {
    let scratch = std::env::temp_dir().join(format!(
        "lamina-publish-{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let result = publish_from(location, to, arch, dry_run, fetcher, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn publish_from(
    location: &Location,
    to: &S3Prefix,
    arch: Arch,
    dry_run: bool,
    fetcher: &Fetcher,
    scratch: &Path,
) -> anyhow::Result<Published> {
    let prepared = bundle::prepare(location, scratch, arch, Destination::S3, fetcher)?;
    // The version must load in this host before any of it is uploaded.
    let check = if Arch::host() == Some(arch) {
        let this = std::env::current_exe().context("finding this executable")?;
        Ok(bundle::check_with(
            &this,
            &prepared.config,
            &prepared.components,
        )?)
    } else {
        Err(format!(
            "not loaded here: this machine cannot run {} code",
            arch.lambda_name()
        ))
    };
    let mut uploads = Vec::new();
    for Bundled { file, .. } in &prepared.components {
        let target = to.object(file);
        let bytes = std::fs::read(scratch.join(file))?;
        let present = fetcher.exists(&target)?;
        if !present && !dry_run {
            fetcher.put(&target, Bytes::from(bytes.clone()))?;
        }
        uploads.push(Upload {
            to: target,
            bytes: bytes.len(),
            uploaded: !present,
        });
    }
    let config = std::fs::read(&prepared.config)?;
    let target = to.config();
    if !dry_run {
        // Every component the config names is in place: only now can a function see it.
        for upload in &uploads {
            if !fetcher.exists(&upload.to)? {
                bail!(
                    "{} is not there after its upload; the config was not published",
                    upload.to
                );
            }
        }
        fetcher.put(&target, Bytes::from(config.clone()))?;
    }
    uploads.push(Upload {
        to: target.clone(),
        bytes: config.len(),
        uploaded: true,
    });
    let pickup = match prepared.reload_interval {
        Some(interval) => format!(
            "functions with LAMINA_CONFIG={target} pick it up at their first invocation more \
             than {} after their last check (reload-interval), or at once on a \
             {{\"lamina\": {{\"reload\": true}}}} invocation if admin-events is on",
            humantime::format_duration(interval)
        ),
        None => format!(
            "the config has no reload-interval: functions with LAMINA_CONFIG={target} keep \
             the version they loaded until their next cold start"
        ),
    };
    Ok(Published {
        uploads,
        pickup,
        notes: prepared.notes,
        check,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_with_or_without_a_prefix() {
        let d = S3Prefix::parse("s3://bucket/app/v1/").unwrap();
        assert_eq!(
            d.config(),
            Location::S3 {
                bucket: "bucket".into(),
                key: "app/v1/lamina.toml".into(),
                version: None
            }
        );
        let d = S3Prefix::parse("s3://bucket").unwrap();
        assert_eq!(
            d.object("components/a.cwasm").to_string(),
            "s3://bucket/components/a.cwasm"
        );
        assert!(S3Prefix::parse("bucket/app").is_err());
        assert!(S3Prefix::parse("s3:///app").is_err());
    }
}
