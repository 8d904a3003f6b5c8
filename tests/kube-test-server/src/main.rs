//! `kube-test-server [CRD_FILE...]`: serves the test API server on 127.0.0.1 until Ctrl-C, for
//! trying kubectl against it by hand. Prints the kubeconfig path to use with `KUBECONFIG=`.
//! `KUBE_TEST_SERVER_PORT` picks the port (random by default).

use kube_test_server::TestServer;

fn main() -> std::process::ExitCode {
    let mut builder = TestServer::builder();
    for path in std::env::args().skip(1) {
        builder = builder.crd_file(path);
    }
    if let Ok(port) = std::env::var("KUBE_TEST_SERVER_PORT") {
        match port.parse() {
            Ok(p) => builder = builder.port(p),
            Err(_) => {
                eprintln!("KUBE_TEST_SERVER_PORT must be a port number, not {port:?}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let server = match builder.start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("{}", server.kubeconfig_path().display());
    eprintln!(
        "serving {} until Ctrl-C; try: KUBECONFIG={} kubectl get ns",
        server.url(),
        server.kubeconfig_path().display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    match runtime {
        Ok(rt) => {
            if let Err(e) = rt.block_on(tokio::signal::ctrl_c()) {
                eprintln!("waiting for Ctrl-C: {e}");
            }
        }
        Err(e) => eprintln!("waiting for Ctrl-C: {e}"),
    }
    drop(server);
    std::process::ExitCode::SUCCESS
}
