//! The control plane's certificates and keys, made with the `openssl` command (Debian's, on the
//! project's machines): a CA, kube-apiserver's serving certificate for 127.0.0.1, an admin
//! client certificate in `system:masters`, and the key that signs service-account tokens. All
//! P-256, valid for a week, in the control plane's directory.

use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("the openssl command is needed to make the test CA: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `NAME.key` (PKCS#8) and `NAME.crt` signed by the CA, with the extensions in `extensions`.
fn signed(dir: &Path, name: &str, subject: &str, extensions: &str) {
    let (key, csr, crt, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.ext"),
    );
    std::fs::write(dir.join(&ext), extensions).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-subj",
            subject,
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "7",
            "-extfile",
            &ext,
            "-out",
            &crt,
        ],
    );
}

/// Writes ca.{crt,key}, server.{crt,key}, admin.{crt,key} and service-accounts.{key,pub}.
pub fn generate(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=kube-apiserver-harness CA",
            "-days",
            "7",
        ],
    );
    signed(
        dir,
        "server",
        "/CN=kube-apiserver",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    );
    signed(
        dir,
        "admin",
        "/O=system:masters/CN=admin",
        "extendedKeyUsage=clientAuth\n",
    );
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "service-accounts.key",
        ],
    );
    openssl(
        dir,
        &[
            "pkey",
            "-in",
            "service-accounts.key",
            "-pubout",
            "-out",
            "service-accounts.pub",
        ],
    );
}
