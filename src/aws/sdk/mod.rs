//! The EC2 port over aws-sdk-ec2: what runs against a real account (and against moto in the wire
//! tests).
//!
//! - [`config`]: credentials, region, endpoint URL, HTTPS, retries and timeouts;
//!   [`SdkProvider`] makes one [`SdkEc2`] per region.
//! - [`ec2`]: `impl Ec2 for SdkEc2`, one SDK call (or paginator) per port method.
//! - [`convert`]: SDK types → the AWS JSON shapes of [`crate::model`].
//! - [`errors`]: SDK errors → [`crate::aws::Ec2Error`] through the shared classification table.
//!
//! Nothing here decides anything: the adapter translates, pages and classifies.

pub mod config;
pub mod convert;
pub mod ec2;
pub mod errors;

pub use config::{SdkOptions, SdkProvider, https_client};

use errors::RecentlyCreated;

/// The EC2 port for one region, over an aws-sdk-ec2 client.
#[derive(Debug)]
pub struct SdkEc2 {
    client: aws_sdk_ec2::Client,
    page_size: i32,
    recent: RecentlyCreated,
}

impl SdkEc2 {
    /// Wraps a configured client (region, credentials, retries and timeouts are the client's).
    pub fn new(client: aws_sdk_ec2::Client, options: &SdkOptions) -> Self {
        Self {
            client,
            page_size: options.page_size,
            recent: RecentlyCreated::new(options.visibility_window),
        }
    }

    /// The underlying SDK client (tests use it to build worlds the port cannot create).
    pub fn client(&self) -> &aws_sdk_ec2::Client {
        &self.client
    }
}
