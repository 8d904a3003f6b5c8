//! The EC2 port over aws-sdk-ec2: what runs against a real account (and against moto in the wire
//! tests).
//!
//! - [`config`]: credentials, region, endpoint URL, HTTPS, retries and timeouts;
//!   [`SdkProvider`] makes one [`SdkEc2`] per region.
//! - [`ec2`]: `impl Ec2 for SdkEc2`, one SDK call (or paginator) per port method.
//! - [`convert`]: SDK types → the AWS JSON shapes of [`crate::model`].
//! - [`errors`]: SDK errors → [`crate::aws::Ec2Error`] through the shared classification table.
//! - [`accounts`]: ports in other accounts, on credentials of STS AssumeRole, kept and renewed.
//! - the account (here): STS GetCallerIdentity, asked once per port, for the audit trail.
//!
//! Nothing here decides anything: the adapter translates, pages and classifies.

pub mod accounts;
pub mod config;
pub mod convert;
pub mod ec2;
pub mod errors;

pub use config::{SdkOptions, SdkProvider, https_client};

use errors::RecentlyCreated;
use tokio::sync::OnceCell;

use crate::aws::AccountUnknown;

/// The EC2 port for one region, over an aws-sdk-ec2 client.
#[derive(Debug)]
pub struct SdkEc2 {
    client: aws_sdk_ec2::Client,
    /// Asks which account the credentials act in (same credentials, region and HTTP client).
    sts: aws_sdk_sts::Client,
    account: OnceCell<String>,
    page_size: i32,
    recent: RecentlyCreated,
}

impl SdkEc2 {
    /// Wraps configured clients (region, credentials, retries and timeouts are the clients').
    pub fn new(client: aws_sdk_ec2::Client, sts: aws_sdk_sts::Client, options: &SdkOptions) -> Self {
        Self {
            client,
            sts,
            account: OnceCell::new(),
            page_size: options.page_size,
            recent: RecentlyCreated::new(options.visibility_window),
        }
    }

    /// The same port, knowing the account its credentials act in (an assumed role's, from STS's
    /// answer): GetCallerIdentity is not asked.
    pub fn knowing_account(mut self, account: String) -> Self {
        self.account = OnceCell::new_with(Some(account));
        self
    }

    /// The underlying SDK client (tests use it to build worlds the port cannot create).
    pub fn client(&self) -> &aws_sdk_ec2::Client {
        &self.client
    }

    /// The account of the credentials, from STS GetCallerIdentity, asked once: credentials do
    /// not change accounts while a port lives (a role in another account is another port).
    /// GetCallerIdentity needs no IAM permission and cannot be denied by a policy; it can still
    /// fail (STS unreachable from a private subnet, no credentials yet): asked again next time.
    async fn account_id(&self) -> Result<String, AccountUnknown> {
        let account = self
            .account
            .get_or_try_init(|| async {
                let out = self.sts.get_caller_identity().send().await.map_err(|e| {
                    AccountUnknown(format!("STS GetCallerIdentity failed: {}", errors::describe(&e)))
                })?;
                out.account()
                    .map(str::to_string)
                    .ok_or_else(|| AccountUnknown("STS GetCallerIdentity answered without an account".into()))
            })
            .await?;
        Ok(account.clone())
    }
}
