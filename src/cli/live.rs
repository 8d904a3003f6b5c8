//! Reading a live account for the commands (`snapshot`, and `plan` without `--snapshot`): the
//! same observation the controller makes on every reconcile, through the aws-sdk-ec2 adapter.
//!
//! Credentials, region and endpoint come from the environment as the AWS CLI reads them (see
//! docs/aws.md); `--region` (or the spec's region) wins over the environment.

use std::fmt;

use crate::api::Owner;
use crate::aws::observe::{ObserveScope, observe_vpc};
use crate::aws::sdk::errors::NO_CREDENTIALS;
use crate::aws::sdk::{SdkOptions, SdkProvider};
use crate::aws::{Ec2, Ec2Error, ErrorKind, ProviderError};
use crate::model::Snapshot;

/// What to observe.
#[derive(Clone, Debug, Default)]
pub struct LiveTarget<'a> {
    pub vpc_id: &'a str,
    /// `--region` or `spec.region`; the environment's region otherwise.
    pub region: Option<&'a str>,
    /// The endpoint service, for its private DNS name.
    pub service_name: Option<&'a str>,
    /// The service's region, for a service hosted in another (`spec.serviceRegion`).
    pub service_region: Option<&'a str>,
    /// Whose rules to collect (by owner tag), when planning for an existing object.
    pub owner: Option<&'a Owner>,
}

/// A live observation that failed, with what to do about it.
#[derive(Debug)]
pub enum LiveError {
    /// No region, or a bad endpoint URL.
    Setup(ProviderError),
    /// An EC2 call failed.
    Ec2(Ec2Error),
    /// The VPC does not exist in that account and region.
    NoSuchVpc { vpc_id: String },
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::Setup(e) => write!(f, "cannot reach EC2: {e}"),
            LiveError::Ec2(e) => {
                write!(f, "{e}")?;
                match e.kind {
                    ErrorKind::AccessDenied if e.code == NO_CREDENTIALS => write!(
                        f,
                        "\n  give vpce-rollout AWS credentials: environment, profile, IRSA, EKS Pod Identity or an instance profile (docs/aws.md)"
                    ),
                    ErrorKind::AccessDenied => write!(
                        f,
                        "\n  the credentials lack the IAM action ec2:{} (docs/aws.md lists every action vpce-rollout needs)",
                        e.operation
                    ),
                    ErrorKind::Throttled | ErrorKind::Transient => {
                        write!(f, "\n  EC2 did not answer in time after retries; try again")
                    }
                    _ => Ok(()),
                }
            }
            LiveError::NoSuchVpc { vpc_id } => write!(
                f,
                "VPC {vpc_id} not found in this account and region (check --region / AWS_REGION and the credentials' account)"
            ),
        }
    }
}

impl std::error::Error for LiveError {}

impl From<ProviderError> for LiveError {
    fn from(e: ProviderError) -> Self {
        LiveError::Setup(e)
    }
}

impl From<Ec2Error> for LiveError {
    fn from(e: Ec2Error) -> Self {
        LiveError::Ec2(e)
    }
}

/// Observes `target` through any EC2 port. A VPC that does not exist is an error here: a
/// command asked for it by id.
pub async fn observe<E: Ec2>(ec2: &E, target: &LiveTarget<'_>) -> Result<Snapshot, LiveError> {
    let scope = ObserveScope {
        service_name: target.service_name,
        service_region: target.service_region,
        owner: target.owner,
    };
    let snapshot = observe_vpc(ec2, target.vpc_id, scope).await?;
    if snapshot.vpcs.is_empty() {
        return Err(LiveError::NoSuchVpc {
            vpc_id: target.vpc_id.to_string(),
        });
    }
    Ok(snapshot)
}

/// Observes `target` in the account the environment's credentials name.
pub async fn observe_live(target: &LiveTarget<'_>) -> Result<Snapshot, LiveError> {
    let provider = SdkProvider::from_environment(target.region, SdkOptions::default()).await?;
    let ec2 = provider.client_for(target.region)?;
    observe(ec2.as_ref(), target).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Ec2Operation;

    #[test]
    fn access_denied_names_the_missing_iam_action() {
        let err = LiveError::Ec2(Ec2Error::new(
            ErrorKind::AccessDenied,
            Ec2Operation::DescribeNetworkInterfaces,
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        ));
        let text = err.to_string();
        assert!(text.contains("ec2:DescribeNetworkInterfaces"), "{text}");
        assert!(text.contains("docs/aws.md"), "{text}");
    }

    #[test]
    fn missing_credentials_say_where_credentials_come_from_not_which_action_is_denied() {
        let err = LiveError::Ec2(Ec2Error::new(
            ErrorKind::AccessDenied,
            Ec2Operation::DescribeVpcs,
            NO_CREDENTIALS,
            "no AWS credentials found",
        ));
        let text = err.to_string();
        assert!(
            text.contains("IRSA") && !text.contains("lack the IAM action"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_vpc_points_at_region_and_account() {
        let text = LiveError::NoSuchVpc {
            vpc_id: "vpc-0123456789abcdef0".into(),
        }
        .to_string();
        assert!(
            text.contains("vpc-0123456789abcdef0") && text.contains("--region"),
            "{text}"
        );
    }
}
