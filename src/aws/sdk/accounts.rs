//! Acting in other accounts: STS AssumeRole of an EndpointGrant's role, with the controller's own
//! credentials, once per role, external id, session (the object) and region; the credentials are
//! kept and assumed again `SdkOptions::assumed_role_refresh` (5 minutes) before they expire, and
//! the EC2 port built on them is kept with them (its memory of recent creations included).
//!
//! The session is the object's, so that CloudTrail in the target account shows who asked: two
//! objects under one grant are two sessions (STS answers each in milliseconds, an hour apart).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_ec2::config::IdentityCache;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::types::Tag;

use super::{SdkEc2, SdkOptions, errors};
use crate::api::account_of_role;
use crate::aws::{AccountAccessError, AssumeRole};

/// One assumed session: the port built on its credentials, which are swapped in place when
/// they are assumed again.
struct Session {
    ec2: Arc<SdkEc2>,
    credentials: Arc<RwLock<Credentials>>,
    /// The same credentials, for the session's other clients (CloudWatch Logs).
    provider: SharedCredentialsProvider,
    expires: SystemTime,
}

/// The assumed sessions, by role (and external id and session) and region.
#[derive(Default)]
pub(super) struct Sessions {
    by_key: tokio::sync::Mutex<HashMap<(AssumeRole, String), Session>>,
}

/// The credentials of one session, as the SDK asks for them on every call.
#[derive(Debug)]
struct AssumedCredentials(Arc<RwLock<Credentials>>);

impl ProvideCredentials for AssumedCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let credentials = self.0.read().unwrap_or_else(|p| p.into_inner()).clone();
        future::ProvideCredentials::ready(Ok(credentials))
    }
}

impl Sessions {
    /// The port of `region` in the account `role` reaches: the kept one while its credentials
    /// are good for `options.assumed_role_refresh` more, otherwise assumed (again) first.
    pub(super) async fn port(
        &self,
        base: &aws_config::SdkConfig,
        options: &SdkOptions,
        region: &str,
        role: &AssumeRole,
    ) -> Result<Arc<SdkEc2>, AccountAccessError> {
        let mut sessions = self.by_key.lock().await;
        let now = SystemTime::now();
        // Sessions of objects that are gone expire here.
        sessions.retain(|_, s| s.expires > now);
        let key = (role.clone(), region.to_string());
        if let Some(session) = sessions.get(&key)
            && session.expires > now + options.assumed_role_refresh
        {
            return Ok(session.ec2.clone());
        }
        let (credentials, account) = assume(base, region, role).await?;
        // Credentials without an expiry (not from STS) are asked for again next time.
        let expires = credentials.expiry().unwrap_or(now);
        if let Some(session) = sessions.get_mut(&key) {
            *session.credentials.write().unwrap_or_else(|p| p.into_inner()) = credentials;
            session.expires = expires;
            return Ok(session.ec2.clone());
        }
        let shared = Arc::new(RwLock::new(credentials));
        let provider = SharedCredentialsProvider::new(AssumedCredentials(shared.clone()));
        let provider_for_others = provider.clone();
        let region = aws_config::Region::new(region.to_string());
        let ec2 = aws_sdk_ec2::config::Builder::from(base)
            .region(region.clone())
            .credentials_provider(provider.clone())
            .identity_cache(IdentityCache::no_cache())
            .build();
        let sts = aws_sdk_sts::config::Builder::from(base)
            .region(region)
            .credentials_provider(provider)
            .identity_cache(IdentityCache::no_cache())
            .build();
        let port = SdkEc2::new(
            aws_sdk_ec2::Client::from_conf(ec2),
            aws_sdk_sts::Client::from_conf(sts),
            options,
        );
        let port = Arc::new(match account {
            Some(account) => port.knowing_account(account),
            None => port,
        });
        sessions.insert(
            key,
            Session {
                ec2: port.clone(),
                credentials: shared,
                provider: provider_for_others,
                expires,
            },
        );
        Ok(port)
    }

    /// The credentials of the session of `role` in `region` (assumed, or assumed again, as for
    /// [`Sessions::port`]), for another service's client: the CloudWatch Logs port of an object
    /// acting in another account reads with the same session as its EC2 port.
    pub(super) async fn credentials(
        &self,
        base: &aws_config::SdkConfig,
        options: &SdkOptions,
        region: &str,
        role: &AssumeRole,
    ) -> Result<SharedCredentialsProvider, AccountAccessError> {
        self.port(base, options, region, role).await?;
        let sessions = self.by_key.lock().await;
        // Kept under this key by `port` a moment ago, good for `assumed_role_refresh` more.
        sessions
            .get(&(role.clone(), region.to_string()))
            .map(|session| session.provider.clone())
            .ok_or_else(|| AccountAccessError::AssumeRole {
                role_arn: role.role_arn.clone(),
                code: "SessionLost".into(),
                message: "the assumed session was dropped before its credentials could be shared".into(),
            })
    }
}

/// STS AssumeRole in `region` with the controller's own credentials: the session's credentials
/// and the account they act in.
async fn assume(
    base: &aws_config::SdkConfig,
    region: &str,
    role: &AssumeRole,
) -> Result<(Credentials, Option<String>), AccountAccessError> {
    // STS in the object's region: its regional endpoint (reachable through an STS interface
    // endpoint from a private subnet); AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL honoured.
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(base)
            .region(aws_config::Region::new(region.to_string()))
            .build(),
    );
    let refused = |code: &str, message: String| AccountAccessError::AssumeRole {
        role_arn: role.role_arn.clone(),
        code: code.to_string(),
        message,
    };
    let mut tags = Vec::new();
    for (key, value) in &role.session_tags {
        let tag = Tag::builder()
            .key(key)
            .value(value)
            .build()
            .map_err(|e| refused("InvalidSessionTag", e.to_string()))?;
        tags.push(tag);
    }
    let out = sts
        .assume_role()
        .role_arn(&role.role_arn)
        .role_session_name(&role.session_name)
        .set_external_id(role.external_id.clone())
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| {
            let code = match (&e, e.code()) {
                (_, Some(code)) => code,
                (SdkError::ServiceError(_), None) => "UnrecognizedError",
                _ => "NoAnswer",
            };
            refused(code, errors::describe(&e))
        })?;
    let Some(c) = out.credentials() else {
        return Err(refused(
            "NoCredentials",
            "STS answered without credentials".into(),
        ));
    };
    let expiry = SystemTime::try_from(*c.expiration()).ok();
    let credentials = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        expiry,
        "vpce-rollout-assume-role",
    );
    // The account of the assumed session (arn:aws:sts::<account>:assumed-role/...), else the
    // role's.
    let account = out
        .assumed_role_user()
        .and_then(|u| u.arn().split(':').nth(4))
        .filter(|a| !a.is_empty())
        .or(account_of_role(&role.role_arn))
        .map(str::to_string);
    Ok((credentials, account))
}
