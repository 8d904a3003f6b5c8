//! `vpce-rollout crd`: the CustomResourceDefinition, as checked in at crds/interfaceendpoints.yaml.

use std::process::ExitCode;

pub fn run() -> ExitCode {
    print!("{}", crate::api::crd::crd_yaml());
    ExitCode::from(super::exit::OK)
}
