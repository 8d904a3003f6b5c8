//! The harness against the binaries build.sh made: the pinned release answers, RBAC is on, a
//! ServiceAccount gets only what it is granted, and a failing test keeps the servers' logs.

use std::net::TcpStream;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use kube_apiserver_harness::ControlPlane;

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn the_pinned_release_serves_with_rbac_and_a_service_account_gets_only_its_grants() {
    let cluster = ControlPlane::start();
    let kubectl = cluster.kubectl();
    let version = kubectl.run(&["version", "-o", "json"]);
    let want = format!(r#""gitVersion": "{}""#, cluster.binaries().kubernetes_version);
    assert_eq!(
        version.matches(&want).count(),
        2,
        "client and server agree: {version}"
    );
    assert_eq!(kubectl.run(&["auth", "can-i", "*", "*"]).trim(), "yes");

    kubectl.run(&["create", "serviceaccount", "robot"]);
    let robot = cluster.kubectl_as(&cluster.service_account_kubeconfig("default", "robot"));
    assert_eq!(
        robot.run(&["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]),
        "system:serviceaccount:default:robot"
    );
    let refused = robot.try_run(&["get", "namespaces"], None).unwrap_err();
    assert!(
        refused.contains(r#"User "system:serviceaccount:default:robot" cannot list resource "namespaces""#),
        "{refused}"
    );
    kubectl.run(&[
        "create",
        "clusterrole",
        "namespace-reader",
        "--verb=list",
        "--resource=namespaces",
    ]);
    kubectl.run(&[
        "create",
        "clusterrolebinding",
        "robot-reads-namespaces",
        "--clusterrole=namespace-reader",
        "--serviceaccount=default:robot",
    ]);
    assert!(
        robot
            .run(&["get", "namespaces", "-o", "name"])
            .contains("namespace/kube-system")
    );
    assert!(
        robot.try_run(&["get", "namespace", "default"], None).is_err(),
        "get is not list"
    );
}

#[test]
fn a_passing_test_leaves_nothing_and_a_failing_one_keeps_the_logs() {
    let cluster = ControlPlane::start();
    let (dir, port) = (cluster.dir().to_path_buf(), port_of(cluster.url()));
    drop(cluster);
    assert!(!dir.exists(), "{} is removed", dir.display());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "kube-apiserver is stopped"
    );

    let mut kept = (PathBuf::new(), 0);
    let failed = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let cluster = ControlPlane::start();
        kept = (cluster.dir().to_path_buf(), port_of(cluster.url()));
        panic!("a failing test");
    }));
    assert!(failed.is_err());
    let (dir, port) = kept;
    let log = std::fs::read_to_string(dir.join("kube-apiserver.log")).unwrap();
    assert!(log.contains("Serving securely on 127.0.0.1"), "{log}");
    assert!(dir.join("etcd.log").exists());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "kube-apiserver is stopped"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
