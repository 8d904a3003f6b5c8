//! `vpce-rollout run` (also what `vpce-rollout` alone does): the controller, against the cluster
//! of the kubeconfig (or in-cluster config) and the AWS account of the default credential chain.

use std::process::ExitCode;

use crate::aws::sdk::{SdkOptions, SdkProvider};
use crate::controller::logging;
use crate::controller::options::RunOptions;
use crate::controller::run::{self, Shutdown};

/// The controller's options (each also an environment variable, which the Helm chart sets).
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub options: RunOptions,
}

pub fn run(args: &RunArgs) -> ExitCode {
    let options = &args.options;
    if let Err(e) = logging::init(options.log.log_format, &options.log.log_filter) {
        return super::fail(e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return super::fail(format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async {
        let client = match kube::Client::try_default().await {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(error = %e, "no Kubernetes configuration (in-cluster, or KUBECONFIG / ~/.kube/config)");
                return ExitCode::from(super::exit::ERROR);
            }
        };
        let provider = match SdkProvider::from_environment(None, SdkOptions::default()).await {
            Ok(provider) => provider,
            Err(e) => {
                tracing::error!(error = %e, "cannot set up the AWS SDK");
                return ExitCode::from(super::exit::ERROR);
            }
        };
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            region = provider.default_region().unwrap_or("(from spec.region)"),
            namespace = options.watch_namespace.as_deref().unwrap_or("(all)"),
            "starting vpce-rollout"
        );
        let shutdown = Shutdown::default();
        shutdown.on_signals();
        match run::run(client, provider, options, shutdown).await {
            Ok(()) => ExitCode::from(super::exit::OK),
            Err(e) => {
                tracing::error!(error = %e, "vpce-rollout stopped");
                ExitCode::from(super::exit::ERROR)
            }
        }
    })
}
