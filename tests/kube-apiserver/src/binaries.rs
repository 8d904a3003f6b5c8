//! Where `build.sh` put kube-apiserver, kubectl and etcd, and whether they were built from the
//! go.mod and go.sum checked in (the STAMP build.sh writes beside them).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What a test that needs the binaries is told when they are missing or stale.
const HOW_TO_BUILD: &str = "Run `tests/kube-apiserver/build.sh` (needs Go >= 1.26 and the Go module proxy; \
     .ci/test runs it; a cold build takes about 4 minutes on 2 cores)";

/// The three binaries of one build, and the versions they were built at.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub kube_apiserver: PathBuf,
    pub kubectl: PathBuf,
    pub etcd: PathBuf,
    /// k8s.io/kubernetes as pinned in kubernetes/go.mod, e.g. `v1.36.3`.
    pub kubernetes_version: String,
    /// go.etcd.io/etcd/server/v3 as pinned in etcd/go.mod, e.g. `v3.6.16`.
    pub etcd_version: String,
}

/// This crate's directory: build.sh and the two Go modules.
fn sources() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where build.sh builds: `VPCE_K8S_CACHE`, or `.cache/k8s` at the repository's root.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("VPCE_K8S_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => sources().join("../../.cache/k8s"),
    }
}

/// The version a go.mod requires of `module`, read as build.sh reads it: `require M vX`, or
/// `M vX` on a line of a require block.
fn required(go_mod: &str, module: &str) -> Option<String> {
    go_mod.lines().find_map(|line| {
        let mut words = line.split_whitespace().peekable();
        if words.peek() == Some(&"require") {
            words.next();
        }
        match (words.next(), words.next()) {
            (Some(m), Some(v)) if m == module && v.starts_with('v') => Some(v.to_string()),
            _ => None,
        }
    })
}

/// What the STAMP build.sh writes for `module` must say of the sources: `sha256sum` of its
/// go.mod and go.sum. (It also records the build flags, which only build.sh compares.)
fn source_sums(module: &str) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for file in [format!("{module}/go.mod"), format!("{module}/go.sum")] {
        let bytes = std::fs::read(sources().join(&file)).map_err(|e| format!("{file}: {e}"))?;
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        lines.push(format!("{hex}  {file}"));
    }
    Ok(lines)
}

/// `dir` holds `names` and a STAMP with `module`'s current sums.
fn check_built(dir: &Path, module: &str, names: &[&str]) -> Result<(), String> {
    for name in names {
        if !dir.join(name).is_file() {
            return Err(format!("{} is not built", dir.join(name).display()));
        }
    }
    let built = std::fs::read_to_string(dir.join("STAMP")).unwrap_or_default();
    if !source_sums(module)?
        .iter()
        .all(|sum| built.lines().any(|l| l == sum))
    {
        return Err(format!(
            "{} was built from other sources than tests/kube-apiserver/{module}/go.mod and go.sum \
             as they are now",
            dir.display()
        ));
    }
    Ok(())
}

impl Binaries {
    /// The binaries of the pinned versions, or why they cannot be used and what to run.
    pub fn locate() -> Result<Binaries, String> {
        Binaries::locate_in(&cache_dir())
    }

    fn locate_in(cache: &Path) -> Result<Binaries, String> {
        let read =
            |file: &str| std::fs::read_to_string(sources().join(file)).map_err(|e| format!("{file}: {e}"));
        let kubernetes_version = required(&read("kubernetes/go.mod")?, "k8s.io/kubernetes")
            .ok_or("kubernetes/go.mod requires no k8s.io/kubernetes")?;
        let etcd_version = required(&read("etcd/go.mod")?, "go.etcd.io/etcd/server/v3")
            .ok_or("etcd/go.mod requires no go.etcd.io/etcd/server/v3")?;
        let bin = cache.join("bin");
        let kubernetes = bin.join(format!("kubernetes-{kubernetes_version}"));
        let etcd = bin.join(format!("etcd-{etcd_version}"));
        check_built(&kubernetes, "kubernetes", &["kube-apiserver", "kubectl"])
            .and_then(|()| check_built(&etcd, "etcd", &["etcd"]))
            .map_err(|why| {
                format!("the real Kubernetes control plane is not ready: {why}. {HOW_TO_BUILD}")
            })?;
        Ok(Binaries {
            kube_apiserver: kubernetes.join("kube-apiserver"),
            kubectl: kubernetes.join("kubectl"),
            etcd: etcd.join("etcd"),
            kubernetes_version,
            etcd_version,
        })
    }

    /// [`Binaries::locate`], panicking with its message: tests that need the real server fail
    /// loudly when it is not built, they never skip.
    pub fn get() -> Binaries {
        Binaries::locate().unwrap_or_else(|why| panic!("{why}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_require_lines_and_blocks_as_build_sh_reads_them() {
        let go_mod = "module x\n\nrequire k8s.io/kubernetes v1.36.3\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 v3.6.16 // indirect\n)\n\nreplace k8s.io/api => k8s.io/api v0.36.3\n";
        assert_eq!(required(go_mod, "k8s.io/kubernetes").as_deref(), Some("v1.36.3"));
        assert_eq!(
            required(go_mod, "go.etcd.io/etcd/server/v3").as_deref(),
            Some("v3.6.16")
        );
        assert_eq!(
            required(go_mod, "k8s.io/api"),
            None,
            "a replace line is no requirement"
        );
    }

    #[test]
    fn missing_binaries_are_an_error_that_says_what_to_run() {
        let empty = std::env::temp_dir().join(format!("no-k8s-cache-{}", std::process::id()));
        let why = Binaries::locate_in(&empty).unwrap_err();
        assert!(why.contains("kube-apiserver is not built"), "{why}");
        assert!(why.contains("Run `tests/kube-apiserver/build.sh`"), "{why}");
    }

    #[test]
    fn the_sums_name_each_file_as_sha256sum_prints_it() {
        let sums = source_sums("etcd").unwrap();
        let names: Vec<&str> = sums.iter().map(|l| l.split_once("  ").unwrap().1).collect();
        assert_eq!(names, ["etcd/go.mod", "etcd/go.sum"]);
        assert!(sums.iter().all(|l| l.find("  ") == Some(64)), "{sums:?}");
    }
}
