//! Setting up aws-sdk-ec2: credentials, region, endpoint URL, HTTPS, retries and timeouts.
//!
//! Credentials and region come from aws-config's default chains (environment, shared profile,
//! IRSA web identity, EKS Pod Identity / ECS container credentials, IMDS), so the controller
//! runs unchanged on a laptop, in EKS and on EC2. `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_EC2`
//! (or `endpoint_url` in the profile) point it at another EC2 endpoint, e.g. moto in tests.
//! HTTPS is rustls with ring, shared with kube, so nothing builds aws-lc.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use super::SdkEc2;
use super::accounts::Sessions;
use crate::aws::{AccountAccessError, AssumeRole, Ec2Provider, ProviderError};
use crate::logs::sdk::SdkLogs;

/// Environment variables that name an endpoint the adapter calls (EC2, STS for the account, and
/// CloudWatch Logs for the evidence and canary readers), most specific first (as aws-config reads
/// them).
const ENDPOINT_URL_VARIABLES: [&str; 4] = [
    "AWS_ENDPOINT_URL_EC2",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ENDPOINT_URL",
];

/// Retry, timeout and paging settings of the adapter. Every wait is bounded: a call takes at
/// most `operation_timeout`, whatever EC2 does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdkOptions {
    /// Attempts per call, the first included. The SDK's adaptive retry mode also rate-limits
    /// the client itself once EC2 throttles it, so a throttled controller slows down instead of
    /// spending its attempts at full speed.
    pub max_attempts: u32,
    /// First backoff between attempts; it grows exponentially (with jitter) up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// TCP + TLS connection setup.
    pub connect_timeout: Duration,
    /// One attempt, from sending the request to the end of the response.
    pub attempt_timeout: Duration,
    /// One call, all attempts and backoffs included.
    pub operation_timeout: Duration,
    /// `MaxResults` of describe calls (clamped to each API's range); every page is read.
    pub page_size: i32,
    /// For this long after the adapter created an endpoint, `NotFound` for it means "not yet
    /// visible" (EC2 is eventually consistent), not "gone".
    pub visibility_window: Duration,
    /// Credentials of an assumed role (another account) are assumed again this long before
    /// they expire: a pass takes seconds, a retried call a few minutes at most.
    pub assumed_role_refresh: Duration,
}

impl Default for SdkOptions {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(30),
            operation_timeout: Duration::from_secs(120),
            page_size: 1000,
            visibility_window: Duration::from_secs(300),
            assumed_role_refresh: Duration::from_secs(5 * 60),
        }
    }
}

impl SdkOptions {
    fn retry_config(&self) -> RetryConfig {
        RetryConfig::adaptive()
            .with_max_attempts(self.max_attempts.max(1))
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }
}

/// Makes one [`SdkEc2`] per region, sharing credentials, HTTPS client and settings; and one per
/// assumed role session and region ([`super::accounts`]).
pub struct SdkProvider {
    base: SdkConfig,
    options: SdkOptions,
    clients: Mutex<BTreeMap<String, Arc<SdkEc2>>>,
    /// CloudWatch Logs ports by region (the evidence and canary readers).
    logs: Mutex<BTreeMap<String, Arc<SdkLogs>>>,
    sessions: Sessions,
}

impl SdkProvider {
    /// Loads the default AWS configuration from the environment (see the module docs).
    ///
    /// `region` overrides the region chain (e.g. `--region`). An endpoint URL variable that is
    /// set but not an http(s) URL is an error here, where aws-config would only log it and
    /// silently talk to the real EC2 instead.
    pub async fn from_environment(region: Option<&str>, options: SdkOptions) -> Result<Self, ProviderError> {
        for variable in ENDPOINT_URL_VARIABLES {
            if let Ok(url) = std::env::var(variable) {
                check_endpoint_url(variable, &url)?;
            }
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // In the User-Agent, so CloudTrail shows which calls were vpce-rollout's.
            .app_name(AppName::new("vpce-rollout").expect("a valid app name"))
            .http_client(https_client())
            .retry_config(options.retry_config())
            .timeout_config(options.timeout_config());
        if let Some(region) = region {
            loader = loader.region(Region::new(region.to_string()));
        }
        Ok(Self::from_sdk_config(loader.load().await, options))
    }

    /// Uses an already loaded configuration (its credentials, endpoint URL and HTTP client);
    /// retries and timeouts come from `options`.
    pub fn from_sdk_config(base: SdkConfig, options: SdkOptions) -> Self {
        let base = base
            .into_builder()
            .retry_config(options.retry_config())
            .timeout_config(options.timeout_config())
            .build();
        Self {
            base,
            options,
            clients: Mutex::new(BTreeMap::new()),
            logs: Mutex::new(BTreeMap::new()),
            sessions: Sessions::default(),
        }
    }

    /// The region used when a spec names none.
    pub fn default_region(&self) -> Option<&str> {
        self.base.region().map(|r| r.as_ref())
    }

    /// `region`, or the default region.
    fn region_of(&self, region: Option<&str>) -> Result<String, ProviderError> {
        region
            .or(self.default_region())
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError(
                    "no AWS region: set spec.region (or --region), AWS_REGION, or `region` in the AWS \
                 profile; on EC2 and EKS the instance metadata service provides it"
                        .to_string(),
                )
            })
    }

    /// The EC2 port for `region`, or for the default region.
    pub fn client_for(&self, region: Option<&str>) -> Result<Arc<SdkEc2>, ProviderError> {
        let region = self.region_of(region)?;
        let region = region.as_str();
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let client = clients.entry(region.to_string()).or_insert_with(|| {
            let region = Region::new(region.to_string());
            let ec2 = aws_sdk_ec2::config::Builder::from(&self.base)
                .region(region.clone())
                .build();
            // STS in the same region: its regional endpoint (reachable through an STS interface
            // endpoint from a private subnet), AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL honoured.
            let sts = aws_sdk_sts::config::Builder::from(&self.base)
                .region(region)
                .build();
            Arc::new(SdkEc2::new(
                aws_sdk_ec2::Client::from_conf(ec2),
                aws_sdk_sts::Client::from_conf(sts),
                &self.options,
            ))
        });
        Ok(Arc::clone(client))
    }
}

impl SdkProvider {
    /// The CloudWatch Logs port for `region`, or for the default region: the same credentials,
    /// HTTPS client, retries, timeouts and endpoint URL as the EC2 port.
    pub fn logs_for(&self, region: Option<&str>) -> Result<Arc<SdkLogs>, ProviderError> {
        let region = self.region_of(region)?;
        let mut ports = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let port = ports.entry(region.clone()).or_insert_with(|| {
            let config = aws_sdk_cloudwatchlogs::config::Builder::from(&self.base)
                .region(Region::new(region))
                .build();
            Arc::new(SdkLogs::new(aws_sdk_cloudwatchlogs::Client::from_conf(config)))
        });
        Ok(Arc::clone(port))
    }

    /// The CloudWatch Logs port of `region` in the account `role` reaches, on the credentials of
    /// the same assumed session as the object's EC2 port (assumed, or assumed again, first when
    /// they are missing or near their expiry).
    pub async fn logs_for_role(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> Result<Arc<SdkLogs>, AccountAccessError> {
        let region = self.region_of(region)?;
        let credentials = self
            .sessions
            .credentials(&self.base, &self.options, &region, role)
            .await?;
        let config = aws_sdk_cloudwatchlogs::config::Builder::from(&self.base)
            .region(Region::new(region))
            .credentials_provider(credentials)
            .identity_cache(aws_sdk_cloudwatchlogs::config::IdentityCache::no_cache())
            .build();
        Ok(Arc::new(SdkLogs::new(aws_sdk_cloudwatchlogs::Client::from_conf(
            config,
        ))))
    }
}

impl Ec2Provider for SdkProvider {
    type Client = SdkEc2;

    async fn client(&self, region: Option<&str>) -> Result<Arc<SdkEc2>, ProviderError> {
        self.client_for(region)
    }

    async fn client_as(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> Result<Arc<SdkEc2>, AccountAccessError> {
        let region = self.region_of(region)?;
        self.sessions.port(&self.base, &self.options, &region, role).await
    }

    fn default_region(&self) -> Option<String> {
        SdkProvider::default_region(self).map(str::to_string)
    }
}

/// The HTTPS client of every AWS call: rustls with the ring crypto provider (kube uses the same),
/// certificates from the platform's trust store. Plain `http://` endpoints (moto) work too.
pub fn https_client() -> aws_sdk_ec2::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

fn check_endpoint_url(variable: &str, url: &str) -> Result<(), ProviderError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(host) if !host.is_empty() && !url.contains(char::is_whitespace) => Ok(()),
        _ => Err(ProviderError(format!(
            "{variable}={url:?} is not an endpoint URL: expected http://HOST[:PORT] or https://HOST[:PORT]"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Ec2;

    #[test]
    fn a_missing_region_is_a_clear_error_and_a_spec_region_wins() {
        let provider = SdkProvider::from_sdk_config(SdkConfig::builder().build(), SdkOptions::default());
        let err = provider.client_for(None).expect_err("no region anywhere");
        assert!(err.0.contains("no AWS region"), "{err}");
        assert!(err.0.contains("AWS_REGION"), "{err}");

        let ec2 = provider.client_for(Some("ap-northeast-1")).unwrap();
        assert_eq!(
            ec2.client().config().region().map(|r| r.as_ref()),
            Some("ap-northeast-1")
        );
    }

    #[test]
    fn the_default_region_is_used_when_the_spec_names_none_and_clients_are_shared() {
        let base = SdkConfig::builder().region(Region::new("eu-west-1")).build();
        let provider = SdkProvider::from_sdk_config(base, SdkOptions::default());
        let a = provider.client_for(None).unwrap();
        assert_eq!(
            Ec2::region(&*a).as_deref(),
            Some("eu-west-1"),
            "the port knows the region it resolved (recorded at creation)"
        );
        let b = provider.client_for(Some("eu-west-1")).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = provider.client_for(Some("us-east-1")).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn retries_are_adaptive_and_bounded() {
        let options = SdkOptions {
            max_attempts: 3,
            ..SdkOptions::default()
        };
        let retry = options.retry_config();
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Adaptive);
        assert_eq!(retry.max_attempts(), 3);
        let timeouts = options.timeout_config();
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(120)));
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn endpoint_urls_must_be_http_urls() {
        assert!(check_endpoint_url("AWS_ENDPOINT_URL", "http://127.0.0.1:5000").is_ok());
        assert!(check_endpoint_url("AWS_ENDPOINT_URL_EC2", "https://ec2.example.internal/").is_ok());
        for bad in ["127.0.0.1:5000", "http://", "ftp://x", "http://a b"] {
            let err = check_endpoint_url("AWS_ENDPOINT_URL_EC2", bad).unwrap_err();
            assert!(err.0.contains("AWS_ENDPOINT_URL_EC2"), "{err}");
        }
    }
}
