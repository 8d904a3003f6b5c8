//! `vpce-rollout crd`: the CustomResourceDefinitions, as checked in under crds/ (InterfaceEndpoint,
//! EndpointGrant, PlanApproval), as one multi-document stream.

use std::process::ExitCode;

pub fn run() -> ExitCode {
    print!("{}", crate::api::crd::all_yaml());
    ExitCode::from(super::exit::OK)
}
