//! Python tools the suite and the benchmark use, installed from PyPI into virtualenvs under
//! `target/` (never into the system Python): `moto[server]` for the S3 tests and
//! `aws-lambda-powertools` for the comparison benchmark.

use crate::toolchain::{apt_install, is_root};
use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A virtualenv at `target/<name>` with `packages` installed; returns its directory.
///
/// # Errors
///
/// When no virtualenv can be made (and, as root, `python3-venv` cannot be installed), or
/// pip fails.
pub(crate) fn venv(root: &Path, name: &str, packages: &[&str]) -> anyhow::Result<PathBuf> {
    let dir = root.join("target").join(name);
    let python = dir.join("bin/python");
    if !python.exists() {
        let make = || {
            Command::new("python3")
                .args(["-m", "venv"])
                .arg(&dir)
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !make() {
            // Debian's python3 ships without ensurepip until python3-venv is installed.
            if !is_root() {
                bail!(
                    "`python3 -m venv` failed: install python3-venv (Debian) to let the xtask \
                     create {}",
                    dir.display()
                );
            }
            eprintln!("xtask: python3 -m venv failed; installing python3-venv");
            let _ = std::fs::remove_dir_all(&dir);
            apt_install(&["python3-venv", "python3-pip"])?;
            if !make() {
                bail!("`python3 -m venv {}` failed", dir.display());
            }
        }
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(packages)
        .status()
        .with_context(|| format!("running {}", python.display()))?;
    if !status.success() {
        bail!(
            "pip install {} into {} failed",
            packages.join(" "),
            dir.display()
        );
    }
    Ok(dir)
}

/// The `moto_server` command: the one on `PATH` when there is one, else installed into
/// `target/test-venv`.
///
/// # Errors
///
/// As [`venv`].
pub(crate) fn moto_server(root: &Path) -> anyhow::Result<PathBuf> {
    if let Some(found) = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("moto_server"))
            .find(|candidate| candidate.is_file())
    }) && Command::new(&found)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        return Ok(found);
    }
    let dir = venv(root, "test-venv", &["moto[server]"])
        .context("installing moto[server] from PyPI for the S3 tests")?;
    Ok(dir.join("bin/moto_server"))
}

/// The AWS Lambda Runtime Interface Emulator: AWS ships it inside the `aws-sam-cli` wheel
/// on PyPI (`samcli/local/rapid/aws-lambda-rie-<arch>`), so it is downloaded with pip
/// (the wheel only, no dependencies) and taken out of the wheel into `target/rie/`.
/// Pinned, and reused when present.
///
/// # Errors
///
/// When pip cannot download the wheel (no registry) or it has no emulator for this
/// architecture.
pub(crate) fn lambda_rie(root: &Path) -> anyhow::Result<PathBuf> {
    const SAM_CLI: &str = "aws-sam-cli==1.170.0";
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "arm64",
        other => bail!("no Lambda Runtime Interface Emulator is shipped for {other}"),
    };
    let dir = root.join("target/rie");
    let rie = dir.join("aws-lambda-rie");
    if rie.is_file() {
        return Ok(rie);
    }
    std::fs::create_dir_all(&dir)?;
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--dest",
        ])
        .arg(&dir)
        .arg(SAM_CLI)
        .status()
        .context("running python3 -m pip download")?;
    if !status.success() {
        bail!("pip download {SAM_CLI} failed");
    }
    let extract = format!(
        "import glob, os, sys, zipfile\n\
         wheel = glob.glob(os.path.join(sys.argv[1], 'aws_sam_cli-*.whl'))[0]\n\
         data = zipfile.ZipFile(wheel).read('samcli/local/rapid/aws-lambda-rie-{arch}')\n\
         tmp = sys.argv[2] + '.tmp'\n\
         open(tmp, 'wb').write(data)\n\
         os.chmod(tmp, 0o755)\n\
         os.rename(tmp, sys.argv[2])\n\
         os.remove(wheel)\n"
    );
    let status = Command::new("python3")
        .arg("-c")
        .arg(extract)
        .arg(&dir)
        .arg(&rie)
        .status()
        .context("extracting the emulator from the aws-sam-cli wheel")?;
    if !status.success() {
        bail!("the aws-sam-cli wheel has no samcli/local/rapid/aws-lambda-rie-{arch}");
    }
    Ok(rie)
}

/// A Python that can `import botocore` (the SigV4 verifier the AWS tests run): the system
/// `python3` when it has it, else the `target/test-venv` one, with `moto[server]` (which
/// brings botocore) installed.
///
/// # Errors
///
/// As [`venv`].
pub(crate) fn botocore_python(root: &Path) -> anyhow::Result<PathBuf> {
    let has_botocore = |python: &Path| {
        Command::new(python)
            .args(["-c", "import botocore"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let system = PathBuf::from("python3");
    if has_botocore(&system) {
        return Ok(system);
    }
    let dir = venv(root, "test-venv", &["moto[server]"])
        .context("installing moto[server] (for botocore) from PyPI for the AWS signing tests")?;
    Ok(dir.join("bin/python"))
}

/// A Python with the linters the suite checks generated files with: `openapi-spec-validator`
/// (the OpenAPI documents) and `cfn-lint` (the deployment template), pinned, in
/// `target/lint-venv`.
///
/// # Errors
///
/// As [`venv`].
pub(crate) fn lint_python(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = venv(
        root,
        "lint-venv",
        &["openapi-spec-validator==0.9.0", "cfn-lint==1.58.0"],
    )
    .context("installing openapi-spec-validator and cfn-lint from PyPI for the suite")?;
    Ok(dir.join("bin/python"))
}
